"""The near-duplicate measure the linter and the run report share."""

from __future__ import annotations

from lab_tui.seeds.similarity import NEAR_DUPLICATE, features, near_duplicate_pairs, near_duplicate_share, similarity

LONG = ("Revenue for the quarter rose to 48 million dollars, up sixteen percent from a year ago, "
        "while gross margin improved by three points thanks to better sourcing and pricing")


def test_short_texts_compare_word_sets_and_long_texts_word_bigrams():
    assert features("Rewrite this sentence") == frozenset({"rewrite", "this", "sentence"})
    assert ("revenue", "for") in features(LONG)
    assert similarity("Rewrite this sentence", "Sentence this rewrite") == 1.0
    shuffled = " ".join(reversed(LONG.split()))
    assert similarity(LONG, shuffled) < 0.2


def test_near_identical_questions_pair_and_different_ones_do_not():
    texts = [
        "How can you rewrite this sentence to be more inclusive?",
        "How could you rewrite this sentence to be more inclusive?",
        "Write a haiku about the sea.",
        "",
        "",
    ]
    pairs = near_duplicate_pairs(texts)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]
    assert NEAR_DUPLICATE <= pairs[0][2] < 1.0


def test_exact_duplicates_score_one_and_count_in_the_share():
    texts = [LONG, LONG + " ", "Something else entirely different here.", "A fourth text."]
    assert near_duplicate_pairs(texts) == [(0, 1, 1.0)]
    assert near_duplicate_share(texts) == 0.5
    assert near_duplicate_share([LONG]) == 0.0
