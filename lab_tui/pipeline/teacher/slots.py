"""The bound on a teacher's requests in flight, with priorities (see `PrioritySlots`)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from contextlib import asynccontextmanager


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
