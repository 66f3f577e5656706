"""The core never imports Textual, and nothing on the start-up path imports litellm."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import lab_tui

CORE_PACKAGES = ("lab_tui.seeds", "lab_tui.pipeline", "lab_tui.store", "lab_tui.commands")


def _modules_under(prefixes: tuple[str, ...]) -> list[str]:
    names = []
    for info in pkgutil.walk_packages(lab_tui.__path__, "lab_tui."):
        if info.name.startswith(prefixes) or info.name in prefixes:
            names.append(info.name)
    return names


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_core_never_imports_textual():
    modules = _modules_under(CORE_PACKAGES) + ["lab_tui.config", "lab_tui.cli"]
    loaded = _loaded_after_import(modules)
    assert "textual" not in loaded


def test_app_start_path_does_not_import_litellm():
    modules = ["lab_tui.cli"] + _modules_under(("lab_tui.ui",)) + _modules_under(CORE_PACKAGES)
    loaded = _loaded_after_import(modules)
    assert "litellm" not in loaded
