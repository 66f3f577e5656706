"""Judges checked against reviewers from a real database: runs with their stored flows, pairs with
the scores the engine stores, verdicts given through the review store."""

from __future__ import annotations

import json

import pytest

from lab_tui.pipeline.evidence import ONTASK_LABEL, judge_agreements
from lab_tui.pipeline.flow import load_flow
from lab_tui.store import review
from lab_tui.store import runs as store
from lab_tui.store.db import open_db
from lab_tui.store.queries import UnknownRunError

SKILL = "/skills/inclusive/qna.yaml"


def make_run(db, run_id: str, *, overrides: dict | None = None, skill_path: str = SKILL) -> None:
    flow = load_flow("freeform_skills")
    store.create_run(db, run_id=run_id, skill_path=skill_path, skill_snapshot={}, flow=flow.stored(),
                     prompts_version=flow.version, teacher={}, params={"overrides": overrides or {}})


def make_pairs(db, run_id: str, groups: list[tuple[float | None, float, float, str, int]]) -> None:
    """(question judge score, pair judge score, on-task score, verdict, how many) -> reviewed pairs."""
    number = 0
    for question_score, pair_score, ontask, verdict, count in groups:
        for _ in range(count):
            pair_id = f"{run_id}-p{number}"
            number += 1
            scores = [{"judge": "eval_questions", "label": "question judge", "score": question_score,
                       "explanation": ""},
                      {"judge": "evaluate_qa_pair", "label": "pair judge", "score": pair_score, "explanation": ""}]
            store.record_pair(db, id=pair_id, run_id=run_id, seed_index=0, question="q", response="r",
                              user_turn="q", score=pair_score, scores=json.dumps(scores),
                              outcome="kept" if pair_score >= 2 else "filtered", ontask=ontask,
                              ontask_scores=json.dumps({"question": ontask, "response": ontask}))
            if verdict != "pending":
                review.record_verdict(db, pair_id, review.Session("ann"), verdict, 0)


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "lab.db")


def test_the_issues_run_judges_that_keep_what_reviewers_reject_get_advice(db):
    # The issue's run: every question scored 1; the pair judge kept 16 pairs, 6 with 3, and reviewers
    # rejected all; 4 more pairs scored 1 (dropped) and were accepted. On-task: accepted 0.8, rejected 0.3.
    make_run(db, "r1")
    make_pairs(db, "r1", [(1, 3, 0.3, "rejected", 6), (1, 2, 0.3, "rejected", 10), (1, 1, 0.8, "accepted", 4),
                          (1, 3, 0.9, "pending", 5), (1, 3, 0.9, "skipped", 2)])
    question, pair, ontask = judge_agreements(db, run_id="r1")
    assert (question.judge, question.label, pair.judge, pair.label) == (
        "eval_questions", "question judge", "evaluate_qa_pair", "pair judge")
    assert (pair.verdicts, pair.accepted, pair.enough) == (20, 4, True)
    table = pair.current.table
    assert (table.kept_accepted, table.kept_rejected, table.dropped_accepted, table.dropped_rejected) == (0, 16, 4, 0)
    assert pair.current.table.kept_rejected_share == 1.0
    assert pair.discriminates is False
    assert "Reviewers rejected 16 of the 16 pairs it kept." in pair.problems
    assert any("stronger model for block evaluate_qa_pair" in advice for advice in pair.advice)
    assert question.problems[0] == "It gave every pair the same score (1), so it tells none apart."
    assert question.current.op == "eq" and question.current.threshold == 1.0
    assert ontask.label == ONTASK_LABEL and ontask.judge == ""
    assert ontask.auc == 1.0 and ontask.discriminates is True and ontask.suggested.threshold == 0.8


def test_a_runs_threshold_override_is_the_rule_tried(db):
    # Kept at >= 3 (the run's --set): 6 kept, 3 rejected; at the flow's 2 it would have been 12 kept.
    make_run(db, "r1", overrides={"filter_qa_pair.threshold": "3"})
    make_pairs(db, "r1", [(1, 3, 0.5, "accepted", 3), (1, 3, 0.5, "rejected", 3), (1, 2, 0.5, "rejected", 6)])
    pair = judge_agreements(db, run_id="r1")[1]
    assert pair.current.threshold == 3.0
    assert (pair.current.table.kept, pair.current.table.kept_rejected) == (6, 3)
    assert "`--set filter_qa_pair.threshold=" not in " ".join(pair.advice)  # nothing stricter than 3 exists


def test_a_skills_runs_pool_their_verdicts_and_other_skills_stay_out(db):
    make_run(db, "r1")
    make_run(db, "r2")
    make_run(db, "other", skill_path="/skills/other/qna.yaml")
    make_pairs(db, "r1", [(1, 2, 0.4, "rejected", 6)])
    make_pairs(db, "r2", [(1, 3, 0.7, "accepted", 5)])
    make_pairs(db, "other", [(0, 1, 0.1, "accepted", 30)])
    pair = judge_agreements(db, skill_path=SKILL)[1]
    assert (pair.verdicts, pair.accepted) == (11, 5)
    assert pair.auc == 1.0  # it orders them, but at >= 2 it keeps the 6 rejected: >= 3 would not
    assert pair.problems == ("Reviewers rejected 6 of the 11 pairs it kept.",)
    assert pair.suggested.threshold == 3.0 and pair.suggested.table.kept_rejected == 0
    one_run = judge_agreements(db, run_id="r1")[1]
    assert (one_run.verdicts, one_run.enough, one_run.current) == (6, False, None)  # below MIN_VERDICTS: no figures
    nothing = judge_agreements(db, skill_path="/nowhere")  # no runs: no judges, the on-task score with no verdicts
    assert [(a.label, a.verdicts) for a in nothing] == [(ONTASK_LABEL, 0)]


def test_pairs_without_a_score_or_on_task_score_are_counted_apart_and_unknown_runs_are_refused(db):
    make_run(db, "r1")
    make_pairs(db, "r1", [(None, 2, None, "rejected", 3)])
    question, _, ontask = judge_agreements(db, run_id="r1")
    assert (question.verdicts, question.unscored) == (0, 3)
    assert (ontask.verdicts, ontask.unscored) == (0, 3)
    with pytest.raises(UnknownRunError):
        judge_agreements(db, run_id="nope")
