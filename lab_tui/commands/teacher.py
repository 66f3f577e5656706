"""`lab-tui teacher check`: one line saying whether the teacher answers."""

from __future__ import annotations

import asyncio


def configure(parser) -> None:
    parser.add_argument("action", choices=("check",))
    parser.add_argument("--profile", default="default", help="teacher profile from the settings file")
    parser.add_argument("--model")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key-env")


def run(args) -> int:
    from lab_tui.pipeline.teacher import load_profile

    profile = load_profile(args.profile, model=args.model, api_base=args.api_base, api_key_env=args.api_key_env)
    profile = type(profile)(**{**profile.public(), "max_attempts": 1, "timeout": min(profile.timeout, 30.0)})
    ok, message = asyncio.run(_check(profile))
    print(f"teacher {profile.model} at {profile.api_base}: {message}")
    return 0 if ok else 1


async def _check(profile) -> tuple[bool, str]:
    import time

    from lab_tui.pipeline.teacher import Teacher, TeacherError, close_clients

    started = time.monotonic()
    try:
        await Teacher(profile, 1).complete([{"role": "user", "content": "Reply with the word ready."}],
                                           temperature=0.0, max_tokens=5)
        return True, f"answers ({time.monotonic() - started:.2f} s)"
    except TeacherError as error:
        return False, f"does not answer: {error.kind}: {error.message[:160]}"
    finally:
        await close_clients()
