"""The store is the bottom layer: it imports nothing of the pipeline, the commands or the UI, not even
inside a function (the v1 migration once did, for the stored flow's judges)."""

from __future__ import annotations

import ast
from pathlib import Path

import lab_tui.store

ABOVE = ("lab_tui.pipeline", "lab_tui.commands", "lab_tui.ui", "lab_tui.cli", "textual")


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_store_module_imports_a_layer_above_it():
    modules = sorted(Path(lab_tui.store.__file__).parent.glob("*.py"))
    assert len(modules) > 5
    for module in modules:
        above = sorted(name for name in imported(module) if name.startswith(ABOVE))
        assert not above, f"{module.name} imports {above}"
