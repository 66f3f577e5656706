"""The near-duplicate measure the linter and the run report share."""

from __future__ import annotations

import random
from itertools import combinations

import pytest

from lab_tui.seeds import similarity as similarity_module
from lab_tui.seeds.similarity import (NEAR_DUPLICATE, features, first_near_duplicates, jaccard, near_duplicate_pairs,
                                      similarity)

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


def test_exact_duplicates_score_one():
    texts = [LONG, LONG + " ", "Something else entirely different here.", "A fourth text."]
    assert near_duplicate_pairs(texts) == [(0, 1, 1.0)]
    assert first_near_duplicates(texts) == [(0, 1, 1.0)]


def brute_force_pairs(texts: list[str], threshold: float) -> list[tuple[int, int, float]]:
    """Every pair compared, as the linter did before pairs were found through an index."""
    feats = [features(text) for text in texts]
    pairs = []
    for i, j in combinations(range(len(texts)), 2):
        if not texts[i].strip() or not texts[j].strip():
            continue
        score = 1.0 if texts[i].strip() == texts[j].strip() else jaccard(feats[i], feats[j])
        if score >= threshold:
            pairs.append((i, j, score))
    return pairs


def first_of_each(pairs: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    seen, first = set(), []
    for i, j, score in pairs:
        if j not in seen:
            seen.add(j)
            first.append((i, j, score))
    return sorted(first)


def random_texts(rng: random.Random) -> list[str]:
    """Texts from a small vocabulary so many overlap: short (word sets) and long (bigrams), blank,
    punctuation only (no words), copies and copies with one word changed."""
    vocabulary = [f"w{n}" for n in range(rng.choice([4, 8, 30]))] + ["the", "a", "of"]
    texts: list[str] = []
    for _ in range(rng.randint(0, 40)):
        roll = rng.random()
        if texts and roll < 0.2:
            texts.append(rng.choice(texts) + rng.choice(["", " ", "\n"]))
        elif texts and roll < 0.4:
            words = rng.choice(texts).split() or ["x"]
            words[rng.randrange(len(words))] = rng.choice(vocabulary)
            texts.append(" ".join(words))
        elif roll < 0.47:
            texts.append(rng.choice(["", "  ", "\n", "?!", "--"]))
        else:
            length = rng.choice([rng.randint(1, 8), rng.randint(15, 25), rng.randint(20, 40)])
            texts.append(" ".join(rng.choice(vocabulary) for _ in range(length)))
    return texts


@pytest.mark.parametrize("merged", [False, True], ids=["gathered", "merged in order"])
@pytest.mark.parametrize("threshold", [NEAR_DUPLICATE, 0.5, 0.75, 0.9, 1.0, 0.0, 1.5, 2 / 3, 0.6, 0.51, 0.4])
def test_the_indexed_pairs_are_exactly_the_pairs_of_comparing_every_text(threshold, merged, monkeypatch):
    """Above 1/2 texts are indexed by pairs of words, at or below it by words; a text meeting many
    candidates merges the indexes in order (forced here for every text)."""
    if merged:
        monkeypatch.setattr(similarity_module, "_MERGE_ABOVE", 0)
    rng = random.Random(f"similarity {threshold}")
    for _ in range(200):
        texts = random_texts(rng)
        expected = brute_force_pairs(texts, threshold)
        assert near_duplicate_pairs(texts, threshold) == expected, texts
        assert first_near_duplicates(texts, threshold) == first_of_each(expected), texts


def test_a_thousand_variants_of_one_question_find_their_first_repeat_without_every_pair():
    texts = [f"What is the capital city of country number {n}?" for n in range(1000)]
    firsts = first_near_duplicates(texts)
    assert firsts == [(0, j, similarity(texts[0], texts[j])) for j in range(1, 1000)]
