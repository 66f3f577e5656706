"""Pilot tests of the Review pane: every key, undo across steps, edit-then-accept, filters, snapshot."""

from __future__ import annotations

import json
import shutil

import yaml
from waiting import until

from lab_tui.resources import example_skill_path
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.ui.review_dialogs import EditDialog, ExportDialog, FilterDialog, NoteDialog
from lab_tui.ui.review_pane import PairView
from builders import fill_the_disk, free_the_disk, populate


def make_app(tmp_path, skill=None):
    return LabApp(skill or example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann")


async def settle(pilot, condition=lambda: True, timeout=5.0):
    """Wait for the pane's database thread (keys are answered once their verdict is stored)."""
    await pilot.pause(0.02)
    await until(pilot, condition, timeout)


def current(pilot):
    return pilot.app.pane_screens["review"]


def status_of(tmp_path, pair_id):
    return review.get_pair(open_db(tmp_path / "lab.db"), pair_id)["status"]


async def test_accept_reject_skip_commit_at_once_and_move_on(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        assert screen.pair.id == "r1-p0" and isinstance(app.focused, PairView)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        assert status_of(tmp_path, "r1-p0") == "accepted"
        await pilot.press("x")  # one key, committed at once (issue 4)
        await settle(pilot, lambda: screen.pair.id == "r1-p2")
        await pilot.press("space")
        await settle(pilot, lambda: screen.pair.id == "r1-p3")
        assert [status_of(tmp_path, f"r1-p{i}") for i in range(4)] == ["accepted", "rejected", "skipped", "pending"]
        await settle(pilot, lambda: screen.counts.get("accepted") == 1 and screen.counts.get("pending") == 1)
        assert review.get_pair(open_db(tmp_path / "lab.db"), "r1-p0")["reviewer"] == "ann"


async def test_undo_goes_back_several_steps(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        for key, expected in (("a", "r1-p1"), ("x", "r1-p2"), ("a", "r1-p3")):
            await pilot.press(key)
            await settle(pilot, lambda: screen.pair.id == expected)
        await pilot.press("u")
        await settle(pilot, lambda: screen.pair.id == "r1-p2")
        assert status_of(tmp_path, "r1-p2") == "pending"
        await pilot.press("backspace")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("u")
        await settle(pilot, lambda: screen.pair.id == "r1-p0")
        assert [status_of(tmp_path, f"r1-p{i}") for i in range(3)] == ["pending"] * 3
        await pilot.press("x")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        assert status_of(tmp_path, "r1-p0") == "rejected"
        history = review.history(open_db(tmp_path / "lab.db"), "r1-p0")
        assert [v["status"] for v in history] == ["accepted", "pending", "rejected"]


async def test_edit_then_accept_keeps_the_original_and_note_is_stored(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, NoteDialog))
        await pilot.press(*"tone")
        await pilot.press("enter")
        await settle(pilot, lambda: screen.pair.note == "tone")
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, EditDialog))
        assert app.focused.id == "edit-question", "e puts the cursor in the question first"
        await pilot.press("tab", "end", *" Exactly.")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
    pair = review.get_pair(open_db(tmp_path / "lab.db"), "r1-p0")
    assert pair["status"] == "accepted" and pair["response"] == "Response 0: in Q4."
    assert pair["edited_response"].endswith("Exactly.") and pair["edited_question"] is None
    assert pair["note"] == "tone"


async def test_escape_leaves_the_edit_without_a_verdict(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, EditDialog))
        await pilot.press("a", "escape")
        await settle(pilot, lambda: app.screen is screen)
        assert screen.pair.id == "r1-p0" and status_of(tmp_path, "r1-p0") == "pending"


async def test_filters_search_and_status(tmp_path):
    populate(tmp_path / "lab.db", count=6)
    populate(tmp_path / "lab.db", count=2, run_id="r2")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("slash")
        await settle(pilot, lambda: isinstance(app.screen, FilterDialog))
        await pilot.press(*"Question 4", "enter")
        await settle(pilot, lambda: screen.pair.id == "r1-p4")
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, FilterDialog))
        app.screen.query_one("#filter-search").value = ""
        await pilot.press("enter")  # the run is chosen from a list of runs, not typed
        await pilot.press(*"r2", "enter")
        await settle(pilot, lambda: app.screen.query_one("#filter-run_id").value == "r2")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: screen.pair.id == "r2-p0")
        await settle(pilot, lambda: screen.counts == {"pending": 2, "accepted": 0, "rejected": 0, "skipped": 0})
        screen.filter = review.ReviewFilter(status="accepted")
        await screen.advance(0)
        assert screen.pair.id == "r1-p0"
        screen.filter = review.ReviewFilter(status="pending", min_score=3.0, run_id="r1")
        await screen.advance(0)
        assert screen.pair.score == 3.0
        screen.filter = review.ReviewFilter(status=None, reviewer="ann")
        await screen.advance(0)
        assert screen.pair.id == "r1-p0"
        screen.filter = review.ReviewFilter(search="nothing like this")
        await screen.advance(0)
        assert screen.pair is None


async def test_conflict_is_shown_and_nothing_overwritten(tmp_path, messages):
    db = populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        review.record_verdict(db, "r1-p0", review.Session("bob"), "rejected", 0)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.status == "rejected")
        assert messages.notified("bob")
        assert screen.counts["rejected"] == 1  # the refused pair and the counters are shown fresh at once
        await pilot.press("a")  # deciding again on the fresh pair is saved
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
    assert status_of(tmp_path, "r1-p0") == "accepted"


async def test_counters_and_the_queue_follow_other_reviewers(tmp_path, monkeypatch):
    """`pending 22` stayed beside "No pair to review" while others worked; r reloads at once."""
    from lab_tui.ui import review_pane

    monkeypatch.setattr(review_pane, "FOLLOW_EVERY_S", 0.05)
    db = populate(tmp_path / "lab.db", count=2)
    bob = review.Session("bob")
    review.next_pair(db, bob, review.ReviewFilter())  # bob holds r1-p0
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None and screen.counts)
        assert screen.pair.id == "r1-p1"
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair is None)
        review.release(db, "r1-p0", bob)  # bob gives his pair back: it reaches ann without a key
        await settle(pilot, lambda: screen.pair is not None and screen.pair.id == "r1-p0")
        review.record_verdict(db, "r1-p0", bob, "rejected", 0)
        await settle(pilot, lambda: screen.counts.get("rejected") == 1 and screen.pair.status == "rejected")
        monkeypatch.setattr(screen, "follow_others", lambda: None)
        review.undo(db, "r1-p0", bob, 1)
        await pilot.press("r")
        await settle(pilot, lambda: screen.counts.get("rejected") == 0 and screen.pair.status == "pending")


async def test_the_main_app_labels_verdicts_with_the_login_name(tmp_path):
    populate(tmp_path / "lab.db", count=1)
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair is None)
    assert review.get_pair(open_db(tmp_path / "lab.db"), "r1-p0")["reviewer"] == review.login_name() != "reviewer"


async def test_untrusted_text_is_shown_literally(tmp_path):
    db = populate(tmp_path / "lab.db", count=1)
    db.execute("UPDATE pairs SET response = ?", ["[bold red]boom[/] \x1b[31mred\x1b[0m \x1b]8;;http://x\x07link"])
    db.conn.commit()
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        texts = [str(static.render()) for static in screen.query("#review-body Static")]
        assert "[bold red]boom[/] red link" in texts


async def test_promote_to_seed_and_export(tmp_path, lab_home):
    populate(tmp_path / "lab.db")
    skill = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), skill)
    before = len(yaml.safe_load(skill.read_text())["seed_examples"])
    app = make_app(tmp_path, skill)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("p")
        await settle(pilot, lambda: len(yaml.safe_load(skill.read_text())["seed_examples"]) == before + 1)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("E")
        await settle(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.press("ctrl+s")
        target = lab_home / "data" / "exports" / "r1-accepted.jsonl"
        await settle(pilot, target.exists)
    added = yaml.safe_load(skill.read_text())["seed_examples"][-1]
    assert added["question"] == "Question 0: when did the wing open?"
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(records) == 1 and records[0]["messages"][-1]["content"] == "Response 0: in Q4."
    assert set(records[0]) == {"id", "messages", "unmask", "metadata"}, "the training file `lab-tui export` writes"
    assert target.with_name("r1-accepted.header.json").exists(), "with its header, as `lab-tui export` writes it"


async def test_promote_never_writes_control_characters_into_the_seed(tmp_path):
    db = populate(tmp_path / "lab.db", count=1)
    db.execute("UPDATE pairs SET response = ?", ["Fine \x1b]0;pwned\x07answer \x1b[31mred\x1b[0m.\n"])
    db.conn.commit()
    skill = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), skill)
    before = len(yaml.safe_load(skill.read_text())["seed_examples"])
    app = make_app(tmp_path, skill)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("p")
        await settle(pilot, lambda: len(yaml.safe_load(skill.read_text())["seed_examples"]) == before + 1)
    assert yaml.safe_load(skill.read_text())["seed_examples"][-1]["answer"] == "Fine answer red.\n"
    assert "\\e" not in skill.read_text() and "\x1b" not in skill.read_text()


async def test_q_quits(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert review.get_pair(open_db(tmp_path / "lab.db"), "r1-p0")["claimed_by"] is None


def test_review_command_opens_the_review_pane_with_run_and_reviewer(tmp_path, monkeypatch):
    from lab_tui.cli import main
    from lab_tui.ui import launch

    seen = {}
    monkeypatch.setattr(launch, "launch_app", lambda skill, db, **kw: seen.update(db=db, **kw) or 0)
    assert main(["review", "--db", str(tmp_path / "x.db"), "--run", "r9", "--reviewer", "zoe"]) == 0
    assert seen == {"db": tmp_path / "x.db", "start_mode": "review", "reviewer": "zoe", "run_id": "r9",
                    "batch_id": None}
    assert main(["review", "--db", str(tmp_path / "x.db")]) == 0
    import getpass
    assert seen["reviewer"] == getpass.getuser() and seen["run_id"] is None


async def test_at_80_columns_the_header_shows_the_active_filter(tmp_path):
    """The filter was in the status bar, cut off behind the global keys."""
    populate(tmp_path / "lab.db", count=2, run_id="20261125-080000-abcdef0123")
    app = LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann",
                 run_id="20261125-080000-abcdef0123")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None and screen.counts)
        screen.filter = review.ReviewFilter(run_id="20261125-080000-abcdef0123", search="wing")
        await screen.advance(0)
        await pilot.pause()
        shown = str(screen.query_one("#review-head").render())
    filter_line = next(line for line in shown.splitlines() if line.startswith("filter "))
    assert 'run 20261125-080000-abcdef0123 · kept · pending · "wing"' in filter_line
    assert len(filter_line) <= 78


async def test_a_verdict_on_a_full_disk_is_said_and_loses_nothing(tmp_path, messages):
    """It crashed the pane. Now: a message, the pair stays shown and pending, the key works again later;
    an edit that could not be saved comes back in its dialog."""
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = current(pilot)
        await settle(pilot, lambda: screen.pair is not None)
        await screen.db(fill_the_disk)
        await pilot.press("a")
        await settle(pilot, lambda: messages.notices("error"))
        assert "database or disk is full" in messages.notices("error")[0].message
        assert app.is_running and screen.pair.id == "r1-p0" and screen.pair.status == "pending"
        assert status_of(tmp_path, "r1-p0") == "pending"
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, EditDialog))
        await pilot.press("tab", "end", *" Kept.", "ctrl+s")
        await settle(pilot, lambda: len(messages.notices("error")) == 2 and isinstance(app.screen, EditDialog))
        assert app.screen.query_one("#edit-response").text.endswith("in Q4. Kept.")
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)
        await screen.db(free_the_disk)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
    assert status_of(tmp_path, "r1-p0") == "accepted"


BOB_REVIEWS = """
import sys
from lab_tui.store import review
from lab_tui.ui.app import LabApp

review.LEASE_S, review.RENEW_EVERY_S = float(sys.argv[2]), float(sys.argv[3])
LabApp(None, sys.argv[1], start_mode="review", reviewer="bob").run(headless=True, size=(80, 24))
"""


async def test_the_pair_of_a_reviewer_whose_session_dropped_reaches_the_other_by_itself(tmp_path, monkeypatch):
    """Bob's app (another process) holds the only pair and renews its claim while it lives; its SSH
    connection drops (SIGHUP ends it): within a lease the pair is on Ann's screen without a key.
    It took 13 minutes (a 10-minute claim, then `r`)."""
    import signal
    import subprocess
    import sys

    from waiting import polled

    lease, renew_every = 1.0, 0.1
    monkeypatch.setattr(review, "LEASE_S", lease)
    monkeypatch.setattr(review, "RENEW_EVERY_S", renew_every)
    db = populate(tmp_path / "lab.db", count=1)
    claimed_at = lambda: review.get_pair(db, "r1-p0")["claimed_at"]  # noqa: E731
    bob = subprocess.Popen([sys.executable, "-c", BOB_REVIEWS, str(tmp_path / "lab.db"), str(lease), str(renew_every)])
    try:
        polled(lambda: claimed_at() is not None)
        first = claimed_at()
        app = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = current(pilot)
            await settle(pilot, lambda: screen.counts.get("pending") == 1)
            await settle(pilot, lambda: claimed_at() > first + lease, timeout=30)
            assert screen.pair is None, "bob is alive: his claim holds past a whole lease"
            bob.send_signal(signal.SIGHUP)
            await settle(pilot, lambda: screen.pair is not None, timeout=30)
            assert screen.pair.id == "r1-p0" and bob.wait(timeout=10) != 0
            await pilot.press("a")
            await settle(pilot, lambda: screen.pair is None)
        assert status_of(tmp_path, "r1-p0") == "accepted"
    finally:
        bob.kill()
        bob.wait()
