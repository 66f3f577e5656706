"""The teacher client: sends a request until it is answered or has failed for good.

Retries are ours (litellm's are off) so every attempt is counted: 429, 5xx, timeouts and refused
connections back off exponentially with full jitter, honouring Retry-After (at most backoff_cap),
sleeping outside the concurrency slot; auth errors, bad requests, context-window errors and
answers that cannot be read fail at once. Each attempt has a deadline for the whole exchange and a
cap on the body it reads (see `wire`), and what it returns is always storable: text that is valid
UTF-8 without the keys in use, token counts that are plausible whole numbers.

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
import os
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Awaitable, Callable

from lab_tui.pipeline.events import EndpointProgress
from lab_tui.pipeline.teacher.litellm_setup import (ATTEMPT_LIMITS, AttemptLimits, build_router, classify, explain,
                                                    import_router_first_use, litellm_module, remember_keys,
                                                    retry_after, without_keys)
from lab_tui.pipeline.teacher.profiles import CONSTRAINTS, TeacherProfile
from lab_tui.pipeline.teacher.slots import PrioritySlots
from lab_tui.safe_text import clean, unsurrogate

RECOUNT_PAUSE = 0.005
"""Seconds before a request that met a full endpoint asks the Router again while another has room."""
MAX_ANSWER_CHARS_PER_TOKEN = 32
MIN_ANSWER_CAP = 65_536
"""An answer longer than max_tokens x 32 characters (at least 64 KiB) is not a real answer: it is
not stored, and its row fails ("max_tokens is a request, not a guarantee")."""
BODY_BYTES_PER_CHAR = 12
BODY_SLACK = 1 << 20
"""A response body is read up to 12 bytes per character of the answer cap (JSON may write one
character as a 12-byte escape pair) plus 1 MiB for the rest of the response, and no further: a
gzip bomb or an endless body fails its row instead of filling the memory."""
BACKSTOP_GRACE = 5.0
"""Seconds past the profile's timeout at which an attempt is ended from outside, whatever litellm
is doing. The guard ends it at the timeout itself, counted from its first byte sent; this is for
providers litellm sends through its own clients (e.g. hosted_vllm/), where the guard is not."""
MAX_TOKEN_COUNT = 10**9
"""A token count above this (or not a whole number) is not believed: stored as 0, as a missing one."""


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
    all before any request succeeded): the run stops instead of failing every row the same way.
    `message` is one clean line with the keys redacted (see `litellm_setup.describe`)."""

    def __init__(self, kind: str, message: str, attempts: int, fatal: bool = False, api_base: str | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.fatal = fatal
        self.api_base = api_base

    def advice(self) -> str:
        """What stopped the run and what to do about it, in a user's words."""
        where = " ".join(clean(self.api_base).split()) if self.api_base else "the teacher"
        if self.kind == "auth":
            return (f"The teacher at {where} refused the API key ({self.message}). Set the key's environment "
                    "variable (the profile's api_key_env) and resume the run.")
        if self.kind == "timeout":
            return (f"The teacher at {where} did not answer within the profile's timeout. Check that the server is "
                    "up and not overloaded (or raise the profile's timeout), then resume the run.")
        return (f"Nothing answers at {where} ({self.message}). Start a teacher there (vLLM: `vllm serve MODEL`, "
                "InstructLab: `ilab model serve`) or give --api-base, then resume the run.")


class Teacher:
    """Sends chat requests under one bound on requests in flight, to one server or, for a profile
    with endpoints, through litellm's Router over all of them."""

    def __init__(self, profile: TeacherProfile, concurrency: int | None = None) -> None:
        self.profile = profile
        remember_keys([profile.api_key_env, *(e.api_key_env for e in profile.endpoints)])
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
        self._deployments: dict[str, dict] = {}
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
        params: dict = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}
        if constrain and self.profile.constrain_judges:
            params["extra_body"] = CONSTRAINTS[self.profile.constrain_judges](constrain)
        cap = max(MIN_ANSWER_CAP, max_tokens * MAX_ANSWER_CHARS_PER_TOKEN)
        attempt = 0
        while True:
            attempt += 1
            async with self.slots.slot(priority):
                response, endpoint, error, started = await self._attempt(messages, params, cap, attempt, on_attempt, stop)
                if error is None:
                    answer = self._answer(response, endpoint, attempt, time.monotonic() - started, cap)
                    if on_answer:
                        result = on_answer(answer)
                        if asyncio.iscoroutine(result):
                            await result
                    return answer
            if not await self._recover(error, endpoint, attempt):
                attempt -= 1

    async def _attempt(self, messages: list[dict], params: dict, cap: int, attempt: int,
                       on_attempt: Callable[[int], None] | None, stop: asyncio.Event | None):
        """One attempt, in the request's slot: (response, endpoint, None, started) or (None,
        endpoint, error, started). A full endpoint is waited for in the slot: no churn through the
        others' turns."""
        refused = 0
        while True:
            if stop is not None and stop.is_set():
                raise Stopped()
            self.in_flight += 1
            if on_attempt:
                on_attempt(attempt)
            started = time.monotonic()
            try:
                response, endpoint = await self._send(messages, params, cap)
                return response, endpoint, None, started
            except Exception as caught:  # classified by `_recover`; nothing is swallowed
                error = caught
            finally:
                self.in_flight -= 1
                self._wake_one()
            if not self._endpoint_full(error):
                return None, self._endpoint_of(error), error, started
            refused += 1
            await self._wait_for_an_endpoint(error, soon=refused == 1)

    def _answer(self, response, endpoint: str, attempt: int, latency: float, cap: int) -> Answer:
        """The response as an Answer that can always be stored and shown: valid UTF-8 text without
        the keys in use, cut at the cap; believable token counts."""
        choices = getattr(response, "choices", None) or []
        if not choices:
            raise TeacherError("bad_answer", "the teacher's answer holds no choices", attempt, api_base=endpoint)
        choice = choices[0]
        text = without_keys(unsurrogate(getattr(getattr(choice, "message", None), "content", None) or ""))
        finish = choice.finish_reason  # litellm maps it to one of OpenAI's few (an unknown one reads as "stop")
        if len(text) > cap:
            text, finish = text[:cap], "oversized"
        usage = getattr(response, "usage", None)
        self.answered_once = True
        answer = Answer(text=text, finish_reason=finish,
                        tokens_in=_token_count(getattr(usage, "prompt_tokens", 0)),
                        tokens_out=_token_count(getattr(usage, "completion_tokens", 0)),
                        latency_s=latency, attempts=attempt, endpoint=endpoint)
        self.counts[endpoint].answered += 1
        self.healthy.add(endpoint)
        self.counts[endpoint].latency_sum += latency
        return answer

    async def _recover(self, error: Exception, endpoint: str | None, attempt: int) -> bool:
        """After a failed attempt: raises `TeacherError` when the request has failed for good, else
        waits as long as the next attempt should (back-off, Retry-After, an endpoint's cool-down)
        and says whether this attempt counts against the request's `max_attempts`."""
        if self._not_sent(error):  # every endpoint rests
            if not self.answered_once and self.unreachable >= set(self.counts):
                raise self._unreachable_error(attempt - 1, "connection", error) from error
            await self._wait_for_an_endpoint(error)
            return False
        if self._at_own_limit(error):  # the Router rests that endpoint: the next attempt goes to another
            return False
        kind, retryable = classify(error)
        if endpoint in self.counts:
            self.counts[endpoint].errors += 1
            self.healthy.discard(endpoint)
            if kind in ("connection", "timeout") and not self.answered_once:
                self.unreachable.add(endpoint)
        if kind == "connection" and self.healthy:
            return False  # it reached no server, and another endpoint answers: the request is not to blame
        if kind in ("connection", "timeout") and not self.answered_once and self.unreachable >= set(self.counts):
            raise self._unreachable_error(attempt, kind, error) from error
        if not retryable or attempt >= self.profile.max_attempts:
            message = explain(error)
            variable = self._key_env(endpoint)
            if kind == "auth" and variable and not os.environ.get(variable):
                message = f"{variable} is not set, so no key was sent; {message}"
            raise TeacherError(kind, message, attempt, fatal=kind == "auth", api_base=endpoint) from error
        if len(self.counts) == 1:  # several: the Router has cooled that one down, the next attempt goes to another
            await asyncio.sleep(self._backoff(attempt, error))
        return True

    def _backoff(self, attempt: int, error: Exception) -> float:
        """Exponential with full jitter, or the Retry-After if longer; never over backoff_cap."""
        cap = self.profile.backoff_cap
        jitter = random.uniform(0, min(cap, self.profile.backoff_base * 2 ** min(attempt - 1, 64)))
        return max(jitter, retry_after(error, cap) or 0.0)

    async def _send(self, messages: list[dict], params: dict, cap: int):
        """One attempt's exchange, held to the profile's timeout as a whole and its body to the
        cap: (response, the endpoint that answered)."""
        litellm = litellm_module()
        limits = ATTEMPT_LIMITS.set(AttemptLimits(self.profile.timeout, BODY_BYTES_PER_CHAR * cap + BODY_SLACK,
                                                  self.profile.backoff_cap))
        try:
            async with asyncio.timeout(self.profile.timeout + BACKSTOP_GRACE):
                if not self.profile.endpoints:
                    response = await litellm.acompletion(
                        model=self.profile.model, messages=messages, api_base=self.profile.api_base,
                        api_key=self.profile.api_key(), timeout=self.profile.timeout, num_retries=0, **params)
                    return response, self.profile.api_base or ""
                response = await self._router().acompletion(model=self.profile.model, messages=messages, **params)
                return response, response._hidden_params["model_id"]
        finally:
            ATTEMPT_LIMITS.reset(limits)

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
        message = f"no endpoint answered ({bases})" if len(self.counts) > 1 else explain(error)
        return TeacherError(kind, message, attempt, fatal=True, api_base=bases or None)

    def _key_env(self, endpoint: str) -> str | None:
        for candidate in self.profile.endpoints:
            if candidate.api_base == endpoint:
                return candidate.api_key_env
        return self.profile.api_key_env

    def _router(self):
        """litellm's Router over the profile's endpoints, built on first use."""
        if self.router is None:
            self.router, self._deployments = build_router(self.profile)
        return self.router

    def prepare(self) -> None:
        """Import litellm, build the Router and import what its first answer would: work that would
        stall the event loop at the first requests (the app's screen, the run's first answers);
        called off the loop before a run."""
        litellm_module()
        if self.profile.endpoints:
            self._router()
            import_router_first_use()

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


def _token_count(value) -> int:
    """A usage figure as stored: a whole number from 0 to MAX_TOKEN_COUNT, else 0 (not said)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT else 0
