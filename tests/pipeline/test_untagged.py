"""A response without tags: taken whole when the teacher stopped by itself, failed when it was cut off."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab_tui.pipeline.blocks import FlowError
from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.flow import load_flow
from lab_tui.pipeline.report import build_report
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import data_folder
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

FREEFORM = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml"
WHOLE = "Two synonyms for attend are:\ntake part in\nbe present at"
CUT = "Synonyms for attend: take part in, be present at, go"
RESPONSE_TO = "part {n}?\n[End of Question]\nWrite the response between"


async def test_an_untagged_answer_that_stopped_is_taken_whole_and_one_cut_off_fails(teacher_server, tmp_path):
    teacher_server.config.recorded = [(RESPONSE_TO.format(n=1), WHOLE, "stop"), (RESPONSE_TO.format(n=2), CUT, "length")]
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(FREEFORM).skill,
                       TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base),
                       RunParams(counts={"questions": 2}))
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    db = open_db(db_path)
    asked = dict(db.execute(
        "SELECT instr(messages, 'part 1?') > 0, count(*) FROM requests WHERE stage = 'gen_responses' GROUP BY 1"))
    assert asked[1] and asked[0], "both kinds of answer were asked for"
    rows = {status: [json.loads(data) | {"reason": reason} for data, reason in db.execute(
        "SELECT data, reason FROM rows WHERE stage = 'gen_responses' AND status = ?", [status])]
        for status in ("ok", "failed")}
    assert len(rows["ok"]) == asked[1] and len(rows["failed"]) == asked[0]
    assert all(row["response"] == WHOLE and row["response.untagged"] is True for row in rows["ok"])
    assert {row["reason"] for row in rows["failed"]} == {
        "missing tag [Start of Response] and cut off at max tokens: an untagged answer is taken whole only when it "
        "stopped by itself"}
    assert all(row["raw"] == CUT for row in rows["failed"])
    assert {response for (response,) in db.execute("SELECT response FROM pairs")} == {WHOLE}
    report = build_report(db, run_id)
    assert report["untagged"] == {"responses": asked[1]}
    assert f"{asked[1]} responses came without tags and were taken whole" in " ".join(report["warnings"])


def test_a_tagged_answer_is_read_as_before_and_a_list_block_cannot_take_answers_whole(tmp_path):
    block = load_flow("freeform_skills").block("gen_responses")
    assert block.untagged and block.parse("[Start of Response]\nbe present at\n[End of Response]", True) == [
        "be present at"]
    folder = tmp_path / "flow"
    shutil.copytree(data_folder("prompts") / "freeform_skills", folder)
    flow_file = folder / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("    list: true\n", "    list: true\n    untagged: true\n", 1))
    with pytest.raises(FlowError, match="cannot take an untagged answer whole"):
        load_flow(folder)
