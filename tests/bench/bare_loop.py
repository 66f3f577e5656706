"""The floor lab-tui is measured against: a bare `litellm.acompletion` loop, nothing stored.

Sends the requests of a JSONL file (one `{"messages": [...], "temperature": t, "max_tokens": m}` a
line, e.g. what a lab-tui run sent) at a fixed concurrency, through the same litellm call lab-tui's
teacher client makes for a single server (same model string, key placeholder, timeout, no
retries, the local cost map), and throws the answers away.

Usage: python tests/bench/bare_loop.py REQUESTS_JSONL API_BASE CONCURRENCY
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

litellm.suppress_debug_info = True


async def main(requests: list[dict], api_base: str, concurrency: int) -> None:
    slots = asyncio.Semaphore(concurrency)

    async def one(request: dict) -> None:
        async with slots:
            await litellm.acompletion(model="openai/teacher", messages=request["messages"], api_base=api_base,
                                      api_key="no-key-needed", timeout=120.0, num_retries=0,
                                      temperature=request["temperature"], max_tokens=request["max_tokens"])

    await asyncio.gather(*(one(request) for request in requests))


if __name__ == "__main__":
    path, base, slots_ = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, encoding="utf-8") as lines:
        loaded = [json.loads(line) for line in lines]
    asyncio.run(main(loaded, base, slots_))
