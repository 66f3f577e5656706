"""Which bundled flow a skill runs with, and why: transformation skills get new contexts with the
seed's own instruction as the question."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab_tui.pipeline import launch
from lab_tui.pipeline.engine import run_flow
from lab_tui.pipeline.flow import FlowError, choose_flow, load_flow
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.seeds.model import SeedExample
from lab_tui.store.db import open_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INCLUSION = FIXTURES / "taxonomy" / "compositional_skills__grounded__linguistics__inclusion.yaml"


@pytest.mark.parametrize(("skill", "flow"), [
    (INCLUSION, "transformation_skills"),
    (FIXTURES / "taxonomy" / "compositional_skills__grounded__linguistics__writing__rewriting.yaml",
     "transformation_skills"),
    (FIXTURES / "ontask" / "skills" / "support_ticket_summary.jsonl", "transformation_skills"),
    (example_skill_path(), "grounded_skills"),  # emails from figures: questions name what they draw on
    (FIXTURES / "taxonomy" / "hist_v2__writing__grounded__objection_handling.yaml", "grounded_skills"),
    (FIXTURES / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml", "freeform_skills"),
])
def test_the_flow_chosen_for_a_skill_and_why(skill, flow):
    chosen, reason = choose_flow(load_skill(skill).skill.examples)
    assert chosen == flow
    assert reason == {
        "transformation_skills": f"the {len(load_skill(skill).skill.examples)} seed questions give one instruction "
                                 "and differ only in their context: new contexts get the seed's instruction",
        "grounded_skills": "the seed examples have a context, and their questions ask about it",
        "freeform_skills": "the seed examples have no context"}[flow]


def test_questions_about_their_own_context_are_not_one_instruction_and_mixed_skills_are_refused():
    asks_about = [SeedExample("What did Harbor Bikes sell in March?", "42 bikes.", "Harbor Bikes sold 42 bikes in March."),
                  SeedExample("Who won the Lakeside regatta?", "Team Osprey.", "The Lakeside regatta went to Team Osprey.")]
    assert choose_flow(asks_about)[0] == "grounded_skills"
    one_instruction = [SeedExample("Summarise this in one line.", "Sales grew.", "Harbor Bikes sold 42 bikes in March."),
                       SeedExample("Summarise this in one line.", "Osprey won.", "The Lakeside regatta went to Osprey.")]
    assert choose_flow(one_instruction)[0] == "transformation_skills"
    assert choose_flow(one_instruction[:1])[0] == "grounded_skills", "one example shows no instruction in common"
    with pytest.raises(FlowError, match="mixes seed examples with a context"):
        choose_flow([*one_instruction, SeedExample("Summarise.", "x")])


def profile(server) -> TeacherProfile:
    return TeacherProfile(model="openai/teacher", api_base=server.api_base)


async def test_a_transformation_run_keeps_each_seeds_instruction_as_the_question(teacher_server, tmp_path):
    heard = []
    params = RunParams(counts={"contexts": 1}, overrides={"ontask_contexts.threshold": 0})
    run_id = launch.start(tmp_path / "lab.db", INCLUSION, profile(teacher_server), params,
                          on_flow_chosen=lambda flow, reason: heard.append(flow))
    assert heard == ["transformation_skills"]
    assert (await run_flow(tmp_path / "lab.db", run_id)).status == "completed"
    await close_clients()
    db = open_db(tmp_path / "lab.db")
    assert json.loads(db.execute("SELECT flow FROM runs").fetchone()[0])["name"] == "transformation_skills"
    seeds = load_skill(INCLUSION).skill.examples
    pairs = list(db.query("SELECT seed_index, question, context, user_turn FROM pairs"))
    assert len(pairs) == len(seeds)
    for pair in pairs:
        assert pair["question"] == seeds[pair["seed_index"]].question
        assert pair["user_turn"] == f"{pair['context']}\n\n{pair['question']}"
    asked = db.execute("SELECT messages FROM requests WHERE stage = 'gen_contexts' LIMIT 1").fetchone()[0]
    assert "Every input gets the same instruction: " in json.loads(asked)[1]["content"]


async def test_flow_overrides_the_choice(teacher_server, tmp_path):
    heard = []
    run_id = launch.start(tmp_path / "lab.db", INCLUSION, profile(teacher_server),
                          RunParams(flow="grounded_skills", counts={"contexts": 1}),
                          on_flow_chosen=lambda flow, reason: heard.append(flow))
    db = open_db(tmp_path / "lab.db")
    assert heard == [] and json.loads(db.execute("SELECT flow FROM runs WHERE id = ?", [run_id]).fetchone()[0])[
        "name"] == "grounded_skills"


def test_the_bundled_transformation_flow_loads():
    flow = load_flow("transformation_skills")
    assert flow.pair.judges == ("evaluate_pair",) and flow.counts() == {"contexts": 10}


def test_run_prints_the_flow_it_chose_and_why_on_one_line(teacher_server, tmp_path):
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "lab_tui", "run", str(INCLUSION), "--api-base", teacher_server.api_base,
                          "--contexts", "1", "--db", str(tmp_path / "lab.db")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    first, second, *_ = out.stdout.splitlines()
    assert first.startswith("run: ")
    assert second == ("flow: transformation_skills (the 6 seed questions give one instruction and differ only in "
                      "their context: new contexts get the seed's instruction; --flow chooses another)")
