"""lab-tui's errors agree with InstructLab's own validator, configured as `ilab taxonomy diff` runs it.

A file is an error for lab-tui exactly when it is for instructlab-schema's `TaxonomyParser`
(schema version from the file, yamllint warnings as errors); a stricter lab-tui rule is a warning.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest
from instructlab.schema.taxonomy import TaxonomyMessageFormat, TaxonomyParser, TaxonomyReadingException

from lab_tui.resources import example_skill_path
from lab_tui.seeds import lint_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"
V1_WITH_STYLE_PROBLEMS = "version: 1\ntask_description: Write short poems.   \ncreated_by: someone\nseed_examples:\n" + \
    "".join(f"- question: Write poem number {i}.\n  answer: Poem {i}.\n" for i in range(5)) + "\n\n"
CASES = {
    "empty": "",
    "empty-mapping": "{}\n",
    "empty-list": "[]\n",
    "comment-only": "# a skill will go here\n",
    "version-1-style": V1_WITH_STYLE_PROBLEMS,
    "tab-after-colon": example_skill_path().read_text().replace("created_by: ", "created_by:\t", 1),
    "bundled-example": example_skill_path().read_text(),
}


def instructlab_verdict(path: Path, monkeypatch) -> tuple[int, int]:
    """(warnings, errors) from InstructLab's validator, which runs yamllint as a command."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    logging.getLogger("instructlab.schema").disabled = True
    parser = TaxonomyParser(schema_version=0, message_format=TaxonomyMessageFormat.LOGGING, yamllint_strict=True)
    try:
        taxonomy = parser.parse(path)
    except TaxonomyReadingException:  # not YAML: `ilab taxonomy diff` reports the file as an error
        return 0, 1
    return taxonomy.warnings, taxonomy.errors


@pytest.mark.parametrize("name", [*CASES, *sorted(p.name for p in FIXTURES.glob("*.yaml"))])
def test_lab_tui_reports_an_error_exactly_when_instructlab_does(name, tmp_path, monkeypatch):
    path = tmp_path / "compositional_skills" / "writing" / "qna.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(CASES[name] if name in CASES else (FIXTURES / name).read_text(), encoding="utf-8")
    warnings, errors = instructlab_verdict(path, monkeypatch)
    ours = lint_path(path)
    assert any(f.severity == "error" for f in ours) == (errors > 0), [(f.rule, f.line) for f in ours]
    if warnings and not errors:  # the empty files: a warning on both sides
        assert [f.severity for f in ours] == ["warning"]


def test_a_version_1_file_gets_no_yamllint_findings():
    path = FIXTURES / "hist_v1__writing__freeform__social_media__linkedin__bio.yaml"
    assert not [f for f in lint_path(path) if f.rule.startswith("yaml/") and f.severity != "info"]


def test_a_tab_after_a_colon_is_a_syntax_error_with_its_line(tmp_path):
    path = tmp_path / "qna.yaml"
    path.write_text(CASES["tab-after-colon"])
    [finding] = [f for f in lint_path(path) if f.severity == "error"]
    line = next(i for i, text in enumerate(CASES["tab-after-colon"].splitlines(), 1) if "\t" in text)
    assert finding.rule == "yaml/syntax" and finding.line == line
