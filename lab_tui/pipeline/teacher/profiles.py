"""Teacher profiles: which model, where, with which key variable and limits, checked before anything is sent.

A profile names the environment variable that holds its key, never the key: a run stores its
profile (`TeacherProfile.public`) and reads it back on resume.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from lab_tui.config import load_settings
from lab_tui.errors import EXIT_USAGE, UserError

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


NUMBERS = {"timeout": (0, False), "max_concurrency": (1, True), "max_attempts": (1, True), "backoff_base": (0, False),
           "backoff_cap": (0, False), "cooldown": (0, False), "allowed_fails": (0, True)}
"""A profile's numbers: the least each may be and whether it is whole, checked before anything is
sent (a timeout of "120" or null failed every request of a run with a TypeError)."""


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
    for field, (least, whole) in NUMBERS.items():
        value = values.get(field, least)
        number = not isinstance(value, bool) and isinstance(value, int if whole else (int, float))
        if not number or not math.isfinite(value) or value < least or (field == "timeout" and value <= 0):
            kind = "a whole number" if whole else "a number"
            least_text = "above 0" if field == "timeout" else f"of at least {least}"
            raise ProfileError(f"teacher profile {name!r}: {field} is {value!r}, not {kind} {least_text}")
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
