"""The on-task score: on-task items above off-task ones, hostile text, determinism, offline, lazy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import mean, median

import pytest

from lab_tui.pipeline import ontask
from lab_tui.pipeline.ontask import FIELDS, OnTaskModelMissing, OnTaskScorer, transformation_material
from lab_tui.seeds.io import load_skill
from lab_tui.seeds.model import SeedExample

ROOT = Path(__file__).resolve().parents[2]
LABELLED = sorted((ROOT / "tests/fixtures/ontask").glob("*.jsonl"))
INCLUSION = ROOT / "tests/fixtures/taxonomy/compositional_skills__grounded__linguistics__inclusion.yaml"


def _items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _scorer(skill_path) -> OnTaskScorer:
    return OnTaskScorer.for_skill(load_skill(ROOT / skill_path).skill)


@pytest.fixture(scope="module")
def inclusion() -> OnTaskScorer:
    return _scorer(INCLUSION)


def test_the_labelled_set_covers_five_skills_and_every_field():
    assert len(LABELLED) >= 5
    fields = {item["field"] for path in LABELLED for item in _items(path)}
    assert fields == set(FIELDS)


@pytest.mark.parametrize("path", LABELLED, ids=lambda p: p.stem)
def test_on_task_items_score_above_off_task_items(path):
    items = _items(path)
    scorer = _scorer(items[0]["skill"])
    for field in FIELDS:
        on = [scorer.score(field, i["text"]) for i in items if i["field"] == field and i["label"] == "on-task"]
        off = [scorer.score(field, i["text"]) for i in items if i["field"] == field and i["label"] == "off-task"]
        if not on:
            continue
        assert off, f"{path.name} has on-task {field}s but no off-task ones"
        assert mean(on) > mean(off), (field, on, off)
        assert median(on) > median(off), (field, on, off)


def test_inclusion_contexts_holding_a_seed_term_beat_every_essay_on_a_general_subject(inclusion):
    """The issue's run: contexts about SEO, threat intelligence, e-learning, Amazon with no term to rewrite."""
    items = [i for i in _items(ROOT / "tests/fixtures/ontask/inclusion.jsonl") if i["field"] == "context"]
    holding = [i["text"] for i in items if i["label"] == "on-task" and i["why"].startswith("holds '")
               and "no seed uses" not in i["why"]]
    essays = [i["text"] for i in items if i["label"] == "off-task"]
    assert len(holding) == 5 and len(essays) == 9
    lowest = min(inclusion.score("context", text) for text in holding)
    assert all(inclusion.score("context", text) < lowest for text in essays)
    # with nothing to rewrite a context never reaches a 0.5 filter; with a seed's term it always does
    assert max(inclusion.score("context", text) for text in essays) <= ontask.MATERIAL_WEIGHT < 0.5
    assert lowest >= 1 - ontask.MATERIAL_WEIGHT > 0.5


def test_the_seeds_rewrite_instruction_beats_every_reading_comprehension_question(inclusion):
    items = [i for i in _items(ROOT / "tests/fixtures/ontask/inclusion.jsonl") if i["field"] == "question"]
    lowest = min(inclusion.score("question", i["text"]) for i in items if i["label"] == "on-task")
    assert all(inclusion.score("question", i["text"]) < lowest for i in items if i["label"] == "off-task")


def test_the_seeds_themselves_score_on_task():
    """1.0 is "as close as the seeds are to one another": the most typical seed reaches it, and every
    seed scores above every off-task item of the labelled set."""
    skill = load_skill(INCLUSION).skill
    scorer = OnTaskScorer.for_skill(skill)
    items = _items(ROOT / "tests/fixtures/ontask/inclusion.jsonl")
    for field, values in (("context", [e.context for e in skill.examples]),
                          ("question", [e.question for e in skill.examples]),
                          ("response", [e.answer for e in skill.examples])):
        seeds = [scorer.score(field, text) for text in values]
        off = [scorer.score(field, i["text"]) for i in items if i["field"] == field and i["label"] == "off-task"]
        assert max(seeds) == 1.0
        assert min(seeds) > max(off), field


def test_transformation_material_is_what_the_seed_responses_rewrite():
    """Worked by hand from the inclusion seeds: the context words no seed answer keeps (more than 3 letters)."""
    assert transformation_material(load_skill(INCLUSION).skill.examples) == {
        "master", "slave", "blacklist", "blacklisting", "whitelist", "whitelists"}


def test_skills_that_do_not_rewrite_their_context_have_no_material():
    email = load_skill(ROOT / "lab_tui/data/quarterly_email/qna.yaml").skill
    assert transformation_material(email.examples) == frozenset()
    assert transformation_material([SeedExample("List a synonym for the word attend.", "take part in")]) == frozenset()


def test_a_term_found_past_the_embedded_part_still_counts(inclusion):
    filler = "The service handles requests from many regions and logs every call. " * 60
    assert len(filler) > ontask.EMBED_CHARS
    with_term = inclusion.score("context", filler + "Backups go to the slave server.")
    without = inclusion.score("context", filler + "Backups go to the replica server.")
    assert with_term > without


def test_fields_follow_the_seeds_and_an_unknown_field_is_refused():
    synonyms = _scorer("tests/fixtures/taxonomy/compositional_skills__linguistics__synonyms.yaml")
    assert {"question", "response"} <= set(synonyms.fields)
    bare = OnTaskScorer("", [SeedExample("Name a colour.", "Blue"), SeedExample("Name a fruit.", "Pear")])
    assert bare.fields == ("question", "response")
    with pytest.raises(ValueError, match="context"):
        bare.score("context", "anything")
    with pytest.raises(ValueError):
        bare.score("answer", "anything")


@pytest.mark.parametrize("text", [
    "", "   \n\t", None, "\x00\x1b[31mred\x1b[0m\x07\x9b", "\ud800 lone surrogate \udfff", "é" * 10 + "\u202e",
    "master " * 150_000,  # ~1 MB
    "x" * 1_000_000,
], ids=["empty", "blank", "none", "controls", "surrogates", "bidi", "1MB-words", "1MB-one-word"])
def test_hostile_text_gets_a_score_in_range(inclusion, text):
    for field in FIELDS:
        value = inclusion.score(field, text)
        assert isinstance(value, float) and 0.0 <= value <= 1.0


def test_empty_text_is_not_on_task(inclusion):
    assert all(inclusion.score(field, "") == 0.0 for field in FIELDS)


def test_scores_are_deterministic_across_scorers_and_threads():
    items = _items(ROOT / "tests/fixtures/ontask/quarterly_email.jsonl")
    first, second = (_scorer(items[0]["skill"]) for _ in range(2))
    expected = [first.score(i["field"], i["text"]) for i in items]
    assert [second.score(i["field"], i["text"]) for i in items] == expected
    with ThreadPoolExecutor(max_workers=4) as pool:
        for result in [pool.map(lambda i: first.score(i["field"], i["text"]), items) for _ in range(8)]:
            assert list(result) == expected


def test_a_missing_model_says_what_to_install(monkeypatch):
    monkeypatch.setattr(ontask, "_model", None)
    monkeypatch.setattr(ontask.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(OnTaskModelMissing, match="wordllama"):
        OnTaskScorer("Write limericks.", [SeedExample("Write a limerick.", "There once was...")])


OFFLINE_CODE = """
import socket, sys
attempts = []
def refuse(address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "::1", "localhost"):
        attempts.append(host)
        raise OSError("network refused by the test")
real_connect = socket.socket.connect
def connect(self, address):
    refuse(address)
    return real_connect(self, address)
socket.socket.connect = connect
socket.create_connection = lambda address, *a, **k: refuse(address)
socket.getaddrinfo = lambda host, *a, **k: refuse((host,))
from lab_tui.pipeline.ontask import OnTaskScorer
from lab_tui.seeds.io import load_skill
scorer = OnTaskScorer.for_skill(load_skill({skill!r}).skill)
print(scorer.score("context", "Only addresses on the whitelist reach the console."))
print("wordllama" in sys.modules, attempts)
"""


def test_the_scorer_never_touches_the_network(tmp_path):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(HF_HUB_OFFLINE="1", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", OFFLINE_CODE.format(skill=str(INCLUSION))],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    score, state = out.stdout.splitlines()
    assert 0.5 < float(score) <= 1.0
    assert state == "False []"  # wordllama's own loader (which downloads) is never run; nothing was dialled
    assert out.stderr == ""
    assert not (tmp_path / "cache").exists() and not (tmp_path / ".cache").exists()


def test_importing_the_module_loads_nothing_heavy():
    code = ("import sys, lab_tui.pipeline.ontask\n"
            "print(sorted(m for m in ('numpy', 'tokenizers', 'safetensors', 'wordllama') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


EQUALS_WORDLLAMA = """
import pathlib, numpy, wordllama
from lab_tui.pipeline.ontask import _load_model
texts = {texts!r}
theirs = wordllama.WordLlama.load(cache_dir=pathlib.Path(wordllama.__file__).parent, disable_download=True).embed(texts, norm=True)
ours = numpy.stack([_load_model().embed(t) for t in texts])
print(float(numpy.abs(theirs - ours).max()))
"""


def test_the_vectors_are_wordllamas_own():
    """Reading the wheel's files directly gives what wordllama's loader and embed give (guards an upgrade)."""
    texts = ["In database replication, the master database is regarded as the authoritative source.",
             "Subject: Q3 results\n\nHi team, revenue grew 6.8% to $126 million.", "List a synonym for attend."]
    out = subprocess.run([sys.executable, "-c", EQUALS_WORDLLAMA.format(texts=texts)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-5
