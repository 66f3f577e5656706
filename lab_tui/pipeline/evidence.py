"""Judges checked against reviewers, for one run or every run of a skill: the figures the report,
the Review and Run panes and `compare` show.

The store gathers the reviewed pairs (`store.evidence`); each run's stored flow says which judges
it had, their labels, the scores they may give and the filter that reads them (with the run's
`--set` thresholds); `pipeline.agreement` makes the figures. Across runs of a skill a judge is
known by its block name, and the newest run's rule is the one tried (it is what the next run would
use).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import sqlite_utils

from lab_tui.pipeline.agreement import Agreement, Verdict, judge_agreement, ontask_agreement
from lab_tui.pipeline.blocks import FlowError, KeepRule
from lab_tui.pipeline.params import RunParams
from lab_tui.store import evidence as store
from lab_tui.store.rows import json_dict

ONTASK_LABEL = "on-task score"


@dataclass
class _Judge:
    label: str
    scores: tuple[float, ...]
    rule: KeepRule
    filter_block: str | None
    runs: set[str]


def judge_agreements(db: sqlite_utils.Database, *, run_id: str | None = None,
                     skill_path: str | None = None) -> list[Agreement]:
    """One Agreement per judge of the run's flow (or of the skill's runs), in flow order, then the
    on-task score's (label `ONTASK_LABEL`, judge ""). Give `run_id` or `skill_path`; an unknown run
    raises UnknownRunError. A judge's figures stay empty (`enough` False) until it has
    `agreement.MIN_VERDICTS` scored verdicts."""
    runs = store.evidence_runs(db, run_id=run_id, skill_path=skill_path)
    judges: dict[str, _Judge] = {}
    ontask_rule: tuple[float, str] | None = None
    for run in runs:
        try:
            flow = RunParams.stored(json_dict(run.params)).stored_flow(json_dict(run.flow))
        except FlowError:  # a run another version stored, whose flow no longer reads: no judges known
            continue
        rules = {rule.judge: (rule, block.name) for block in flow.blocks if (rule := block.keep_rule())}
        ontask_rule = next(((rule.threshold, name) for rule, name in rules.values() if rule.judge is None),
                           ontask_rule)
        for block in flow.blocks:
            if not block.scored:
                continue
            scores = tuple(getattr(block, "constrain", None) or ())
            rule, filter_block = rules.get(block.name, (KeepRule(block.name, "ge", min(scores, default=0.0)), None))
            seen = judges.get(block.name)
            judges[block.name] = _Judge(flow.judge_label(block.name), scores, rule, filter_block,
                                        (seen.runs if seen else set()) | {run.id})
    pairs = store.reviewed_pairs(db, [run.id for run in runs])
    figures = []
    for name, judge in judges.items():
        verdicts = [Verdict(_score_of(pair.scores, name), pair.accepted) for pair in pairs if pair.run_id in judge.runs]
        agreement = judge_agreement(verdicts, judge=name, op=judge.rule.op, threshold=judge.rule.threshold,
                                    scores=judge.scores, filter_block=judge.filter_block)
        figures.append(replace(agreement, judge=name, label=judge.label))
    threshold, filter_block = ontask_rule or (None, None)
    ontask = ontask_agreement([Verdict(pair.ontask, pair.accepted) for pair in pairs], threshold=threshold,
                              filter_block=filter_block)
    figures.append(replace(ontask, label=ONTASK_LABEL))
    return figures


def _score_of(scores: str | None, judge: str) -> float | None:
    """The judge's score in a pair's stored list (None: it gave none, or the list is unreadable)."""
    try:
        listed = json.loads(scores or "[]")
    except ValueError:
        return None
    for item in listed if isinstance(listed, list) else ():
        if isinstance(item, dict) and item.get("judge") == judge:
            score = item.get("score")
            return float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None
    return None
