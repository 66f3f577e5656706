"""How well the on-task score separates on-task from off-task items, what it costs to load and per item.

Reads the hand-labelled items in tests/fixtures/ontask/*.jsonl (five skills of different kinds)
and prints, per method and per field, the ROC AUC (the chance that an on-task item scores above
an off-task one: 0.5 is a coin, 1.0 perfect) over all skills pooled and per skill, the best single
threshold's accuracy pooled (one threshold for every skill, as a flow's filter block uses it), and
the accuracy at the default threshold 0.5. Then the load time in a fresh process and the CPU time
per scored item.

Methods: `lexical` is the fallback that needs no model (TF-IDF over the seeds, calibrated and
checked for the transformation material exactly as the on-task score is); `embedding` is
wordllama's cosine to the seeds' centroid alone; `on-task score` is lab_tui.pipeline.ontask.

    .venv/bin/python tests/bench/bench_ontask.py
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lab_tui.pipeline import ontask  # noqa: E402
from lab_tui.seeds.io import load_skill  # noqa: E402

FIELDS = ontask.FIELDS
WORD = re.compile(r"[a-z0-9]+")


def load_items() -> list[dict]:
    return [{**json.loads(line), "set": path.stem} for path in sorted((ROOT / "tests/fixtures/ontask").glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_texts(skill, field):
    return [t for t in (ontask._seed_text(e, field) for e in skill.examples) if t.strip()]


def roc_auc(on: list[float], off: list[float]) -> float:
    return sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in on for b in off) / (len(on) * len(off))


def accuracy(on: list[float], off: list[float], threshold: float) -> float:
    return (sum(s >= threshold for s in on) + sum(s < threshold for s in off)) / (len(on) + len(off))


def best_threshold(on: list[float], off: list[float]) -> tuple[float, float]:
    return max((accuracy(on, off, t), t) for t in set(on + off))


class Lexical:
    """TF-IDF vectors over the skill's seed texts, with the on-task score's calibration and material check."""

    def __init__(self, skill) -> None:
        docs = [t for f in FIELDS for t in seed_texts(skill, f)] + [skill.task_description]
        df = Counter(w for d in docs for w in set(WORD.findall(d.lower())))
        self.idf = {w: math.log((len(docs) + 1) / (n + 0.5)) for w, n in df.items()}
        self.default_idf = math.log(len(docs) + 1) + 1
        self.centroids, self.levels = {}, {}
        for field in FIELDS:
            texts = seed_texts(skill, field)
            if not texts:
                continue
            vectors = [self.vector(t) for t in texts]
            total = Counter()
            for v in vectors:
                total.update(v)
            self.centroids[field] = self.unit(total)
            loo = [self.dot(v, self.unit(total - Counter(v))) for v in vectors] if len(vectors) > 1 else [1.0]
            self.levels[field] = max(max(loo), ontask.MIN_LEVEL)
        self.stems = ontask._stems(ontask.transformation_material(skill.examples))

    def vector(self, text: str) -> dict:
        counts = Counter(WORD.findall(text.lower()))
        return self.unit({w: (1 + math.log(n)) * self.idf.get(w, self.default_idf) for w, n in counts.items()})

    @staticmethod
    def unit(v) -> dict:
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    @staticmethod
    def dot(a: dict, b: dict) -> float:
        return sum(x * b.get(w, 0.0) for w, x in a.items())

    def score(self, field: str, text: str) -> float:
        s = min(1.0, self.dot(self.vector(text), self.centroids[field]) / self.levels[field])
        if field == "context" and self.stems:
            holds = ontask._holds_any(ontask._words(text), self.stems)
            s = ontask.MATERIAL_WEIGHT * s + (1 - ontask.MATERIAL_WEIGHT if holds else 0.0)
        return s


class Embedding:
    """wordllama's mean token vector, cosine with the seeds' centroid; no calibration, no material."""

    def __init__(self, skill) -> None:
        import numpy as np

        self.model = ontask._load_model()
        self.centroids = {}
        for field in FIELDS:
            texts = seed_texts(skill, field)
            if texts:
                self.centroids[field] = ontask._unit(np.stack([self.model.embed(t) for t in texts]).sum(axis=0))

    def score(self, field: str, text: str) -> float:
        return float(self.centroids[field] @ self.model.embed(text))


METHODS = {"lexical": Lexical, "embedding": Embedding, "on-task score": ontask.OnTaskScorer.for_skill}

LOAD_CODE = """
import time
t0 = time.perf_counter()
from lab_tui.pipeline.ontask import OnTaskScorer
from lab_tui.seeds.io import load_skill
skill = load_skill({path!r}).skill
t1 = time.perf_counter()
OnTaskScorer.for_skill(skill)
t2 = time.perf_counter()
OnTaskScorer.for_skill(skill)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def main() -> None:
    items = load_items()
    skills = {path: load_skill(ROOT / path).skill for path in dict.fromkeys(i["skill"] for i in items)}
    print(f"{len(items)} labelled items, {len(skills)} skills "
          f"({sum(i['label'] == 'on-task' for i in items)} on-task, {sum(i['label'] == 'off-task' for i in items)} off-task)")
    for name, make in METHODS.items():
        scorers = {path: make(skill) for path, skill in skills.items()}
        scores = defaultdict(lambda: ([], []))
        for item in items:
            value = scorers[item["skill"]].score(item["field"], item["text"])
            side = 0 if item["label"] == "on-task" else 1
            scores[(item["field"], None)][side].append(value)
            scores[(item["field"], item["set"])][side].append(value)
        print(f"\n{name}")
        for field in FIELDS:
            on, off = scores[(field, None)]
            acc, threshold = best_threshold(on, off)
            per_skill = ", ".join(f"{skill} {roc_auc(*scores[(f, skill)]):.2f}"
                                  for f, skill in sorted(k for k in scores if k[1]) if f == field)
            print(f"  {field:9} AUC {roc_auc(on, off):.2f}   best threshold {threshold:.2f}: accuracy {acc:.2f}"
                  f"   at 0.5: {accuracy(on, off, 0.5):.2f}   ({len(on)} on / {len(off)} off)")
            print(f"  {'':9} per skill AUC: {per_skill}")

    timings = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", LOAD_CODE.format(path=str(ROOT / items[0]["skill"]))],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        timings.append([float(x) for x in out.stdout.split()])
    best = [min(t[i] for t in timings) for i in range(3)]
    print(f"\nload (fresh process, best of 3): import {best[0] * 1000:.0f} ms, first scorer (model load) "
          f"{best[1] * 1000:.0f} ms, another skill's scorer {best[2] * 1000:.1f} ms")

    scorers = {path: ontask.OnTaskScorer.for_skill(skill) for path, skill in skills.items()}
    rounds = 50
    start = time.process_time()
    for _ in range(rounds):
        for item in items:
            scorers[item["skill"]].score(item["field"], item["text"])
    per_item = (time.process_time() - start) / (rounds * len(items))
    mean_chars = sum(len(i["text"]) for i in items) / len(items)
    long_text = " ".join(i["text"] for i in items)[:8000]  # past EMBED_CHARS: the most an item costs
    start = time.process_time()
    for _ in range(rounds):
        scorers[items[0]["skill"]].score("context", long_text)
    per_long = (time.process_time() - start) / rounds
    print(f"CPU per item: {per_item * 1e6:.0f} us (labelled items, mean {mean_chars:.0f} characters); "
          f"{per_long * 1e6:.0f} us for an 8,000-character context")


if __name__ == "__main__":
    main()
