"""litellm, set up once for lab-tui: imported on first use, kept quiet, guarded, and its errors sorted.

litellm is imported on first use (it costs ~3 s and ~200 MB), with its cost map read locally so
the import never reaches for the network and its banners silenced. Its loggers, httpx's and
Python's warnings (pydantic warns with a malformed answer's content, which may echo the key) go to
the log file through a filter that takes out every key in use, never to the terminal; a log file
that cannot be opened leaves the run without one (`log_file_problem` says why). Requests to
OpenAI-compatible servers, through `acompletion` or the Router, go through `wire.GuardedTransport`
(litellm's `aclient_session`), which holds each attempt to the `AttemptLimits` the client sets.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import threading
import time
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Iterable

from lab_tui.config import log_path
from lab_tui.pipeline.teacher.profiles import KEYLESS_PLACEHOLDER, TeacherProfile
from lab_tui.safe_text import REDACTED, clean, redact, unsurrogate

_litellm = None
_routers: list = []
_list_prices: dict[str, tuple[float | None, float | None]] = {}
_keys_in_use: set[str] = set()
"""Keys this process sends, so logs, errors and answers can take them out."""
_log_problem: str | None = None
_import_lock = threading.Lock()


@dataclass
class AttemptLimits:
    """What one attempt may take, set by the client around it and read by the HTTP guard."""
    timeout: float
    """Seconds for the whole exchange (headers and body, redirects included), from its first request."""
    body_bytes: int
    """Most bytes of response body read (after inflating)."""
    longest_wait: float
    """A Retry-After longer than this (the profile's backoff_cap) is read as this."""
    deadline: float | None = None
    """The event loop's time at which the exchange ends: set by the guard when its first request goes
    out (litellm's own work before it, an import on first use, is not the teacher's time)."""


ATTEMPT_LIMITS: ContextVar[AttemptLimits | None] = ContextVar("lab_tui_attempt_limits", default=None)


def preload_litellm() -> None:
    """Start importing litellm (~5 s of CPU) in a thread of its own, so that the work done meanwhile
    (reading the skill, the flow and the database; the app drawing) overlaps it; the first
    `litellm_module()` call then waits only for the rest. A daemon thread: a command that ends
    first does not wait for it."""
    if _litellm is None:
        threading.Thread(target=_quiet_import, name="litellm-import", daemon=True).start()


def _quiet_import() -> None:
    with suppress(Exception):  # what went wrong shows where litellm is used, in the caller's thread
        litellm_module()


def litellm_module():
    if _litellm is not None:
        return _litellm
    with _import_lock:  # a preload and a run's set-up at once set litellm up once
        return _litellm or _set_up_litellm()


def _set_up_litellm():
    global _litellm
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    from lab_tui.pipeline.teacher.wire import guarded_client

    litellm.suppress_debug_info = True
    handler = _log_handler()
    logging.captureWarnings(True)
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.propagate = False
        logger.setLevel(logging.WARNING)
    litellm.aclient_session = guarded_client()
    _list_prices.update((name, (entry.get("input_cost_per_token"), entry.get("output_cost_per_token")))
                        for name, entry in litellm.model_cost.items() if isinstance(entry, dict))
    _litellm = litellm
    return _litellm


def list_price(model: str) -> tuple[float, float] | None:
    """US dollars per prompt and per completion token in litellm's bundled price table, as it was
    before any Router was built: a Router declares its deployments free (FREE), which litellm writes
    into the same table under the model's name, so asking litellm afterwards says every model is free."""
    litellm_module()
    for name in (model, model.split("/", 1)[-1]):
        prompt, completion = _list_prices.get(name, (None, None))
        if prompt is not None and completion is not None:
            return float(prompt), float(completion)
    return None


def _log_handler() -> logging.Handler:
    """The log file, or nothing when it cannot be opened (an unwritable data folder): a run
    never fails for its log."""
    global _log_problem
    try:
        handler = logging.FileHandler(log_path(), encoding="utf-8")
    except OSError as error:
        _log_problem = (f"lab-tui cannot open its log file ({clean(str(error))}); this run goes on without it "
                        "(litellm's warnings are not kept).")
        return logging.NullHandler()
    handler.addFilter(_RedactingFilter())
    return handler


def log_file_problem() -> str | None:
    """Why litellm's log lines have nowhere to go this time (its log file could not be opened), or None."""
    return _log_problem


class _RedactingFilter(logging.Filter):
    """litellm's and httpx's log lines lose every key in use (and anything shaped like one), and
    any lone surrogate (which the UTF-8 file cannot take)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = unsurrogate(redact(record.getMessage(), _keys_in_use)), None
        if record.exc_info:
            record.exc_text = unsurrogate(redact(logging.Formatter().formatException(record.exc_info), _keys_in_use))
            record.exc_info = None
        return True


def remember_keys(variables: Iterable[str | None]) -> None:
    """The keys held by these environment variables are in use: taken out of every log line,
    error and answer from now on."""
    for variable in set(variables) - {None}:
        if os.environ.get(variable):
            _keys_in_use.add(os.environ[variable])


def describe(error: BaseException) -> str:
    """The error in one line for a person and the database: no escape sequence or control
    character, keys (and anything shaped like one) redacted before it is cut."""
    return redact(" ".join(clean(str(error)).split()), _keys_in_use)[:300]


def without_keys(text: str) -> str:
    """An answer's text without the keys in use (a teacher may echo the request's headers). Only
    the exact keys: an answer that explains `Bearer` tokens is the teacher's answer, not a leak."""
    for key in _keys_in_use:
        if len(key) >= 4:
            text = text.replace(key, REDACTED)
    return text


def classify(error: BaseException) -> tuple[str, bool]:
    """(kind, retryable) for a failed attempt; connection and key problems share a class."""
    from lab_tui.pipeline.teacher.wire import DeadlineExceeded

    litellm = litellm_module()
    if refused_body(error) is not None or _malformed(error) is not None:
        return "bad_answer", False
    if isinstance(error, TimeoutError) or _cause(error, DeadlineExceeded) is not None:  # the attempt's deadline
        return "timeout", True
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


def explain(error: BaseException) -> str:
    """What went wrong, in one line: an answer that was not read says why in its own words (not
    litellm's "Connection error." or its traceback); anything else is `describe`d."""
    refused = refused_body(error)
    if refused is not None:
        return describe(refused)
    if isinstance(error, TimeoutError):
        return "no whole answer within the profile's timeout"
    malformed = _malformed(error)
    if malformed is not None:
        fields = "; ".join(f"{malformed.title}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                           for e in malformed.errors()[:3])
        return describe(f"the answer is not a chat completion litellm can read ({fields})")
    return describe(error)


def refused_body(error: BaseException):
    """The guard's `RefusedBody` behind a litellm error (an answer over the cap), or None."""
    from lab_tui.pipeline.teacher.wire import RefusedBody

    return _cause(error, RefusedBody)


def _malformed(error: BaseException):
    """The validation error behind litellm's "Invalid response object": content that is an
    object or a list, token counts that are not numbers."""
    from pydantic import ValidationError

    return _cause(error, ValidationError)


def _cause(error: BaseException, kind: type):
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 16:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def retry_after(error: BaseException, longest: float) -> float | None:
    """The seconds a failed attempt's Retry-After asks for, at most `longest`; None without one."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or getattr(error, "litellm_response_headers", None) or {}
    seconds = wait_seconds(headers.get("retry-after") if hasattr(headers, "get") else None)
    return None if seconds is None else min(seconds, longest)


def wait_seconds(value) -> float | None:
    """A Retry-After value in seconds (a number, `inf`, or an HTTP date; one in the past is 0),
    or None when it is neither."""
    if not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return None if math.isnan(seconds) else max(0.0, seconds)


ROUTER_FIRST_USE = ("litellm.proxy._types", "litellm.integrations.websearch_interception.handler",
                    "litellm.integrations.shadow_eval_logger", "litellm.proxy.spend_tracking.savings")
"""Modules litellm 1.110 imports on a Router's first answer (~0.3 s of CPU, measured)."""
FREE = {"input_cost_per_token": 0, "output_cost_per_token": 0}
"""lab-tui does not price requests; a deployment without prices makes litellm's Router search its
price tables on every answer (about a third of the Router's time per request)."""


def build_router(profile: TeacherProfile):
    """litellm's Router over a profile's endpoints, and its deployments by id (the endpoint's URL).
    The keys are read from their variables here, and live only in memory. Endpoints of one
    max_concurrency go to the least busy; endpoints of different ones are chosen at random in
    proportion to it: least-busy counts requests in flight, so it would fill each only as far as
    the smallest one's limit."""
    deployments = [{
        "model_name": profile.model,
        "litellm_params": {
            "model": profile.model, "api_base": e.api_base,
            "api_key": (os.environ.get(e.api_key_env) if e.api_key_env else None) or KEYLESS_PLACEHOLDER,
            "timeout": profile.timeout, "max_retries": 0, "max_parallel_requests": e.max_concurrency,
            "weight": e.max_concurrency,
            **{k: v for k, v in (("rpm", e.rpm), ("tpm", e.tpm)) if v}},
        "model_info": {"id": e.api_base, **FREE},
    } for e in profile.endpoints]
    equal = len({e.max_concurrency for e in profile.endpoints}) == 1
    router = litellm_module().Router(
        model_list=deployments, routing_strategy="least-busy" if equal else "simple-shuffle",
        num_retries=0, max_fallbacks=0, allowed_fails=profile.allowed_fails, cooldown_time=profile.cooldown,
        optional_pre_call_checks=["enforce_model_rate_limits"])  # rpm/tpm are only routing hints without it
    _routers.append(router)
    return router, {d["model_info"]["id"]: d for d in deployments}


def import_router_first_use() -> None:
    """Import what a Router's first answer would, off the event loop."""
    for name in ROUTER_FIRST_USE:
        with suppress(ImportError):  # another litellm may not have it: then it costs nothing here
            importlib.import_module(name)


async def close_clients() -> None:
    """Close litellm's pooled HTTP clients and the guarded one, and forget them: litellm would
    otherwise hand the closed ones to the next request on this loop ("the client has been
    closed"), e.g. the app's next run."""
    if _litellm is not None:
        from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients

        from lab_tui.pipeline.teacher.wire import guarded_client

        await close_litellm_async_clients()
        _litellm.in_memory_llm_clients_cache.flush_cache()
        session, _litellm.aclient_session = _litellm.aclient_session, guarded_client()
        if session is not None:
            await session.aclose()
    while _routers:
        _routers.pop().retire()
