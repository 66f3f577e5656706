"""The one place a teacher profile becomes `litellm.acompletion` calls.

litellm is imported on first use (it costs ~3 s and ~200 MB), with its cost map read locally so
the import never reaches for the network, its banners silenced and its loggers sent to the log
file. Retries are ours (litellm's are off) so every attempt is counted: 429, 5xx, timeouts and
refused connections back off exponentially with full jitter, honouring Retry-After, sleeping
outside the concurrency slot; auth errors, bad requests and context-window errors fail at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Awaitable, Callable

from lab_tui.config import load_settings, log_path

DEFAULT_PROFILE = {
    "model": "openai/teacher",
    "api_base": "http://127.0.0.1:8000/v1",
    "api_key_env": "OPENAI_API_KEY",
    "timeout": 120.0,
    "max_concurrency": 16,
}
KEYLESS_PLACEHOLDER = "no-key-needed"
"""litellm's OpenAI path refuses an empty key; local servers ignore this one."""


@dataclass(frozen=True)
class TeacherProfile:
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    """The *name* of the environment variable holding the key; the key itself is never stored."""
    timeout: float = 120.0
    max_concurrency: int = 16
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0

    def public(self) -> dict:
        """The profile as stored with a run: names only, no secrets."""
        return asdict(self)

    def api_key(self) -> str:
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or KEYLESS_PLACEHOLDER


def load_profile(name: str = "default", **overrides) -> TeacherProfile:
    """A profile from the settings file (`teachers.<name>`), over the local-server default."""
    values = dict(DEFAULT_PROFILE)
    stored = load_settings().get("teachers", {}).get(name, {})
    values.update({k: v for k, v in stored.items() if k in TeacherProfile.__dataclass_fields__})
    values.update({k: v for k, v in overrides.items() if v is not None})
    return TeacherProfile(**values)


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str | None
    tokens_in: int
    tokens_out: int
    latency_s: float
    attempts: int


class Stopped(Exception):
    """The run is stopping: this request was not sent."""


class TeacherError(Exception):
    """A request that failed for good; `kind` says how (auth, bad_request, context_window, ...)."""

    def __init__(self, kind: str, message: str, attempts: int) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.attempts = attempts


_litellm = None


def litellm_module():
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        handler = logging.FileHandler(log_path(), encoding="utf-8")
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.propagate = False
            logger.setLevel(logging.WARNING)
        _litellm = litellm
    return _litellm


def classify(error: Exception) -> tuple[str, bool]:
    """(kind, retryable) for a litellm exception; connection and key problems share a class."""
    litellm = litellm_module()
    message = str(error).lower()
    if isinstance(error, litellm.ContextWindowExceededError):
        return "context_window", False
    if isinstance(error, (litellm.AuthenticationError, litellm.PermissionDeniedError)):
        return "auth", False
    if isinstance(error, litellm.RateLimitError):
        return "rate_limited", True
    if isinstance(error, litellm.Timeout):
        return "timeout", True
    if isinstance(error, (litellm.NotFoundError, litellm.BadRequestError, litellm.UnprocessableEntityError)):
        return "bad_request", False
    if "api key" in message or "api_key" in message or "authentication" in message:
        return "auth", False
    if "connection" in message or "connect" in message or "refused" in message:
        return "connection", True
    if isinstance(error, (litellm.InternalServerError, litellm.ServiceUnavailableError, litellm.BadGatewayError,
                          litellm.APIConnectionError, litellm.APIError)):
        return "server_error", True
    return "unknown", False


def retry_after(error: Exception) -> float | None:
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or getattr(error, "litellm_response_headers", None) or {}
    value = headers.get("retry-after") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Teacher:
    """Sends chat requests under one bound on requests in flight."""

    def __init__(self, profile: TeacherProfile, concurrency: int | None = None) -> None:
        self.profile = profile
        self.slots = asyncio.Semaphore(concurrency or profile.max_concurrency)
        self.in_flight = 0

    async def complete(self, messages: list[dict], *, temperature: float, max_tokens: int,
                       seed: int | None = None, on_answer: Callable[[Answer], Awaitable[None] | None] | None = None,
                       on_attempt: Callable[[int], None] | None = None, stop: asyncio.Event | None = None) -> Answer:
        """Send until answered or failed for good. `on_answer` runs while the slot is still held,
        so the answer is stored before another request may start. Once `stop` is set, nothing
        more is sent (`Stopped`), while requests already sent finish and are stored."""
        litellm = litellm_module()
        attempt = 0
        while True:
            attempt += 1
            async with self.slots:
                if stop is not None and stop.is_set():
                    raise Stopped()
                self.in_flight += 1
                if on_attempt:
                    on_attempt(attempt)
                started = time.monotonic()
                try:
                    response = await litellm.acompletion(
                        model=self.profile.model, messages=messages, api_base=self.profile.api_base,
                        api_key=self.profile.api_key(), timeout=self.profile.timeout, num_retries=0,
                        temperature=temperature, max_tokens=max_tokens, seed=seed,
                    )
                    error = None
                except Exception as caught:  # classified below; nothing is swallowed
                    error = caught
                finally:
                    self.in_flight -= 1
                if error is None:
                    choice = response.choices[0]
                    usage = getattr(response, "usage", None)
                    answer = Answer(
                        text=choice.message.content or "", finish_reason=choice.finish_reason,
                        tokens_in=getattr(usage, "prompt_tokens", 0) or 0,
                        tokens_out=getattr(usage, "completion_tokens", 0) or 0,
                        latency_s=time.monotonic() - started, attempts=attempt,
                    )
                    if on_answer:
                        result = on_answer(answer)
                        if asyncio.iscoroutine(result):
                            await result
                    return answer
            kind, retryable = classify(error)
            if not retryable or attempt >= self.profile.max_attempts:
                message = _short(error)
                if kind == "auth" and self.profile.api_key_env and not os.environ.get(self.profile.api_key_env):
                    message = f"{self.profile.api_key_env} is not set, so no key was sent; {message}"
                raise TeacherError(kind, message, attempt) from error
            backoff = random.uniform(0, min(self.profile.backoff_cap, self.profile.backoff_base * 2 ** (attempt - 1)))
            await asyncio.sleep(max(backoff, retry_after(error) or 0.0))


def _short(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:300]


async def close_clients() -> None:
    """Close litellm's pooled HTTP clients, and forget them: litellm would otherwise hand the closed
    ones to the next request on this loop ("the client has been closed"), e.g. the app's next run."""
    if _litellm is not None:
        from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

        await close_litellm_async_clients()
        _litellm.in_memory_llm_clients_cache.flush_cache()
