"""Find the data folders (`prompts/`, `themes/`) shipped beside the package.

In a source checkout they sit next to `lab_tui/`; an installed wheel puts them under
`<prefix>/share/lab-tui/` (see `[tool.setuptools.data-files]` in pyproject.toml).
"""

from __future__ import annotations

import sysconfig
from importlib import resources
from pathlib import Path


def data_folder(name: str) -> Path:
    checkout = Path(__file__).resolve().parent.parent / name
    if checkout.is_dir():
        return checkout
    installed = Path(sysconfig.get_path("data")) / "share" / "lab-tui" / name
    if installed.is_dir():
        return installed
    raise FileNotFoundError(f"lab-tui's {name}/ folder is missing (looked in {checkout} and {installed})")


def example_skill_path() -> Path:
    """The bundled example skill the app opens when no file is given."""
    return Path(str(resources.files("lab_tui") / "data" / "quarterly_email" / "qna.yaml"))
