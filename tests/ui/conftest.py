"""What the UI tests observe: the messages the app dispatches (`run_test(message_hook=...)`), never
counters kept for tests or private fields."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the UI tests' shared data builders (builders.py)


class Messages:
    """Every message dispatched while the app runs, once each (a bubbling message reaches several nodes)."""

    def __init__(self) -> None:
        self.seen: list[Message] = []
        self._ids: set[int] = set()

    def __call__(self, message: Message) -> None:
        if id(message) not in self._ids:
            self._ids.add(id(message))
            self.seen.append(message)

    def of(self, kind: type) -> list:
        return [message for message in self.seen if isinstance(message, kind)]

    def notices(self, severity: str | None = None) -> list[Notification]:
        """The notifications asked for (each is a `Notify` message to the app)."""
        return [m.notification for m in self.of(Notify) if severity in (None, m.notification.severity)]

    def notified(self, text: str) -> bool:
        return any(text in notice.message for notice in self.notices())

    def said(self) -> str:
        return "\n".join(f"{notice.title}: {notice.message}" for notice in self.notices())


@pytest.fixture
def messages() -> Messages:
    return Messages()
