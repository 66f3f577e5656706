"""A small OpenAI-compatible teacher that the test suite owns, on 127.0.0.1.

Answers are deterministic functions of the prompt, in the LAB tag format the prompt asks for
(the last `[Start of X]` tag named in the prompt is the one to answer with). Latency and faults
(429 with Retry-After, 500, hangs past the client's timeout, untagged text, answers cut at max
tokens, auth errors, scores that do not parse) are injected on demand, a server can be limited to
C requests at once and stopped mid-run (`stop()`), and every request is
logged so tests can assert that nothing answered and stored was ever asked twice.

Run standalone for benchmarks: python tests/teacher_server.py --latency 0.5 --jitter 0.5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAG = re.compile(r"\[Start of (\w+)\]")
LIST = re.compile(r"Write (\d+) questions")


@dataclass
class Fault:
    kind: str
    """429 | 500 | timeout | malformed | truncated | auth | auth_echo | badscore | bad_request | context_window |
    sloppy (tags as small models bend them) | no_choices | huge (an answer far over max_tokens) |
    same (one fixed answer whatever the prompt: duplicates)

    auth_echo: a 401 whose message echoes the Authorization header, as some providers do."""
    times: int = 1
    match: str | None = None
    """Only requests whose prompt contains this text (None: any request)."""
    retry_after: float = 0.05


@dataclass
class Logged:
    digest: str
    status: int
    kind: str


@dataclass
class TeacherConfig:
    latency: float = 0.0
    jitter: float = 0.0
    question_fail_every: int = 5
    """Every n-th question (by prompt digest) gets judge score 0."""
    faults: list[Fault] = field(default_factory=list)
    max_concurrency: int | None = None
    """Answer at most this many requests at once; the others wait their turn (as a saturated server)."""
    recorded: list[tuple[str, str, str]] = field(default_factory=list)
    """Recorded answers, replayed before any made-up one: (text the prompt contains, the answer, its
    finish_reason); the first whose text the prompt contains answers it (faults still come first)."""
    vary: bool = False
    """Answer each call afresh, as a sampling teacher does: the same prompt asked twice gets two
    different answers (the request's number in the log is part of what the answer is made from)."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stored_request_digest(messages: str, params: str) -> str:
    """The digest this server logs for a request lab-tui stored (its `messages` and `params` JSON),
    so a test can tell whether a stored request was ever asked again."""
    params = json.loads(params)
    body = {"messages": json.loads(messages), "temperature": params["temperature"],
            "max_tokens": params["max_tokens"], "seed": None}
    return _digest(json.dumps(body, sort_keys=True))


def answer_for(prompt: str, config: TeacherConfig) -> str:
    digest = _digest(prompt)
    number = int(digest[:8], 16)
    tags = TAG.findall(prompt)
    wanted = tags[-1] if tags else "Response"
    if wanted == "Score":
        if "0 or 1" in prompt:
            score = 0 if number % config.question_fail_every == 0 else 1
        else:
            score = (1, 2, 3, 3, 2, 3)[number % 6]
        return (f"[Start of Evaluation]\nThe text is judged against the rubric ({digest[:6]}).\n[End of Evaluation]\n"
                f"[Start of Score]\n{score}\n[End of Score]")
    company = f"Company {digest[:6].upper()}"
    bodies = {
        "Context": f"{company}, Q{number % 4 + 1} results:\nRevenue: ${number % 90 + 10}.{number % 10} million\n"
                   f"Operating margin: {number % 30 + 5}%\nNew customers: {number % 500}",
        "Question": f"Write an email to all staff at {company} summarising the quarter ({digest[6:12]}).",
        "Response": f"Subject: Our quarter at {company}\n\nHi everyone,\n\nRevenue and margins are in; "
                    f"details ({digest[12:18]}) follow.\n\nBest regards,\nThe CFO",
    }
    body = bodies.get(wanted, f"Text {digest[:12]}")
    asked = LIST.search(prompt)
    if wanted == "Question" and asked:
        return "\n".join(f"[Start of Question]\n{body[:-1]}, part {n + 1}?\n[End of Question]"
                         for n in range(int(asked.group(1))))
    return f"[Start of {wanted}]\n{body}\n[End of {wanted}]"


def sloppy(content: str) -> str:
    """The same answer as a small local model writes it: a misspelt closing tag on the score, the
    last end tag missing, emphasis around a tag."""
    content = content.replace("[End of Score]", "[/End of Score]").replace("[Start of Evaluation]",
                                                                           "**[Start of Evaluation]**")
    last = content.rfind("[End of ")
    return content[:last].rstrip() if last > 0 and "[/End of Score]" not in content else content


class TeacherServer:
    """Start with `with TeacherServer(config) as server:`; `server.api_base` is the /v1 URL."""

    def __init__(self, config: TeacherConfig | None = None, port: int = 0) -> None:
        self.config = config or TeacherConfig()
        self.log: list[Logged] = []
        self.bodies: list[dict] = []
        """Every request body received, in order (tests check the fields a client sent)."""
        self.in_flight = 0
        self.max_in_flight = 0
        """Most requests the server was answering at once: what a client's concurrency bound allowed."""
        self._lock = threading.Lock()
        self._limit = threading.Semaphore(self.config.max_concurrency or 1 << 30)
        self._connections: set = set()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.handle_error = lambda request, address: None  # a client that gave up (timeout) is expected
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> "TeacherServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop as a killed server does: no new connection, and the open ones (keep-alive, or a
        request being answered) are dropped."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def answered(self) -> list[str]:
        """Digests of the request bodies answered with 200, in order."""
        with self._lock:
            return [entry.digest for entry in self.log if entry.status == 200]

    def _take_fault(self, prompt: str) -> Fault | None:
        with self._lock:
            for fault in self.config.faults:
                if fault.times > 0 and (fault.match is None or fault.match in prompt):
                    fault.times -= 1
                    return fault
        return None

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:  # dropped by stop()
                    pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": "teacher", "object": "model"}]})

            def do_POST(self) -> None:
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.loads(raw or b"{}")
                messages = body.get("messages", [])
                prompt = "\n".join(str(m.get("content", "")) for m in messages)
                digest = _digest(json.dumps({k: body.get(k) for k in ("messages", "temperature", "max_tokens", "seed")},
                                            sort_keys=True))
                config = server.config
                if config.latency:
                    rng = random.Random(digest)
                    with server._limit:
                        time.sleep(max(0.0, config.latency * (1 + config.jitter * (2 * rng.random() - 1))))
                fault = server._take_fault(prompt)
                kind = fault.kind if fault else "ok"
                status = {"429": 429, "500": 500, "auth": 401, "auth_echo": 401, "bad_request": 400, "context_window": 400}.get(kind, 200)
                with server._lock:
                    server.log.append(Logged(digest, status, kind))
                    server.bodies.append(body)
                    call = len(server.log)
                if kind == "429":
                    self._send(429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                               {"Retry-After": str(fault.retry_after)})
                    return
                if kind == "500":
                    self._send(500, {"error": {"message": "The teacher fell over", "type": "server_error"}})
                    return
                if kind == "auth_echo":
                    echoed = f"Incorrect API key provided: {self.headers.get('Authorization', '')}"
                    self._send(401, {"error": {"message": echoed, "type": "invalid_request_error"}})
                    return
                if kind == "auth":
                    self._send(401, {"error": {"message": "Invalid API key", "type": "invalid_request_error"}})
                    return
                if kind in ("bad_request", "context_window"):
                    message = ("This model's maximum context length is 4096 tokens. However, you requested 9000 tokens."
                               if kind == "context_window" else "temperature must be at most 2")
                    self._send(400, {"error": {"message": message, "type": "invalid_request_error"}})
                    return
                if kind == "timeout":
                    time.sleep(fault.retry_after)
                content = answer_for(f"{prompt}\n(call {call})" if config.vary else prompt, config)
                finish = "stop"
                content, finish = next(((answer, reason) for needle, answer, reason in config.recorded
                                        if needle in prompt), (content, finish))
                if kind == "malformed":
                    content = "Sure! Here is what you asked for, without any tags."
                elif kind == "truncated":
                    content, finish = content[: len(content) // 2], "length"
                elif kind == "badscore":
                    content = content.split("[Start of Score]")[0] + "[Start of Score]\nexcellent\n[End of Score]"
                elif kind == "sloppy":
                    content = sloppy(content)
                elif kind == "same":
                    content = answer_for(" ".join(TAG.findall(prompt)[-1:]).join(("[Start of ", "]")), config)
                elif kind == "huge":
                    content = content + "x" * (int(body.get("max_tokens") or 1024) * 64)
                choices = [] if kind == "no_choices" else [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]
                self._send(200, {
                    "id": f"chatcmpl-{digest[:12]}", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", "teacher"),
                    "choices": choices,
                    "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(content) // 4,
                              "total_tokens": (len(prompt) + len(content)) // 4},
                })

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, help="answer at most this many requests at once")
    args = parser.parse_args()
    config = TeacherConfig(latency=args.latency, jitter=args.jitter, max_concurrency=args.max_concurrency)
    with TeacherServer(config, port=args.port) as server:
        print(server.api_base, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
