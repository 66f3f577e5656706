"""Verdicts, undo, claims and conflicts on a real SQLite file, including two reviewer processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.store.review import ReviewFilter, Session, VerdictConflict

ANN, BOB, CAROL, X = Session("ann"), Session("bob"), Session("carol"), Session("x")


@pytest.fixture
def queue(builder):
    builder.run("r1")
    builder.run("r2")
    for index in range(5):
        builder.pair("r1", f"p{index}")
    builder.pair("r1", "f0", outcome="filtered")
    builder.pair("r2", "q0", question="How many [bold]units[/bold]?", response="Twelve units shipped.")
    return builder


def test_verdict_is_committed_and_appended_to_history(queue):
    pair = review.next_pair(queue.db, ANN, ReviewFilter(run_id="r1"))
    assert pair["id"] == "p0" and pair["claimed_by"] == ANN.id
    version = review.record_verdict(queue.db, "p0", ANN, "accepted", pair["version"])
    other = open_db(queue.path)
    stored = review.get_pair(other, "p0")
    assert (stored["status"], stored["reviewer"], stored["version"], stored["claimed_by"]) == ("accepted", "ann", version, None)
    assert [(v["status"], v["previous_status"]) for v in review.history(other, "p0")] == [("accepted", "pending")]


def test_stale_version_raises_conflict_and_writes_nothing(queue):
    pair = review.next_pair(queue.db, ANN, ReviewFilter(run_id="r1"))
    review.record_verdict(queue.db, pair["id"], BOB, "rejected", pair["version"])
    with pytest.raises(VerdictConflict, match="bob"):
        review.record_verdict(queue.db, pair["id"], ANN, "accepted", pair["version"])
    assert review.get_pair(queue.db, pair["id"])["status"] == "rejected"
    assert len(review.history(queue.db, pair["id"])) == 1


def test_undo_restores_previous_state_step_by_step(queue):
    version = review.record_verdict(queue.db, "p1", ANN, "rejected", 0, note="off-topic")
    version = review.record_verdict(queue.db, "p1", ANN, "accepted", version, edited_response="Better.")
    pair = review.get_pair(queue.db, "p1")
    assert (pair["status"], pair["note"], pair["edited_response"]) == ("accepted", "off-topic", "Better.")
    version = review.undo(queue.db, "p1", ANN, version)
    pair = review.get_pair(queue.db, "p1")
    assert (pair["status"], pair["note"], pair["edited_response"]) == ("rejected", "off-topic", None)
    review.undo(queue.db, "p1", ANN, version)
    pair = review.get_pair(queue.db, "p1")
    assert (pair["status"], pair["note"], pair["claimed_by"]) == ("pending", None, ANN.id)
    assert [v["status"] for v in review.history(queue.db, "p1")] == ["rejected", "accepted", "rejected", "pending"]


def test_claimed_pairs_are_skipped_for_others_until_the_lease_ends(queue):
    where = ReviewFilter(run_id="r1")
    first = review.next_pair(queue.db, ANN, where)
    second = review.next_pair(queue.db, BOB, where)
    assert first["id"] == "p0" and second["id"] == "p1"
    assert review.next_pair(queue.db, CAROL, where, lease_s=0.0)["id"] == "p0"


def test_a_claim_belongs_to_the_session_not_the_name(queue):
    where = ReviewFilter(run_id="r1")
    first = review.next_pair(queue.db, Session("root"), where)
    second = review.next_pair(queue.db, Session("root"), where)
    assert first["id"] != second["id"]
    review.release(queue.db, first["id"], Session("root"))  # another session cannot free it
    assert review.get_pair(queue.db, first["id"])["claimed_by"] == first["claimed_by"]


def test_filters_and_counters(queue):
    review.record_verdict(queue.db, "p2", ANN, "accepted", 0)
    review.record_verdict(queue.db, "p3", BOB, "rejected", 0)
    assert review.counts(queue.db, ReviewFilter(run_id="r1")) == {"pending": 3, "accepted": 1, "rejected": 1, "skipped": 0}
    assert review.counts(queue.db, ReviewFilter(run_id="r1", outcome="filtered"))["pending"] == 1
    assert review.next_pair(queue.db, X, ReviewFilter(status="accepted"))["id"] == "p2"
    assert review.next_pair(queue.db, X, ReviewFilter(status=None, reviewer="bob"))["id"] == "p3"
    assert review.next_pair(queue.db, X, ReviewFilter(search="[bold]units"))["id"] == "q0"
    assert review.next_pair(queue.db, X, ReviewFilter(search="100%")) is None
    assert review.next_pair(queue.db, X, ReviewFilter(outcome=None, min_score=0.5, max_score=1.5))["id"] == "f0"


def test_queue_pages_by_position_and_wraps(queue):
    where = ReviewFilter(run_id="r1")
    last = review.get_pair(queue.db, "p4")["position"]
    assert review.next_pair(queue.db, ANN, where, after=last)["id"] == "p0"
    assert review.next_pair(queue.db, ANN, where, after=last, wrap=False) is None


REVIEWER = textwrap.dedent("""
    import json, sys
    from lab_tui.store import review
    from lab_tui.store.db import open_db
    db = open_db(sys.argv[1])
    session = review.Session(sys.argv[2])
    seen, position = [], 0
    while True:
        pair = review.next_pair(db, session, review.ReviewFilter(), after=position, wrap=False)
        if pair is None:
            break
        seen.append(pair["id"])
        position = pair["position"]
        review.record_verdict(db, pair["id"], session, "accepted", pair["version"])
    print(json.dumps(seen))
""")


@pytest.mark.parametrize("names", [("ann", "bob"), ("root", "root")])
def test_two_reviewer_processes_never_get_the_same_pair(builder, names):
    """Also when both sessions use the same name (two SSH logins as root on a shared GPU box)."""
    builder.run("r1")
    with builder.db.conn:
        for index in range(300):
            builder.pair("r1", f"p{index:03d}")
    procs = [subprocess.Popen([sys.executable, "-c", REVIEWER, str(builder.path), name], stdout=subprocess.PIPE, text=True)
             for name in names]
    seen = [json.loads(proc.communicate(timeout=60)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert not set(seen[0]) & set(seen[1])
    assert len(seen[0]) + len(seen[1]) == 300
    assert review.counts(builder.db, ReviewFilter())["accepted"] == 300
    assert builder.db.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 300


def test_a_batch_and_a_skill_filter_the_queue_by_their_runs(builder):
    builder.run("a", batch_id="batch-1", skill_path="/tax/compositional_skills/inclusion/qna.yaml")
    builder.run("b", batch_id="batch-1", skill_path="/tax/compositional_skills/synonyms_100%/qna.yaml")
    builder.run("c", skill_path="/tax/compositional_skills/inclusion_extra/qna.yaml")
    for run_id in ("a", "b", "c"):
        builder.pair(run_id, f"{run_id}0")
    counts = lambda flt: review.counts(builder.db, flt)["pending"]  # noqa: E731
    assert counts(ReviewFilter(batch_id="batch-1")) == 2
    assert counts(ReviewFilter(skill="inclusion")) == 2
    assert counts(ReviewFilter(skill="synonyms_100%")) == 1 and counts(ReviewFilter(skill="inclusion%")) == 0
    assert counts(ReviewFilter(batch_id="batch-1", skill="inclusion")) == 1
    assert review.next_pair(builder.db, ANN, ReviewFilter(batch_id="batch-1", skill="synonyms"))["id"] == "b0"
    assert ReviewFilter(batch_id="batch-1", skill="inclusion").describe().endswith("batch batch-1 · skill inclusion")


def lapse(db, pair_id):
    """The claim as it is when its session has not renewed it for longer than a lease."""
    with db.conn:
        db.execute("UPDATE pairs SET claimed_at = claimed_at - ? WHERE id = ?", [2 * review.LEASE_S, pair_id])


def test_a_renewed_claim_stays_and_a_claim_not_renewed_lapses(queue):
    where = ReviewFilter(run_id="r1")
    assert review.next_pair(queue.db, ANN, where)["id"] == "p0"
    lapse(queue.db, "p0")
    assert review.renew(queue.db, "p0", ANN)  # ann's session is alive: it takes its lapsed claim back
    assert review.next_pair(queue.db, BOB, where)["id"] == "p1"
    lapse(queue.db, "p0")
    assert review.next_pair(queue.db, CAROL, where, after=0)["id"] == "p0"  # not renewed: free for others
    assert not review.renew(queue.db, "p0", ANN), "carol holds it now"
    assert review.get_pair(queue.db, "p0")["claimed_by"] == CAROL.id
    review.record_verdict(queue.db, "p0", CAROL, "accepted", 0)
    assert not review.renew(queue.db, "p0", CAROL), "a decided pair is not claimed"


def test_next_release_says_when_another_sessions_claim_lapses(queue):
    where = ReviewFilter(run_id="r1")
    assert review.next_release(queue.db, ANN, where) is None
    review.next_pair(queue.db, ANN, where)
    assert review.next_release(queue.db, ANN, where) is None, "its own claims never wake a session"
    bob = review.next_pair(queue.db, BOB, where)
    claimed_at = review.get_pair(queue.db, bob["id"])["claimed_at"]
    assert review.next_release(queue.db, ANN, where) == claimed_at + review.LEASE_S
    assert review.next_release(queue.db, ANN, ReviewFilter(run_id="r2")) is None


def test_a_write_the_disk_refuses_keeps_sqlites_error(queue):
    """A full disk rolled the transaction back itself, and our ROLLBACK then raised "no transaction
    is active", hiding why the verdict was not saved."""
    import sqlite3

    pages = queue.db.execute("PRAGMA page_count").fetchone()[0]
    queue.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        while True:
            review.record_verdict(queue.db, "p0", ANN, "accepted", review.get_pair(queue.db, "p0")["version"],
                                  note="x" * 500)


def test_claims_never_change_what_the_counters_depend_on(queue):
    """A session renews its claim every few seconds: that must not make every other reviewer recount."""
    where = ReviewFilter(run_id="r1")
    before = review.decided_so_far(queue.db)
    pair = review.next_pair(queue.db, ANN, where)
    review.renew(queue.db, pair["id"], ANN)
    review.release(queue.db, pair["id"], ANN)
    assert review.decided_so_far(queue.db) == before
    version = review.record_verdict(queue.db, pair["id"], ANN, "accepted", pair["version"])
    after_verdict = review.decided_so_far(queue.db)
    assert after_verdict != before
    review.undo(queue.db, pair["id"], ANN, version)
    assert review.decided_so_far(queue.db) != after_verdict
    queue.pair("r1", "p9")
    assert review.decided_so_far(queue.db)[1] != after_verdict[1]


def judged(question: float, pair: float) -> str:
    return json.dumps([{"judge": "eval_questions", "label": "question judge", "score": question},
                       {"judge": "evaluate_qa_pair", "label": "pair judge", "score": pair}])


def test_a_reject_reason_is_stored_on_the_pair_and_its_verdict_and_undo_restores_it(queue):
    version = review.record_verdict(queue.db, "p1", ANN, "rejected", 0, reason="off-task", note="about SEO")
    pair = review.get_pair(queue.db, "p1")
    assert (pair["status"], pair["reason"], pair["note"]) == ("rejected", "off-task", "about SEO")
    assert review.history(queue.db, "p1")[-1]["reason"] == "off-task"
    version = review.record_verdict(queue.db, "p1", ANN, "rejected", version, note="about SEO, twice")
    assert review.get_pair(queue.db, "p1")["reason"] == "off-task", "a note alone keeps the reason"
    version = review.record_verdict(queue.db, "p1", ANN, "accepted", version)
    assert review.get_pair(queue.db, "p1")["reason"] is None, "an accepted pair has no reject reason"
    review.undo(queue.db, "p1", ANN, version)
    assert review.get_pair(queue.db, "p1")["reason"] == "off-task"
    with pytest.raises(ValueError, match="off-task, wrong, incomplete, format, duplicate, unsafe"):
        review.record_verdict(queue.db, "p2", ANN, "rejected", 0, reason="boring")
    assert list(review.REJECT_REASONS) == ["off-task", "wrong", "incomplete", "format", "duplicate", "unsafe"]


def test_previous_and_next_walk_the_filter_and_place_says_n_of_n(queue):
    where = ReviewFilter(run_id="r1")
    third = review.get_pair(queue.db, "p2")["position"]
    assert review.next_pair(queue.db, ANN, where, after=third)["id"] == "p3"
    assert review.next_pair(queue.db, ANN, where, after=third, backwards=True)["id"] == "p1"
    first = review.get_pair(queue.db, "p0")["position"]
    assert review.next_pair(queue.db, ANN, where, after=first, backwards=True)["id"] == "p4", "wraps round"
    assert review.place(queue.db, where, third) == (3, 5)
    review.record_verdict(queue.db, "p0", ANN, "accepted", 0)
    assert review.place(queue.db, where, third) == (2, 4), "a decided pair leaves a pending queue"
    assert review.place(queue.db, where, first) is None, "and has no place in it"


def test_risk_order_puts_the_least_on_task_then_disagreeing_judges_then_low_scores_first(builder):
    builder.run("r1")
    builder.pair("r1", "calm", ontask=0.9, scores=judged(1.0, 3.0), score=3.0)
    builder.pair("r1", "low", ontask=0.9, scores=judged(1.0, 2.0), score=2.0)
    builder.pair("r1", "split", ontask=0.9, scores=judged(1.0, 1.0), score=1.0)  # question top, pair bottom
    builder.pair("r1", "unscored", ontask=None, scores=judged(1.0, 3.0), score=3.0)
    builder.pair("r1", "offtask", ontask=0.2, scores=judged(1.0, 3.0), score=3.0)
    builder.pair("r1", "disagree", ontask=0.9, scores=judged(0.0, 3.0), score=3.0)
    where = ReviewFilter(order="risk")
    walked, position = [], 0
    for _ in range(6):
        pair = review.next_pair(builder.db, ANN, where, after=position, wrap=False)
        walked.append(pair["id"])
        position = pair["position"]
    assert walked == ["offtask", "disagree", "split", "low", "calm", "unscored"]
    assert review.next_pair(builder.db, ANN, where, after=position, wrap=False) is None
    assert review.place(builder.db, where, review.get_pair(builder.db, "split")["position"]) == (3, 6)
    assert review.next_pair(builder.db, ANN, ReviewFilter(max_ontask=0.5), after=position)["id"] == "offtask"
    assert "on-task < 0.5" in ReviewFilter(max_ontask=0.5, order="risk").describe()
    assert "risk first" in ReviewFilter(order="risk").describe()


def test_the_empty_queue_counts_what_other_live_sessions_hold(queue):
    where = ReviewFilter(run_id="r1")
    review.next_pair(queue.db, BOB, where)
    review.next_pair(queue.db, CAROL, where)
    assert review.claimed_elsewhere(queue.db, ANN, where) == 2
    assert review.claimed_elsewhere(queue.db, BOB, where) == 1


def test_a_bulk_rejection_is_one_transaction_and_one_undo(queue):
    where = ReviewFilter(run_id="r1", seed_index=1)
    queue.db.execute("UPDATE pairs SET seed_index = 2 WHERE id = 'p4'")
    queue.db.conn.commit()
    review.next_pair(queue.db, BOB, where)  # bob holds p0: a bulk action leaves it to him
    review.record_verdict(queue.db, "p3", CAROL, "accepted", 0)
    assert review.bulk_count(queue.db, ANN, where) == 2
    decided = review.bulk_verdict(queue.db, ANN, where, "rejected", reason="off-task")
    assert sorted(pair_id for pair_id, _ in decided) == ["p1", "p2"]
    statuses = {p: review.get_pair(queue.db, p) for p in ("p0", "p1", "p2", "p3", "p4")}
    assert {p: (s["status"], s["reason"]) for p, s in statuses.items()} == {
        "p0": ("pending", None), "p1": ("rejected", "off-task"), "p2": ("rejected", "off-task"),
        "p3": ("accepted", None), "p4": ("pending", None)}
    review.record_verdict(queue.db, "p2", CAROL, "accepted", decided[1][1])  # carol changes one meanwhile
    assert review.undo_bulk(queue.db, ANN, decided) == (1, 1)
    assert review.get_pair(queue.db, "p1")["status"] == "pending"
    assert review.get_pair(queue.db, "p1")["claimed_by"] is None
    assert review.get_pair(queue.db, "p2")["status"] == "accepted"


def test_a_bulk_action_that_fails_writes_nothing(queue):
    queue.db.execute("CREATE TRIGGER refuse BEFORE UPDATE ON pairs WHEN NEW.id = 'p3' "
                     "BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    queue.db.conn.commit()
    with pytest.raises(Exception, match="disk trouble"):
        review.bulk_verdict(queue.db, ANN, ReviewFilter(run_id="r1"), "rejected")
    assert [review.get_pair(queue.db, f"p{i}")["status"] for i in range(5)] == ["pending"] * 5
    assert review.history(queue.db, "p0") == []


def test_recent_decisions_list_each_pair_once_newest_first(queue):
    version = review.record_verdict(queue.db, "p0", ANN, "accepted", 0)
    review.record_verdict(queue.db, "p1", ANN, "rejected", 0, reason="wrong")
    review.record_verdict(queue.db, "p0", ANN, "rejected", version, reason="format")
    review.record_verdict(queue.db, "p2", BOB, "accepted", 0)
    assert [(d.pair_id, d.status, d.reason) for d in review.recent_decisions(queue.db, "ann")] == [
        ("p0", "rejected", "format"), ("p1", "rejected", "wrong")]


def test_the_risk_order_walks_a_read_only_database_and_writes_nothing_to_it(builder):
    from lab_tui.store.db import _open_read_only, is_read_only

    builder.run("r1")
    builder.pair("r1", "calm", ontask=0.9)
    builder.pair("r1", "offtask", ontask=0.2)
    before = builder.path.read_bytes()
    db = _open_read_only(builder.path)
    where = ReviewFilter(order="risk")
    pair = review.next_pair(db, ANN, where)
    assert pair["id"] == "offtask" and review.place(db, where, pair["position"]) == (1, 2)
    assert is_read_only(db) and builder.path.read_bytes() == before
