"""`lab-tui lint FOLDER` on a taxonomy clone lints what `ilab taxonomy diff` checks and names the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

from lab_tui.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


def clone(root: Path) -> Path:
    """The public taxonomy's shape: a skill, a knowledge file, the contributors' template under docs/,
    CI workflows and a tool's settings at the top."""
    for relative, content in {
        "compositional_skills/linguistics/synonyms/qna.yaml": FIXTURES / "compositional_skills__linguistics__synonyms.yaml",
        "docs/template_qna.yaml": FIXTURES / "docs__template_qna.yaml",
        "knowledge/moon/qna.yaml": "version: 3\ndomain: astronomy\ndocument_outline: The moon\n",
        ".github/workflows/lint.yml": "on: push\n",
        ".markdownlint-cli2.yaml": "config: {}\n",
    }.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, path)
        else:
            path.write_text(content)
    return root


def test_a_clean_taxonomy_exits_0_and_says_what_it_skipped(tmp_path, capsys):
    root = clone(tmp_path / "taxonomy")
    assert main(["lint", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "synonyms/qna.yaml" in out and "1 file(s): 0 error(s)" in out
    assert "template_qna.yaml" not in out and "knowledge" not in out
    assert "skipped 1 knowledge file(s)" in err and "knowledge/moon/qna.yaml" in err
    assert "skipped 2 YAML/JSONL file(s) not named qna.yaml" in err
    assert "template_qna.yaml" in err and ".markdownlint-cli2.yaml" in err


def test_json_output_stays_the_list_of_linted_files(tmp_path, capsys):
    import json

    root = clone(tmp_path / "taxonomy")
    assert main(["lint", "--format", "json", str(root)]) == 0
    out, err = capsys.readouterr()
    assert [Path(entry["file"]).parent.name for entry in json.loads(out)] == ["synonyms"]
    assert "skipped" in err


def test_a_folder_outside_a_clone_still_lints_every_seed_file(tmp_path, capsys):
    shutil.copy(FIXTURES / "docs__template_qna.yaml", tmp_path / "template.yaml")
    (tmp_path / "seeds.jsonl").write_text('{"task_description": "t", "seed_question": "q?", "seed_response": "r"}\n')
    assert main(["lint", str(tmp_path)]) == 1  # the template is not a valid skill
    out, err = capsys.readouterr()
    assert "template.yaml" in out and "seeds.jsonl" in out and "skipped" not in err
