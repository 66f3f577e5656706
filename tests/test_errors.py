"""One error family: every problem a person can fix is a `UserError` with a title and an exit code;
the CLI handles it once (message on stderr, the code), the app's one worker handler shows its title."""

from __future__ import annotations

import pytest
from textual.notifications import Notify
from waiting import until

from lab_tui.cli import main
from lab_tui.errors import EXIT_FAILED, EXIT_USAGE, UserError
from lab_tui.pipeline.engine import NotResumable, RunAborted
from lab_tui.pipeline.flow import FlowError
from lab_tui.pipeline.launch import SkillUnreadable
from lab_tui.pipeline.teacher import ProfileError
from lab_tui.resources import example_skill_path
from lab_tui.seeds.io import FileChanged
from lab_tui.seeds.taxonomy import TaxonomyError
from lab_tui.store.dbcheck import DatabaseProblem
from lab_tui.store.queries import UnknownRunError
from lab_tui.store.review import VerdictConflict
from lab_tui.ui.app import LabApp
from lab_tui.ui.themes import ThemeError

FAMILY = {FlowError: EXIT_USAGE, ProfileError: EXIT_USAGE, TaxonomyError: EXIT_USAGE, UnknownRunError: EXIT_FAILED,
          VerdictConflict: EXIT_FAILED, DatabaseProblem: EXIT_FAILED, FileChanged: EXIT_FAILED,
          ThemeError: EXIT_FAILED, NotResumable: EXIT_FAILED, RunAborted: EXIT_FAILED, SkillUnreadable: EXIT_FAILED}


@pytest.mark.parametrize(("kind", "code"), FAMILY.items(), ids=[kind.__name__ for kind in FAMILY])
def test_every_problem_a_person_can_fix_is_one_of_the_family(kind, code):
    assert issubclass(kind, UserError) and kind.exit_code == code
    assert kind.title != UserError.title, "a problem says in its title what went wrong"


def test_the_cli_prints_a_problem_once_with_the_exit_code_its_kind_says(tmp_path, capsys):
    assert main(["run", str(example_skill_path()), "--flow", "nosuch", "--db", str(tmp_path / "lab.db")]) == EXIT_USAGE
    assert capsys.readouterr().err.startswith("lab-tui run: no flow 'nosuch'")
    assert main(["run", "--resume", "nosuch", "--db", str(tmp_path / "lab.db")]) == EXIT_FAILED
    assert capsys.readouterr().err == "lab-tui run: no run with id 'nosuch' in this database (lab-tui runs lists them)\n"
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 3\ntask_description: [unclosed\n")
    assert main(["run", str(broken), "--db", str(tmp_path / "lab.db")]) == EXIT_FAILED
    assert capsys.readouterr().err.startswith(f"lab-tui run: {broken}:")


async def test_the_app_shows_a_workers_problem_with_its_title_and_a_crash_with_the_workers_name(tmp_path):
    messages: list = []
    app = LabApp(example_skill_path(), tmp_path / "lab.db")
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        def problem() -> None:
            raise FlowError("flow.yaml: generate 'x' needs a prompt file")

        def crash() -> None:
            raise KeyError("x")

        app.run_worker(problem, thread=True, exit_on_error=False, name="Loading the flow")
        app.run_worker(crash, thread=True, exit_on_error=False, name="Counting")
        shown = lambda: {(m.notification.title, m.notification.message)  # noqa: E731
                         for m in messages if isinstance(m, Notify)}
        await until(pilot, lambda: {("Flow not usable", "flow.yaml: generate 'x' needs a prompt file"),
                                    ("Counting failed", "KeyError: 'x'")} <= shown())
