"""Progress that says the truth (issue 19): each stage's bar fills against the rows it is planned to
make over the whole run, and the ETA counts down the whole planned work at the rate seen so far."""

from __future__ import annotations

from rich.console import Console

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.events import RunProgress, StageProgress
from lab_tui.pipeline.flow import load_flow
from lab_tui.pipeline.progress import eta_s, planned_work, stored_progress, with_plan
from lab_tui.pipeline.render import progress_view
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db


def test_the_eta_is_the_whole_planned_work_left_at_the_rate_seen_so_far():
    assert eta_s(100, 20, 0, 10.0) == 40.0, "80 requests left at 2 a second"
    assert eta_s(100, 20, 30, 10.0) == 25.0, "answers reused from the store are done but set no pace"
    assert eta_s(100, 120, 0, 10.0) == 0.0, "more done than planned: nothing left, never negative"
    assert eta_s(100, 0, 0, 10.0) is None and eta_s(100, 5, 0, 0.0) is None, "no rate yet: no ETA"


def test_planned_rows_come_from_the_flows_counts_and_the_seeds():
    blocks = load_flow("grounded_skills", counts={"contexts": 4, "questions": 3}).blocks
    planned, requests = planned_work(blocks, 5, {})
    by_stage = dict(zip((b.name for b in blocks), planned))
    assert by_stage["gen_contexts"] == 20, "4 contexts for each of 5 seed examples"
    assert by_stage["gen_grounded_questions"] == 60, "3 questions for each of 20 contexts"
    assert by_stage["eval_grounded_questions"] == 60
    asking = [b for b in blocks if b.asks]
    assert requests == 20 + 20 + 60 * (len(asking) - 2), "one request per context, per question list, per " \
                                                         "question and answer asked or judged afterwards"
    # a filter that kept 3 of 4 so far is expected to keep as many of the rest
    judge = next(b for b in blocks if b.kind == "filter")
    kept = {judge.name: {"done": 4, "kept": 3, "filtered": 1, "failed": 0}}
    after = planned_work(blocks, 5, kept)[0][[b.name for b in blocks].index(judge.name) + 1]
    assert after == 45.0, "60 questions, 3 in 4 kept"
    # rows a block did pass on are planned for the next, even beyond what was expected
    made = {"gen_contexts": {"done": 25, "kept": 0, "filtered": 0, "failed": 0}}
    assert planned_work(blocks, 5, made)[0][1] == 75, "25 contexts made (more than 20 planned): 75 questions"


def test_a_stage_is_never_full_while_an_earlier_one_still_works():
    stages = [StageProgress("first", done=10), StageProgress("second", done=30, in_flight=2),
              StageProgress("third", done=12)]
    shown = with_plan(stages, [10, 30, 12], completed=False)
    assert [s.planned for s in shown] == [10, 32, 13], (
        "in flight counts as planned; a stage after an unfinished one is not full")
    assert with_plan(stages, [10, 30, 12], completed=False, feeding=True)[0].planned == 11, \
        "the first stage is not full while its work is still being admitted"
    assert [s.planned for s in with_plan(stages, [99, 99, 99], completed=True)] == [10, 30, 12], \
        "a completed run planned what it made"


def test_the_view_draws_bars_against_planned_rows_and_so_far_of_expected_requests():
    progress = RunProgress("r", (StageProgress("contexts", done=166, planned=500),), 60.0, 166, 2.8, 120.0, 0.5,
                           requests_planned=500)
    console = Console(width=100, record=True, color_system=None)
    console.print(progress_view(progress, 100, bars=True))
    text = console.export_text()
    assert "166/500 req" in text and "ETA 2:00" in text
    bar = next(line for line in text.splitlines() if "contexts" in line)
    assert "━" in bar and bar.count("━") < 10, "a third of the bar, not all of it"


async def test_during_a_run_a_bar_is_full_only_when_its_stage_is_done(teacher_server, tmp_path):
    teacher_server.config.latency, teacher_server.config.jitter = 0.02, 0.5
    db_path = tmp_path / "lab.db"
    profile = TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base, timeout=5, backoff_base=0.01,
                             max_attempts=3, max_concurrency=4)
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill, profile,
                       RunParams(counts={"contexts": 3, "questions": 2}))
    events: list[RunProgress] = []
    result = await run_flow(db_path, run_id, on_event=lambda e: isinstance(e, RunProgress) and events.append(e))
    await close_clients()
    assert result.status == "completed"
    final, during = events[-1], events[:-1]
    made = {stage.stage: stage.done for stage in final.stages}
    assert len(during) > 10, "a run of many requests reports as it goes"
    assert during[0].stages[0].planned == 15, "3 contexts for each of 5 seed examples, from the first snapshot on"
    for snapshot in during:
        for stage in snapshot.stages:
            assert stage.planned >= stage.done + stage.queued + stage.in_flight
            if stage.planned == stage.done:
                assert stage.done == made[stage.stage], f"{stage.stage} full at {stage.done} of {made[stage.stage]}"
        assert snapshot.requests_planned >= snapshot.requests_done
    assert all(stage.planned == stage.done for stage in final.stages)
    assert final.requests_planned == final.requests_done == len(teacher_server.answered())
    stored, status = stored_progress(open_db(db_path), run_id)
    assert status == "completed" and [s.planned for s in stored.stages] == [s.done for s in final.stages]
