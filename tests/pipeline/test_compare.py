"""`lab-tui compare RUN_A RUN_B`: two real runs of a skill against the suite's teacher, side by side."""

from __future__ import annotations

import json

import pytest

from lab_tui.cli import main
from lab_tui.pipeline.compare import compare_runs
from lab_tui.resources import example_skill_path
from lab_tui.store.db import open_db
from lab_tui.store.queries import previous_run_of_skill


@pytest.fixture
def two_runs(teacher_server, tmp_path, capsys):
    """Run A with one context per seed example, run B with two; a reviewer rejected two of B's pairs."""
    db_path = tmp_path / "lab.db"
    ids = []
    for contexts in ("1", "2"):
        assert main(["run", str(example_skill_path()), "--api-base", teacher_server.api_base, "--contexts", contexts,
                     "--questions", "1", "--db", str(db_path)]) == 0
        ids.append(capsys.readouterr().out.split()[1])
    db = open_db(db_path)
    rejected = [row[0] for row in db.execute("SELECT id FROM pairs WHERE run_id = ? AND outcome = 'kept' LIMIT 2",
                                             [ids[1]])]
    with db.conn:
        for pair_id, reason in zip(rejected, ("off-task", "wrong")):
            db["pairs"].update(pair_id, {"status": "rejected", "reason": reason})
    return db_path, ids


def test_the_comparison_sets_each_stage_seed_example_score_and_reason_side_by_side(two_runs):
    db_path, (run_a, run_b) = two_runs
    db = open_db(db_path)
    comparison = compare_runs(db, run_a, run_b)
    assert (comparison.a.id, comparison.b.id) == (run_a, run_b)
    first = comparison.stages[0]
    assert (first.a["done"], first.b["done"]) == (5, 10)  # one context per seed example, then two
    stored = dict(db.execute("SELECT stage, count(*) FROM rows WHERE run_id = ? GROUP BY stage", [run_b]).fetchall())
    assert {line.stage: line.b["done"] for line in comparison.stages} == stored
    seeds = [row[0] for row in db.execute("SELECT DISTINCT seed_index FROM pairs ORDER BY 1")]
    assert [line.seed_index for line in comparison.seeds] == seeds and seeds
    kept_b = dict(db.execute("SELECT seed_index, count(*) FROM pairs WHERE run_id = ? AND outcome = 'kept' "
                             "GROUP BY seed_index", [run_b]).fetchall())
    assert {line.seed_index: line.b.kept for line in comparison.seeds if line.b} == kept_b
    assert sum(line.b.rejected for line in comparison.seeds) == 2 == comparison.b.rejected
    assert {line.reason: (line.a, line.b) for line in comparison.reasons} == {"off-task": (0, 1), "wrong": (0, 1)}
    labels = [line.what for line in comparison.scores]
    assert labels[-1] == "on-task" and len(labels) >= 3
    judge = comparison.scores[0]
    assert judge.a_count == comparison.a.pairs_made and judge.b_count == comparison.b.pairs_made
    assert previous_run_of_skill(db, run_b) == run_a and previous_run_of_skill(db, run_a) is None


def test_compare_prints_text_and_json_and_refuses_an_unknown_run(two_runs, capsys):
    db_path, (run_a, run_b) = two_runs
    assert main(["compare", run_a, run_b, "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert run_a in out and run_b in out and "Rows per stage" in out and "Reject reasons" in out
    assert "off-task" in out and "on-task" in out
    assert main(["compare", run_a, run_b, "--json", "--db", str(db_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["a"]["id"] == run_a and data["b"]["rejected"] == 2
    assert {line["reason"] for line in data["reasons"]} == {"off-task", "wrong"}
    assert main(["compare", run_a, "nosuch", "--db", str(db_path)]) == 1
    assert "no run with id 'nosuch'" in capsys.readouterr().err
