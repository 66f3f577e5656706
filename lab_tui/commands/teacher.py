"""`lab-tui teacher check`: one line saying whether the teacher answers (one per endpoint of a
profile that lists several, then how many answer).

A TCP connect to the API base comes first, so "nothing is running there" is said within
`CONNECT_TIMEOUT_S` with how to start a teacher, instead of after litellm's import and retries.
litellm is imported before the clock starts: the latency shown is the request's. Each check is
recorded in the database (`store.checks`), its latency or its error, for `run --estimate` and the
Run pane's estimate.
"""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

CONNECT_TIMEOUT_S = 1.5
START_HINT = ("Start a teacher there, e.g. `vllm serve <model> --port {port}` or `ilab model serve`, "
              "or point --api-base (or a --profile) at one.")

from lab_tui.safe_text import echo


def configure(parser) -> None:
    parser.add_argument("action", choices=("check",))
    parser.add_argument("--profile", default="default", help="teacher profile from the settings file")
    parser.add_argument("--model")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key-env")
    from lab_tui.cli import add_db_option

    add_db_option(parser)


def run(args) -> int:
    from lab_tui.pipeline.teacher import load_profile, log_file_problem

    profile = load_profile(args.profile, model=args.model, api_base=args.api_base, api_key_env=args.api_key_env)
    profile = type(profile)(**{**profile.public(), "max_attempts": 1, "timeout": min(profile.timeout, 30.0)})
    from lab_tui.cli import resolve_db
    from lab_tui.store.checks import record_teacher_check
    from lab_tui.store.db import open_db

    db = open_db(resolve_db(args))

    def record(server, latency_s: float | None, message: str) -> None:
        record_teacher_check(db, model=server.model, api_base=server.api_base, latency_s=latency_s,
                             error=None if latency_s is not None else message)

    code = _check_endpoints(profile, record) if profile.endpoints else _check_one(profile, record)
    if log_file_problem():
        echo(log_file_problem(), err=True)
    return code


def _check_one(profile, record) -> int:
    unreachable = nothing_listening(profile.api_base)
    latency, message = (None, f"does not answer: connection: {unreachable}") if unreachable else \
        asyncio.run(_check(profile))
    record(profile, latency, message)
    echo(f"teacher {profile.model} at {profile.api_base}: {message}")
    return 0 if latency is not None else 1


def nothing_listening(api_base: str | None) -> str | None:
    """Why nothing answers at the API base's host and port, or None when something accepts a connection."""
    if not api_base:
        return None  # a hosted provider's default address: only the request can tell
    parts = urlsplit(api_base)
    if not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"{api_base!r} has no valid port."
    where = f"{parts.hostname}:{port}"
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except ConnectionRefusedError:
        reason = f"nothing listens at {where} (connection refused)."
    except socket.timeout:
        reason = f"nothing answered at {where} within {CONNECT_TIMEOUT_S:g} s."
    except socket.gaierror:
        return f"the host {parts.hostname!r} is unknown."
    except OSError as error:
        reason = f"cannot connect to {where} ({error.strerror or error})."
    return f"{reason} {START_HINT.format(port=port)}"


def _check_endpoints(profile, record) -> int:
    """A profile with several endpoints: a line for each, then how many answer; 0 when all do."""
    answering = 0
    for endpoint in profile.endpoints:
        server = profile.for_endpoint(endpoint)
        unreachable = nothing_listening(server.api_base)
        latency, message = (None, f"does not answer: connection: {unreachable}") if unreachable else \
            asyncio.run(_check(server))
        record(server, latency, message)
        answering += latency is not None
        echo(f"teacher {server.model} at {server.api_base}: {message}")
    echo(f"{answering} of {len(profile.endpoints)} endpoints answer")
    return 0 if answering == len(profile.endpoints) else 1


async def _check(profile) -> tuple[float | None, str]:
    """(the request's latency, or None when the teacher did not answer; the line's message)."""
    from lab_tui.pipeline.teacher import Teacher, TeacherError, close_clients, litellm_module

    litellm_module()  # its seconds-long first import is not the teacher's latency
    started = time.monotonic()
    try:
        await Teacher(profile, 1).complete([{"role": "user", "content": "Reply with the word ready."}],
                                           temperature=0.0, max_tokens=5)
        latency = time.monotonic() - started
        return latency, f"answers ({latency:.2f} s)"
    except TeacherError as error:
        return None, f"does not answer: {error.kind}: {error.message[:160]}"
    finally:
        await close_clients()
