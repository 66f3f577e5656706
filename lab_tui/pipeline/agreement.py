"""Judges checked against reviewers: every verdict is evidence about the judge that scored the pair.

Pure functions over plain records (a score and a reviewer's accept/reject), so the report, the
Review and Run panes and `compare` show the same figures whichever query fed them. The store
gathers the records; nothing here reads a database.

For one judge: a small table (kept/dropped by its filter x accepted/rejected by reviewers), the
share of the pairs it kept that reviewers rejected, how many verdicts that rests on, whether it
tells pairs apart at all, and what to try. For the on-task score, the same read as if it were a
judge, with the threshold that would have separated accepted from rejected pairs.

No figure or advice is given on fewer than `MIN_VERDICTS` scored verdicts, and nothing that
compares accepted with rejected pairs on fewer than `MIN_PER_SIDE` of either: below that one
verdict moves a share by more than ten points.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from lab_tui.pipeline.blocks import FILTER_OPS

MIN_VERDICTS = 10
"""Scored verdicts before any figure or advice: at 10, "reviewers rejected 8 of the 10 it kept"
already means most (95 % interval 0.49-0.94); at 5 one verdict is 20 points."""
MIN_PER_SIDE = 3
"""Accepted and rejected verdicts each, before saying whether scores order them or where to cut."""
KEEPS_REJECTED_SHARE = 0.5
"""A judge whose kept pairs reviewers rejected this often keeps what reviewers reject."""
ORDERS_AUC = 0.6
"""Below this chance that an accepted pair outscored a rejected one, the scores do not separate them."""
BETTER_BY = 0.2
"""A stricter threshold is advised when it lowers the rejected share among kept pairs by this much
(two or three verdicts on a dozen) and still keeps a pair reviewers accepted."""


@dataclass(frozen=True)
class Verdict:
    """One reviewed pair as one judge saw it."""

    score: float | None
    """The judge's score (None: it gave none, e.g. the pair never reached it or its answer did not parse)."""
    accepted: bool
    """The reviewer's verdict: accepted (True) or rejected (False)."""


@dataclass(frozen=True)
class Table:
    """Judge kept/dropped x reviewer accepted/rejected."""

    kept_accepted: int
    kept_rejected: int
    dropped_accepted: int
    dropped_rejected: int

    @property
    def kept(self) -> int:
        return self.kept_accepted + self.kept_rejected

    @property
    def accepted(self) -> int:
        return self.kept_accepted + self.dropped_accepted

    @property
    def total(self) -> int:
        return self.kept + self.dropped_accepted + self.dropped_rejected

    @property
    def kept_rejected_share(self) -> float | None:
        return self.kept_rejected / self.kept if self.kept else None


@dataclass(frozen=True)
class AtThreshold:
    """What a keep rule would have done on the verdicts so far."""

    op: str
    threshold: float
    table: Table

    def text(self) -> str:
        """"at >= 3 it would have kept 4 of 16, and reviewers rejected 1 of those 4"."""
        t = self.table
        words = f"at {_OP_SIGNS[self.op]} {_number(self.threshold)} it would have kept {t.kept} of {t.total}"
        if t.kept:
            words += f", and reviewers rejected {t.kept_rejected} of those {t.kept}"
        if t.accepted:
            words += f"; it would have dropped {t.dropped_accepted} of the {t.accepted} pairs reviewers accepted"
        return words


@dataclass(frozen=True)
class Agreement:
    """How one judge (or the on-task score) lines up with reviewers' verdicts."""

    verdicts: int
    """Scored verdicts the figures rest on."""
    accepted: int
    """How many of them reviewers accepted."""
    unscored: int
    """Verdicts on pairs this judge gave no score."""
    enough: bool
    """At least `MIN_VERDICTS` scored verdicts: only then are the fields below filled."""
    current: AtThreshold | None = None
    """The judge's own keep rule on these verdicts."""
    auc: float | None = None
    """Chance that an accepted pair outscored a rejected one (ties count half); None below `MIN_PER_SIDE`."""
    discriminates: bool | None = None
    problems: tuple[str, ...] = ()
    """Plain sentences: what is wrong with the judge on the verdicts so far."""
    suggested: AtThreshold | None = None
    """A keep rule that would have done better (a stricter threshold, or the on-task score's best cut)."""
    advice: tuple[str, ...] = ()
    """Plain sentences: what to try."""
    scores: dict = field(default_factory=dict)
    """Score (the on-task score: its tenth, 0.7 for 0.70-0.79) -> [accepted, rejected] verdicts."""
    judge: str = ""
    """The judge block's name ("" for the on-task score)."""
    label: str = ""
    """What it is in a user's words ("pair judge", "on-task score")."""

    def as_json(self) -> dict:
        data = asdict(self)
        for key in ("current", "suggested"):
            rule = getattr(self, key)
            if rule is not None:
                data[key] = {"op": rule.op, "threshold": rule.threshold, "text": rule.text(), **asdict(rule.table),
                             "kept": rule.table.kept, "total": rule.table.total,
                             "kept_rejected_share": _rounded(rule.table.kept_rejected_share)}
        data["auc"] = _rounded(self.auc)
        data["scores"] = {_number(score): counts for score, counts in sorted(self.scores.items())}
        data["min_verdicts"] = MIN_VERDICTS
        return data


def judge_agreement(verdicts: Iterable[Verdict], *, judge: str, op: str, threshold: float,
                    scores: Sequence[float] = (), filter_block: str | None = None) -> Agreement:
    """A judge block and the filter that reads it, against reviewers' verdicts.

    `judge` names the judge block (advice says where its `teacher:` goes), `op`/`threshold` are its
    filter's, `scores` the scores the judge may give (stricter thresholds are tried among them;
    the scores seen otherwise), `filter_block` the filter's name for the `--set` in the advice.
    """
    scored, unscored = _split(verdicts)
    accepted = sum(v.accepted for v in scored)
    if len(scored) < MIN_VERDICTS:
        return Agreement(len(scored), accepted, unscored, False)
    current = AtThreshold(op, threshold, _table(scored, op, threshold))
    auc = _auc(scored)
    seen = sorted({v.score for v in scored})
    problems = []
    if len(seen) == 1:
        problems.append(f"It gave every pair the same score ({_number(seen[0])}), so it tells none apart.")
    share = current.table.kept_rejected_share
    if share is not None and share >= KEEPS_REJECTED_SHARE:
        problems.append(f"Reviewers rejected {current.table.kept_rejected} of the {current.table.kept} pairs it kept.")
    if auc is not None and auc < ORDERS_AUC and len(seen) > 1:
        problems.append(f"Pairs reviewers accepted scored no higher than pairs they rejected (AUC {auc:.2f}).")

    suggested, advice = None, []
    stricter = [AtThreshold(op, s, _table(scored, op, s))
                for s in sorted({*scores, *seen}) if op == "ge" and s > threshold]
    helps = [rule for rule in stricter if _better(rule.table, current.table)]
    if helps:
        suggested = helps[0]
        advice.append(f"Try a stricter threshold: {suggested.text()} ({_where(filter_block, suggested.threshold)}).")
    elif problems and stricter:
        advice.append(f"A stricter threshold does not help: {stricter[0].text()}.")
    if problems:
        advice.append(f"Try a stronger model for block {judge}: `teacher: PROFILE` on it in flow.yaml, with the "
                      "profile in settings.json; the rest of the run keeps its teacher.")
    return Agreement(len(scored), accepted, unscored, True, current, auc, not problems, tuple(problems), suggested,
                     tuple(advice), _distribution(scored, lambda score: score))


def ontask_agreement(verdicts: Iterable[Verdict], *, threshold: float | None = None,
                     filter_block: str | None = None) -> Agreement:
    """The on-task score read as a judge: does it order accepted above rejected pairs, and where to cut.

    `threshold` is the flow's on-task filter, if it has one (`filter_block` names it); the suggested
    rule is the cut at two decimals that best separates the verdicts so far (most accepted kept
    and rejected dropped, as shares of each, so a pile of rejections does not decide alone).
    """
    scored, unscored = _split(verdicts)
    accepted = sum(v.accepted for v in scored)
    if len(scored) < MIN_VERDICTS:
        return Agreement(len(scored), accepted, unscored, False)
    current = AtThreshold("ge", threshold, _table(scored, "ge", threshold)) if threshold is not None else None
    auc = _auc(scored)
    problems, advice, suggested = [], [], None
    if auc is not None and auc < ORDERS_AUC:
        problems.append(f"Pairs reviewers accepted were no more on-task than pairs they rejected (AUC {auc:.2f}): "
                        "what reviewers reject here is not drift from the seeds.")
    elif auc is not None:
        cuts = sorted({math.floor(round(v.score * 100, 6)) / 100 for v in scored})  # 0.58 * 100 is 57.999...
        rules = [AtThreshold("ge", cut, _table(scored, "ge", cut)) for cut in cuts]
        suggested = max(rules, key=lambda rule: (_youden(rule.table), -rule.threshold))  # ties: the loosest
        advice.append(f"The on-task score separates accepted from rejected pairs: {suggested.text()}"
                      f" ({_where(filter_block, suggested.threshold)}).")
    return Agreement(len(scored), accepted, unscored, True, current, auc, None if auc is None else not problems,
                     tuple(problems), suggested, tuple(advice),
                     _distribution(scored, lambda score: math.floor(round(score * 10, 6)) / 10))


_OP_SIGNS = {"ge": ">=", "eq": "="}


def _where(filter_block: str | None, threshold: float) -> str:
    if filter_block:
        return f"`--set {filter_block}.threshold={_number(threshold)}`, or `threshold:` in flow.yaml"
    return "its filter's `threshold:` in flow.yaml"


def _split(verdicts: Iterable[Verdict]) -> tuple[list[Verdict], int]:
    scored, unscored = [], 0
    for verdict in verdicts:
        if verdict.score is None or (isinstance(verdict.score, float) and math.isnan(verdict.score)):
            unscored += 1
        else:
            scored.append(verdict)
    return scored, unscored


def _table(scored: Sequence[Verdict], op: str, threshold: float) -> Table:
    keeps = FILTER_OPS[op]
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for v in scored:
        counts[(keeps(v.score, threshold), v.accepted)] += 1
    return Table(counts[(True, True)], counts[(True, False)], counts[(False, True)], counts[(False, False)])


def _auc(scored: Sequence[Verdict]) -> float | None:
    accepted = [v.score for v in scored if v.accepted]
    rejected = [v.score for v in scored if not v.accepted]
    if len(accepted) < MIN_PER_SIDE or len(rejected) < MIN_PER_SIDE:
        return None
    wins = sum(1.0 if a > r else 0.5 if a == r else 0.0 for a in accepted for r in rejected)
    return wins / (len(accepted) * len(rejected))


def _better(candidate: Table, current: Table) -> bool:
    if not candidate.kept_accepted or current.kept_rejected_share is None:
        return False
    return candidate.kept_rejected_share <= current.kept_rejected_share - BETTER_BY


def _youden(table: Table) -> float:
    rejected = table.kept_rejected + table.dropped_rejected
    return table.kept_accepted / table.accepted - table.kept_rejected / rejected


def _distribution(scored: Sequence[Verdict], bucket) -> dict:
    counts: dict[float, list[int]] = {}
    for v in scored:
        counts.setdefault(bucket(v.score), [0, 0])[0 if v.accepted else 1] += 1
    return counts


def _number(value: float) -> str:
    return f"{value:g}"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
