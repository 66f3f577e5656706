"""The typed pair: what a pair says (the reviewer's edit over the teacher's text) worked out once."""

from __future__ import annotations

import json

import pytest

from lab_tui.store import queries
from lab_tui.store.pairs import Judge, Pair


def read(builder, pair_id: str) -> Pair:
    (pair,) = [pair for pair in queries.pairs(builder.db) if pair.id == pair_id]
    return pair


def test_an_unedited_pair_says_what_the_teacher_wrote(builder):
    builder.run("r")
    builder.pair("r", "p", status="accepted", reviewer="ana", note="fine")
    pair = read(builder, "p")
    assert (pair.question, pair.response, pair.user_turn) == ("Question of p?", "Response of p.",
                                                              "Context of p\n\nQuestion of p?")
    assert not pair.question_edited and not pair.response_edited and not pair.filtered
    assert (pair.status, pair.reviewer, pair.note, pair.seed_index, pair.version) == ("accepted", "ana", "fine", 1, 0)
    assert pair.judges == (Judge("eval_questions", "question judge", 1.0, "answerable"),
                           Judge("evaluate_qa_pair", "pair judge", 3.0, "grounded"))
    assert [judge.title for judge in pair.judges] == ["question judge", "pair judge"]


def test_edits_win_and_the_edited_question_takes_its_place_in_the_user_turn(builder):
    builder.run("r")
    builder.pair("r", "p", edited_question="Sharper?", edited_response="Better.")
    pair = read(builder, "p")
    assert (pair.question, pair.response, pair.user_turn) == ("Sharper?", "Better.", "Context of p\n\nSharper?")
    assert (pair.original_question, pair.original_response) == ("Question of p?", "Response of p.")
    assert pair.question_edited and pair.response_edited


def test_a_user_turn_not_ending_in_the_question_is_replaced_by_the_edit(builder):
    builder.run("r")
    builder.pair("r", "p", context=None, user_turn="Please: Question of p? Thanks", edited_question="Sharper?")
    builder.pair("r", "q", context=None, user_turn=None)
    assert read(builder, "p").user_turn == "Sharper?"
    assert read(builder, "q").user_turn == "Question of q?" and read(builder, "q").context is None


def test_an_edit_that_empties_a_text_is_no_edit(builder):
    builder.run("r")
    builder.pair("r", "p", edited_question="", edited_response="")
    pair = read(builder, "p")
    assert (pair.question, pair.response) == ("Question of p?", "Response of p.")
    assert not pair.question_edited and not pair.response_edited


@pytest.mark.parametrize("scores, expected", [
    (None, ()),
    ("not json", ()),
    ('{"judge": "j"}', ()),
    (json.dumps(["j", 3, None, {"judge": "j", "score": True, "explanation": 5}]), (Judge("j", "", None, None),)),
    (json.dumps([{"judge": "j", "label": "pair judge", "score": 2}]), (Judge("j", "pair judge", 2, None),)),
])
def test_judges_stored_in_any_shape_are_read_without_failing(builder, scores, expected):
    builder.run("r")
    builder.pair("r", "p", scores=scores, outcome="filtered")
    pair = read(builder, "p")
    assert pair.judges == expected and pair.filtered


def test_a_row_read_by_the_review_queue_keeps_its_position(builder):
    builder.run("r")
    builder.pair("r", "p")
    row = next(builder.db.query("SELECT rowid AS position, * FROM pairs"))
    assert Pair.from_row(row).position == row["position"] == 1
    assert read(builder, "p").position is None
