"""Near-duplicate text detection shared by the seed linter and the run report.

Word-set Jaccard for short texts (questions) and word-bigram Jaccard for long ones (contexts,
answers): bigrams keep "revise this sentence" and "this sentence revise" apart on long texts
while short questions that differ by one word still count as near-identical.
"""

from __future__ import annotations

import re
from itertools import combinations

NEAR_DUPLICATE = 0.7
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def features(text: str) -> frozenset:
    tokens = words(text)
    if len(tokens) >= 20:
        return frozenset(zip(tokens, tokens[1:]))
    return frozenset(tokens)


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def similarity(a: str, b: str) -> float:
    return jaccard(features(a), features(b))


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE) -> list[tuple[int, int, float]]:
    """Index pairs (i < j) whose texts are near-identical (exact duplicates score 1.0)."""
    feats = [features(text) for text in texts]
    pairs = []
    for i, j in combinations(range(len(texts)), 2):
        if not texts[i].strip() or not texts[j].strip():
            continue
        score = 1.0 if texts[i].strip() == texts[j].strip() else jaccard(feats[i], feats[j])
        if score >= threshold:
            pairs.append((i, j, score))
    return pairs


def near_duplicate_share(texts: list[str], threshold: float = NEAR_DUPLICATE) -> float:
    """Share of texts that have at least one near-duplicate among the others.

    Quadratic: callers with thousands of texts pass a sample.
    """
    if len(texts) < 2:
        return 0.0
    involved = set()
    for i, j, _ in near_duplicate_pairs(texts, threshold):
        involved.update((i, j))
    return len(involved) / len(texts)
