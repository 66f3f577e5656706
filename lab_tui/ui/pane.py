"""The base of every pane screen: its workers' failures reach the app's one error handler.

Workers run with `exit_on_error=False` and post `Worker.StateChanged` to the node that started them,
which does not bubble; a pane passes it on so the app shows each crash once, in one place.
"""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.worker import Worker


class PaneScreen(Screen):
    @on(Worker.StateChanged)
    def pass_worker_state_on(self, event: Worker.StateChanged) -> None:
        self.app.post_message(Worker.StateChanged(event.worker, event.state))
