"""Two runs side by side, so a seed edit's (or a flow's, a teacher's) effect is seen: yield per stage
and per seed example, the judges' scores, on-task scores and reject reasons.

The figures are the store's (`store.queries`); stages are matched by name and seed examples by
index, each listed once when only one run has it. `lab-tui compare` and the Run pane draw a
`Comparison` with `pipeline.compare_view`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from statistics import fmean

import sqlite_utils

from lab_tui.store import queries
from lab_tui.store.queries import SeedYield


@dataclass(frozen=True)
class RunSide:
    id: str
    skill: str
    flow: str
    created_at: str
    status: str
    pairs_made: int
    pairs_kept: int
    accepted: int
    rejected: int


@dataclass(frozen=True)
class StageLine:
    stage: str
    a: dict[str, int] | None
    """done, kept, filtered, failed (None: the run has no such stage)."""
    b: dict[str, int] | None


@dataclass(frozen=True)
class SeedLine:
    seed_index: int
    a: SeedYield | None
    b: SeedYield | None


@dataclass(frozen=True)
class ScoreLine:
    """Mean of a score over a run's pairs (and how many had it); None where the run has none."""

    what: str
    a_mean: float | None
    a_count: int
    b_mean: float | None
    b_count: int


@dataclass(frozen=True)
class ReasonLine:
    reason: str
    a: int
    b: int


@dataclass(frozen=True)
class Comparison:
    a: RunSide
    b: RunSide
    stages: tuple[StageLine, ...]
    seeds: tuple[SeedLine, ...]
    scores: tuple[ScoreLine, ...]
    """Each judge's score (by its label), then the on-task score."""
    reasons: tuple[ReasonLine, ...]


def compare_runs(db: sqlite_utils.Database, run_a: str, run_b: str) -> Comparison:
    """Run A and run B side by side; `UnknownRunError` for an id the database does not have."""
    runs = {run_id: queries.get_run(db, run_id) for run_id in (run_a, run_b)}
    names = queries.distinct_skill_names(run["skill_path"] for run in runs.values())
    pairs = {run_id: queries.run_pair_scores(db, run_id) for run_id in runs}
    stages = {run_id: queries.run_stage_counts(db, run_id) for run_id in runs}
    yields = {run_id: {y.seed_index: y for y in queries.run_seed_yields(db, run_id)} for run_id in runs}

    def side(run_id: str) -> RunSide:
        run, made = runs[run_id], pairs[run_id]
        return RunSide(run_id, names.get(run["skill_path"]) or queries.skill_name(None, run["skill_snapshot"]),
                       _flow_name(run["flow"]), run["created_at"],
                       run["display_status"], len(made), sum(p["outcome"] == "kept" for p in made),
                       sum(p["status"] == "accepted" for p in made), sum(p["status"] == "rejected" for p in made))

    a, b = run_a, run_b
    stage_names = list(dict.fromkeys([*stages[a], *stages[b]]))
    seed_indexes = sorted({*yields[a], *yields[b]})
    reasons = {run_id: Counter(p["reason"] for p in pairs[run_id] if p["status"] == "rejected" and p["reason"])
               for run_id in runs}
    return Comparison(
        side(a), side(b),
        tuple(StageLine(name, stages[a].get(name), stages[b].get(name)) for name in stage_names),
        tuple(SeedLine(index, yields[a].get(index), yields[b].get(index)) for index in seed_indexes),
        _score_lines(pairs[a], pairs[b]),
        tuple(ReasonLine(reason, reasons[a][reason], reasons[b][reason])
              for reason in sorted({*reasons[a], *reasons[b]}, key=lambda r: (-reasons[a][r] - reasons[b][r], r))))


def _score_lines(pairs_a: list[dict], pairs_b: list[dict]) -> tuple[ScoreLine, ...]:
    """A line per judge (its label, in the order the runs list them) and one for the on-task score."""
    def by_judge(pairs: list[dict]) -> dict[str, list[float]]:
        scores: dict[str, list[float]] = {}
        for pair in pairs:
            for judge in pair["judges"]:
                if isinstance(judge, dict) and isinstance(judge.get("score"), (int, float)):
                    scores.setdefault(str(judge.get("label") or judge.get("judge") or "?"), []).append(judge["score"])
        return scores

    a, b = by_judge(pairs_a), by_judge(pairs_b)
    ontask_a = [p["ontask"] for p in pairs_a if p["ontask"] is not None]
    ontask_b = [p["ontask"] for p in pairs_b if p["ontask"] is not None]
    lines = [ScoreLine(label, _mean(a.get(label)), len(a.get(label, ())), _mean(b.get(label)), len(b.get(label, ())))
             for label in dict.fromkeys([*a, *b])]
    lines.append(ScoreLine("on-task", _mean(ontask_a), len(ontask_a), _mean(ontask_b), len(ontask_b)))
    return tuple(lines)


def _flow_name(stored: str | None) -> str:
    try:
        flow = json.loads(stored or "{}")
    except ValueError:
        flow = {}
    return str(flow.get("name") or "?") if isinstance(flow, dict) else "?"


def _mean(values: list[float] | None) -> float | None:
    return fmean(values) if values else None

