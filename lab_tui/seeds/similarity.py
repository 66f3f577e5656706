"""Near-duplicate text detection shared by the seed linter and the run report.

Word-set Jaccard for short texts (questions) and word-bigram Jaccard for long ones (contexts,
answers): bigrams keep "revise this sentence" and "this sentence revise" apart on long texts
while short questions that differ by one word still count as near-identical.

Pairs are found without comparing every text with every other (a skill of 100,000 examples
would be 5 billion comparisons): texts with the same features are grouped, and only groups that
share some of their rarest features are compared (prefix filtering: Bayardo et al., "Scaling up
all pairs similarity search", 2007; Xiao et al., "Efficient similarity joins for near duplicate
detection", 2008). Every candidate is scored with `jaccard`'s own division, so the pairs are
exactly those of comparing all of them.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from itertools import combinations, groupby
from operator import itemgetter

NEAR_DUPLICATE = 0.7
_WORD = re.compile(r"[a-z0-9]+")
_SLACK = 1e-9
"""Candidates are gathered for a threshold this much lower than asked, so a score that only reaches
the threshold through the rounding of `jaccard`'s division is still a candidate (and then scored)."""
_MERGE_ABOVE = 2000
"""Candidates a text meets beyond which its earliest near-duplicate is looked for by merging the indexes
in order (stopping at the first that scores: many texts that all nearly repeat one another) rather
than by gathering them all at once (quicker for the usual few)."""


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


def _groups(texts: list[str]) -> tuple[list[frozenset], list[list[int]]]:
    """The non-blank texts' indexes grouped by their features (any measure between two of a group is
    1.0), groups in the order of their first text: (each group's features, each group's indexes)."""
    by_features: dict[frozenset, list[int]] = {}
    for index, text in enumerate(texts):
        if text.strip():
            by_features.setdefault(features(text), []).append(index)
    return list(by_features), list(by_features.values())


def _similar_sets(sets: list[frozenset], threshold: float, first_only: bool) -> Iterator[tuple[int, int, float]]:
    """(a, b, jaccard) for sets b < a whose Jaccard reaches `threshold`; with `first_only`, only the
    smallest such b of each a.

    With features in one order (rarest first), two sets x and y, |y| <= |x|, whose Jaccard is at
    least t share at least t * |x| features, and at least 2t / (1 + t) * |y|: so the first
    |x| - ceil(t * |x|) + m features of x (its long prefix) and the first
    |y| - ceil(2t / (1 + t) * |y|) + m of y (its short prefix) hold m common ones. Above a threshold
    of 1/2 two distinct sets that reach it share at least two features, so the word sets of short
    texts are indexed by the pairs of their prefix's words (m = 2: a pair of words is far rarer
    than either word, and short texts full of common words would otherwise meet nearly every other
    text); word bigrams are rare enough alone (m = 1, as below 1/2), and a word set never meets a
    bigram set. Each set is looked up with both prefixes in the earlier sets' indexes of the other,
    and only the sets met there are scored. A feature no other set has never brings a candidate,
    so it is counted but never indexed.
    """
    if threshold > 1:
        return
    bound = threshold - _SLACK
    frequency = Counter(feature for feats in sets for feature in feats)
    shared = sorted((feature for feature, count in frequency.items() if count > 1), key=frequency.__getitem__)
    rank = {feature: position for position, feature in enumerate(shared)}
    by_long: dict[tuple, list[int]] = defaultdict(list)
    by_short: dict[tuple, list[int]] = defaultdict(list)
    for a, feats in enumerate(sets):
        size = len(feats)
        candidates: Iterable[int]
        if bound <= 0:  # every pair qualifies, even sets with nothing in common
            candidates, long, short = range(a), [], []
        else:
            found = sorted(rank.keys() & feats, key=rank.__getitem__)
            alone = size - len(found)
            common = 2 if bound > 0.5 and found and isinstance(found[0], str) else 1
            long = list(combinations(found[: max(0, size - math.ceil(bound * size) + common - alone)], common))
            short = list(combinations(found[: max(0, size - math.ceil(2 * bound / (1 + bound) * size)
                                                  + common - alone)], common))
            lists = [by_short[key] for key in long] + [by_long[key] for key in short]
            if not first_only:
                candidates = set().union(*lists)
            elif sum(map(len, lists)) > _MERGE_ABOVE:  # in order, stopping at the first that scores
                candidates = (b for b, _ in groupby(heapq.merge(*lists)))
            else:
                candidates = sorted(set().union(*lists))
        for b in candidates:
            theirs = sets[b]
            if bound * size <= len(theirs) and bound * len(theirs) <= size:
                both = len(feats & theirs)  # `jaccard`'s division, the union counted rather than built
                union = size + len(theirs) - both
                score = both / union if union else 1.0
                if score >= threshold:
                    yield a, b, score
                    if first_only:
                        break
        for key in long:
            by_long[key].append(a)
        for key in short:
            by_short[key].append(a)


def near_duplicate_pairs(texts: list[str], threshold: float = NEAR_DUPLICATE) -> list[tuple[int, int, float]]:
    """Index pairs (i < j) whose texts are near-identical (exact duplicates score 1.0), in (i, j) order.

    Blank texts pair with nothing. The pairs can be many (n copies of one text are n * (n - 1) / 2
    of them); a caller that only needs each text's first near-duplicate asks `first_near_duplicates`.
    """
    sets, groups = _groups(texts)
    pairs = []
    if 1.0 >= threshold:
        for members in groups:
            pairs.extend((i, j, 1.0) for i, j in combinations(members, 2))
    for a, b, score in _similar_sets(sets, threshold, False):
        pairs.extend((min(i, j), max(i, j), score) for i in groups[a] for j in groups[b])
    return sorted(pairs)


def first_near_duplicates(texts: list[str], threshold: float = NEAR_DUPLICATE) -> list[tuple[int, int, float]]:
    """(i, j, score) for every text j that nearly repeats an earlier one, i the first such, in (i, j)
    order: the first pair of each j in `near_duplicate_pairs`, without making all the others."""
    sets, groups = _groups(texts)
    earliest = {a: (groups[b][0], score) for a, b, score in _similar_sets(sets, threshold, True)}
    found = []
    for a, members in enumerate(groups):
        # groups are in the order of their first text, so an earlier group's first text comes before this one's
        if a in earliest:
            found.extend((*earliest[a], j) for j in members)
        elif 1.0 >= threshold:
            found.extend((members[0], 1.0, j) for j in members[1:])
    return sorted((i, j, score) for i, score, j in found)
