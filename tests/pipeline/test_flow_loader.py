"""The flow loader trusts nothing in a flow folder: YAML bombs and depth, prompt paths out of the
folder, FIFOs and devices, settings of the wrong type; each is a FlowError naming the file (and the
block), and `lab-tui run` exits 2 with it before anything is sent."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab_tui.cli import main
from lab_tui.pipeline.flow import FlowError, load_flow, stored_flow
from lab_tui.resources import data_folder, example_skill_path

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))


def copy_flow(tmp_path, name="unstructured_to_structured") -> Path:
    folder = tmp_path / "flow"
    shutil.copytree(data_folder("prompts") / name, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


RUN = ("run", str(example_skill_path()), "--api-base", "http://127.0.0.1:9/v1")


def refused(tmp_path, capsys, folder: Path, *phrases: str) -> None:
    """load_flow refuses the flow, and `lab-tui run` with it (against an address nothing listens on)
    exits 2 with the same words before anything is stored."""
    with pytest.raises(FlowError) as raised:
        load_flow(folder)
    assert all(phrase in str(raised.value) for phrase in phrases), str(raised.value)
    assert main([*RUN, "--flow", str(folder), "--db", str(tmp_path / "lab.db")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("lab-tui run: ") and all(phrase in err for phrase in phrases)


def refused_without_blocking(tmp_path, folder: Path, *phrases: str) -> None:
    """As `refused`, in a process of its own: a read that blocked would end in a timeout, not a hung suite."""
    env = dict(os.environ, LAB_TUI_HOME=str(tmp_path / "home"))
    done = subprocess.run([sys.executable, "-m", "lab_tui", *RUN, "--flow", str(folder), "--db",
                           str(tmp_path / "lab.db")], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""
    assert all(phrase in done.stderr for phrase in phrases), done.stderr


def test_a_billion_laughs_flow_file_is_refused_at_once(tmp_path, capsys):
    folder = copy_flow(tmp_path)
    (folder / "flow.yaml").write_text(BOMB + (folder / "flow.yaml").read_text())
    refused(tmp_path, capsys, folder, "flow.yaml", "aliases")


def test_a_bomb_or_a_deep_nest_in_a_prompt_file_is_refused(tmp_path, capsys):
    folder = copy_flow(tmp_path)
    (folder / "gen_texts.yaml").write_text(BOMB + (folder / "gen_texts.yaml").read_text())
    refused(tmp_path, capsys, folder, "gen_texts.yaml", "aliases")
    (folder / "gen_texts.yaml").write_text("system: " + "[" * 5000 + "]" * 5000 + "\n")
    refused(tmp_path, capsys, folder, "gen_texts.yaml", "levels deep")


@pytest.mark.parametrize("prompt", ["/etc/hostname", "../outside.yaml", "sub/../../outside.yaml"])
def test_a_prompt_outside_the_flow_folder_is_refused_and_never_read(tmp_path, capsys, prompt):
    folder = copy_flow(tmp_path)
    (tmp_path / "outside.yaml").write_text("system: secret\ngeneration: '{seed_context} secret'\n")
    edit(folder / "flow.yaml", "prompt: gen_texts.yaml", f"prompt: {prompt}")
    refused(tmp_path, capsys, folder, "flow.yaml", "gen_texts", "outside the flow's folder")


def test_a_symlink_out_of_the_folder_is_refused_and_one_inside_it_is_read(tmp_path, capsys):
    folder = copy_flow(tmp_path)
    (tmp_path / "outside.yaml").write_text((folder / "gen_texts.yaml").read_text())
    (folder / "gen_texts.yaml").unlink()
    (folder / "gen_texts.yaml").symlink_to(tmp_path / "outside.yaml")
    refused(tmp_path, capsys, folder, "outside the flow's folder")
    (folder / "gen_texts.yaml").unlink()
    (folder / "prompts").mkdir()
    (tmp_path / "outside.yaml").rename(folder / "prompts" / "texts.yaml")
    (folder / "gen_texts.yaml").symlink_to(folder / "prompts" / "texts.yaml")
    assert load_flow(folder).block("gen_texts").prompt is not None


def test_a_fifo_or_a_device_is_never_opened(tmp_path):
    folder = copy_flow(tmp_path)
    (folder / "gen_texts.yaml").unlink()
    os.mkfifo(folder / "gen_texts.yaml")  # opening it for reading would block until a writer came
    refused_without_blocking(tmp_path, folder, "gen_texts.yaml", "not a regular file")
    (folder / "flow.yaml").unlink()
    os.mkfifo(folder / "flow.yaml")
    refused_without_blocking(tmp_path, folder, "flow.yaml", "not a regular file")
    (folder / "flow.yaml").unlink()
    (folder / "flow.yaml").symlink_to("/dev/zero")  # reading it would never end
    refused_without_blocking(tmp_path, folder, "flow.yaml", "not a regular file")


@pytest.mark.parametrize(("old", "new", "phrases"), [
    ("  - name: gen_texts\n", "  - name: [gen_texts, other]\n", ("every block is a mapping with a `name`",)),
    ("scores: [1, 2, 3]", "scores: [high]", ("judge 'judge_structured'", "scores", "a list of numbers")),
    ("count: 10", "count: true", ("generate 'gen_texts'", "count", "a whole number")),
    ("count: 10", "count: 0", ("generate 'gen_texts'", "count of at least 1")),
    ("temperature: 0.7", "temperature: hot", ("generate 'gen_texts'", "temperature", "a number")),
    ("reads: [context, question]", "reads: context", ("combine 'user_turn'", "reads", "a list of texts")),
    ("threshold: 2.0", "threshold: .nan", ("filter 'keep_good'", "threshold", "a number")),
    ("op: ge", "op: gt", ("filter 'keep_good'", "op is one of ge, eq")),
    ("count_param: contexts", "count_param: 'two words'", ("count_param", "plain word")),
    ("imitates: seed_context", "imitates: context", ("imitates 'context'", "not a seed variable")),
    ("value: Turn the text", "value: [Turn the text", ("cannot read the flow",)),
    ("  - name: instruction\n    kind: static\n", "  - name: instruction\n    kind: static\n    scores: [1]\n",
     ("static 'instruction'", "'scores'", "does not take")),
    ("  - name: keep_good\n    kind: filter\n    judge: judge_structured\n",
     "  - name: keep_good\n    kind: filter\n", ("filter 'keep_good' needs `judge`",)),
    ("  response: response\n", "  response: [response]\n", ("`pair:`",)),
    ("name: unstructured_to_structured", "name: [a, b]", ("flow's name must be text",)),
])
def test_settings_of_the_wrong_type_are_refused_naming_the_file_and_the_block(tmp_path, capsys, old, new, phrases):
    folder = copy_flow(tmp_path)
    edit(folder / "flow.yaml", old, new)
    refused(tmp_path, capsys, folder, "flow.yaml", *phrases)


def test_a_prompt_part_that_is_not_text_is_refused_naming_its_file(tmp_path, capsys):
    folder = copy_flow(tmp_path)
    (folder / "gen_texts.yaml").write_text("system: [a, list]\ngeneration: Write {seed_context}\n")
    refused(tmp_path, capsys, folder, "gen_texts.yaml", "system must be text")


def test_a_runs_stored_flow_keeps_loading_with_a_setting_its_kind_does_not_take():
    """A run stored by an earlier lab-tui that let any block carry any setting still reports and resumes."""
    stored = load_flow("grounded_skills").stored()
    stored["blocks"][3] = {**stored["blocks"][3], "temperature": 0.5, "scores": [0, 1]}
    assert stored_flow(stored).block("filter_grounded_questions").threshold == 1.0
