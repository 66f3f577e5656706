"""Starting a run from a skill file: the one way the Run pane, `lab-tui run` and a batch do it.

Skill file -> skill -> flow checked against it -> the run stored, its id returned; the run then
goes with `engine.run_flow` (or `batch.run_batch`). Whatever stops it is a `UserError` saying what
to fix (`SkillUnreadable`, `FlowError`, `ProfileError`...), which the CLI prints with its exit code
and the app shows with its title; no front end lists the kinds of failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from lab_tui.errors import UserError
from lab_tui.pipeline.engine import start_run
from lab_tui.pipeline.flow import choose_flow
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import TeacherProfile
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db


class SkillUnreadable(UserError):
    """The skill file does not parse (or cannot be read): nothing can run from it."""

    title = "Skill not readable"


def start(db_path: Path | str, skill_path: Path | str, profile: TeacherProfile, params: RunParams, *,
          batch_id: str | None = None, strict_counts: bool = True,
          on_flow_chosen: Callable[[str, str], None] = lambda flow, reason: None) -> str:
    """Create a run of the skill file with this teacher and these parameters; its id.

    Without `params.flow` the flow is chosen from the seed examples (`flow.choose_flow`), and
    `on_flow_chosen(flow, reason)` hears which and why. `strict_counts=False` leaves out a count the
    flow does not have instead of refusing it (a batch's counts apply to the flows that have them;
    the Run pane's fields may be a flow behind)."""
    loaded = load_skill(skill_path)
    if loaded.skill is None:
        finding = loaded.findings[0] if loaded.findings else None
        where = f"{skill_path}:{finding.line}" if finding and finding.line else str(skill_path)
        raise SkillUnreadable(f"{where}: {finding.message if finding else 'cannot be read'}")
    if params.flow is None:
        params.flow, reason = choose_flow(loaded.skill.examples)
        on_flow_chosen(params.flow, reason)
    return start_run(open_db(db_path), loaded.skill, profile, params, batch_id, strict_counts=strict_counts)
