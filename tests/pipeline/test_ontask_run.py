"""Every generated text of a run gets its on-task score, stored with its row and its pair."""

from __future__ import annotations

import json

from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.ontask import OnTaskScorer
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db


async def test_generated_rows_and_pairs_carry_their_on_task_scores(teacher_server, tmp_path):
    skill = load_skill(example_skill_path()).skill
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), skill, TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base),
                       RunParams(counts={"contexts": 1, "questions": 2}))
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    db = open_db(db_path)
    flow = json.loads(db.execute("SELECT flow FROM runs").fetchone()[0])
    writes = {block["name"]: block.get("writes") for block in flow["blocks"] if block["kind"] == "generate"}
    scorer = OnTaskScorer.for_skill(skill)
    for row in db.query("SELECT * FROM rows WHERE status != 'failed'"):
        field = writes.get(row["stage"])
        if field is None:  # judges, filters, the combine block: they generate no text of the pair
            assert row["ontask"] is None, row["stage"]
            continue
        text = json.loads(row["data"])[field]
        assert row["ontask"] == scorer.score(field, text), "the score of the text the row generated"
    pairs = list(db.query("SELECT * FROM pairs"))
    assert pairs
    for pair in pairs:
        scores = json.loads(pair["ontask_scores"])
        assert scores == {field: scorer.score(field, pair[field]) for field in ("context", "question", "response")}
        assert pair["ontask"] == min(scores.values())
