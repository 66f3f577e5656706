"""Files built to hurt the reader: alias bombs, deep nesting, pipes. Each is a finding, fast."""

from __future__ import annotations

import json
import os
import time

from lab_tui.cli import main
from lab_tui.resources import example_skill_path
from lab_tui.seeds.io import load_skill, parse_skill_text
from lab_tui.seeds.lint import lint_text


def alias_bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for previous, name in zip("abcdefgh", "bcdefghi"):
        text += f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
    return text + "seed_examples: *i\n"


def rules(findings) -> list[str]:
    return [f.rule for f in findings]


def test_an_alias_bomb_is_refused_in_milliseconds():
    started = time.perf_counter()
    findings = lint_text(alias_bomb(), "qna.yaml")
    assert rules(findings) == ["yaml/alias-bomb"]
    assert time.perf_counter() - started < 0.5


def test_a_recursive_alias_is_refused():
    assert rules(lint_text("a: &a [*a]\nseed_examples: *a\n", "qna.yaml")) == ["yaml/recursive-alias"]


def test_a_few_aliases_are_still_read():
    text = example_skill_path().read_text().replace("created_by: ", "created_by: &who ", 1) + "reviewer: *who\n"
    assert parse_skill_text(text).skill is not None


def test_deep_nesting_is_a_finding_in_yaml_and_jsonl():
    for depth in (150, 900, 10_000):
        assert rules(lint_text("a: " + "[" * depth + "]" * depth + "\n", "qna.yaml")) == ["yaml/too-deep"]
    block = "".join(" " * i + "k:\n" for i in range(3000))
    assert rules(lint_text(block, "qna.yaml")) == ["yaml/too-deep"]
    deep_json = '{"seed_question": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    assert "jsonl/too-deep" in rules(lint_text(deep_json, "seeds.jsonl"))


def test_one_hostile_file_never_wipes_a_folders_lint_output(tmp_path, capsys):
    (tmp_path / "good.yaml").write_bytes(example_skill_path().read_bytes())
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    os.mkfifo(tmp_path / "pipe.yaml")
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    entries = {os.path.basename(e["file"]): rules_of(e) for e in json.loads(capsys.readouterr().out)}
    assert entries == {"bomb.yaml": ["yaml/alias-bomb"], "deep.yaml": ["yaml/too-deep"],
                       "good.yaml": [], "pipe.yaml": ["file/unreadable"]}
    assert load_skill(tmp_path / "pipe.yaml").skill is None


def rules_of(entry: dict) -> list[str]:
    return [f["rule"] for f in entry["findings"]]
