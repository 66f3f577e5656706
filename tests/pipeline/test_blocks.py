"""Block kinds are registered: a kind is one class, known to the loader, the engine, the report and
preview through `KINDS` alone; what a run expects to send is the sum of what its blocks expect."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from lab_tui.cli import main
from lab_tui.pipeline import blocks
from lab_tui.pipeline.engine import Engine, RunParams, run_flow, start_run
from lab_tui.pipeline.flow import FlowError, load_flow
from lab_tui.pipeline.teacher import Teacher, TeacherProfile, close_clients
from lab_tui.resources import data_folder, example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

FREEFORM = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml"


@dataclass(frozen=True, kw_only=True)
class Shout(blocks.Derived):
    """A kind a test adds: writes the field it reads in capitals (no request)."""

    kind: ClassVar[str] = "shout"
    reads: tuple[str, ...]
    writes: str

    def derive(self, data: dict) -> str:
        return str(data[self.reads[0]]).upper()


@pytest.fixture
def shout(monkeypatch):
    monkeypatch.setitem(blocks.KINDS, "shout", Shout)  # the one line a new kind adds


def test_every_kind_is_registered_by_the_name_a_flow_file_gives():
    assert set(blocks.KINDS) == {"generate", "judge", "filter", "ontask_filter", "static", "combine"}
    assert all(kind.kind == name for name, kind in blocks.KINDS.items())
    for name in ("grounded_skills", "freeform_skills", "unstructured_to_structured"):
        assert all(type(block) is blocks.KINDS[block.kind] for block in load_flow(name).blocks)


async def test_a_kind_added_as_one_class_runs_stores_reports_and_previews(shout, teacher_server, tmp_path, capsys):
    folder = tmp_path / "shouting"
    shutil.copytree(data_folder("prompts") / "unstructured_to_structured", folder)
    flow_file = folder / "flow.yaml"
    flow_file.write_text(flow_file.read_text().replace("  - name: user_turn\n", "  - name: loud\n    kind: shout\n"
                         "    reads: [question]\n    writes: loud_question\n  - name: user_turn\n"))
    assert load_flow(folder).block("loud").kind == "shout"
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), load_skill(example_skill_path()).skill,
                       TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base),
                       RunParams(flow=str(folder), counts={"contexts": 1}))
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    db = open_db(db_path)
    louder = [json.loads(data) for (data,) in db.execute("SELECT data FROM rows WHERE stage = 'loud'")]
    assert louder and all(row["loud_question"] == row["question"].upper() for row in louder)
    assert main(["report", run_id, "--db", str(db_path)]) == 0
    assert "loud" in capsys.readouterr().out


def test_a_kind_the_registry_does_not_know_is_refused_with_the_known_ones(tmp_path):
    folder = tmp_path / "flow"
    shutil.copytree(data_folder("prompts") / "unstructured_to_structured", folder)
    (folder / "flow.yaml").write_text((folder / "flow.yaml").read_text().replace("kind: combine", "kind: shout"))
    with pytest.raises(FlowError, match="has kind 'shout'; a block is one of generate, judge, filter, ontask_filter, static, combine"):
        load_flow(folder)


@pytest.mark.parametrize("flow", ["grounded_skills", "freeform_skills", "unstructured_to_structured"])
async def test_the_requests_a_finished_run_expected_are_the_requests_it_sent(teacher_server, tmp_path, flow):
    """Each block's `expect`, fed the stage counts a run ended with, adds up to what it asked."""
    skill = load_skill(FREEFORM if flow == "freeform_skills" else example_skill_path()).skill
    db_path = tmp_path / "lab.db"
    params = RunParams(flow=flow, counts={"questions": 2} if flow == "freeform_skills" else {"contexts": 2})
    run_id = start_run(open_db(db_path), skill, TeacherProfile(model="openai/teacher",
                                                                   api_base=teacher_server.api_base), params,
                       strict_counts=False)
    result = await run_flow(db_path, run_id)
    await close_clients()
    db = open_db(db_path)
    engine = Engine(db, run_id, params.stored_flow(json.loads(db.execute("SELECT flow FROM runs").fetchone()[0])),
                    [e.__dict__ for e in skill.examples], skill.task_description,
                    {None: Teacher(TeacherProfile(model="openai/teacher"), 1)}, lambda event: None)
    for stage in result.stages:
        engine.stages[stage.stage].counts.update(done=stage.done, kept=stage.kept, filtered=stage.filtered,
                                                 failed=stage.failed)
    assert engine.expected_requests() == db.execute("SELECT count(*) FROM requests").fetchone()[0]
