"""The one-line bar at the top of every pane: the pane's own status on the left, and on the right
the panes and the keys that work everywhere, so the footer can keep to the pane's own actions."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    status: reactive[Text] = reactive(Text, layout=False)

    def on_mount(self) -> None:
        self.app.mode_change_signal.subscribe(self, lambda _mode: self.refresh())

    def global_keys(self, compact: int = 0) -> Text:
        """The panes and the keys that work everywhere; `compact` 1 drops the words the keys' users
        know, 2 drops "Help" too."""
        keys = Text()
        panes = getattr(self.app, "PANES", {})
        if len(panes) > 1:
            for name, pane in panes.items():
                if name == self.app.current_mode:
                    keys.append(f" {pane.title} ", style="reverse bold")
                else:
                    keys.append(f" {self.key(f'app.pane.{name}', pane.key)} ", style="bold")
                    keys.append(pane.title)
            keys.append(" │")
        keys.append(" ^p", style="bold")
        keys.append("" if compact else " Commands")
        keys.append(f" {self.key('app.help', 'f1')}", style="bold")
        keys.append(" " if compact > 1 else " Help ")
        keys.append("^q", style="bold")
        keys.append(" " if compact else " Quit ")
        return keys

    def key(self, binding_id: str, default: str) -> str:
        """The key in effect for an app binding (the user may have remapped it)."""
        keys_for = getattr(self.app, "keys_for", None)
        return keys_for(binding_id, default).split(" or ")[0] if keys_for else default

    def render(self) -> Text:
        """The pane's status first: the global keys give up their words (last "Help", and only if
        that makes the status fit) before it is cut."""
        for compact in range(3):
            right = self.global_keys(compact)
            if self.status.cell_len <= self.size.width - right.cell_len:
                break
        else:  # cut anyway: keep "Help" then
            right = self.global_keys(1)
        room = max(0, self.size.width - right.cell_len)
        left = self.status.copy()
        left.truncate(room, overflow="ellipsis", pad=True)
        return Text.assemble(left, right, no_wrap=True, end="")
