"""A hostile OpenAI-compatible teacher on 127.0.0.1 that the suite owns: raw HTTP, byte by byte.

`tests/teacher_server.py` is a well-behaved server with injectable HTTP errors; this one writes
what a broken or malicious server can write and `http.server` cannot: a body that drips one byte a
second, an endless chunked body, a gzip bomb, a `Retry-After` of a million seconds or `inf`, JSON
that holds a lone surrogate, a token count of 10^30, content that is an object, an answer that
echoes the request's headers. Each request takes the next behaviour in the queue (`then`); when
the queue is empty it gets the `default` (the suite's good teacher unless told). Every request is
kept (`requests`) so tests can check what the client sent and how often.
"""

from __future__ import annotations

import gzip
import itertools
import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable

from teacher_server import TeacherConfig, answer_for


@dataclass
class Request:
    headers: dict[str, str]
    body: dict

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content", "")) for m in self.body.get("messages", []))


Behaviour = Callable[["socket.socket", Request, threading.Event], None]


def head(connection: socket.socket, status: str = "200 OK", headers: dict[str, str] | None = None) -> None:
    lines = [f"HTTP/1.1 {status}", "Connection: close", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def completion(content, usage: dict | None = None, finish_reason="stop") -> dict:
    return {"id": "chatcmpl-hostile", "object": "chat.completion", "created": int(time.time()), "model": "teacher",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": finish_reason}],
            "usage": usage or {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}}


def raw_json(text: str, status: str = "200 OK", headers: dict[str, str] | None = None) -> Behaviour:
    """Exactly this JSON text (so it can hold what `json.dumps` would not write, such as 10**30)."""
    def behave(connection, request, stopping):
        data = text.encode()
        head(connection, status, {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                  **(headers or {})})
        connection.sendall(data)
    return behave


def answer(content=None, usage: dict | None = None, finish_reason="stop") -> Behaviour:
    """A 200 with this content (None: the good teacher's answer to the prompt; a function: that
    answer changed by it)."""
    def behave(connection, request, stopping):
        text = answer_for(request.prompt, TeacherConfig())
        text = content(text) if callable(content) else text if content is None else content
        raw_json(json.dumps(completion(text, usage, finish_reason)))(connection, request, stopping)
    return behave


def good() -> Behaviour:
    return answer()


def echo_headers(wrap: Callable[[str], object] = lambda text: text) -> Behaviour:
    """A 200 whose answer holds the request's headers as the server received them, inside its first
    tagged section (so the answer still parses); `wrap` makes the content of that text (e.g. an object)."""
    def behave(connection, request, stopping):
        echoed = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
        text = answer_for(request.prompt, TeacherConfig())
        at = text.find("[End of ")
        answer(wrap(f"{text[:at]}(you sent {echoed})\n{text[at:]}"))(connection, request, stopping)
    return behave


def rate_limited(retry_after: str) -> Behaviour:
    return raw_json(json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}), "429 Too Many Requests",
                    {"Retry-After": retry_after})


def error_body(status: str, message: str) -> Behaviour:
    return raw_json(json.dumps({"error": {"message": message, "type": "server_error"}}), status)


def drip(interval: float = 1.0) -> Behaviour:
    """Headers at once, then a (valid) body one byte every `interval` seconds: each read gets a byte
    well within any per-read timeout, so only a deadline on the whole request ends it."""
    def behave(connection, request, stopping):
        data = json.dumps(completion(answer_for(request.prompt, TeacherConfig()))).encode()
        head(connection, headers={"Content-Type": "application/json", "Content-Length": str(len(data))})
        for byte in data:
            if stopping.wait(interval):
                return
            connection.sendall(bytes([byte]))
    return behave


def drip_headers(interval: float = 1.0) -> Behaviour:
    """The status line and headers one byte every `interval` seconds, never finished."""
    def behave(connection, request, stopping):
        for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"a" * 100_000:
            if stopping.wait(interval):
                return
            connection.sendall(bytes([byte]))
    return behave


def endless_chunks(interval: float = 0.01) -> Behaviour:
    """A chunked body that never ends: a small chunk every `interval` seconds."""
    def behave(connection, request, stopping):
        head(connection, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        connection.sendall(b'1\r\n{\r\n')
        while not stopping.wait(interval):
            connection.sendall(b'1\r\n \r\n')
    return behave


def gzip_bomb() -> Behaviour:
    """A gzip body that inflates without end (1 MiB of zeros for every ~1 KiB sent), chunked: an
    unguarded client inflates it into memory until the deadline or the machine gives out."""
    def behave(connection, request, stopping):
        head(connection, headers={"Content-Type": "application/json", "Content-Encoding": "gzip",
                                  "Transfer-Encoding": "chunked"})
        start, block = _bomb_parts()
        for piece in itertools.chain([start], itertools.repeat(block)):
            if stopping.is_set():
                return
            connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    return behave


def gzipped(content=None) -> Behaviour:
    """A good answer, gzip-compressed as real servers send it."""
    def behave(connection, request, stopping):
        text = answer_for(request.prompt, TeacherConfig()) if content is None else content
        data = gzip.compress(json.dumps(completion(text)).encode())
        head(connection, headers={"Content-Type": "application/json", "Content-Encoding": "gzip",
                                  "Content-Length": str(len(data))})
        connection.sendall(data)
    return behave


_BOMB: list[tuple[bytes, bytes]] = []


def _bomb_parts() -> tuple[bytes, bytes]:
    """The gzip header with a first JSON fragment, and a block that inflates to 1 MiB of spaces and
    can be repeated (each ends in a full flush, so the next starts afresh)."""
    if not _BOMB:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        start = compressor.compress(b'{"choices": [') + compressor.flush(zlib.Z_FULL_FLUSH)
        block = compressor.compress(b" " * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
        _BOMB.append((start, block))
    return _BOMB[0]


@dataclass
class HostileServer:
    """`with HostileServer() as server:`; `server.then(behaviour, ...)` queues what the next
    requests get; `server.api_base` is the /v1 URL."""
    default: Behaviour = field(default_factory=good)
    """What a request gets when the queue is empty."""
    queue: list[Behaviour] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/v1"

    def then(self, *behaviours: Behaviour) -> "HostileServer":
        with self._lock:
            self.queue.extend(behaviours)
        return self

    def __enter__(self) -> "HostileServer":
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            try:
                request = self._read(connection)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    behaviour = self.queue.pop(0) if self.queue else self.default
                behaviour(connection, request, self._stopping)
            except OSError:  # the client gave up: that is what most of these behaviours are for
                pass

    @staticmethod
    def _read(connection: socket.socket) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
        header_text, body = data.split(b"\r\n\r\n", 1)
        lines = header_text.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            body += chunk
        if lines[0].startswith("GET"):
            models = json.dumps({"object": "list", "data": [{"id": "teacher", "object": "model"}]})
            raw_json(models)(connection, Request(headers, {}), threading.Event())
            return None
        return Request(headers, json.loads(body or b"{}"))
