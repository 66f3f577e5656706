"""Pilot tests of a Review pane a person steers (issue 19): reason codes, previous/next and recent
decisions, "pair n of N", risk order and the on-task filter, bulk verdicts with one undo, the export
dialog, the pair's seed example, and a footer that keeps Export and Quit at 60x20."""

from __future__ import annotations

import json
import shutil

from waiting import until

from builders import populate
from lab_tui.resources import example_skill_path
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog
from lab_tui.ui.messages import OpenSkill
from lab_tui.ui.review_dialogs import REASON_KEYS, ExportDialog, FilterDialog, RecentDialog, RejectDialog


def make_app(tmp_path, **options):
    return LabApp(example_skill_path(), tmp_path / "lab.db", start_mode="review", reviewer="ann", **options)


async def settle(pilot, condition=lambda: True, timeout=5.0):
    await pilot.pause(0.02)
    await until(pilot, condition, timeout)


def stored(tmp_path, pair_id):
    return review.get_pair(open_db(tmp_path / "lab.db"), pair_id)


def head(screen) -> str:
    return str(screen.query_one("#review-head").render())


def with_ontask(db, scores):
    """Give the pairs on-task scores, as curation's engine stores them."""
    for pair_id, score in scores.items():
        db.execute("UPDATE pairs SET ontask = ?, ontask_scores = ? WHERE id = ?",
                   [score, json.dumps({"question": score, "response": 0.9}), pair_id])
    db.conn.commit()


async def test_the_on_task_score_is_shown_beside_the_judges_scores(tmp_path):
    with_ontask(populate(tmp_path / "lab.db", count=2), {"r1-p0": 0.42})
    async with make_app(tmp_path).run_test(size=(80, 24)) as pilot:
        screen = pilot.app.screen
        await settle(pilot, lambda: screen.pair is not None)
        scores_line = next(line for line in head(screen).splitlines() if "pair judge" in line)
        assert "question judge 1" in scores_line and "pair judge 3" in scores_line and "on-task 0.42" in scores_line
        judges = str(screen.query_one("#text-judges").render())
        assert "On-task: question 0.42  response 0.90" in judges
        await pilot.press("space")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        assert "on-task –" in head(screen), "a pair scored before on-task scores existed says so"


async def test_a_rejection_takes_a_reason_code_in_one_key_and_a_note_and_undo_restores(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("R")
        await settle(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press("o")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        assert (stored(tmp_path, "r1-p0")["status"], stored(tmp_path, "r1-p0")["reason"]) == ("rejected", "off-task")
        await pilot.press("R")
        await settle(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press("tab", *"about SEO", "enter", "w")  # the note first, then the code
        await settle(pilot, lambda: screen.pair.id == "r1-p2")
        pair = stored(tmp_path, "r1-p1")
        assert (pair["status"], pair["reason"], pair["note"]) == ("rejected", "wrong", "about SEO")
        assert review.history(open_db(tmp_path / "lab.db"), "r1-p1")[-1]["reason"] == "wrong"
        await pilot.press("u")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        assert (stored(tmp_path, "r1-p1")["status"], stored(tmp_path, "r1-p1")["reason"]) == ("pending", None)
        await pilot.press("R")
        await settle(pilot, lambda: isinstance(app.screen, RejectDialog))
        await pilot.press("escape")
        await settle(pilot, lambda: app.screen is screen)
        assert stored(tmp_path, "r1-p1")["status"] == "pending"
    assert sorted(REASON_KEYS.values()) == sorted(review.REJECT_REASONS) and len(REASON_KEYS) == 6


async def test_previous_and_next_pair_with_n_of_n_and_a_progress_bar(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None and screen.place == (1, 4))
        assert "pair 1 of 4" in head(screen) and "░" * 16 + " 0%" in head(screen)
        await pilot.press("right")
        await settle(pilot, lambda: screen.pair.id == "r1-p1" and screen.place == (2, 4))
        assert stored(tmp_path, "r1-p0")["claimed_by"] is None, "the pair left undecided is given back"
        await pilot.press("left")
        await settle(pilot, lambda: screen.pair.id == "r1-p0")
        await pilot.press("left")
        await settle(pilot, lambda: screen.pair.id == "r1-p3", timeout=5)  # wraps round to the last
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p0" and screen.place == (1, 3))
        assert "pair 1 of 3" in head(screen) and "█" * 4 + "░" * 12 + " 25%" in head(screen)


async def test_recent_decisions_go_back_to_a_pair_to_decide_again(tmp_path):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("R", "d")
        await settle(pilot, lambda: screen.pair.id == "r1-p2")
        await pilot.press("h")
        await settle(pilot, lambda: isinstance(app.screen, RecentDialog))
        listed = [str(option.prompt) for option in app.screen.query_one("OptionList").options]
        assert listed[0].startswith("rejected duplicate") and "Question 1" in listed[0]
        assert listed[1].startswith("accepted") and "Question 0" in listed[1]
        await pilot.press("down", "enter")
        await settle(pilot, lambda: app.screen is screen and screen.pair.id == "r1-p0")
        assert stored(tmp_path, "r1-p2")["claimed_by"] is None
        await pilot.press("R", "i")
        await settle(pilot, lambda: stored(tmp_path, "r1-p0")["status"] == "rejected")
        assert stored(tmp_path, "r1-p0")["reason"] == "incomplete"


async def test_the_empty_queue_says_how_many_pairs_others_hold(tmp_path):
    db = populate(tmp_path / "lab.db", count=3)
    bob, carol = review.Session("bob"), review.Session("carol")
    review.next_pair(db, bob, review.ReviewFilter())
    review.next_pair(db, carol, review.ReviewFilter())
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair is None)
        assert "No pair to review: others hold 2 pair(s) of this filter." in head(screen)


async def test_s_sorts_by_risk_and_the_filter_takes_an_on_task_threshold(tmp_path):
    with_ontask(populate(tmp_path / "lab.db"), {"r1-p0": 0.8, "r1-p1": 0.7, "r1-p2": 0.1, "r1-p3": 0.3})
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        assert screen.pair.id == "r1-p0"
        await pilot.press("s")
        await settle(pilot, lambda: screen.pair.id == "r1-p2")
        assert "risk first" in head(screen)
        await pilot.press("right")
        await settle(pilot, lambda: screen.pair.id == "r1-p3")
        await pilot.press("s")
        await settle(pilot, lambda: screen.filter.order == "queue" and screen.pair.id == "r1-p0")
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, FilterDialog))
        app.screen.query_one("#filter-max_ontask").value = "0.5"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: screen.filter.max_ontask == 0.5 and screen.pair.id == "r1-p2")
        await settle(pilot, lambda: screen.place == (1, 2))
        assert "on-task < 0.5" in head(screen)


async def test_bulk_reject_of_a_seed_example_confirms_the_count_and_one_undo_takes_it_back(tmp_path):
    populate(tmp_path / "lab.db", count=6)  # seed examples 0,1,2,0,1,2
    app = make_app(tmp_path, run_id="r1")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        screen.review(review.ReviewFilter(run_id="r1", seed_index=1))
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("X")
        await settle(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "Reject the 2 pending pair(s)" in app.screen.question and "seed example 2" in app.screen.question
        await pilot.press("enter")  # the focused button is Cancel
        await settle(pilot, lambda: app.screen is screen)
        assert stored(tmp_path, "r1-p1")["status"] == "pending"
        await pilot.press("X")
        await settle(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("shift+tab", "enter")
        await settle(pilot, lambda: screen.pair is None)
        assert [stored(tmp_path, f"r1-p{i}")["status"] for i in range(6)] == \
            ["pending", "rejected", "pending", "pending", "rejected", "pending"]
        await pilot.press("u")
        await settle(pilot, lambda: screen.pair is not None and screen.pair.id == "r1-p1")
        assert [stored(tmp_path, f"r1-p{i}")["status"] for i in range(6)] == ["pending"] * 6
        await pilot.press("u")
        await settle(pilot)
        assert [stored(tmp_path, f"r1-p{i}")["status"] for i in range(6)] == ["pending"] * 6


async def test_bulk_reject_offers_the_shown_pairs_seed_example_within_the_filter(tmp_path):
    populate(tmp_path / "lab.db", count=6)  # seed examples 0,1,2,0,1,2
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("space")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("X")
        await settle(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert "Reject the 5 pending pair(s) of this filter" in app.screen.question
        assert "Or only the 2 of seed example 2" in app.screen.question
        app.screen.query_one("#bulk-seed").press()
        await settle(pilot, lambda: stored(tmp_path, "r1-p4")["status"] == "rejected")
        assert [stored(tmp_path, f"r1-p{i}")["status"] for i in range(6)] == \
            ["skipped", "rejected", "pending", "pending", "rejected", "pending"]
        await settle(pilot, lambda: screen.pair is not None and screen.pair.id == "r1-p2")
        await pilot.press("u")
        await settle(pilot, lambda: stored(tmp_path, "r1-p4")["status"] == "pending")
        assert stored(tmp_path, "r1-p0")["status"] == "skipped", "the skip before it is another undo"


async def test_export_asks_where_and_what_and_says_what_went_wrong(tmp_path, lab_home):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("a")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("E")
        await settle(pilot, lambda: isinstance(app.screen, ExportDialog))
        dialog = app.screen
        dialog.query_one("#export-path").value = str(tmp_path / "no such folder" / "out.jsonl")
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: isinstance(app.screen, ExportDialog) and app.screen is not dialog)
        assert "Nothing exported" in str(app.screen.query_one("#export-error").render())
        assert app.is_running
        app.screen.query_one("#export-path").value = str(tmp_path / "all.jsonl")
        app.screen.query_one("#export-status").value = "all"
        app.screen.query_one("#export-format").value = "lab"
        app.screen.query_one("#export-prompt").value = "granite"
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: (tmp_path / "all.jsonl").exists())
    records = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert len(records) == 4 and "filtered" in records[0], "every status, in the lab format"
    header = json.loads((tmp_path / "all.header.json").read_text())
    assert header["system_prompt"]["choice"] == "granite" and header["status"] == "all"


async def test_an_empty_system_prompt_is_refused_in_the_dialog(tmp_path, lab_home):
    populate(tmp_path / "lab.db")
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.screen.pair is not None)
        await pilot.press("E")
        await settle(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one("#export-prompt").value = "  "
        await pilot.press("ctrl+s")
        await settle(pilot, lambda: "system prompt is empty" in str(app.screen.query_one("#export-error").render()))


async def test_o_opens_the_pairs_seed_example_in_the_seeds_pane(tmp_path, messages):
    skill = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), skill)
    db = populate(tmp_path / "lab.db", count=3)
    db.execute("UPDATE runs SET skill_path = ?", [str(skill)])
    db.conn.commit()
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24), message_hook=messages) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None)
        await pilot.press("space")
        await settle(pilot, lambda: screen.pair.id == "r1-p1")
        await pilot.press("o")
        await settle(pilot, lambda: app.current_mode == "seeds")
        asked = messages.of(OpenSkill)[-1]
        assert (asked.path, asked.example) == (skill, 1)


async def test_at_60x20_the_footer_shows_export_and_quit(tmp_path):
    populate(tmp_path / "lab.db")
    async with make_app(tmp_path).run_test(size=(60, 20)) as pilot:
        screen = pilot.app.screen
        await settle(pilot, lambda: screen.pair is not None)
        keys = screen.query_one("Footer").query("FooterKey")
        await settle(pilot, lambda: keys and all(key.region.width for key in keys))
        shown = {key.description for key in keys if key.region.right <= 60}
        assert {"Accept", "Reject", "Skip", "Undo", "Export", "Quit"} <= shown, shown


async def test_the_header_shows_each_judge_against_reviewers_once_verdicts_exist(tmp_path):
    from lab_tui.pipeline.flow import load_flow
    from lab_tui.store import runs as store

    db = open_db(tmp_path / "lab.db")
    flow = load_flow("freeform_skills")
    store.create_run(db, run_id="r1", skill_path="/skills/x/qna.yaml", skill_snapshot={}, flow=flow.stored(),
                     prompts_version=flow.version, teacher={}, params={})
    for number in range(14):  # the pair judge gives 3 to what reviewers reject, 2 to what they accept
        score = 3.0 if number % 2 else 2.0
        store.record_pair(db, id=f"p{number}", run_id="r1", seed_index=0, question=f"q{number}", response="r",
                          user_turn="q", score=score, outcome="kept", ontask=0.9 - score / 10,
                          scores=json.dumps([{"judge": "eval_questions", "label": "question judge", "score": 1.0},
                                             {"judge": "evaluate_qa_pair", "label": "pair judge", "score": score}]))
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 24)) as pilot:
        screen = app.screen
        await settle(pilot, lambda: screen.pair is not None and screen.counts)
        assert "judges vs reviewers" not in head(screen), "nothing to say before any verdict"
        await pilot.press("a")
        await settle(pilot, lambda: "judges vs reviewers" in head(screen), timeout=30)  # the first loads the figures' code
        assert "pair judge 1/10 verdicts" in head(screen)
        for number in range(1, 12):
            await pilot.press("x" if number % 2 else "a")
            await settle(pilot, lambda: screen.pair.id == f"p{number + 1}")
        await settle(pilot, lambda: "pair judge AUC 0.00 ✗" in head(screen), timeout=30)
        assert "on-task score AUC 1.00" in head(screen)
