"""The one place a teacher profile becomes litellm calls.

litellm is imported on first use (it costs ~3 s and ~200 MB), with its cost map read locally so
the import never reaches for the network, its banners silenced and its loggers sent to the log
file. Retries are ours (litellm's are off) so every attempt is counted: 429, 5xx, timeouts and
refused connections back off exponentially with full jitter, honouring Retry-After, sleeping
outside the concurrency slot; auth errors, bad requests and context-window errors fail at once.

A profile with several `endpoints` (one model served by several boxes) sends through litellm's
Router: it picks the least busy endpoint that is not cooling down (for endpoints of unequal
`max_concurrency`, one at random in proportion to it), holds each endpoint to its
`max_concurrency` and rpm/tpm (an endpoint at its limit for the minute rests; that costs no request
an attempt), and cools an endpoint down when it fails (for Retry-After on a 429). The Router never
retries: our loop does, so the next attempt of a request that failed on one endpoint goes at once
to another, and waits only when every endpoint is cooling down.
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
import itertools
import logging
import os
import random
import time
from collections import deque
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, dataclass
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from lab_tui.config import load_settings, log_path
from lab_tui.errors import EXIT_USAGE, UserError
from lab_tui.pipeline.events import EndpointProgress
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
class Endpoint:
    """One server of a profile's model: its URL, the *name* of its key variable, its limits."""
    api_base: str
    api_key_env: str | None = None
    max_concurrency: int = 16
    rpm: int | None = None
    tpm: int | None = None


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
    endpoints: tuple[Endpoint, ...] = ()
    """Several servers of one model (sent through litellm's Router); empty: the one `api_base`."""
    cooldown: float = 5.0
    """Seconds an endpoint that failed rests before it is tried again (a 429's Retry-After if longer)."""
    allowed_fails: int = 0
    """Failures an endpoint may have in a minute before it is cooled down."""

    def __post_init__(self) -> None:  # a profile read back from a run's JSON holds plain dicts
        object.__setattr__(self, "endpoints", tuple(e if isinstance(e, Endpoint) else Endpoint(**e)
                                                    for e in self.endpoints))

    def public(self) -> dict:
        """The profile as stored with a run: names only, no secrets."""
        return asdict(self)

    def api_key(self) -> str:
        return (os.environ.get(self.api_key_env) if self.api_key_env else None) or KEYLESS_PLACEHOLDER

    def bases(self) -> tuple[str, ...]:
        """Every URL this profile sends to."""
        return tuple(e.api_base for e in self.endpoints) if self.endpoints else (self.api_base or "",)

    def for_endpoint(self, endpoint: Endpoint) -> "TeacherProfile":
        """The single-server profile of one endpoint (what `teacher check` asks, one by one)."""
        return TeacherProfile(**{**self.public(), "endpoints": (), "api_base": endpoint.api_base,
                                 "api_key_env": endpoint.api_key_env, "max_concurrency": endpoint.max_concurrency})


class ProfileError(UserError, ValueError):
    """A teacher profile that does not exist or cannot be used; the message says which and why."""

    title = "Teacher profile not usable"
    exit_code = EXIT_USAGE


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
    if "endpoints" in (stored or {}):
        if overrides.get("api_base") or overrides.get("api_key_env"):
            raise ProfileError(f"teacher profile {name!r} lists its endpoints; --api-base and --api-key-env are "
                               "for one server (edit the endpoints in the settings file instead)")
        values["endpoints"] = _endpoints(name, stored["endpoints"], (stored or {}).get("api_key_env"),
                                         values["max_concurrency"])
        total = sum(e.max_concurrency for e in values["endpoints"])
        explicit = (stored or {}).get("max_concurrency")
        values.update(api_base=None, api_key_env=None, max_concurrency=min(total, explicit) if explicit else total)
    try:
        return TeacherProfile(**values)
    except TypeError as error:
        raise ProfileError(f"teacher profile {name!r}: {error}") from error


def _endpoints(name: str, raw, key_env: str | None, concurrency: int) -> tuple[Endpoint, ...]:
    """A profile's endpoint list, checked before anything is sent: at least one, each an http(s)
    URL, none twice, limits that are whole numbers, and every key variable named actually set."""
    where = f"teacher profile {name!r}"
    if not isinstance(raw, list) or not raw:
        raise ProfileError(f"{where} lists no endpoints (give at least one {{\"api_base\": URL}})")
    endpoints, seen = [], {}
    for number, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise ProfileError(f"{where}: endpoint {number} is not a mapping with an api_base")
        unknown = sorted(set(item) - set(Endpoint.__dataclass_fields__))
        if unknown:
            raise ProfileError(f"{where}: endpoint {number} has unknown keys {', '.join(unknown)} (known: "
                               f"{', '.join(Endpoint.__dataclass_fields__)})")
        base = item.get("api_base")
        parts = urlsplit(base) if isinstance(base, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not base.isprintable() \
                or " " in base:
            raise ProfileError(f"{where}: endpoint {number}'s api_base {base!r} is not an http(s) URL "
                               "(e.g. http://gpu-1:8000/v1)")
        try:
            parts.port
        except ValueError:
            raise ProfileError(f"{where}: endpoint {number}'s api_base {base!r} has a port that is not a number") from None
        same = f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
        if same in seen:
            raise ProfileError(f"{where}: endpoints {seen[same]} and {number} are the same server ({base})")
        seen[same] = number
        for limit in ("max_concurrency", "rpm", "tpm"):
            value = item.get(limit)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ProfileError(f"{where}: endpoint {number}'s {limit} is {value!r}, not a whole number of at least 1")
        variable = item.get("api_key_env", key_env)
        if variable is not None and not isinstance(variable, str):
            raise ProfileError(f"{where}: endpoint {number}'s api_key_env is {variable!r}, not a variable's name")
        if variable is not None and not os.environ.get(variable):
            raise ProfileError(f"{where}: endpoint {number} ({base}) takes its key from ${variable}, which is not set")
        endpoints.append(Endpoint(**{**item, "api_key_env": variable,
                                     "max_concurrency": item.get("max_concurrency") or concurrency}))
    return tuple(endpoints)


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
RECOUNT_PAUSE = 0.005
"""Seconds before a request that met a full endpoint asks the Router again while another has room."""
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
    endpoint: str | None = None
    """The URL that answered (a resumed run's stored answers keep theirs in the store)."""


@dataclass
class EndpointCounts:
    answered: int = 0
    errors: int = 0
    latency_sum: float = 0.0


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
        self.waiters: list[tuple[int, int, int, asyncio.Future]] = []
        self.order = itertools.count()
        self.sign = 1

    def reverse(self) -> None:
        """From now on the highest priority number goes first (waiters included): once every chain
        of a run is admitted, the requests with the longest way still to go are sent first, which
        shortens the run's tail."""
        self.sign = -1
        self.waiters = [(-priority, order, priority, waiter) for _, order, priority, waiter in self.waiters]
        heapq.heapify(self.waiters)

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
        heapq.heappush(self.waiters, (self.sign * priority, next(self.order), priority, waiter))
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
            _, _, _, waiter = heapq.heappop(self.waiters)
            if not waiter.done():
                self.free -= 1
                waiter.set_result(None)


_litellm = None
_routers: list = []


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


ROUTER_FIRST_USE = ("litellm.proxy._types", "litellm.integrations.websearch_interception.handler",
                    "litellm.integrations.shadow_eval_logger", "litellm.proxy.spend_tracking.savings")
"""Modules litellm 1.110 imports on a Router's first answer (~0.3 s of CPU, measured)."""
FREE = {"input_cost_per_token": 0, "output_cost_per_token": 0}
"""lab-tui does not price requests; a deployment without prices makes litellm's Router search its
price tables on every answer (about a third of the Router's time per request)."""


class Teacher:
    """Sends chat requests under one bound on requests in flight, to one server or, for a profile
    with endpoints, through litellm's Router over all of them."""

    def __init__(self, profile: TeacherProfile, concurrency: int | None = None) -> None:
        self.profile = profile
        for variable in {profile.api_key_env, *(e.api_key_env for e in profile.endpoints)} - {None}:
            if os.environ.get(variable):  # redacted from every error text and log line
                _keys_in_use.add(os.environ[variable])
        capacity = sum(e.max_concurrency for e in profile.endpoints)
        self.concurrency = concurrency or profile.max_concurrency
        if capacity:  # more would only meet the endpoints' own limits
            self.concurrency = min(self.concurrency, capacity)
        self.slots = PrioritySlots(self.concurrency)
        self.in_flight = 0
        self.answered_once = False
        """Until the teacher has answered once, a refused connection or a timeout is not retried:
        nothing answers there, and the run should say so now, not after timeout x attempts."""
        self.unreachable: set[str] = set()
        """Endpoints that refused or timed out before any endpoint answered: all of them stops the run."""
        self.healthy: set[str] = set()
        """Endpoints whose last attempt was answered. A refused connection (a server gone) is not
        counted against a request while another endpoint is healthy: each time the gone one's
        cool-down ends the Router tries it again, and the unlucky requests would otherwise run out
        of attempts; with no endpoint healthy it counts, so rows still fail when all are gone."""
        self.counts = {base: EndpointCounts() for base in profile.bases()}
        self.started: float | None = None
        """When the first request was sent: per-endpoint rates count from there."""
        self.router = None
        self.waiting: deque[asyncio.Future] = deque()
        """Requests refused by a full endpoint, each woken in turn as a request ends."""
        self._cooling: tuple[float, frozenset[str]] = (0.0, frozenset())

    async def complete(self, messages: list[dict], *, temperature: float, max_tokens: int,
                       seed: int | None = None, on_answer: Callable[[Answer], Awaitable[None] | None] | None = None,
                       on_attempt: Callable[[int], None] | None = None, stop: asyncio.Event | None = None,
                       priority: int = 0, constrain: tuple[float, ...] | None = None) -> Answer:
        """Send until answered or failed for good. `on_answer` runs while the slot is still held,
        so the answer is stored before another request may start. Once `stop` is set, nothing
        more is sent (`Stopped`), while requests already sent finish and are stored. `constrain`
        (a judge's allowed scores) asks the server to decode only that format, if the profile says
        the server can."""
        if self.started is None:
            self.started = time.monotonic()
        extra = {}
        if constrain and self.profile.constrain_judges:
            extra["extra_body"] = CONSTRAINTS[self.profile.constrain_judges](constrain)
        cap = max(MIN_ANSWER_CAP, max_tokens * MAX_ANSWER_CHARS_PER_TOKEN)
        attempt = 0
        while True:
            attempt += 1
            async with self.slots.slot(priority):
                refused = 0
                while True:  # a full endpoint is waited for in the slot: no churn through the others' turns
                    if stop is not None and stop.is_set():
                        raise Stopped()
                    self.in_flight += 1
                    if on_attempt:
                        on_attempt(attempt)
                    started = time.monotonic()
                    try:
                        response, endpoint = await self._send(messages, temperature=temperature,
                                                              max_tokens=max_tokens, seed=seed, **extra)
                        error = None
                    except Exception as caught:  # classified below; nothing is swallowed
                        error, endpoint = caught, self._endpoint_of(caught)
                    finally:
                        self.in_flight -= 1
                        self._wake_one()
                    if error is None or not self._endpoint_full(error):
                        break
                    refused += 1
                    await self._wait_for_an_endpoint(error, soon=refused == 1)
                if error is None:
                    choices = getattr(response, "choices", None) or []
                    if not choices:
                        raise TeacherError("bad_answer", "the teacher's answer holds no choices", attempt,
                                           api_base=endpoint)
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
                        latency_s=time.monotonic() - started, attempts=attempt, endpoint=endpoint,
                    )
                    self.counts[endpoint].answered += 1
                    self.healthy.add(endpoint)
                    self.counts[endpoint].latency_sum += answer.latency_s
                    if on_answer:
                        result = on_answer(answer)
                        if asyncio.iscoroutine(result):
                            await result
                    return answer
            if self._not_sent(error):  # every endpoint rests
                attempt -= 1
                if not self.answered_once and self.unreachable >= set(self.counts):
                    raise self._unreachable_error(attempt, "connection", error) from error
                await self._wait_for_an_endpoint(error)
                continue
            if self._at_own_limit(error):  # the Router rests that endpoint: the next attempt goes to another
                attempt -= 1
                continue
            kind, retryable = classify(error)
            if endpoint in self.counts:
                self.counts[endpoint].errors += 1
                self.healthy.discard(endpoint)
                if kind in ("connection", "timeout") and not self.answered_once:
                    self.unreachable.add(endpoint)
            if kind == "connection" and self.healthy:
                attempt -= 1  # it reached no server, and another endpoint answers: the request is not to blame
                continue
            if kind in ("connection", "timeout") and not self.answered_once and self.unreachable >= set(self.counts):
                raise self._unreachable_error(attempt, kind, error) from error
            if not retryable or attempt >= self.profile.max_attempts:
                message = _short(error)
                variable = self._key_env(endpoint)
                if kind == "auth" and variable and not os.environ.get(variable):
                    message = f"{variable} is not set, so no key was sent; {message}"
                raise TeacherError(kind, message, attempt, fatal=kind == "auth", api_base=endpoint) from error
            if len(self.counts) > 1:
                continue  # the Router has cooled that endpoint down: the next attempt goes to another one
            backoff = random.uniform(0, min(self.profile.backoff_cap, self.profile.backoff_base * 2 ** (attempt - 1)))
            await asyncio.sleep(max(backoff, retry_after(error) or 0.0))

    async def _send(self, messages: list[dict], **params):
        """One attempt: (response, the endpoint that answered)."""
        litellm = litellm_module()
        if not self.profile.endpoints:
            response = await litellm.acompletion(
                model=self.profile.model, messages=messages, api_base=self.profile.api_base,
                api_key=self.profile.api_key(), timeout=self.profile.timeout, num_retries=0, **params)
            return response, self.profile.api_base or ""
        response = await self._router().acompletion(model=self.profile.model, messages=messages, **params)
        return response, response._hidden_params["model_id"]

    def _endpoint_of(self, error: Exception) -> str | None:
        """Which endpoint failed (None when the Router does not say)."""
        if not self.profile.endpoints:
            return self.profile.api_base or ""
        return getattr(error, "failed_deployment_id", None)

    def _not_sent(self, error: Exception) -> bool:
        """The Router sent nothing: every endpoint is cooling down."""
        if not self.profile.endpoints:
            return False
        from litellm.types.router import RouterRateLimitError

        return isinstance(error, RouterRateLimitError)

    def _at_own_limit(self, error: Exception) -> bool:
        """The endpoint the Router chose is at its rpm or tpm for this minute: refused before sending
        (not the endpoint's error nor the request's attempt); the Router rests it."""
        request = getattr(getattr(error, "response", None), "request", None)
        return bool(self.profile.endpoints) and getattr(request, "method", None) == "MODEL_RATE_LIMIT_CHECK"

    def _endpoint_full(self, error: Exception) -> bool:
        """The endpoint the Router chose is at its max_concurrency (litellm's own limits refuse at
        once instead of queueing); happens while a cooled endpoint's share waits for the others."""
        if not self.profile.endpoints:
            return False
        from litellm.exceptions import RateLimitErrorCategory

        return getattr(error, "category", None) == RateLimitErrorCategory.LITELLM_RATE_LIMIT

    async def _wait_for_an_endpoint(self, error: Exception, soon: bool = False) -> None:
        """Until an endpoint can take a request: the soonest end of a cool-down; a moment, the first
        time (`soon`) the Router chose a full endpoint while another has room; else the next request
        to end, one waiter per ending request (1 s at most). A moment only once per request: a pick
        that meets a full endpoint again waits for an answer rather than asking in a loop."""
        rest = getattr(error, "cooldown_time", None)
        if rest is not None:
            await asyncio.sleep(min(self.profile.backoff_cap, max(0.05, float(rest))))
            return
        if soon and self._room_elsewhere():
            await asyncio.sleep(RECOUNT_PAUSE)
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout=1.0)
        except asyncio.TimeoutError:
            pass

    def _room_elsewhere(self) -> bool:
        """An endpoint that is not resting has a free place by the Router's own limits: least-busy
        chose a full one because its counts drop only when litellm's background logging has
        counted an answer's end, a few milliseconds after the place is actually free."""
        resting = self._resting()
        return any(e.api_base not in resting and self._in_flight_at(e.api_base) < e.max_concurrency
                   for e in self.profile.endpoints)

    def _wake_one(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _unreachable_error(self, attempt: int, kind: str, error: Exception) -> TeacherError:
        """Nothing answers anywhere: one server says its own error, several are named together."""
        bases = ", ".join(self.counts)
        message = f"no endpoint answered ({bases})" if len(self.counts) > 1 else _short(error)
        return TeacherError(kind, message, attempt, fatal=True, api_base=bases or None)

    def _key_env(self, endpoint: str) -> str | None:
        for candidate in self.profile.endpoints:
            if candidate.api_base == endpoint:
                return candidate.api_key_env
        return self.profile.api_key_env

    def _router(self):
        """litellm's Router over the profile's endpoints, built on first use (the keys are read from
        their variables here, and live only in memory). Endpoints of one max_concurrency go to the
        least busy; endpoints of different ones are chosen at random in proportion to it: least-busy
        counts requests in flight, so it would fill each only as far as the smallest one's limit."""
        if self.router is None:
            deployments = [{
                "model_name": self.profile.model,
                "litellm_params": {
                    "model": self.profile.model, "api_base": e.api_base,
                    "api_key": (os.environ.get(e.api_key_env) if e.api_key_env else None) or KEYLESS_PLACEHOLDER,
                    "timeout": self.profile.timeout, "max_retries": 0, "max_parallel_requests": e.max_concurrency,
                    "weight": e.max_concurrency,
                    **{k: v for k, v in (("rpm", e.rpm), ("tpm", e.tpm)) if v}},
                "model_info": {"id": e.api_base, **FREE},
            } for e in self.profile.endpoints]
            equal = len({e.max_concurrency for e in self.profile.endpoints}) == 1
            self.router = litellm_module().Router(
                model_list=deployments, routing_strategy="least-busy" if equal else "simple-shuffle",
                num_retries=0, max_fallbacks=0, allowed_fails=self.profile.allowed_fails,
                cooldown_time=self.profile.cooldown,
                optional_pre_call_checks=["enforce_model_rate_limits"])  # rpm/tpm are only routing hints without it
            self._deployments = {d["model_info"]["id"]: d for d in deployments}
            _routers.append(self.router)
        return self.router

    def prepare(self) -> None:
        """Import litellm, build the Router and import what its first answer would: work that would
        stall the event loop at the first requests (the app's screen, the run's first answers);
        called off the loop before a run."""
        litellm_module()
        if self.profile.endpoints:
            self._router()
            for name in ROUTER_FIRST_USE:
                with suppress(ImportError):  # another litellm may not have it: then it costs nothing here
                    importlib.import_module(name)

    def figures(self) -> tuple[EndpointProgress, ...]:
        """Per endpoint: answers, answers a second, mean latency, in flight, errors, cooling down."""
        elapsed = max(time.monotonic() - (self.started or time.monotonic()), 1e-9)
        cooling = self._cooling_now()
        return tuple(EndpointProgress(base, c.answered, c.answered / elapsed,
                                      c.latency_sum / c.answered if c.answered else None,
                                      self._in_flight_at(base), c.errors, base in cooling)
                     for base, c in self.counts.items())

    def _in_flight_at(self, base: str) -> int:
        if self.router is None:
            return self.in_flight if not self.profile.endpoints else 0
        limit = self.router.registry().client(self._deployments[base], client_type="max_parallel_requests")
        return getattr(limit, "in_flight", 0)

    def _cooling_now(self) -> frozenset[str]:
        """Endpoints the Router is resting, read at most 4 times a second (events come far more often)."""
        if self.router is None:
            return frozenset()
        read_at, cooling = self._cooling
        if time.monotonic() - read_at > 0.25:
            cooling = self._resting()
            self._cooling = (time.monotonic(), cooling)
        return cooling

    def _resting(self) -> frozenset[str]:
        """Endpoints the Router is resting now."""
        active = self.router.health().cooldowns.get_active_cooldowns(list(self.counts), None)
        return frozenset(model_id for model_id, _ in active)


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
    while _routers:
        _routers.pop().retire()
