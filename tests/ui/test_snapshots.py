"""Named snapshots, grouped by feature as posting's tests/test_snapshots.py: each pane at rest, its
dialogs, raw mode and the error states a user meets. `snap_compare` runs the app as `app.run` does,
so notifications are on screen."""

from __future__ import annotations

import shutil

from textual.pilot import Pilot
from textual.widgets import Input, TextArea
from waiting import until

from builders import build, fill_the_disk, populate
from lab_tui.pipeline.events import EndpointProgress, RowDone, RowFailed, RunProgress, StageProgress
from lab_tui.pipeline.flow import load_flow
from lab_tui.resources import example_skill_path
from lab_tui.seeds import lint_path
from lab_tui.store import review
from lab_tui.ui.app import LabApp

SIZE = (80, 24)
STAGES = [block.name for block in load_flow("grounded_skills").blocks]
RUN = "20261125-080000-abcdef"


def no_cursor_blink(pilot: Pilot) -> None:
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False


async def findings_shown(pilot: Pilot, path) -> None:
    """The Seeds pane shows the findings `lab-tui lint` gives for the file (its lint is done)."""
    expected = [f.rule for f in lint_path(path)]
    await until(pilot, lambda: [f.rule for f in pilot.app.pane_screens["seeds"].findings] == expected)


class TestSeeds:
    def skill(self, tmp_path):
        path = tmp_path / "qna.yaml"
        text = example_skill_path().read_text().replace(
            "Give me a three-bullet highlights section I can paste into our Q4 newsletter email to\n      clinic staff.",
            "highlights")
        assert "      highlights\n" in text
        path.write_text(text)
        return path

    def test_a_skill_with_its_findings(self, snap_compare, tmp_path):
        path = self.skill(tmp_path)

        async def run_before(pilot):
            await findings_shown(pilot, path)
            no_cursor_blink(pilot)

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)

    def test_a_seed_example_with_what_it_made(self, snap_compare, tmp_path):
        """The yield of the highlighted seed example beside it, kept counts in the list."""
        from test_seed_yield import example_yields

        path = tmp_path / "qna.yaml"
        shutil.copy(example_skill_path(), path)
        example_yields(path, tmp_path)

        async def run_before(pilot):
            seeds = pilot.app.pane_screens["seeds"]
            await until(pilot, lambda: set(seeds.yields) == {1, 3})
            await findings_shown(pilot, path)
            seeds.query_one("#examples").focus()
            await pilot.press("down")
            await until(pilot, lambda: "made 4" in str(seeds.query_one("#seed-yield").render()))
            no_cursor_blink(pilot)

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)

    def test_raw_text_beside_its_error(self, snap_compare, tmp_path):
        """A file that does not parse opens as its text, the error found on its line."""
        path = tmp_path / "qna.yaml"
        path.write_text("oops: [unclosed\n" + example_skill_path().read_text())

        async def run_before(pilot):
            await findings_shown(pilot, path)
            no_cursor_blink(pilot)

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)

    def test_delete_asks_with_cancel_first(self, snap_compare, tmp_path):
        path = self.skill(tmp_path)

        async def run_before(pilot):
            await findings_shown(pilot, path)
            await pilot.press("f8")
            no_cursor_blink(pilot)

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)

    def test_quitting_with_unsaved_edits_asks(self, snap_compare, tmp_path):
        path = self.skill(tmp_path)

        async def run_before(pilot):
            await findings_shown(pilot, path)
            seeds = pilot.app.screen
            seeds.query_one("#task", TextArea).insert("Edited. ")
            await until(pilot, lambda: seeds.unsaved)
            await pilot.press("ctrl+q")
            no_cursor_blink(pilot)

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)


class TestRun:
    async def shown(self, pilot, *events) -> None:
        """The pane after these events, drawn once its workers are done."""
        screen = pilot.app.pane_screens["run"]
        screen.shown_run = RUN
        for event in events:
            screen.record_event(event)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        screen.redraw(force=True)
        no_cursor_blink(pilot)
        await pilot.pause()

    def app(self, tmp_path):
        return LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="run")

    def test_stages_and_recent_outputs(self, snap_compare, tmp_path):
        async def run_before(pilot):
            stages = tuple(StageProgress(name, queued=2, in_flight=1, done=5 + i, kept=4 if "filter" in name else 0,
                                         filtered=1 if "filter" in name else 0, tokens_in=100, tokens_out=50)
                           for i, name in enumerate(STAGES))
            await self.shown(pilot, RunProgress(RUN, stages, 65.0, 42, 3.5, 30.0, 0.52),
                             RowDone(RUN, "gen_contexts", "r1", "ok", "Dear team, [bold]Q4[/] results"),
                             RowFailed(RUN, "eval_grounded_questions", "r2", "score did not parse",
                                       "\x1b[31mno score\x1b[0m"))

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_a_teacher_over_three_endpoints(self, snap_compare, tmp_path):
        async def run_before(pilot):
            stages = tuple(StageProgress(name, queued=2, in_flight=8, done=50 + i, tokens_in=1000, tokens_out=500)
                           for i, name in enumerate(STAGES))
            endpoints = (EndpointProgress("http://gpu-1.lab.example:8000/v1", 210, 12.3, 0.51, 8, 0),
                         EndpointProgress("http://gpu-2.lab.example:8000/v1", 198, 11.9, 0.55, 8, 1),
                         EndpointProgress("http://gpu-3.lab.example:8000/v1", 12, 0.7, 2.10, 0, 5, cooling=True))
            await self.shown(pilot, RunProgress(RUN, stages, 65.0, 420, 24.9, 30.0, 0.54, endpoints))

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_a_failure_opened_in_full(self, snap_compare, tmp_path):
        async def run_before(pilot):
            await self.shown(pilot, RowFailed(RUN, "eval_grounded_questions", "r2", "the score did not parse",
                                              "[Start of Evaluation]\nGood.\n[End of Evaluation]\nScore: high"))
            pilot.app.screen.query_one("#run-recent").focus()
            await pilot.press("down", "enter")

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_the_estimate_before_a_run(self, snap_compare, tmp_path):
        """No run shown: what f5 would send, for how many tokens, and what is unknown (no latency measured)."""
        async def run_before(pilot):
            screen = pilot.app.screen
            await until(pilot, lambda: screen.estimate is not None and screen.count_names and screen.flow_reason)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()  # the last worker's messages
            screen.redraw(force=True)
            no_cursor_blink(pilot)
            await pilot.pause()

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_two_runs_compared(self, snap_compare, tmp_path):
        """ctrl+g on the newer run: the comparison with the run before it."""
        from test_run_pane_list import two_runs_of_a_skill

        two_runs_of_a_skill(tmp_path / "lab.db")

        async def run_before(pilot):
            screen = pilot.app.screen
            await until(pilot, lambda: len(screen.runs) == 2 and screen.estimate is not None)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            screen.query_one("#run-runs").focus()
            screen.query_one("#run-runs").highlighted = 0
            await pilot.press("ctrl+g")
            await until(pilot, lambda: type(pilot.app.screen).__name__ == "CompareDialog")
            no_cursor_blink(pilot)
            await pilot.pause()

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_an_unknown_teacher_profile(self, snap_compare, tmp_path):
        """The error state of f5 (a profile chosen, then edited out of the settings file): the target
        line says why, a notification too, nothing starts."""
        from lab_tui.config import Settings, save_settings

        save_settings(Settings({"teachers": {"nosuch": {"model": "openai/x"}}, "run_profile": "nosuch"}))

        async def run_before(pilot):
            screen = pilot.app.screen
            save_settings(Settings({"run_profile": "nosuch"}))
            screen.describe_target()
            await until(pilot, lambda: "nosuch" in str(screen.query_one("#run-target").render()))
            await pilot.press("f5")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            no_cursor_blink(pilot)

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)


class TestReview:
    def app(self, tmp_path):
        return LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann")

    async def first_pair(self, pilot) -> None:
        screen = pilot.app.screen
        await until(pilot, lambda: screen.pair is not None and screen.counts and screen.place)

    def test_a_pair_to_decide(self, snap_compare, tmp_path):
        populate(tmp_path / "lab.db")
        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=self.first_pair)

    def test_an_empty_queue(self, snap_compare, tmp_path):
        populate(tmp_path / "lab.db", count=0)

        async def run_before(pilot):
            await until(pilot, lambda: pilot.app.screen.counts)

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def dialog(self, snap_compare, tmp_path, key: str) -> bool:
        populate(tmp_path / "lab.db")

        async def run_before(pilot):
            await self.first_pair(pilot)
            await pilot.press(key)
            await until(pilot, lambda: pilot.app.screen is not pilot.app.pane_screens["review"])
            no_cursor_blink(pilot)

        return snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_the_edit_dialog(self, snap_compare, tmp_path):
        assert self.dialog(snap_compare, tmp_path, "e")

    def test_the_note_dialog(self, snap_compare, tmp_path):
        assert self.dialog(snap_compare, tmp_path, "n")

    def test_the_filter_dialog(self, snap_compare, tmp_path):
        assert self.dialog(snap_compare, tmp_path, "f")

    def test_a_verdict_someone_else_made_first(self, snap_compare, tmp_path):
        db = populate(tmp_path / "lab.db")

        async def run_before(pilot):
            await self.first_pair(pilot)
            review.record_verdict(db, "r1-p0", review.Session("bob"), "rejected", 0)
            await pilot.press("a")
            await until(pilot, lambda: pilot.app.screen.pair.status == "rejected")

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)

    def test_a_verdict_on_a_full_disk(self, snap_compare, tmp_path):
        populate(tmp_path / "lab.db")

        async def run_before(pilot):
            await self.first_pair(pilot)
            await pilot.app.screen.db(fill_the_disk)
            await pilot.press("a")
            await pilot.pause()

        assert snap_compare(self.app(tmp_path), terminal_size=SIZE, run_before=run_before)


class TestSkills:
    def test_a_taxonomy_with_changed_skills(self, snap_compare, tmp_path):
        folder = build(tmp_path / "taxonomy")

        async def run_before(pilot):
            screen = pilot.app.screen
            await until(pilot, lambda: screen.rows and screen.linted == len(screen.rows) and screen.changes)
            await pilot.press("down")

        assert snap_compare(LabApp(None, tmp_path / "lab.db", start_mode="skills", taxonomy=folder),
                            terminal_size=SIZE, run_before=run_before)


class TestHelp:
    def test_help_with_a_remapped_key(self, snap_compare, tmp_path):
        from lab_tui.config import load_settings

        load_settings().set("keymap", {"seeds.save": "f12"})
        path = tmp_path / "qna.yaml"
        shutil.copy(example_skill_path(), path)

        async def run_before(pilot):
            await findings_shown(pilot, path)
            await pilot.press("f1")

        assert snap_compare(LabApp(path, tmp_path / "lab.db"), terminal_size=SIZE, run_before=run_before)
