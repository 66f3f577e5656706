"""The one place a teacher profile becomes `litellm.acompletion` calls.

litellm is imported on first use (it costs ~3 s and ~200 MB), with its cost map read locally so
the import never reaches for the network, its banners silenced and its loggers sent to the log
file. Retries are ours (litellm's are off) so every attempt is counted: 429, 5xx, timeouts and
refused connections back off exponentially with full jitter, honouring Retry-After, sleeping
outside the concurrency slot; auth errors, bad requests and context-window errors fail at once.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import os
import random
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Awaitable, Callable

from lab_tui.config import load_settings, log_path
from lab_tui.safe_text import redact

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
    constrain_judges: str | None = None
    """Constrain judges' answers to the score format where the server supports it: "vllm" (vLLM >= 0.12
    `structured_outputs`), "vllm-legacy" (`guided_regex`, older vLLM) or "llama.cpp" (`grammar`)."""

    def public(self) -> dict:
        """The profile as stored with a run: names only, no secrets."""
        return asdict(self)

    def api_key(self) -> str:
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or KEYLESS_PLACEHOLDER


class ProfileError(ValueError):
    """A teacher profile that does not exist or cannot be used; the message says which and why."""


def _stored_profiles() -> dict:
    teachers = load_settings().get("teachers", {})
    return teachers if isinstance(teachers, dict) else {}


def profile_names() -> set[str]:
    """Profiles a run may name: "default" and those in the settings file."""
    return {"default"} | set(_stored_profiles())


def load_profile(name: str = "default", **overrides) -> TeacherProfile:
    """A profile from the settings file (`teachers.<name>`), over the local-server default."""
    values = dict(DEFAULT_PROFILE)
    stored = _stored_profiles().get(name)
    if stored is None and name != "default":
        known = ", ".join(sorted(profile_names()))
        raise ProfileError(f"no teacher profile {name!r} in the settings file (known: {known})")
    if stored is not None and not isinstance(stored, dict):
        raise ProfileError(f"teacher profile {name!r} in the settings file is not a mapping")
    values.update({k: v for k, v in (stored or {}).items() if k in TeacherProfile.__dataclass_fields__})
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("constrain_judges") not in (None, *CONSTRAINTS):
        raise ProfileError(f"teacher profile {name!r}: constrain_judges is one of {', '.join(CONSTRAINTS)}")
    try:
        return TeacherProfile(**values)
    except TypeError as error:
        raise ProfileError(f"teacher profile {name!r}: {error}") from error


def _judge_regex(scores: tuple[float, ...]) -> str:
    choices = "|".join(f"{s:g}" for s in scores)
    return (r"\[Start of Evaluation\]\n[^\[]{1,2000}\n\[End of Evaluation\]\n"
            rf"\[Start of Score\]\n({choices})\n\[End of Score\]")


def _judge_grammar(scores: tuple[float, ...]) -> str:
    choices = " | ".join(f'"{s:g}"' for s in scores)
    return ('root ::= "[Start of Evaluation]\\n" text "\\n[End of Evaluation]\\n[Start of Score]\\n" score '
            '"\\n[End of Score]"\ntext ::= [^\\[]{1,2000}\n' f"score ::= {choices}\n")


CONSTRAINTS = {
    "vllm": lambda scores: {"structured_outputs": {"regex": _judge_regex(scores)}},
    "vllm-legacy": lambda scores: {"guided_regex": _judge_regex(scores)},
    "llama.cpp": lambda scores: {"grammar": _judge_grammar(scores)},
}
"""Extra request fields that let a judge answer only the tagged evaluation and one allowed score."""
MAX_ANSWER_CHARS_PER_TOKEN = 32
MIN_ANSWER_CAP = 65_536
"""An answer longer than max_tokens x 32 characters (at least 64 KiB) is not a real answer: it is
not stored, and its row fails ("max_tokens is a request, not a guarantee")."""


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
    """A request that failed for good; `kind` says how (auth, bad_request, context_window, ...).

    `fatal` errors mean the teacher cannot answer this run at all (a refused key; or no answer at
    all before any request succeeded): the run stops instead of failing every row the same way."""

    def __init__(self, kind: str, message: str, attempts: int, fatal: bool = False, api_base: str | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.fatal = fatal
        self.api_base = api_base

    def advice(self) -> str:
        """What stopped the run and what to do about it, in a user's words."""
        where = self.api_base or "the teacher"
        if self.kind == "auth":
            return (f"The teacher at {where} refused the API key ({self.message}). Set the key's environment "
                    "variable (the profile's api_key_env) and resume the run.")
        if self.kind == "timeout":
            return (f"The teacher at {where} did not answer within the profile's timeout. Check that the server is "
                    "up and not overloaded (or raise the profile's timeout), then resume the run.")
        return (f"Nothing answers at {where} ({self.message}). Start a teacher there (vLLM: `vllm serve MODEL`, "
                "InstructLab: `ilab model serve`) or give --api-base, then resume the run.")


class PrioritySlots:
    """A bound on requests in flight where, among waiters, the lowest priority number goes first
    (ties in arrival order): the engine gives deeper blocks lower numbers, so pairs come early.

    A freed slot is handed on at the loop's next turn, not at once: the request that freed it has
    by then queued what follows from its answer (the next block's request), which competes for it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.free = size
        self.waiters: list[tuple[int, int, asyncio.Future]] = []
        self.order = itertools.count()

    @asynccontextmanager
    async def slot(self, priority: int = 0):
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, priority: int = 0) -> None:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiters, (priority, next(self.order), waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed the slot, then cancelled: pass it on
                self.release()
            raise

    def release(self) -> None:
        self.free += 1
        asyncio.get_running_loop().call_soon(self._hand_on)

    def _hand_on(self) -> None:
        while self.free > 0 and self.waiters:
            _, _, waiter = heapq.heappop(self.waiters)
            if not waiter.done():
                self.free -= 1
                waiter.set_result(None)


_litellm = None


def litellm_module():
    global _litellm
    if _litellm is None:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        handler = logging.FileHandler(log_path(), encoding="utf-8")
        handler.addFilter(_RedactingFilter())
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
        if profile.api_key() != KEYLESS_PLACEHOLDER:
            _keys_in_use.add(profile.api_key())
        self.concurrency = concurrency or profile.max_concurrency
        self.slots = PrioritySlots(self.concurrency)
        self.in_flight = 0
        self.answered_once = False
        """Until the teacher has answered once, a refused connection or a timeout is not retried:
        nothing answers there, and the run should say so now, not after timeout x attempts."""

    async def complete(self, messages: list[dict], *, temperature: float, max_tokens: int,
                       seed: int | None = None, on_answer: Callable[[Answer], Awaitable[None] | None] | None = None,
                       on_attempt: Callable[[int], None] | None = None, stop: asyncio.Event | None = None,
                       priority: int = 0, constrain: tuple[float, ...] | None = None) -> Answer:
        """Send until answered or failed for good. `on_answer` runs while the slot is still held,
        so the answer is stored before another request may start. Once `stop` is set, nothing
        more is sent (`Stopped`), while requests already sent finish and are stored. `constrain`
        (a judge's allowed scores) asks the server to decode only that format, if the profile says
        the server can."""
        litellm = litellm_module()
        extra = {}
        if constrain and self.profile.constrain_judges:
            extra["extra_body"] = CONSTRAINTS[self.profile.constrain_judges](constrain)
        cap = max(MIN_ANSWER_CAP, max_tokens * MAX_ANSWER_CHARS_PER_TOKEN)
        attempt = 0
        while True:
            attempt += 1
            async with self.slots.slot(priority):
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
                        temperature=temperature, max_tokens=max_tokens, seed=seed, **extra,
                    )
                    error = None
                except Exception as caught:  # classified below; nothing is swallowed
                    error = caught
                finally:
                    self.in_flight -= 1
                if error is None:
                    choices = getattr(response, "choices", None) or []
                    if not choices:
                        raise TeacherError("bad_answer", "the teacher's answer holds no choices", attempt,
                                           api_base=self.profile.api_base)
                    choice = choices[0]
                    text = getattr(getattr(choice, "message", None), "content", None) or ""
                    finish = choice.finish_reason
                    if len(text) > cap:
                        text, finish = text[:cap], "oversized"
                    usage = getattr(response, "usage", None)
                    self.answered_once = True
                    answer = Answer(
                        text=text, finish_reason=finish,
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
            unreachable = kind in ("connection", "timeout") and not self.answered_once
            if not retryable or unreachable or attempt >= self.profile.max_attempts:
                message = _short(error)
                if kind == "auth" and self.profile.api_key_env and not os.environ.get(self.profile.api_key_env):
                    message = f"{self.profile.api_key_env} is not set, so no key was sent; {message}"
                raise TeacherError(kind, message, attempt, fatal=kind == "auth" or unreachable,
                                   api_base=self.profile.api_base) from error
            backoff = random.uniform(0, min(self.profile.backoff_cap, self.profile.backoff_base * 2 ** (attempt - 1)))
            await asyncio.sleep(max(backoff, retry_after(error) or 0.0))


def _short(error: Exception) -> str:
    """The error in one line, with keys (and anything shaped like one) redacted before it is cut."""
    text = redact(" ".join(str(error).split()), _keys_in_use)
    return text[:300]


class _RedactingFilter(logging.Filter):
    """litellm's and httpx's log lines lose every key in use (and anything shaped like one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), _keys_in_use), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), _keys_in_use)
            record.exc_info = None
        return True


_keys_in_use: set[str] = set()
"""Keys this process has sent, so the log filter can take them out."""


async def close_clients() -> None:
    """Close litellm's pooled HTTP clients, and forget them: litellm would otherwise hand the closed
    ones to the next request on this loop ("the client has been closed"), e.g. the app's next run."""
    if _litellm is not None:
        from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

        await close_litellm_async_clients()
        _litellm.in_memory_llm_clients_cache.flush_cache()
