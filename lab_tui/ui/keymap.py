"""Check the user's keymap (settings.json "keymap": binding id -> keys) against what it remaps.

Textual's `set_keymap` ignores an id it does not know and lets two bindings share a key (the
first wins), so a typo or a clash would silently leave a key doing nothing or the wrong thing.
The app reports both: the app's own ids when it starts, a pane's when the pane is first shown.
A value that is not a list of key names is refused before anything uses it: the keys are shown
in the footer, the help and the palette, so a value holding markup or an escape sequence must never
get that far.
"""

from __future__ import annotations

import re
from typing import Iterable

from textual.binding import Binding

KEYS = re.compile(r"\s*[\w+-]+\s*(?:,\s*[\w+-]+\s*)*")
"""Key names as Textual writes them ("ctrl+s", "f9", "z,backspace", "slash"): word characters, + and -."""


def usable(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The entries whose keys are key names, and the ids of those refused (shown cleaned by the caller)."""
    good = {binding_id: keys for binding_id, keys in keymap.items() if isinstance(keys, str) and KEYS.fullmatch(keys)}
    return good, sorted(set(keymap) - set(good))


def _keys(keys: str) -> list[str]:
    return [key.strip() for key in keys.split(",") if key.strip()]


def unknown_ids(keymap: dict[str, str], scope: str, known: Iterable[str]) -> list[str]:
    """Ids in the keymap under `scope` ("app", "seeds"...) that no binding there has."""
    known = set(known)
    return sorted(i for i in keymap if i.split(".", 1)[0] == scope and i not in known)


def key_clashes(keymap: dict[str, str], bindings: Iterable[Binding]) -> list[str]:
    """Keys that would start two different bindings once the keymap applies, where the keymap made the clash."""
    owners: dict[str, set[str]] = {}
    for binding in bindings:
        name = binding.id or binding.action
        for key in _keys(keymap[binding.id] if binding.id in keymap else binding.key):
            owners.setdefault(key, set()).add(name)
    return [f"{key} is bound to both {' and '.join(sorted(names))}" for key, names in sorted(owners.items())
            if len(names) > 1 and names & set(keymap)]


def problems(keymap: dict[str, str], scope: str, bindings: list[Binding]) -> list[str]:
    unknown = unknown_ids(keymap, scope, (b.id for b in bindings if b.id))
    found = [f"no binding has the id {name}" for name in unknown]
    return found + key_clashes(keymap, bindings)
