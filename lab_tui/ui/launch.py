"""Start the Textual app (imported lazily so headless commands never load Textual)."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab_tui.config import data_dir
from lab_tui.resources import example_skill_path


def default_skill_path() -> Path:
    """A private copy of the bundled example, so editing it never touches the installed package."""
    copy = data_dir() / "examples" / "quarterly_email" / "qna.yaml"
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example_skill_path(), copy)
    return copy


def launch_app(skill_path: Path | None, db_path: Path, start_mode: str = "seeds", **options) -> int:
    """Run the app until the user quits. `options` reach the panes as `app.options` (e.g. reviewer).

    A folder opens the Skills pane on it (a taxonomy clone, or any folder of skills) with no skill open.
    A database lab-tui must not use (corrupt, another program's, a newer schema) is refused here,
    before the terminal is taken over, with the CLI's one-line message (`DatabaseProblem`).
    """
    from lab_tui.store.dbcheck import check_db

    check_db(Path(db_path))
    from lab_tui.ui.app import LabApp

    if skill_path is not None and skill_path.is_dir():
        options["taxonomy"], skill_path, start_mode = skill_path, None, "skills"
    else:
        skill_path = skill_path or default_skill_path()
    app = LabApp(skill_path, db_path, start_mode=start_mode, **options)
    app.run()
    return app.return_code or 0
