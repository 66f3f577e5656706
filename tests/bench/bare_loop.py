"""The floor lab-tui is measured against: a bare loop of chat requests, nothing stored.

Sends the requests of a JSONL file (one `{"messages": [...], "temperature": t, "max_tokens": m}` a
line, e.g. what a lab-tui run sent) at a fixed concurrency and throws the answers away. With the
default client, `litellm`, each request is the litellm call lab-tui's teacher client makes for a
single server (same model string, key placeholder, timeout, no retries, the local cost map). The
other clients show the floors under litellm: `openai` (the OpenAI SDK litellm itself sends
through) and `httpx` (one pooled HTTP client posting the JSON body, reading the JSON answer).

Usage: python tests/bench/bare_loop.py REQUESTS_JSONL API_BASE CONCURRENCY [litellm|openai|httpx]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

MODEL, KEY, TIMEOUT = "teacher", "no-key-needed", 120.0


def litellm_send(api_base: str, concurrency: int):
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True

    async def send(request: dict) -> str:
        response = await litellm.acompletion(model=f"openai/{MODEL}", messages=request["messages"], api_base=api_base,
                                             api_key=KEY, timeout=TIMEOUT, num_retries=0,
                                             temperature=request["temperature"], max_tokens=request["max_tokens"])
        return response.choices[0].message.content

    return send


def openai_send(api_base: str, concurrency: int):
    import openai

    client = openai.AsyncOpenAI(base_url=api_base, api_key=KEY, timeout=TIMEOUT, max_retries=0)

    async def send(request: dict) -> str:
        response = await client.chat.completions.create(model=MODEL, messages=request["messages"],
                                                        temperature=request["temperature"],
                                                        max_tokens=request["max_tokens"])
        return response.choices[0].message.content

    return send


def httpx_send(api_base: str, concurrency: int):
    import httpx

    client = httpx.AsyncClient(base_url=api_base, timeout=TIMEOUT, headers={"Authorization": f"Bearer {KEY}"},
                               limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency))

    async def send(request: dict) -> str:
        response = await client.post("/chat/completions", json={"model": MODEL, **request})
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"]

    return send


CLIENTS = {"litellm": litellm_send, "openai": openai_send, "httpx": httpx_send}


async def main(requests: list[dict], api_base: str, concurrency: int, client: str) -> None:
    send = CLIENTS[client](api_base, concurrency)
    slots = asyncio.Semaphore(concurrency)

    async def one(request: dict) -> None:
        async with slots:
            await send(request)

    await asyncio.gather(*(one(request) for request in requests))


if __name__ == "__main__":
    path, base, slots_ = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, encoding="utf-8") as lines:
        loaded = [json.loads(line) for line in lines]
    asyncio.run(main(loaded, base, slots_, sys.argv[4] if len(sys.argv) > 4 else "litellm"))
