"""The on-task filter block: its wiring, what it drops in a real run, and how the report counts it."""

from __future__ import annotations

import shutil

import pytest

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.flow import FlowError, load_flow
from lab_tui.pipeline.report import build_report
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import data_folder, example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

AFTER_CONTEXTS = """  - name: gen_grounded_questions
"""
FILTER = """  - name: ontask_contexts
    kind: ontask_filter
    label: on-task filter
    field: {field}
"""


def flow_with_filter(tmp_path, *, field: str = "context", before: str = AFTER_CONTEXTS):
    folder = tmp_path / "flow"
    shutil.copytree(data_folder("prompts") / "grounded_skills", folder)
    flow_file = folder / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace(before, FILTER.format(field=field) + before, 1))
    return folder


def test_the_filter_must_read_a_generated_field_the_pair_holds(tmp_path):
    flow = load_flow(flow_with_filter(tmp_path))
    assert [b.name for b in flow.blocks][:3] == ["gen_contexts", "ontask_contexts", "gen_grounded_questions"]
    assert flow.block("ontask_contexts").threshold == 0.5
    with pytest.raises(FlowError, match="ontask_filter 'ontask_contexts' must name a field an earlier block "
                                        "generates, not 'question'"):
        load_flow(flow_with_filter(tmp_path / "early", field="question"))
    unpaired = flow_with_filter(tmp_path / "unpaired")
    flow_file = unpaired / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("  context: context\n", ""))
    with pytest.raises(FlowError, match="reads the on-task score of 'context', which the pair does not hold"):
        load_flow(unpaired)


async def run_with(folder, server, db_path, threshold: float) -> str:
    skill = load_skill(example_skill_path()).skill
    params = RunParams(flow=str(folder), counts={"contexts": 2, "questions": 1},
                       overrides={"ontask_contexts.threshold": threshold})
    run_id = start_run(open_db(db_path), skill, TeacherProfile(model="openai/teacher", api_base=server.api_base),
                       params)
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    return run_id


async def test_contexts_below_the_threshold_are_dropped_before_questions_are_asked(teacher_server, tmp_path):
    folder = flow_with_filter(tmp_path)
    db_path = tmp_path / "lab.db"
    db = open_db(db_path)
    everything = await run_with(folder, teacher_server, db_path, 0.0)
    scores = sorted(score for (score,) in db.execute(
        "SELECT ontask FROM rows WHERE run_id = ? AND stage = 'gen_contexts'", [everything]))
    assert len(scores) == 10 and scores[0] < scores[-1]
    threshold = round((scores[4] + scores[5]) / 2, 6)  # half the contexts below it
    run_id = await run_with(folder, teacher_server, db_path, threshold)
    below = sum(score < threshold for score in scores)
    filtered = db.execute("SELECT count(*), min(score) FROM rows WHERE run_id = ? AND stage = 'ontask_contexts' "
                          "AND status = 'filtered'", [run_id]).fetchone()
    assert filtered[0] == below > 0 and filtered[1] < threshold
    asked = db.execute("SELECT count(*) FROM requests WHERE run_id = ? AND stage = 'gen_grounded_questions'",
                       [run_id]).fetchone()[0]
    assert asked == 10 - below, "no question asked about a dropped context"
    report = build_report(db, run_id)
    stage = next(item for item in report["stages"] if item["stage"] == "ontask_contexts")
    assert (stage["in"], stage["out"], stage["filtered"], stage["judge"]) == (10, 10 - below, below, "on-task filter")
    assert report["left"]["filtered by the on-task filter"] == below
    assert stage["reasons"][0]["reason"].startswith("on-task score of the context ")
    ontask = next(item for item in report["agreement"] if item["label"] == "on-task score")
    assert ontask["verdicts"] == 0  # no verdicts yet; the filter's rule is the one it will be checked with
