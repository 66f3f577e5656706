"""How close a generated context, question or response is to the skill's own seed examples.

Small teachers drift: asked for contexts like a seed's, they write essays on the seed's general
subject (SEO, e-learning) that hold nothing the skill works on, and reading-comprehension
questions instead of the seed's instruction. This score says so for every item, offline on the
CPU, before anyone reads it.

Method (chosen by measuring it: `tests/bench/bench_ontask.py`, README "On-task score"):
- Texts become the mean of their tokens' vectors in wordllama's 256-dimension `l2_supercat`
  embedding (weights and tokenizer ship inside the wordllama wheel). The files are read here with
  safetensors and tokenizers rather than through `wordllama.WordLlama.load`: importing wordllama
  configures the root logger to print INFO to stderr (it would draw over the app), and its loader
  looks for the tokenizer under `tokenizer/` while the wheel holds `tokenizers/`, then downloads.
  Nothing here ever touches the network: the files are the installed package's.
- An item's similarity is the cosine with the centroid of the seeds' same field, divided by how
  close the seeds are to each other (the highest cosine of one seed with the centroid of the
  others, at least `MIN_LEVEL`) and capped at 1: 1.0 means "as close as the seed examples are to
  one another", so one threshold (0.5) means about the same for every skill and field. The task
  description joins the seeds only for a field with fewer than two seed texts (a one-example
  skill; contexts for a freeform skill): measured, adding it to every field lowered the
  separation (contexts AUC 0.86 to 0.81), task descriptions being in another register than items.
- Only the first `EMBED_CHARS` characters are embedded; hostile text (control characters, lone
  surrogates, a megabyte) gets a score like any other.
- Transformation skills (seed responses that rewrite their context: most words kept) have
  material their instruction acts on: the words of the seed contexts that no seed response keeps
  (master, slave, blacklist...). A context that holds none of it has nothing to transform, however
  close its subject: it scores `MATERIAL_WEIGHT` of its similarity (at most 0.45, below the 0.5
  threshold); one that holds some scores 0.55 plus 0.45 of its similarity.

The model loads once per process on first use (~0.2 s, 32 MB of weights in memory);
nothing is imported until then, so the app's start-up never pays for it. A scorer is immutable
after construction and `score` is safe to call from several threads at once.
"""

from __future__ import annotations

import importlib.util
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from lab_tui.errors import UserError
from lab_tui.seeds.model import SeedExample, Skill

if TYPE_CHECKING:
    import numpy as np

FIELDS = ("context", "question", "response")
THRESHOLD = 0.5
"""Below this an item is further from the seeds than they are from one another by half: off the task
(the report counts them; an on-task filter keeps at least this by default)."""
MIN_LEVEL = 0.5
"""Floor for the seeds' own closeness: unrelated English texts reach cosines of 0.1-0.4 in this
embedding, so calibrating against seeds less alike than 0.5 would lift unrelated items to 1."""
EMBED_CHARS = 2_000
"""Only a text's first characters are embedded: tokenizing costs ~0.4 ms per 1,000 characters, and
the mean of the first few hundred tokens already says what a text is about."""
MAX_CHARS = 20_000
"""The material check (a cheap word scan) reads this far, so a long context's term is found."""
TRANSFORMATION_OVERLAP = 0.5
"""Median word-set Jaccard between seed contexts and their responses above which a skill is a
rewrite of its context (inclusive wording ~0.8; emails or summaries from figures ~0.1-0.3)."""

MATERIAL_WEIGHT = 0.45
"""The share of a transformation skill's context score its similarity gives; holding material adds
the rest, so contexts with and without material never meet around a 0.5 threshold."""

_WEIGHTS = "weights/l2_supercat_256.safetensors"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_WORD = re.compile(r"[a-z0-9]+")
_MODEL_LOCK = threading.Lock()
_model: "_Model | None" = None


def ontask_key(field: str) -> str:
    """Where a row's data keeps the on-task score of its `field` ("context.ontask"): a dotted name, so
    no prompt variable can be it."""
    return f"{field}.ontask"


class OnTaskModelMissing(UserError):
    """The embedding's files are not installed (wordllama missing from the environment)."""


class _Model:
    """wordllama's token vectors and tokenizer, read from the installed wheel."""

    def __init__(self, root: Path) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        with safe_open(str(root / _WEIGHTS), framework="np") as weights:
            self.vectors = weights.get_tensor("embedding.weight").astype("float32")  # 32 MB; float16 rows cost 10x to sum
        self.tokenizer = Tokenizer.from_file(str(root / _TOKENIZER))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()

    def embed(self, text: str) -> "np.ndarray":
        """The unit-length mean of the text's token vectors (zeros for a text with no token)."""
        import numpy as np

        text = text[:EMBED_CHARS].encode("utf-8", "replace").decode("utf-8")
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        if not ids:
            return np.zeros(self.vectors.shape[1], dtype=np.float32)
        vector = np.take(self.vectors, ids, axis=0).mean(axis=0)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


def _load_model() -> _Model:
    global _model
    with _MODEL_LOCK:
        if _model is None:
            spec = importlib.util.find_spec("wordllama")  # finds the files without running its __init__
            root = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
            if root is None or not (root / _WEIGHTS).is_file() or not (root / _TOKENIZER).is_file():
                raise OnTaskModelMissing(
                    "The on-task score needs wordllama 0.4.0.post1 installed (requirements.lock has it).")
            _model = _Model(root)
        return _model


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _seed_text(example: SeedExample, field: str) -> str:
    return {"context": example.context or "", "question": example.question, "response": example.answer}[field]


def transformation_material(examples: Sequence[SeedExample]) -> frozenset[str]:
    """Words the seed responses remove from their contexts, when the responses rewrite them.

    Empty unless most seed examples have a context and a response sharing at least
    `TRANSFORMATION_OVERLAP` of their words; words of three letters or fewer are left out.
    """
    pairs = [(_words(e.context), _words(e.answer)) for e in examples if e.context and e.context.strip()]
    if not pairs:
        return frozenset()
    overlaps = sorted(len(c & a) / len(c | a) if c | a else 0.0 for c, a in pairs)
    if overlaps[len(overlaps) // 2] < TRANSFORMATION_OVERLAP:
        return frozenset()
    in_contexts = set().union(*(c for c, _ in pairs))
    in_responses = set().union(*(a for _, a in pairs))
    return frozenset(w for w in in_contexts - in_responses if len(w) > 3 and not w.isdigit())


def _stems(material: frozenset[str]) -> dict[int, frozenset[str]]:
    """Material words cut to six letters at most, grouped by length, so a look-up is a few set hits."""
    stems: dict[int, set[str]] = {}
    for word in material:
        stems.setdefault(min(len(word), 6), set()).add(word[:6])
    return {length: frozenset(group) for length, group in stems.items()}


def _holds_any(words: Iterable[str], stems: dict[int, frozenset[str]]) -> bool:
    """A word counts when it starts like a material word (blacklist, blacklisting; slave, slaves)."""
    return any(word[:length] in group for word in words for length, group in stems.items())


class OnTaskScorer:
    """Scores items of one skill; built once per run from its task description and seed examples."""

    def __init__(self, task_description: str, examples: Sequence[SeedExample]) -> None:
        import numpy as np

        model = _load_model()
        self._model = model
        task = (task_description or "").strip()
        self._centroids: dict[str, np.ndarray] = {}
        self._levels: dict[str, float] = {}
        for field in FIELDS:
            texts = [t for t in (_seed_text(e, field) for e in examples) if t.strip()]
            if len(texts) < 2 and task:
                texts.append(task)
            if not texts:
                continue
            vectors = np.stack([model.embed(t) for t in texts])
            total = vectors.sum(axis=0)
            self._centroids[field] = _unit(total)
            level = max(float(v @ _unit(total - v)) for v in vectors) if len(texts) > 1 else 1.0
            self._levels[field] = max(level, MIN_LEVEL)
        self.material = transformation_material(examples)
        """The words a context must hold for a transformation skill (empty for other skills)."""
        self._stems = _stems(self.material)

    @classmethod
    def for_skill(cls, skill: Skill) -> "OnTaskScorer":
        return cls(skill.task_description, skill.examples)

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields this skill's seeds (or task) give something to compare with."""
        return tuple(f for f in FIELDS if f in self._centroids)

    def score(self, field: str, text: str) -> float:
        """0 (unrelated to the seeds) to 1 (as close as the seeds are to one another).

        `field` is "context", "question" or "response"; a field the skill has nothing to compare
        with (see `fields`) raises ValueError.
        """
        if field not in self._centroids:
            raise ValueError(f"nothing to compare a {field} with: the skill's seed examples have none")
        text = text or ""
        similarity = float(self._centroids[field] @ self._model.embed(text)) / self._levels[field]
        similarity = min(1.0, max(0.0, similarity))
        if field == "context" and self.material:
            holds = _holds_any(_words(text[:MAX_CHARS]), self._stems)
            similarity = MATERIAL_WEIGHT * similarity + (1 - MATERIAL_WEIGHT if holds else 0.0)
        return round(similarity, 4)


def _unit(vector: "np.ndarray") -> "np.ndarray":
    import numpy as np

    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
