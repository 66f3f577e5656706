"""The validation report: does what a run made match what its seed examples asked for?

`build_report` reads only the store (runs, rows, pairs), so it works on a finished run, on one
still going, and on one that was killed; the engine stores its result in `runs.report` when a
run ends. The report is plain JSON data (`render.render_report` draws it). What it says about a
block is the block's kind's: what drops rows (`drops_for`), which blocks score (`scored`), which
outputs imitate a seed field (`imitates`); nothing here names a kind or a stage.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from datetime import datetime, timezone

import sqlite_utils

from lab_tui.pipeline import ontask
from lab_tui.pipeline.blocks import SEED_FIELDS, untagged_key
from lab_tui.pipeline.evidence import judge_agreements
from lab_tui.pipeline.flow import Flow
from lab_tui.pipeline.params import RunParams
from lab_tui.seeds import similarity
from lab_tui.store import evidence, queries
from lab_tui.store import rows as reads
from lab_tui.store.rows import json_dict

REPORT_VERSION = 3

MUCH_SHORTER = 0.5
MUCH_LONGER = 2.0
"""An output is "much shorter/longer" than the seeds below half / above twice their median length."""
NEAR_DUPLICATE_WARN_SHARE = 0.2
FAILED_WARN_SHARE = 0.05
FILTERED_WARN_SHARE = 0.5
MIN_OUTPUTS_FOR_ABSENT_FORMAT = 5
"""A format some seeds use and no output does is worth a warning once there are this many outputs."""
MAX_REASONS = 6
MAX_EXAMPLES = 3
MAX_FURTHEST = 5
"""The pairs furthest from the seeds the report lists."""
OFF_TASK_WARN_SHARE = 0.5
MIN_ITEMS_FOR_OFF_TASK = 5
"""A block's items are called off the task when at least this share of at least this many score below
`ontask.THRESHOLD`."""
MAX_SIMILARITY_ITEMS = 400
"""Near-duplicates are counted on at most this many texts per kind (400 long texts: ~0.3 s)."""

_GREETING = re.compile(
    r"^(dear|hi|hello|hey|greetings|good (morning|afternoon|evening)|to whom it may concern)\b", re.IGNORECASE
)
_CLOSING = (
    r"(best|kind|warm|warmest|regards|sincerely|yours|thanks|thank you|many thanks|cheers|all the best|"
    r"respectfully|with (thanks|gratitude|appreciation))"
)
_SIGN_OFF = re.compile(rf"^{_CLOSING}\b(.{{0,40}},|[\s\w]{{0,20}}[,.!]?)$", re.IGNORECASE)
"""A short closing line ("Best regards,", "Cheers", "Thank you for your hard work,"), not a body sentence."""
_BULLET = re.compile(r"^\s*[-*•]\s+\S")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _is_email(text: str) -> bool:
    """A greeting near the top (a Subject: line may come first) and a sign-off near the end (a name,
    title or company may follow it)."""
    lines = [line.strip() for line in _lines(text)]
    head = [line for line in lines[:3] if not line.lower().startswith("subject:")]
    return any(_GREETING.match(line) for line in head) and any(_SIGN_OFF.match(line) for line in lines[-5:])


FORMATS = {
    "bullet list": lambda text: sum(bool(_BULLET.match(line)) for line in _lines(text)) >= 2,
    "numbered list": lambda text: sum(bool(_NUMBERED.match(line)) for line in _lines(text)) >= 2,
    "table": lambda text: sum(bool(_TABLE_ROW.match(line)) for line in _lines(text)) >= 2,
    "code block": lambda text: text.count("```") >= 2,
    "email greeting and sign-off": _is_email,
}
"""Formats a seed example can ask for, each a cheap test on the text."""


def _words(text: str) -> int:
    return len(text.split())


def _score_label(score: float) -> str:
    return str(int(score)) if float(score).is_integer() else f"{score:g}"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seed_texts(snapshot: dict, field: str) -> list[str]:
    texts = []
    for example in snapshot.get("examples") or []:
        if isinstance(example, dict) and isinstance(example.get(field), str) and example[field].strip():
            texts.append(example[field])
    return texts


def _requested(params: RunParams, flow: Flow, snapshot: dict) -> int:
    """Outputs the flow's first block was asked for: its count per seed example, times the seed
    examples used (one for a preview)."""
    seeds = 1 if params.preview_seed is not None else len(snapshot.get("examples") or [])
    return flow.blocks[0].count * seeds


def _filter_labels(flow: Flow) -> dict[str, str]:
    """Block that drops rows -> what drops them in words ("question judge")."""
    return {b.name: b.drops_for(flow.judge_label) for b in flow.blocks if b.drops_for(flow.judge_label)}


def _stages(grouped: list, first_in: int | None, flow: Flow) -> list[dict]:
    counts: dict[str, Counter] = {block.name: Counter() for block in flow.blocks}
    reasons: dict[str, Counter] = {block.name: Counter() for block in flow.blocks}
    for stage, status, reason, count in grouped:
        counts.setdefault(stage, Counter())[status] += count
        if status in ("failed", "filtered"):
            reasons.setdefault(stage, Counter())[(status, _clip(reason or "no reason given"))] += count
    stages = []
    previous_out = first_in
    judged = _filter_labels(flow)
    for stage in list(counts):
        count = counts[stage]
        out = count["ok"] + count["kept"]
        ranked = reasons[stage].most_common()
        listed = [{"status": s, "reason": r, "count": n} for (s, r), n in ranked[:MAX_REASONS]]
        rest = ranked[MAX_REASONS:]
        if rest:
            listed.append({"status": "other", "reason": "other reasons", "count": sum(n for _, n in rest)})
        stages.append(
            {
                "stage": stage,
                "in": previous_out,
                "rows": sum(count.values()),
                "out": out,
                "filtered": count["filtered"],
                "failed": count["failed"],
                "reasons": listed,
                "judge": judged.get(stage),
            }
        )
        previous_out = out
    return stages


def _why_rows_left(grouped: list, flow: Flow) -> dict:
    left: dict = {f"filtered by the {label}": 0 for label in _filter_labels(flow).values()}
    left.update({"failed to parse": {}, "teacher error": 0})
    judged = _filter_labels(flow)
    for stage, status, reason, count in grouped:
        if status not in ("failed", "filtered"):
            continue
        reason = reason or "no reason given"
        if status == "filtered":
            key = f"filtered by the {judged[stage]}" if stage in judged else f"dropped at {stage}: {_clip(reason, 40)}"
            left[key] = left.get(key, 0) + count
        elif reason.lower().startswith("teacher error"):
            left["teacher error"] += count
        else:
            reason = _clip(reason, 60)
            left["failed to parse"][reason] = left["failed to parse"].get(reason, 0) + count
    return left


def _scores(db: sqlite_utils.Database, run_id: str, flow: Flow) -> dict:
    scores = {}
    for block in flow.blocks:
        if not block.scored:
            continue
        judge = block.label or block.name
        distribution: Counter = Counter()
        unscored = 0
        for status, score, count in reads.score_counts(db, run_id, block.name):
            if score is None:
                unscored += count
            else:
                distribution[float(score)] += count
        scores[judge] = {
            "distribution": {_score_label(score): distribution[score] for score in sorted(distribution)},
            "no score": unscored,
        }
    return scores


def _sample(texts: list[str], limit: int) -> list[str]:
    """Evenly spaced texts, at most `limit`: near-duplicate search is quadratic."""
    if len(texts) <= limit:
        return texts
    step = len(texts) / limit
    return [texts[int(index * step)] for index in range(limit)]


def _near_duplicates(texts: list[str], seeds: list[str]) -> dict:
    """How many texts repeat an earlier one (nearly), and how many nearly copy a seed example."""
    sample = _sample(texts, MAX_SIMILARITY_ITEMS)
    pairs = similarity.near_duplicate_pairs(sample)
    repeats = {j for _, j, _ in pairs}
    seed_features = [similarity.features(seed) for seed in seeds]
    copies = sum(
        any(similarity.jaccard(similarity.features(text), seed) >= similarity.NEAR_DUPLICATE for seed in seed_features)
        for text in sample
    )
    examples = []
    for i, j, _ in pairs:
        if len(examples) == MAX_EXAMPLES:
            break
        examples.append([_clip(sample[i], 80), _clip(sample[j], 80)])
    return {
        "count": len(sample),
        "of": len(texts),
        "near_duplicates": len(repeats),
        "share": _share(len(repeats), len(sample)),
        "copies_of_seeds": copies,
        "examples": examples,
    }


def _lengths(texts: list[str], seeds: list[str]) -> dict:
    seed_median = statistics.median(_words(text) for text in seeds) if seeds else None
    output_median = statistics.median(_words(text) for text in texts) if texts else None
    shorter = longer = 0
    if seed_median:
        shorter = sum(_words(text) < MUCH_SHORTER * seed_median for text in texts)
        longer = sum(_words(text) > MUCH_LONGER * seed_median for text in texts)
    return {
        "count": len(texts),
        "seed_median_words": seed_median,
        "median_words": output_median,
        "much_shorter": shorter,
        "much_longer": longer,
    }


def _formats(texts: list[str], seeds: list[str]) -> list[dict]:
    found = []
    for name, test in FORMATS.items():
        in_seeds = sum(bool(test(text)) for text in seeds)
        in_outputs = sum(bool(test(text)) for text in texts)
        if in_seeds or in_outputs:
            found.append(
                {
                    "format": name,
                    "seeds": in_seeds,
                    "seed_count": len(seeds),
                    "outputs": in_outputs,
                    "output_count": len(texts),
                }
            )
    return found


def _tenths(buckets) -> dict:
    """Count, mean, how many fall below the on-task threshold, and the count per tenth ("0.7": 0.70-0.79)."""
    count = sum(n for _, n, _ in buckets)
    return {
        "count": count,
        "mean": round(sum(n * mean for _, n, mean in buckets) / count, 4) if count else None,
        "below": sum(n for tenth, n, _ in buckets if tenth < round(ontask.THRESHOLD * 10)),
        "distribution": {f"{tenth / 10:.1f}": n for tenth, n, _ in sorted(buckets)},
    }


def _ontask(db: sqlite_utils.Database, run_id: str, flow: Flow) -> dict:
    """How close the run's generated texts are to the seed examples: per block that wrote them, for the
    pairs (each by its least on-task text), and the pairs furthest from the seeds."""
    by_stage: dict[str, list] = {}
    for stage, tenth, count, mean in evidence.ontask_buckets(db, run_id):
        by_stage.setdefault(stage, []).append((tenth, count, mean))
    furthest = []
    for pair in evidence.least_ontask_pairs(db, run_id, MAX_FURTHEST):
        scores = json_dict(pair["ontask_scores"])
        field = min(scores, key=scores.get) if scores else "response"
        furthest.append({"pair": pair["id"], "ontask": pair["ontask"], "field": field,
                         "text": _clip(pair.get(field) or "", 100), "outcome": pair["outcome"],
                         "status": pair["status"]})
    return {
        "threshold": ontask.THRESHOLD,
        "blocks": {block.label or block.name: _tenths(by_stage[block.name])
                   for block in flow.blocks if block.name in by_stage},
        "pairs": _tenths(evidence.pair_ontask_buckets(db, run_id)),
        "furthest": furthest,
    }


def agreement_section(db: sqlite_utils.Database, run_id: str) -> list[dict]:
    """Each judge of the run (and the on-task score) against the verdicts given so far: rebuilt
    whenever the report is shown, since reviewing goes on after the run ends."""
    return [agreement.as_json() for agreement in judge_agreements(db, run_id=run_id)]


def build_report(db: sqlite_utils.Database, run_id: str) -> dict:
    """The validation report of a run as JSON-serialisable data; raises UnknownRunError."""
    run = queries.get_run(db, run_id)
    snapshot = json_dict(run["skill_snapshot"])
    params = RunParams.stored(json_dict(run["params"]))
    flow = params.stored_flow(json_dict(run["flow"]))
    pair_counts = reads.pair_outcomes(db, run_id)
    grouped = reads.stage_counts(db, run_id)
    report = {
        "version": REPORT_VERSION,
        "run": {
            "id": run_id,
            "status": run["display_status"],
            "created_at": run["created_at"],
            "finished_at": run["finished_at"],
            "skill": queries.skill_name(run["skill_path"], snapshot),
            "model": queries.teacher_model(run["teacher"]),
        },
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pairs": {"kept": pair_counts.get("kept", 0), "filtered": pair_counts.get("filtered", 0)},
        "flow": flow.name,
        "stages": _stages(grouped, _requested(params, flow, snapshot), flow),
        "left": _why_rows_left(grouped, flow),
        "scores": _scores(db, run_id, flow),
        "agreement": agreement_section(db, run_id),
        "untagged": {block.label or block.name: count for block in flow.blocks if block.asks and block.writes
                     and (count := evidence.marked_rows(db, run_id, block.name, untagged_key(block.writes)))},
        "ontask": _ontask(db, run_id, flow),
        "near_duplicates": {},
        "lengths": {},
        "formats": {},
    }
    for block in flow.blocks:
        if not block.imitates:
            continue
        what = block.label or block.writes
        texts = reads.outputs(db, run_id, block.name, block.writes)
        seeds = _seed_texts(snapshot, SEED_FIELDS[block.imitates])
        report["near_duplicates"][what] = _near_duplicates(texts, seeds)
        report["lengths"][what] = dict(_lengths(texts, seeds), seed_field=SEED_FIELDS[block.imitates])
        report["formats"][what] = _formats(texts, seeds)
    report["warnings"] = _warnings(report)
    return report


_REASON_HINTS = (
    ("missing tag", "check that the prompt asks for the [Start of …]/[End of …] tags"),
    ("truncated", "raise max tokens for this stage"),
    ("did not parse", "check the judge prompt's score format"),
    ("teacher error", "check the teacher with lab-tui teacher check"),
)


def _hint(reason: str) -> str:
    for needle, hint in _REASON_HINTS:
        if needle in reason.lower():
            return f" ({hint})"
    return ""


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _warnings(report: dict) -> list[str]:
    """Plain-language findings, most important first."""
    warnings = []
    status = report["run"]["status"]
    if status != "completed":
        warnings.append(f"This run is {status}: the figures cover only what was stored so far.")
    if not report["pairs"]["kept"]:
        warnings.append("No pair passed both judges: there is nothing to review or export yet.")
    for stage in report["stages"]:
        rows = stage["rows"]
        if stage["failed"] and stage["failed"] / rows >= FAILED_WARN_SHARE:
            top = next(item for item in stage["reasons"] if item["status"] == "failed")
            warnings.append(
                f"{stage['failed']} of {rows} rows failed at {stage['stage']}; most often "
                f"\"{top['reason']}\" ({top['count']}){_hint(top['reason'])}."
            )
        judge = stage.get("judge")
        if judge and rows and stage["filtered"] / rows >= FILTERED_WARN_SHARE:
            warnings.append(
                f"The {judge} dropped {stage['filtered']} of {rows} ({stage['filtered'] / rows:.0%}): "
                "the seed examples or the generation prompt may not match the task."
            )
    for judge, scores in report["scores"].items():
        distribution = scores["distribution"]
        if len(distribution) == 1 and sum(distribution.values()) >= 5:
            (score,) = distribution
            warnings.append(f"The {judge} gave every item the same score ({score}): it may not be discriminating.")
    for what, count in report["untagged"].items():
        warnings.append(f"{count} {what} came without tags and were taken whole: the judges and the reviewer decide "
                        "whether each is an answer (small teachers often drop the tags).")
    for what, figures in report["ontask"]["blocks"].items():
        count, below = figures["count"], figures["below"]
        if count >= MIN_ITEMS_FOR_OFF_TASK and below / count >= OFF_TASK_WARN_SHARE:
            warnings.append(
                f"{below} of {count} {what} ({below / count:.0%}) are off the task (on-task score below "
                f"{report['ontask']['threshold']:g}): further from the seed examples than the seeds are from one "
                "another; read the furthest pairs below, and try a stronger teacher or an on-task filter after them."
            )
    for what, dup in report["near_duplicates"].items():
        sampled = f" (a sample of {dup['of']})" if dup["of"] > dup["count"] else ""
        if dup["count"] >= 2 and dup["share"] >= NEAR_DUPLICATE_WARN_SHARE:
            warnings.append(
                f"{dup['near_duplicates']} of {dup['count']} {what}{sampled} ({dup['share']:.0%}) nearly repeat an "
                "earlier one: the teacher repeats itself (add more varied seed examples or raise the temperature)."
            )
        if dup["copies_of_seeds"]:
            warnings.append(
                f"{dup['copies_of_seeds']} of {dup['count']} {what}{sampled} nearly copy a seed example: "
                "the teacher is echoing its in-prompt example."
            )
    for what, length in report["lengths"].items():
        seed, median = length["seed_median_words"], length["median_words"]
        if not seed or median is None:
            continue
        seed_name = f"seed {length['seed_field']}s"
        if median < MUCH_SHORTER * seed:
            warnings.append(
                f"The {what} are much shorter than the {seed_name}: median {median:g} words against {seed:g}."
            )
        elif median > MUCH_LONGER * seed:
            warnings.append(f"The {what} are much longer than the {seed_name}: median {median:g} words against {seed:g}.")
    for what, formats in report["formats"].items():
        seed_name = f"seed {report['lengths'][what]['seed_field']}s"
        for item in formats:
            seeds, outputs = item["seeds"], item["outputs"]
            seed_share = _share(seeds, item["seed_count"])
            output_share = _share(outputs, item["output_count"])
            if not item["output_count"]:
                continue
            if (seed_share >= 0.5 and output_share < seed_share / 2) or (
                seeds and not outputs and item["output_count"] >= MIN_OUTPUTS_FOR_ABSENT_FORMAT
            ):
                warnings.append(
                    f"{seeds} of {item['seed_count']} {seed_name} use {_a(item['format'])}, "
                    f"but only {outputs} of {item['output_count']} {what} do."
                )
            elif seeds == 0 and output_share >= 0.5:
                warnings.append(
                    f"{outputs} of {item['output_count']} {what} use {_a(item['format'])}, which no seed example does."
                )
    return warnings
