"""The HTTP guard under litellm: each attempt's whole exchange has a deadline and its body a cap.

httpx's timeout (aiohttp's, under litellm) is per read: a server that sends a byte a second, or a
chunked body that never ends, holds a request open for ever; and httpx inflates a gzip body whole
before anyone looks at its size (a 3 GB bomb took 3.35 GB for one answer). `GuardedTransport`
wraps litellm's own transport and, for a request sent while the client's `ATTEMPT_LIMITS` are set:
ends the exchange, headers and body alike, at the attempt's deadline (`DeadlineExceeded`, which
litellm reports as a timeout, so the Router cools that endpoint down too); inflates gzip and
deflate itself, a piece at a time, and stops past the cap (`RefusedBody`); and reads a Retry-After
longer than the profile's backoff_cap as backoff_cap, for the client's back-off and the Router's
cool-down alike (a Retry-After of 999999 would rest an endpoint for eleven days).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from typing import AsyncIterator, Awaitable, TypeVar

import httpx

from lab_tui.pipeline.teacher.litellm_setup import ATTEMPT_LIMITS, AttemptLimits, wait_seconds

T = TypeVar("T")
INFLATED = ("gzip", "deflate")
"""The encodings httpx would inflate (the others it passes on as they are): inflated here instead."""


class DeadlineExceeded(httpx.TimeoutException):
    """The whole exchange took longer than the profile's timeout."""


class RefusedBody(httpx.RequestError):
    """A response body that is not read to its end: over the cap, or compressed data that is broken."""


def guarded_client() -> httpx.AsyncClient:
    """The client litellm's OpenAI-compatible requests use: litellm's own transport (aiohttp, with
    its SSL settings and proxies), under the guard."""
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler, get_ssl_configuration

    verify = get_ssl_configuration()
    inner = AsyncHTTPHandler.create_async_transport(
        ssl_context=verify if isinstance(verify, ssl.SSLContext) else None,
        ssl_verify=verify if isinstance(verify, bool) else None)
    if inner is None:  # litellm's aiohttp transport is turned off: httpx's own, as litellm would use
        inner = httpx.AsyncHTTPTransport(verify=verify)
    return httpx.AsyncClient(transport=GuardedTransport(inner), follow_redirects=True)


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limits = ATTEMPT_LIMITS.get()
        if limits is None:  # not one of the teacher client's attempts
            return await self.inner.handle_async_request(request)
        if limits.deadline is None:
            limits.deadline = asyncio.get_running_loop().time() + limits.timeout
        response = await _before(limits.deadline, self.inner.handle_async_request(request))
        headers = response.headers.copy()
        wait = wait_seconds(headers.get("retry-after"))
        if wait is not None and wait > limits.longest_wait:
            headers["retry-after"] = f"{limits.longest_wait:g}"
        encodings = [e.strip().lower() for e in headers.get("content-encoding", "").split(",")]
        inflaters = [zlib.decompressobj(32 + zlib.MAX_WBITS) for e in reversed(encodings) if e in INFLATED]
        if "content-encoding" in headers:  # inflated here, or passed on as httpx would
            del headers["content-encoding"]
            headers.pop("content-length", None)
        return httpx.Response(response.status_code, headers=headers, request=request, extensions=response.extensions,
                              stream=_CappedBody(response.stream, inflaters, limits))

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedBody(httpx.AsyncByteStream):
    """A response body read piece by piece within the attempt's deadline, inflated a piece at a
    time (never more than what is left of the cap), refused past the cap."""

    def __init__(self, inner: httpx.AsyncByteStream, inflaters: list, limits: AttemptLimits) -> None:
        self.inner, self.inflaters, self.limits = inner, inflaters, limits

    async def __aiter__(self) -> AsyncIterator[bytes]:
        cap, read = self.limits.body_bytes, 0
        pieces = aiter(self.inner)
        while True:
            try:
                piece = await _before(self.limits.deadline, anext(pieces))
            except StopAsyncIteration:
                return
            for inflater in self.inflaters:  # each inflates at most what is left of the cap, plus one byte
                try:
                    piece = inflater.decompress(piece, cap - read + 1)
                except zlib.error as error:
                    raise RefusedBody(f"the answer's compressed body is broken ({error})") from None
                if inflater.unconsumed_tail:  # it filled what is left of the cap with input to spare
                    raise _over(cap)
            read += len(piece)
            if read > cap:
                raise _over(cap)
            if piece:
                yield piece

    async def aclose(self) -> None:
        await self.inner.aclose()


def _over(cap: int) -> RefusedBody:
    return RefusedBody(f"the answer is over {cap:,} bytes, far more than its max_tokens asks for: not read further")


async def _before(deadline: float, step: Awaitable[T]) -> T:
    """The step, ended at the deadline (the event loop's clock)."""
    timeout = asyncio.timeout_at(deadline)
    try:
        async with timeout:
            return await step
    except TimeoutError:
        if timeout.expired():
            raise DeadlineExceeded("no whole answer within the profile's timeout") from None
        raise
