"""The validation report on a hand-built run: every figure checked against rows written by hand."""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console

from lab_tui.cli import main
from lab_tui.pipeline.flow import load_flow
from lab_tui.pipeline.render import render_report
from lab_tui.pipeline.report import build_report
from lab_tui.store.db import open_db
from lab_tui.store.queries import UnknownRunError

SEED_ANSWER = (
    "Dear team,\n\nOur third quarter closed with revenue up eleven percent, driven by the new subscription "
    "plans and lower churn in the enterprise segment. Costs stayed flat. Next quarter we focus on hiring "
    "and the European launch.\n\nBest regards,\nDana"
)
SKILL = {
    "task_description": "Write a quarterly update email from a report.",
    "examples": [
        {"context": f"Report {n}: revenue grew, costs flat, churn down, hiring planned.", "question": f"Write the update email {n}.", "answer": SEED_ANSWER}
        for n in range(3)
    ],
}
CONTEXT_A = "Quarterly report: revenue rose 8% on new plans; churn fell; costs rose slightly due to hiring."
CONTEXT_B = "Annual safety audit: two minor incidents, new training for all staff, inspections passed."


class RunBuilder:
    def __init__(self, db, run_id="run1"):
        self.db = db
        self.run_id = run_id
        self.n = 0
        db["runs"].insert(
            {
                "id": run_id,
                "created_at": "2026-11-25T08:00:00+00:00",
                "finished_at": "2026-11-25T08:05:00+00:00",
                "status": "completed",
                "skill_path": "/skills/quarterly_email/qna.yaml",
                "skill_snapshot": json.dumps(SKILL),
                "flow": json.dumps(load_flow("grounded_skills").stored()),
                "prompts_version": "v1",
                "teacher": json.dumps({"model": "openai/teacher", "api_key_env": "KEY_VAR"}),
                "params": json.dumps({"contexts": 4, "questions": 2}),
                "pid": None,
            }
        )

    def row(self, stage, status="ok", reason=None, score=None, **data):
        self.n += 1
        self.db["rows"].insert(
            {
                "id": f"r{self.n}",
                "run_id": self.run_id,
                "stage": stage,
                "data": json.dumps(data),
                "status": status,
                "reason": reason,
                "score": score,
                "created_at": f"2026-11-25T08:01:{self.n:02d}+00:00",
            }
        )

    def pair(self, pair_id, outcome, response):
        self.db["pairs"].insert(
            {
                "id": pair_id,
                "run_id": self.run_id,
                "context": CONTEXT_A,
                "question": "q?",
                "response": response,
                "outcome": outcome,
                "created_at": "2026-11-25T08:02:00+00:00",
            }
        )


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "lab.db")
    run = RunBuilder(database)
    run.row("gen_contexts", context=CONTEXT_A)
    run.row("gen_contexts", context="  " + CONTEXT_A.upper() + " ")
    run.row("gen_contexts", context=CONTEXT_B)
    run.row("gen_contexts", "failed", "missing tag")
    questions = [
        "How much did revenue rise?",
        "Why did costs go up?",
        "What happened to churn?",
        "How many incidents did the audit find?",
        "Who needs the new training?",
        "Were the inspections passed?",
    ]
    for question in questions:
        run.row("gen_grounded_questions", question=question)
    run.row("gen_grounded_questions", "failed", "truncated at max tokens")
    for score in (1, 1, 1, 1, 0):
        run.row("eval_grounded_questions", score=score)
    run.row("eval_grounded_questions", "failed", "score did not parse")
    for _ in range(4):
        run.row("filter_grounded_questions", "kept")
    run.row("filter_grounded_questions", "filtered", "eval_grounded_questions score 0 < 1")
    for response in ("Revenue rose 8%.", "Hiring raised costs.", "Churn fell this quarter."):
        run.row("gen_grounded_responses", response=response)
    run.row("gen_grounded_responses", "failed", "teacher error: 500 \x1b[31mboom\x1b[0m [bold]x[/bold]")
    for score in (3, 2, 1):
        run.row("evaluate_grounded_qa_pair", score=score)
    run.row("filter_grounded_qa_pair", "kept")
    run.row("filter_grounded_qa_pair", "kept")
    run.row("filter_grounded_qa_pair", "filtered", "evaluate_grounded_qa_pair score 1 < 2")
    run.row("combine_question_and_context")
    run.row("combine_question_and_context")
    run.pair("p1", "kept", "Revenue rose 8%.")
    run.pair("p2", "kept", "Hiring raised costs.")
    run.pair("p3", "filtered", "Churn fell this quarter.")
    return database


def stage(report, name):
    return next(item for item in report["stages"] if item["stage"] == name)


def test_rows_in_and_out_of_every_stage(db):
    report = build_report(db, "run1")
    figures = {item["stage"]: (item["in"], item["out"], item["filtered"], item["failed"]) for item in report["stages"]}
    assert figures == {
        "gen_contexts": (12, 3, 0, 1),  # 4 per seed example, 3 seed examples
        "gen_grounded_questions": (3, 6, 0, 1),
        "eval_grounded_questions": (6, 5, 0, 1),
        "filter_grounded_questions": (5, 4, 1, 0),
        "gen_grounded_responses": (4, 3, 0, 1),
        "evaluate_grounded_qa_pair": (3, 3, 0, 0),
        "filter_grounded_qa_pair": (3, 2, 1, 0),
        "combine_question_and_context": (2, 2, 0, 0),
    }
    assert report["pairs"] == {"kept": 2, "filtered": 1}
    assert stage(report, "gen_contexts")["reasons"] == [{"status": "failed", "reason": "missing tag", "count": 1}]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"contexts": None, "preview_seed": None}, 30),
        ({"contexts": 7, "preview_seed": None}, 21),
        ({"contexts": None, "preview_seed": 0}, 2),
    ],
)
def test_contexts_asked_for_come_from_params_else_flow(db, params, expected):
    db["runs"].update("run1", {"params": json.dumps(params)})
    assert stage(build_report(db, "run1"), "gen_contexts")["in"] == expected


def test_why_rows_left(db):
    left = build_report(db, "run1")["left"]
    assert left["filtered by the question judge"] == 1
    assert left["filtered by the pair judge"] == 1
    assert left["teacher error"] == 1
    assert left["failed to parse"] == {"missing tag": 1, "truncated at max tokens": 1, "score did not parse": 1}


def test_score_distributions(db):
    scores = build_report(db, "run1")["scores"]
    assert scores["question judge"] == {"distribution": {"0": 1, "1": 4}, "no score": 1}
    assert scores["pair judge"] == {"distribution": {"1": 1, "2": 1, "3": 1}, "no score": 0}


def test_near_duplicate_share(db):
    dups = build_report(db, "run1")["near_duplicates"]
    assert (dups["contexts"]["count"], dups["contexts"]["near_duplicates"]) == (3, 1)
    assert dups["contexts"]["share"] == pytest.approx(1 / 3, abs=1e-3)
    assert dups["questions"]["near_duplicates"] == 0
    assert dups["responses"]["count"] == 3


def test_copies_of_seed_examples_and_sampling(tmp_path, monkeypatch):
    from lab_tui.pipeline import report as report_module

    database = open_db(tmp_path / "lab.db")
    run = RunBuilder(database)
    run.row("gen_contexts", context=SKILL["examples"][1]["context"])
    for n in range(9):
        run.row("gen_contexts", context=f"Context number {n} about topic {n * 7} with its own words w{n}")
    monkeypatch.setattr(report_module, "MAX_SIMILARITY_ITEMS", 5)
    contexts = build_report(database, "run1")["near_duplicates"]["contexts"]
    assert (contexts["count"], contexts["of"], contexts["copies_of_seeds"]) == (5, 10, 1)
    warnings = "\n".join(build_report(database, "run1")["warnings"])
    assert "1 of 5 contexts (a sample of 10) nearly copy a seed example" in warnings


def test_lengths_and_format_mismatch_warned(db):
    report = build_report(db, "run1")
    responses = report["lengths"]["responses"]
    assert responses["seed_median_words"] == len(SEED_ANSWER.split())
    assert (responses["median_words"], responses["much_shorter"], responses["much_longer"]) == (3, 3, 0)
    (email,) = [item for item in report["formats"]["responses"] if item["format"] == "email greeting and sign-off"]
    assert (email["seeds"], email["outputs"]) == (3, 0)
    warnings = "\n".join(report["warnings"])
    assert "3 of 3 seed answers use an email greeting and sign-off, but only 0 of 3 responses do." in warnings
    assert "The responses are much shorter than the seed answers" in warnings
    assert "1 of 3 contexts (33%) nearly repeat an earlier one" in warnings
    assert "\"missing tag\"" in warnings and "tags" in warnings
    assert "teacher check" in warnings


def test_format_a_minority_of_seeds_use_and_no_output_follows(tmp_path):
    skill = {"task_description": "t", "examples": [{"answer": "| a | b |\n| 1 | 2 |"}, {"answer": "plain"}, {"answer": "plain"}]}
    database = open_db(tmp_path / "lab.db")
    run = RunBuilder(database)
    database["runs"].update("run1", {"skill_snapshot": json.dumps(skill)})
    for n in range(4):
        run.row("gen_grounded_responses", response=f"plain answer {n}")
    assert not [w for w in build_report(database, "run1")["warnings"] if "table" in w]
    run.row("gen_grounded_responses", response="plain answer 5")
    assert "1 of 3 seed answers use a table, but only 0 of 5 responses do." in build_report(database, "run1")["warnings"]


def test_matching_outputs_give_no_format_or_length_warning(tmp_path):
    database = open_db(tmp_path / "lab.db")
    run = RunBuilder(database)
    run.row("gen_grounded_responses", response=SEED_ANSWER.replace("Dana", "Sam"))
    run.pair("p1", "kept", SEED_ANSWER)
    report = build_report(database, "run1")
    assert not [w for w in report["warnings"] if "email" in w or "shorter" in w or "longer" in w]


def test_format_detectors():
    from lab_tui.pipeline.report import FORMATS

    assert FORMATS["bullet list"]("Intro\n- one\n- two")
    assert not FORMATS["bullet list"]("- just one")
    assert FORMATS["numbered list"]("1. a\n2) b")
    assert FORMATS["table"]("| a | b |\n|---|---|\n| 1 | 2 |")
    assert FORMATS["code block"]("```py\nx = 1\n```")
    assert FORMATS["email greeting and sign-off"]("Hi Sam,\nAll good.\nThanks,\nAna")
    assert not FORMATS["email greeting and sign-off"]("Hi Sam, all good.")
    signed = "Subject: Q3\n\nDear colleagues,\n\nBody.\n\nThank you for your hard work,\nDavid Okafor\nChief Financial Officer\n"
    assert FORMATS["email greeting and sign-off"](signed)
    assert not FORMATS["email greeting and sign-off"]("Dear all,\nThanks to everyone who helped us reach this milestone today.")


def test_report_is_json_and_renders_literally(db):
    report = json.loads(json.dumps(build_report(db, "run1")))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render_report(report))
    text = console.file.getvalue()
    assert "gen_grounded_responses" in text and "Warnings" in text
    (left,) = [line for line in text.splitlines() if line.startswith("Rows left:")]
    assert "filtered by the question judge 1 · filtered by the pair judge 1 · failed to parse: " in left
    assert "missing tag 1" in left and "score did not parse 1" in left and left.endswith(" · teacher error 1")
    assert "[bold]x[/bold]" in text
    assert "\x1b" not in text


def test_unfinished_run_is_flagged_and_unknown_run_raises(db):
    db["runs"].update("run1", {"status": "running", "pid": None})
    assert build_report(db, "run1")["warnings"][0].startswith("This run is interrupted")
    with pytest.raises(UnknownRunError):
        build_report(db, "nope")


def test_report_command_prints_stored_report(db, tmp_path, capsys):
    report = build_report(db, "run1")
    report["warnings"] = ["A warning only the stored report has."]
    db["runs"].update("run1", {"report": json.dumps(report)})
    path = str(tmp_path / "lab.db")
    assert main(["report", "run1", "--db", path]) == 0
    assert "A warning only the stored report has." in capsys.readouterr().out
    assert main(["report", "run1", "--db", path, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == ["A warning only the stored report has."]


def test_report_command_rebuilds_for_a_resumed_run(db, tmp_path, capsys):
    report = build_report(db, "run1")
    report["warnings"] = ["Stale warning from the run's first end."]
    db["runs"].update("run1", {"report": json.dumps(report), "status": "running", "pid": None})
    assert main(["report", "run1", "--db", str(tmp_path / "lab.db"), "--format", "json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert "Stale warning from the run's first end." not in warnings
    assert warnings[0].startswith("This run is interrupted")


def test_report_command_builds_missing_report(db, tmp_path, capsys):
    assert main(["report", "run1", "--db", str(tmp_path / "lab.db"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == {"kept": 2, "filtered": 1}
    assert "KEY_VAR" not in json.dumps(report)


def test_report_command_unknown_run(db, tmp_path, capsys):
    assert main(["report", "nope", "--db", str(tmp_path / "lab.db")]) == 1
    assert "no run with id 'nope'" in capsys.readouterr().err


def test_piped_report_never_breaks_a_word(db, tmp_path, capsys):
    """Issue 19: piped (not a terminal), the report wrapped mid-word at 80 columns."""
    assert main(["report", "run1", "--db", str(tmp_path / "lab.db")]) == 0
    out = capsys.readouterr().out
    words = set(re.findall(r"[A-Za-z_]+", out))
    for word in ("eval_grounded_questions", "evaluate_grounded_qa_pair", "combine_question_and_context",
                 "filter_grounded_questions"):
        assert word in words
    reasons = [line for line in out.splitlines() if line.startswith("filter_grounded_questions")]
    assert reasons and reasons[0].endswith("eval_grounded_questions score 0 < 1 ×1")
    assert not [line for line in out.splitlines() if line != line.rstrip()], "no table padding at line ends"


def judged_pairs(db, groups):
    """(pair judge score, on-task score, verdict, how many) -> pairs of run1 with a context, reviewed."""
    from lab_tui.store import review

    number = 0
    for score, ontask, verdict, count in groups:
        for _ in range(count):
            number += 1
            scores = [{"judge": "eval_grounded_questions", "label": "question judge", "score": 1, "explanation": ""},
                      {"judge": "evaluate_grounded_qa_pair", "label": "pair judge", "score": score, "explanation": ""}]
            db["pairs"].insert({"id": f"j{number}", "run_id": "run1", "context": f"context {number} " + "x" * 200,
                                "question": f"question {number}", "response": f"response {number}",
                                "outcome": "kept" if score >= 2 else "filtered", "score": score,
                                "scores": json.dumps(scores), "ontask": ontask,
                                "ontask_scores": json.dumps({"context": ontask, "question": 0.9, "response": 0.95}),
                                "created_at": "2026-11-25T08:03:00+00:00"})
            review.record_verdict(db, f"j{number}", review.Session("ann"), verdict, 0)


def test_the_report_checks_judges_against_verdicts_given_after_the_run_ended(db, tmp_path, capsys):
    db["runs"].update("run1", {"report": json.dumps(build_report(db, "run1"))})  # stored at the run's end
    judged_pairs(db, [(3, 0.2, "rejected", 6), (2, 0.3, "rejected", 6), (1, 0.8, "accepted", 3)])
    path = str(tmp_path / "lab.db")
    assert main(["report", "run1", "--db", path, "--format", "json"]) == 0
    question, pair, ontask = json.loads(capsys.readouterr().out)["agreement"]
    assert (pair["label"], pair["verdicts"], pair["current"]["kept"], pair["current"]["kept_rejected"]) == (
        "pair judge", 15, 12, 12)
    assert pair["discriminates"] is False and "Reviewers rejected 12 of the 12 pairs it kept." in pair["problems"]
    assert question["problems"][0] == "It gave every pair the same score (1), so it tells none apart."
    assert ontask["label"] == "on-task score" and ontask["suggested"]["threshold"] == 0.8
    assert main(["report", "run1", "--db", path]) == 0
    text = capsys.readouterr().out
    (row,) = [line for line in text.splitlines() if line.startswith("pair judge ") and "does not tell" in line]
    assert row.split()[2:7] == ["15", "12", "12", "(100%)", "3"]
    assert "! pair judge: Try a stronger model for block evaluate_grounded_qa_pair: `teacher: PROFILE`" in text
    assert "! on-task score: The on-task score separates accepted from rejected pairs: at >= 0.8" in text


def test_the_on_task_section_counts_each_blocks_texts_and_lists_the_furthest_pairs(db):
    scores = iter([0.1, 0.2, 0.3, 0.45, 0.9, 0.55, 0.6, 0.95, 1.0])
    for row_id, stage in db.execute("SELECT id, stage FROM rows WHERE status = 'ok' AND stage IN "
                                    "('gen_contexts', 'gen_grounded_questions') ORDER BY rowid").fetchall():
        db.execute("UPDATE rows SET ontask = ? WHERE id = ?", [next(scores), row_id])
    judged_pairs(db, [(3, 0.05, "rejected", 1), (2, 0.7, "accepted", 2)])
    report = json.loads(json.dumps(build_report(db, "run1")))
    blocks = report["ontask"]["blocks"]
    assert blocks["contexts"] == {"count": 3, "mean": 0.2, "below": 3, "distribution": {"0.1": 1, "0.2": 1, "0.3": 1}}
    assert blocks["questions"]["count"] == 6 and blocks["questions"]["below"] == 1
    assert blocks["questions"]["distribution"] == {"0.4": 1, "0.5": 1, "0.6": 1, "0.9": 3}
    assert report["ontask"]["pairs"]["count"] == 3 and report["ontask"]["pairs"]["below"] == 1
    furthest = report["ontask"]["furthest"]
    assert [item["pair"] for item in furthest] == ["j1", "j2", "j3"]
    assert furthest[0]["field"] == "context" and furthest[0]["text"].startswith("context 1 xxx")
    assert len(furthest[0]["text"]) == 100 and furthest[0]["status"] == "rejected"
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render_report(report))
    text = console.file.getvalue()
    assert "On-task score" in text and "Furthest from the seeds" in text
    assert "0.05 context (kept, rejected): context 1 xxx" in text
    (row,) = [line for line in text.splitlines() if line.startswith("contexts ") and "0.1:1" in line]
    assert row.split()[1:4] == ["3", "0.20", "3"]


def test_a_block_whose_texts_are_mostly_off_the_task_is_warned_about(db):
    for row_id, in db.execute("SELECT id FROM rows WHERE stage = 'gen_grounded_questions' AND status = 'ok'").fetchall():
        db.execute("UPDATE rows SET ontask = 0.2 WHERE id = ?", [row_id])
    warnings = build_report(db, "run1")["warnings"]
    assert "6 of 6 questions (100%) are off the task (on-task score below 0.5)" in " ".join(warnings)
