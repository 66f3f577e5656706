"""Wait for the work, not for time: poll a condition between Pilot pauses, with a generous deadline."""

from __future__ import annotations

import time


async def until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached")
