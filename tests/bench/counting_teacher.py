"""The suite's test teacher in its own process, counting what each benchmarked tool sends.

Benchmarks start it as a subprocess: it prints its /v1 URL, then answers one command per line on
stdin with one JSON line on stdout, so the counts are taken where the requests arrive, whatever
the client is:

    stats   requests since the last `stats`: total, per kind of prompt (the grounded flow's prompt
            files, told apart by the first words of their introduction), per status, every request
            body's digest with its count (two tools sent the same requests when these are equal),
            when the first request arrived and the last answer left (time.time(), for start-up)
            and the server's own CPU seconds in that time; then the counts start again from zero.

Usage: python tests/bench/counting_teacher.py [--latency 0.5 --jitter 0.5]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from teacher_server import TeacherConfig, TeacherServer  # noqa: E402

PROMPTS = REPO / "prompts" / "grounded_skills"
BACKLOG = 1024


def prompt_signatures(folder: Path = PROMPTS) -> dict[str, str]:
    """Prompt file stem -> the words its introduction starts with (up to its first variable)."""
    signatures = {}
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("introduction"):
            signatures[path.stem] = re.split(r"\{\w+\}", data["introduction"].strip())[0].strip()
    return signatures


class CountingTeacher(TeacherServer):
    """The suite's TeacherServer, with the arrival time of every request and of its answer."""

    def __init__(self, config: TeacherConfig) -> None:
        super().__init__(config)
        self._httpd.socket.listen(BACKLOG)  # socketserver's 5 resets some of 32 connections opened at once
        self.arrived: list[float] = []
        self.left: list[float] = []
        self.cpu_counted = 0.0

    def _handler(self):
        base, server = super()._handler(), self

        class Timed(base):
            def do_POST(self) -> None:
                server.arrived.append(time.time())  # list.append is atomic: no lock needed
                try:
                    super().do_POST()
                finally:
                    server.left.append(time.time())

        return Timed

    def take_stats(self, signatures: dict[str, str]) -> dict:
        with self._lock:
            bodies, log = self.bodies, self.log
            self.bodies, self.log = [], []
            most, self.max_in_flight = self.max_in_flight, 0
        arrived, left = self.arrived, self.left
        self.arrived, self.left = [], []
        kinds = Counter()
        for body in bodies:
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            kinds[next((stem for stem, words in signatures.items() if words and words in prompt), "other")] += 1
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu, self.cpu_counted = usage.ru_utime + usage.ru_stime - self.cpu_counted, usage.ru_utime + usage.ru_stime
        return {"requests": len(log), "by_kind": dict(sorted(kinds.items())),
                "by_status": dict(Counter(str(entry.status) for entry in log)),
                "digests": dict(Counter(entry.digest for entry in log)),
                "first_arrived": min(arrived) if arrived else None, "last_left": max(left) if left else None,
                "max_in_flight": most, "server_cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    args = parser.parse_args()
    signatures = prompt_signatures()
    with CountingTeacher(TeacherConfig(latency=args.latency, jitter=args.jitter)) as server:
        print(server.api_base, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(json.dumps(server.take_stats(signatures)), flush=True)


if __name__ == "__main__":
    main()
