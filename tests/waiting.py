"""Wait for the work, not for time: poll a condition with a generous deadline and fail clearly when
it is not reached. One helper per kind of caller: a Pilot test (the app keeps running between
polls), plain asyncio, and a test watching another process. The deadline is a minute: a first run in
a test process imports litellm (~5 s of CPU), which on a loaded 2-core machine took past 30 s."""

from __future__ import annotations

import asyncio
import time


async def until(pilot, condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await pilot.pause(0.02)


async def eventually(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def polled(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)
