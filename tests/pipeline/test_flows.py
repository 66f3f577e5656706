"""Flows as data: the bundled freeform and custom flows end to end, wiring checked before anything
is sent, per-block teachers, constrained judges, duplicates dropped, deeper blocks served first,
and the parsers against answers shaped as real teachers write them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from teacher_server import Fault, TeacherConfig, TeacherServer, stored_request_digest
from waiting import polled

from lab_tui.cli import main
from lab_tui.config import Settings, save_settings
from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.events import RunProgress
from lab_tui.pipeline.flow import FlowError, default_flow_for, load_flow
from lab_tui.pipeline.parsers import ParseError, extract_all, parse_judgement
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.resources import data_folder, example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

FREEFORM = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy" / "compositional_skills__linguistics__synonyms.yaml"


def profile(server, **values) -> TeacherProfile:
    return TeacherProfile(**{"model": "openai/teacher", "api_base": server.api_base, "timeout": 5,
                             "backoff_base": 0.01, "max_attempts": 3, **values})


async def run(db_path, skill_path, server, cancel=None, on_event=lambda e: None, **params):
    run_id = start_run(open_db(db_path), load_skill(skill_path).skill, profile(server), RunParams(**params))
    result = await run_flow(db_path, run_id, cancel=cancel, on_event=on_event)
    await close_clients()
    return run_id, result


def stage_counts(db, run_id):
    return {(stage, status): count for stage, status, count in db.execute(
        "SELECT stage, status, count(*) FROM rows WHERE run_id = ? GROUP BY stage, status", [run_id])}


def copy_flow(tmp_path, name="freeform_skills") -> Path:
    folder = tmp_path / name
    shutil.copytree(data_folder("prompts") / name, folder)
    return folder


async def test_a_skill_without_context_runs_the_freeform_flow_as_ilab_chooses(teacher_server, tmp_path):
    skill = load_skill(FREEFORM).skill
    assert default_flow_for(skill.examples) == "freeform_skills"
    run_id, result = await run(tmp_path / "lab.db", FREEFORM, teacher_server, counts={"questions": 4})
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed"
    seeds = len(skill.examples)
    counts = stage_counts(db, run_id)
    assert counts[("gen_questions", "ok")] == 4 * seeds
    assert db.execute("SELECT count(*) FROM requests WHERE stage = 'gen_questions'").fetchone()[0] == seeds
    pairs = list(db.query("SELECT * FROM pairs WHERE run_id = ? AND outcome = 'kept'", [run_id]))
    assert pairs and all(p["context"] is None and p["user_turn"] == p["question"] and p["score"] >= 2 for p in pairs)
    first_question = json.loads(db.execute("SELECT messages FROM requests WHERE stage = 'gen_questions' LIMIT 1"
                                           ).fetchone()[0])[1]["content"]
    assert skill.task_description.split()[0] in first_question and "Write 4 questions" in first_question
    run_row = db.execute("SELECT flow, report FROM runs WHERE id = ?", [run_id]).fetchone()
    assert json.loads(run_row[0])["name"] == "freeform_skills"
    assert [s["stage"] for s in json.loads(run_row[1])["stages"]][0] == "gen_questions"


@pytest.mark.slow
def test_a_freeform_run_resumes_after_sigkill_without_asking_twice(teacher_server, tmp_path):
    teacher_server.config.latency, teacher_server.config.jitter = 0.1, 0.5
    db_path = tmp_path / "lab.db"
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    child = subprocess.Popen(
        [sys.executable, "-m", "lab_tui", "run", str(FREEFORM), "--api-base", teacher_server.api_base,
         "--questions", "3", "--concurrency", "3", "--db", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    run_id = child.stdout.readline().split()[1]
    polled(lambda: open_db(db_path).execute("SELECT count(*) FROM requests WHERE response IS NOT NULL").fetchone()[0]
           >= 10)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    answered_before = len(teacher_server.answered())
    stored = {stored_request_digest(m, p) for m, p in open_db(db_path).execute(
        "SELECT messages, params FROM requests WHERE response IS NOT NULL")}
    resumed = subprocess.run([sys.executable, "-m", "lab_tui", "run", "--resume", run_id, "--db", str(db_path)],
                             capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    answered = teacher_server.answered()
    assert stored and all(answered.count(digest) == 1 for digest in stored), "a stored answer was asked again"
    assert len(answered) > answered_before
    db = open_db(db_path)
    assert db.execute("SELECT status FROM runs WHERE id = ?", [run_id]).fetchone()[0] == "completed"
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] > 0


async def test_the_custom_example_flow_runs_with_a_fixed_instruction(teacher_server, tmp_path):
    run_id, result = await run(tmp_path / "lab.db", example_skill_path(), teacher_server,
                               flow="unstructured_to_structured", counts={"contexts": 1})
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed"
    pairs = list(db.query("SELECT * FROM pairs WHERE run_id = ?", [run_id]))
    instruction = load_flow("unstructured_to_structured").block("instruction").value
    assert pairs and all(p["question"] == instruction and p["user_turn"].endswith("\n\n" + instruction)
                         for p in pairs)
    assert [j["label"] for j in json.loads(pairs[0]["scores"])] == ["answer judge"]


def test_a_skill_mixing_examples_with_and_without_context_is_refused_naming_them(teacher_server, tmp_path):
    skill = load_skill(example_skill_path()).skill
    skill.examples[1].context = None
    skill.examples[3].context = None
    with pytest.raises(FlowError, match=r"with a context \(examples 1, 3, 5\) and without \(examples 2, 4\)"):
        start_run(open_db(tmp_path / "lab.db"), skill, profile(teacher_server), RunParams())
    assert open_db(tmp_path / "lab.db").execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(("file", "old", "new", "message"), [
    ("flow.yaml", "kind: judge\n    label: pair judge", "kind: judgement\n    label: pair judge",
     r"flow.yaml: block 'evaluate_qa_pair' has kind 'judgement'"),
    ("gen_responses.yaml", "{question}\n  [End of Question]\n  Write", "{qestion}\n  [End of Question]\n  Write",
     r"gen_responses.yaml: block 'gen_responses' uses \{qestion\}, which is neither a seed field nor written"),
    ("eval_questions.yaml", "{task_description}", "the task",
     r"eval_questions.yaml: block 'eval_questions' reads task_description but its prompt never uses"),
    ("flow.yaml", "judge: evaluate_qa_pair", "judge: evaluate_pair", r"filter 'filter_qa_pair' must name an earlier"),
    ("flow.yaml", "  - name: gen_responses\n", "  - name: gen_responses\n    teacher: nosuch\n",
     r"names teacher profile 'nosuch', which the settings file does not define"),
    ("flow.yaml", "blocks:", "blocks: [", r"flow.yaml: cannot read the flow"),
])
def test_wiring_errors_name_the_file_block_and_variable_and_send_nothing(teacher_server, tmp_path, capsys,
                                                                        file, old, new, message):
    folder = copy_flow(tmp_path)
    _edit(folder / file, old, new)
    with pytest.raises(FlowError, match=message):
        load_flow(folder, profiles={"default"})
    code = main(["run", str(FREEFORM), "--flow", str(folder), "--api-base", teacher_server.api_base,
                 "--db", str(tmp_path / "lab.db")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(folder) in err
    assert teacher_server.log == []


def test_a_flow_that_needs_seed_contexts_refuses_a_freeform_skill(teacher_server, tmp_path, capsys):
    assert main(["run", str(FREEFORM), "--flow", "grounded_skills", "--db", str(tmp_path / "lab.db")]) == 2
    assert "uses each seed example's context" in capsys.readouterr().err


async def test_a_judge_on_its_own_teacher_profile_is_asked_there_also_after_a_resume(teacher_server, tmp_path):
    with TeacherServer(TeacherConfig(latency=0.01)) as judge_server:
        save_settings(Settings({"teachers": {"judge": {"model": "openai/strong-judge",
                                                        "api_base": judge_server.api_base}}}))
        folder = copy_flow(tmp_path)
        _edit(folder / "flow.yaml", "  - name: evaluate_qa_pair\n", "  - name: evaluate_qa_pair\n    teacher: judge\n")
        teacher_server.config.latency = 0.02
        cancel = asyncio.Event()

        def on_event(event):
            if isinstance(event, RunProgress) and event.requests_done >= 12:
                cancel.set()

        db_path = tmp_path / "lab.db"
        run_id, first = await run(db_path, FREEFORM, teacher_server, cancel=cancel, on_event=on_event,
                                  flow=str(folder), counts={"questions": 3})
        assert first.status == "cancelled"
        assert (await run_flow(db_path, run_id)).status == "completed"
        await close_clients()
        db = open_db(db_path)
        models = dict(db.execute("SELECT stage, group_concat(DISTINCT model) FROM requests WHERE run_id = ? "
                                 "GROUP BY stage", [run_id]).fetchall())
        assert models["evaluate_qa_pair"] == "openai/strong-judge"
        assert models["gen_responses"] == "openai/teacher"
        judged = db.execute("SELECT count(*) FROM requests WHERE stage = 'evaluate_qa_pair'").fetchone()[0]
        assert judged == len(judge_server.answered()) > 0
        assert all("Rate the response" in json.dumps(body["messages"]) for body in judge_server.bodies)


async def test_constrained_judges_send_the_score_format_the_server_can_enforce(teacher_server, tmp_path):
    db_path = tmp_path / "lab.db"
    constrained = profile(teacher_server, constrain_judges="vllm")
    run_id = start_run(open_db(db_path), load_skill(FREEFORM).skill, constrained, RunParams(counts={"questions": 1}))
    await run_flow(db_path, run_id)
    await close_clients()
    judged = [b for b in teacher_server.bodies if "structured_outputs" in b]
    assert judged and all("Score" in json.dumps(b["messages"]) for b in judged)
    assert {b["structured_outputs"]["regex"].split("(")[-1] for b in judged} == {"0|1)\\n\\[End of Score\\]",
                                                                                    "1|2|3)\\n\\[End of Score\\]"}
    assert not any("structured_outputs" in b for b in teacher_server.bodies if "Write 1 questions" in
                   json.dumps(b["messages"]))


async def test_exact_duplicates_are_dropped_at_each_generation_and_counted(teacher_server, tmp_path):
    teacher_server.config.faults = [Fault("same", match="context number", times=3)]
    run_id, result = await run(tmp_path / "lab.db", example_skill_path(), teacher_server,
                               counts={"contexts": 1, "questions": 1}, concurrency=1)
    db = open_db(tmp_path / "lab.db")
    counts = stage_counts(db, run_id)
    assert counts[("gen_contexts", "filtered")] == 2 and counts[("gen_contexts", "ok")] == 3
    reasons = json.loads(db.execute("SELECT report FROM runs").fetchone()[0])["stages"][0]["reasons"]
    assert reasons == [{"status": "filtered", "reason": "exact duplicate of an earlier context", "count": 2}]


async def test_a_deeper_blocks_request_is_sent_before_shallower_ones_waiting_with_it(teacher_server, tmp_path):
    teacher_server.config.question_fail_every = 10**9  # every question passes: what is measured is the order alone
    await run(tmp_path / "lab.db", example_skill_path(), teacher_server, counts={"contexts": 2, "questions": 1},
              concurrency=1)
    sent = [json.dumps(body["messages"]) for body in teacher_server.bodies]
    first_question = next(i for i, text in enumerate(sent) if "Write 1 questions" in text)
    assert first_question == 1, "the first context's questions waited behind the other contexts"
    first_pair_judge = next(i for i, text in enumerate(sent) if "Rate the response" in text)
    assert first_pair_judge <= 6, "a first pair needs a handful of requests, not the whole run"


@pytest.mark.parametrize(("answer", "expected"), [
    ("[Start of Score]1[/End of Score]", 1.0),
    ("[Start of Evaluation]\nFine.\n[End of Evaluation]\n[Start of Score]\n2\n", 2.0),
    ("[Start of Evaluation] ok [End of Evaluation] [Start of Score] 3 [End Of Score]", 3.0),
    ("[start of score] 2 [end of score]", 2.0),
    ("**[Start of Score]** 3 **[End of Score]**", 3.0),
    ("[Start of Score]\n**2**\n[End of Score]", 2.0),
    ("[Start of Score] 2/3 [End of Score]", 2.0),
    ("[Start of Score] Score: 3 [End of Score]", 3.0),
    ("The response is grounded and complete.\n\nScore: 3", 3.0),
    ("Evaluation: partly right.\n**Score:** 2", 2.0),
    ("[Start of Score]3[/Score]", 3.0),
])
def test_judge_answers_as_real_teachers_write_them(answer, expected):
    assert parse_judgement(answer, (1.0, 2.0, 3.0)).score == expected


@pytest.mark.parametrize(("answer", "reason"), [
    ("I cannot evaluate this.", "missing tag [Start of Score]"),
    ("[Start of Score] excellent [End of Score]", "score did not parse"),
    ("[Start of Score] 5 [End of Score]", "score 5 is not one of"),
])
def test_judge_answers_that_are_really_unusable_fail_with_their_reason(answer, reason):
    with pytest.raises(ParseError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_judgement(answer, (1.0, 2.0, 3.0))


@pytest.mark.parametrize(("answer", "stopped", "expected"), [
    ("[Start of Question]\nHow did Q3 go?", True, ["How did Q3 go?"]),
    ("[Start of Question] A? [Start of Question] B? [End of Question]", True, ["A?", "B?"]),
    ("1. [Start of Question] A? [End of Question]\n2. [Start of Question] B? [End of Question]", True, ["A?", "B?"]),
    ("*[Start of Question]* A? *[End of Question]*", True, ["A?"]),
    ("[START OF QUESTION] A? [/END OF QUESTION]", True, ["A?"]),
])
def test_generated_answers_without_or_with_bent_end_tags_are_read(answer, stopped, expected):
    assert extract_all(answer, "Question", stopped=stopped) == expected


def test_an_answer_cut_at_max_tokens_without_its_end_tag_still_fails():
    with pytest.raises(ParseError, match="cut off"):
        extract_all("[Start of Question] How did", "Question", stopped=False)


async def test_sloppy_answers_from_a_small_model_still_make_pairs(teacher_server, tmp_path):
    teacher_server.config.faults = [Fault("sloppy", times=10_000)]
    run_id, result = await run(tmp_path / "lab.db", example_skill_path(), teacher_server,
                               counts={"contexts": 1, "questions": 2})
    db = open_db(tmp_path / "lab.db")
    assert result.status == "completed" and not result.failures
    assert db.execute("SELECT count(*) FROM pairs WHERE run_id = ?", [run_id]).fetchone()[0] > 0
