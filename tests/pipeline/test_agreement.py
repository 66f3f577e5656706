"""Judges checked against reviewers, on hand-made verdicts whose figures are worked out below."""

from __future__ import annotations

import json

from lab_tui.pipeline.agreement import MIN_VERDICTS, Verdict, judge_agreement, ontask_agreement


def verdicts(*groups: tuple[float | None, int, int]) -> list[Verdict]:
    """(score, accepted, rejected) -> that many verdicts."""
    out = []
    for score, accepted, rejected in groups:
        out += [Verdict(score, True)] * accepted + [Verdict(score, False)] * rejected
    return out


def test_a_judge_that_keeps_what_reviewers_reject_gets_a_stricter_threshold_with_its_figures():
    # score 3: 3 accepted, 1 rejected; score 2: 2 accepted, 6 rejected; score 1: 1 accepted, 3 rejected.
    # Kept at >= 2: 12 pairs, 5 accepted and 7 rejected; dropped 4, 1 accepted and 3 rejected.
    # AUC over 6 accepted x 10 rejected: each 3 beats 9 and ties 1 (9.5, x3 = 28.5), each 2 beats 3 and
    # ties 6 (6, x2 = 12), the 1 ties 3 (1.5): 42 / 60 = 0.7.
    # At >= 3: kept 4 (3 accepted, 1 rejected): share 0.25 <= 7/12 - 0.2, and it keeps accepted pairs.
    result = judge_agreement(verdicts((3, 3, 1), (2, 2, 6), (1, 1, 3)), judge="evaluate_qa_pair", op="ge",
                             threshold=2.0, scores=(1, 2, 3), filter_block="filter_qa_pair")
    assert (result.verdicts, result.accepted, result.unscored, result.enough) == (16, 6, 0, True)
    table = result.current.table
    assert (table.kept_accepted, table.kept_rejected, table.dropped_accepted, table.dropped_rejected) == (5, 7, 1, 3)
    assert round(table.kept_rejected_share, 4) == 0.5833
    assert result.auc == 0.7
    assert result.discriminates is False
    assert result.problems == ("Reviewers rejected 7 of the 12 pairs it kept.",)
    assert result.suggested.threshold == 3
    assert result.suggested.text() == ("at >= 3 it would have kept 4 of 16, and reviewers rejected 1 of those 4; "
                                       "it would have dropped 3 of the 6 pairs reviewers accepted")
    assert result.advice[0] == ("Try a stricter threshold: at >= 3 it would have kept 4 of 16, and reviewers "
                                "rejected 1 of those 4; it would have dropped 3 of the 6 pairs reviewers accepted "
                                "(`--set filter_qa_pair.threshold=3`, or `threshold:` in flow.yaml).")
    assert "stronger model for block evaluate_qa_pair" in result.advice[1]
    assert result.scores == {3: [3, 1], 2: [2, 6], 1: [1, 3]}


def test_the_issues_run_no_threshold_helps_so_a_stronger_model_is_advised():
    # 16 pairs kept, every one rejected; 6 had the top score 3.
    result = judge_agreement(verdicts((3, 0, 6), (2, 0, 10)), judge="evaluate_grounded_qa_pair", op="ge",
                             threshold=2.0, scores=(1, 2, 3))
    assert result.current.table.kept == 16 and result.current.table.kept_rejected == 16
    assert result.auc is None  # no accepted pair to compare with
    assert result.discriminates is False
    assert result.problems == ("Reviewers rejected 16 of the 16 pairs it kept.",)
    assert result.suggested is None
    assert result.advice[0] == ("A stricter threshold does not help: at >= 3 it would have kept 6 of 16, and "
                                "reviewers rejected 6 of those 6.")
    assert "stronger model for block evaluate_grounded_qa_pair" in result.advice[1]
    assert "`teacher: PROFILE`" in result.advice[1]


def test_a_judge_giving_one_score_to_everything_tells_nothing_apart():
    # The question judge gave 1 to every question; 4 accepted, 8 rejected; its filter keeps = 1.
    result = judge_agreement(verdicts((1, 4, 8)), judge="eval_questions", op="eq", threshold=1.0, scores=(0, 1))
    assert result.current.table.kept == 12
    assert result.auc == 0.5
    assert result.problems == ("It gave every pair the same score (1), so it tells none apart.",
                               "Reviewers rejected 8 of the 12 pairs it kept.")
    assert result.suggested is None  # = 1 has no stricter threshold
    assert len(result.advice) == 1 and "stronger model for block eval_questions" in result.advice[0]


def test_a_judge_that_agrees_with_reviewers_gets_no_advice():
    # score 3: 5 accepted; score 2: 1 accepted, 1 rejected; score 1: 3 rejected. At >= 2 it keeps 7
    # (1 rejected: 0.14). AUC: each 3 beats all 4 rejected (20), the 2 beats three 1s and ties one (3.5):
    # 23.5 / 24 = 0.979. At >= 3 the share would be 0, not 0.2 lower than 0.14: no stricter advice.
    result = judge_agreement(verdicts((3, 5, 0), (2, 1, 1), (1, 0, 3)), judge="j", op="ge", threshold=2.0,
                             scores=(1, 2, 3))
    assert result.discriminates is True
    assert round(result.auc, 3) == 0.979
    assert result.problems == () and result.advice == () and result.suggested is None


def test_scores_that_do_not_order_accepted_above_rejected_are_a_problem():
    # 3 accepted with score 2, 7 rejected: 4 with 3, 3 with 2. AUC: each accepted 2 ties three 2s and
    # loses to four 3s: 1.5 x 3 = 4.5 / 21 = 0.214. Kept at >= 2: all 10, 7 rejected.
    result = judge_agreement(verdicts((2, 3, 3), (3, 0, 4)), judge="j", op="ge", threshold=2.0, scores=(1, 2, 3))
    assert round(result.auc, 3) == 0.214
    assert "Pairs reviewers accepted scored no higher than pairs they rejected (AUC 0.21)." in result.problems


def test_no_figure_or_advice_below_the_minimum_and_unscored_verdicts_are_counted_apart():
    few = verdicts((3, 0, MIN_VERDICTS - 1), (None, 2, 3))
    result = judge_agreement(few, judge="j", op="ge", threshold=2.0)
    assert (result.verdicts, result.accepted, result.unscored, result.enough) == (MIN_VERDICTS - 1, 0, 5, False)
    assert result.current is None and result.auc is None and result.discriminates is None
    assert result.problems == () and result.advice == () and result.suggested is None
    assert ontask_agreement(few).enough is False


def test_the_on_task_score_as_a_judge_finds_the_cut_that_separates_the_verdicts():
    # accepted: 0.91 0.84 0.77 0.66 0.589; rejected: 0.62 0.41 0.35 0.33 0.20 0.12 0.05.
    # AUC: four accepted beat all 7 rejected (28), 0.589 beats 6 (0.62 is higher): 34 / 35 = 0.971.
    # Cuts (two decimals, 0.589 -> 0.58), accepted kept share minus rejected kept share:
    #   >= 0.58: 5/5 - 1/7 = 0.857 (best)   >= 0.62: 4/5 - 1/7 = 0.657   >= 0.66: 4/5 - 0 = 0.8
    # The flow's filter at >= 0.3 keeps 9: all 5 accepted and 4 rejected (0.62 0.41 0.35 0.33).
    scored = [Verdict(s, True) for s in (0.91, 0.84, 0.77, 0.66, 0.589)] + \
             [Verdict(s, False) for s in (0.62, 0.41, 0.35, 0.33, 0.20, 0.12, 0.05)]
    result = ontask_agreement(scored, threshold=0.3, filter_block="ontask_contexts")
    assert round(result.auc, 3) == 0.971
    assert result.discriminates is True
    assert result.suggested.threshold == 0.58
    assert result.suggested.text() == ("at >= 0.58 it would have kept 6 of 12, and reviewers rejected 1 of those 6; "
                                       "it would have dropped 0 of the 5 pairs reviewers accepted")
    assert "`--set ontask_contexts.threshold=0.58`" in result.advice[0]
    current = result.current.table
    assert (current.kept_accepted, current.kept_rejected, current.dropped_accepted, current.dropped_rejected) == (5, 4, 0, 3)
    assert result.scores == {0.9: [1, 0], 0.8: [1, 0], 0.7: [1, 0], 0.6: [1, 1], 0.5: [1, 0], 0.4: [0, 1],
                             0.3: [0, 2], 0.2: [0, 1], 0.1: [0, 1], 0.0: [0, 1]}


def test_an_on_task_score_unrelated_to_the_verdicts_says_so_and_suggests_no_cut():
    # Rejected pairs are the most on-task here: AUC 0 (every accepted below every rejected).
    scored = [Verdict(s, True) for s in (0.1, 0.2, 0.3, 0.35, 0.4)] + [Verdict(s, False) for s in (0.6, 0.7, 0.8, 0.9, 0.95)]
    result = ontask_agreement(scored)
    assert result.auc == 0.0 and result.discriminates is False and result.suggested is None
    assert result.problems[0].startswith("Pairs reviewers accepted were no more on-task than pairs they rejected")
    assert result.current is None


def test_figures_are_plain_json():
    result = judge_agreement(verdicts((3, 3, 1), (2, 2, 6), (1, 1, 3)), judge="j", op="ge", threshold=2.0)
    data = json.loads(json.dumps(result.as_json()))
    assert data["current"]["kept_rejected"] == 7 and data["current"]["kept_rejected_share"] == 0.5833
    assert data["suggested"]["text"].startswith("at >= 3 it would have kept 4 of 16")
    assert data["scores"] == {"1": [1, 3], "2": [2, 6], "3": [3, 1]}
    assert data["min_verdicts"] == MIN_VERDICTS and data["verdicts"] == 16
