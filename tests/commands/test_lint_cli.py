from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lab_tui.cli import main
from lab_tui.resources import example_skill_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"


def test_clean_file_exits_0(capsys):
    assert main(["lint", str(example_skill_path())]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_error_exits_1_and_text_lines_are_file_line_severity_rule(capsys):
    path = FIXTURES / "hist_bad__writing__freeform__poetry__limerick.yaml"
    assert main(["lint", str(path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{path}:17: error yaml/syntax: This is not valid YAML")


def test_text_lines_match_one_pattern_and_name_the_example(capsys):
    path = FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml"
    assert main(["lint", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()[:-1]
    pattern = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<severity>error|warning|info) (?P<rule>[a-z]+/[a-z-]+): .+$")
    assert lines and all(pattern.match(line) for line in lines)
    assert f"{path}:23: warning diversity/duplicate-context: " in lines[0] and lines[0].endswith("(example 3, context)")


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["lint"]) == 2
    assert main(["lint", str(tmp_path / "nope.yaml")]) == 2
    assert main(["lint", str(example_skill_path()), "--format", "xml"]) == 2


def test_json_has_an_entry_for_every_file_including_unreadable_ones(tmp_path, capsys):
    folder = tmp_path / "taxonomy"
    shutil.copytree(FIXTURES, folder)
    (folder / "README.md").unlink()
    (folder / "empty.jsonl").write_text("")
    (folder / "binary.yaml").write_bytes(b"\xff\xfe\x00 not text")
    assert main(["lint", str(folder), "--format", "json"]) == 1
    entries = json.loads(capsys.readouterr().out)
    assert sorted(Path(e["file"]).name for e in entries) == sorted(p.name for p in folder.iterdir())
    for entry in entries:
        for finding in entry["findings"]:
            assert set(finding) == {"rule", "severity", "message", "example", "field", "line"}
    bad = next(e for e in entries if "limerick" in e["file"])
    assert bad["findings"][0]["rule"] == "yaml/syntax"
    binary = next(e for e in entries if e["file"].endswith("binary.yaml"))
    assert [f["rule"] for f in binary["findings"]] == ["file/encoding"]


def test_many_files_use_worker_processes_and_agree_with_one_process(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        for path in FIXTURES.glob("*.yaml"):
            shutil.copy(path, folder / f"{i}_{path.name}")
    out = subprocess.run([sys.executable, "-m", "lab_tui", "lint", str(folder), "--format", "json"],
                         capture_output=True, text=True)
    assert out.returncode == 1
    entries = json.loads(out.stdout)
    assert len(entries) == 40 * len(list(FIXTURES.glob("*.yaml")))
    by_name = {Path(e["file"]).name: e["findings"] for e in entries}
    from lab_tui.seeds import lint_path
    sample = FIXTURES / "compositional_skills__linguistics__synonyms.yaml"
    assert by_name[f"7_{sample.name}"] == [f.as_json() for f in lint_path(sample)]
