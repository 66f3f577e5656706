"""Taxonomy discovery and the changed-skills filter, on real fixtures and a git taxonomy built here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lab_tui.cli import main
from lab_tui.seeds import load_skill
from lab_tui.seeds.taxonomy import (ALL_FILES_BASE, TaxonomyError, changed_skill_files, skill_files, skill_flow,
                                    summarise, summarise_many, taxonomy_root)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "taxonomy"
GROUNDED = FIXTURES / "compositional_skills__grounded__linguistics__inclusion.yaml"
FREEFORM = FIXTURES / "compositional_skills__linguistics__synonyms.yaml"
BROKEN = FIXTURES / "hist_bad__writing__freeform__poetry__limerick.yaml"
KNOWLEDGE = """version: 3
domain: astronomy
created_by: someone
document_outline: Facts about the moon
seed_examples:
  - context: The moon is far.
    questions_and_answers:
      - question: Is it far?
        answer: Yes.
document:
  repo: https://example.com/docs.git
  commit: abc
  patterns: ["*.md"]
"""


def place(root: Path, relative: str, source: Path | str) -> Path:
    path = root / relative / "qna.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(source, Path):
        shutil.copy(source, path)
    else:
        path.write_text(source)
    return path


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clone(tmp_path) -> Path:
    """A taxonomy clone: main (mirrored as origin/main) has three skills and a knowledge file; the
    branch `feature` changed one skill in a commit, one in the working tree, added one (untracked),
    and deleted one."""
    root = tmp_path / "taxonomy"
    for name in ("committed", "modified", "deleted", "untouched"):
        place(root, f"compositional_skills/{name}", GROUNDED)
    place(root, "knowledge/moon", KNOWLEDGE)
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    git(root, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(root, "checkout", "-qb", "feature")
    place(root, "compositional_skills/committed", FREEFORM)
    git(root, "rm", "-q", "compositional_skills/deleted/qna.yaml")
    git(root, "commit", "-qam", "change a skill")
    place(root, "compositional_skills/modified", FREEFORM)
    place(root, "compositional_skills/new", GROUNDED)
    return root


def names(paths) -> set[str]:
    return {path.parent.name for path in paths}


def test_every_qna_yaml_is_found_hidden_folders_skipped(tmp_path):
    place(tmp_path, "a/b", GROUNDED)
    place(tmp_path, "c", FREEFORM)
    place(tmp_path, ".git/x", FREEFORM)
    (tmp_path / "c" / "notes.yaml").write_text("x: 1\n")
    assert skill_files(tmp_path) == [tmp_path / "a/b/qna.yaml", tmp_path / "c/qna.yaml"]


def test_a_folder_with_no_skills_says_so(tmp_path):
    (tmp_path / "notes.yaml").write_text("x: 1\n")
    with pytest.raises(TaxonomyError, match="no qna.yaml under"):
        skill_files(tmp_path)
    with pytest.raises(TaxonomyError, match="is not a folder"):
        skill_files(tmp_path / "notes.yaml")


def test_summaries_give_flow_examples_and_lint_counts(tmp_path):
    grounded = summarise(place(tmp_path, "g", GROUNDED))
    assert (grounded.kind, grounded.flow, grounded.examples) == ("skill", "grounded", 6)
    assert grounded.counts["error"] == 0 and grounded.counts["warning"] > 0
    freeform = summarise(place(tmp_path, "f", FREEFORM))
    assert (freeform.flow, freeform.examples) == ("freeform", 6)
    broken = summarise(place(tmp_path, "b", BROKEN))
    assert (broken.kind, broken.flow, broken.examples, broken.counts["error"]) == ("skill", None, None, 1)


def test_mixed_contexts_make_a_mixed_flow():
    skill = load_skill(GROUNDED).skill
    skill.examples[1].context = None
    assert skill_flow(skill) == "mixed"
    skill.examples = [example for example in skill.examples if example.context]
    assert skill_flow(skill) == "grounded"


def test_in_a_clone_the_top_folder_says_the_kind(clone):
    assert taxonomy_root(clone / "compositional_skills") == clone.resolve()
    knowledge = summarise(clone / "knowledge/moon/qna.yaml", taxonomy_root(clone))
    assert (knowledge.kind, knowledge.handled, knowledge.counts) == ("knowledge", False, None)
    place(clone, "foundational_skills/reasoning", FREEFORM)
    assert summarise(clone / "foundational_skills/reasoning/qna.yaml", clone.resolve()).kind == "other"


def test_outside_a_clone_knowledge_is_told_by_its_contents(tmp_path):
    assert summarise(place(tmp_path, "k", KNOWLEDGE)).kind == "knowledge"


def test_changed_skills_are_committed_modified_and_untracked_not_deleted(clone):
    changes = changed_skill_files(clone)
    assert changes.base == "origin/main" and changes.note is None
    assert names(changes.paths) == {"committed", "modified", "new"}


def test_changed_below_the_clone_top_stays_in_that_folder(clone):
    place(clone, "knowledge/sun", KNOWLEDGE)
    assert names(changed_skill_files(clone / "knowledge").paths) == {"sun"}


def test_without_origin_main_the_local_main_branch_is_used_and_said(clone):
    git(clone, "update-ref", "-d", "refs/remotes/origin/main")
    changes = changed_skill_files(clone)
    assert changes.base == "main" and "origin/main does not exist" in changes.note
    assert names(changes.paths) == {"committed", "modified", "new"}


def test_an_explicit_base_branch_or_commit(clone):
    assert names(changed_skill_files(clone, "feature").paths) == {"modified", "new"}
    assert names(changed_skill_files(clone, git(clone, "rev-parse", "main").strip()).paths) == {
        "committed", "modified", "new"}
    assert names(changed_skill_files(clone, ALL_FILES_BASE).paths) == {
        "committed", "modified", "new", "untouched", "moon"}


def test_a_missing_base_is_a_clear_error(clone):
    with pytest.raises(TaxonomyError, match="no git ref 'upstream/main'"):
        changed_skill_files(clone, "upstream/main")
    git(clone, "update-ref", "-d", "refs/remotes/origin/main")
    git(clone, "branch", "-qm", "main", "trunk")
    with pytest.raises(TaxonomyError, match="no origin/main .* and no main branch"):
        changed_skill_files(clone)


def test_a_folder_outside_git_is_a_clear_error(tmp_path):
    place(tmp_path, "a", GROUNDED)
    with pytest.raises(TaxonomyError, match="is not in a git repository"):
        changed_skill_files(tmp_path, None)


def test_many_files_are_summarised_in_worker_processes(tmp_path):
    paths = [place(tmp_path, f"s{i:02d}", (GROUNDED, FREEFORM, BROKEN)[i % 3]) for i in range(40)]
    summaries = [s for chunk in summarise_many(paths) for s in chunk]
    assert sorted(s.path for s in summaries) == sorted(paths)
    assert [s.flow for s in sorted(summaries, key=lambda s: s.path)][:3] == ["grounded", "freeform", None]


def test_lint_changed_lints_what_ilab_taxonomy_diff_lists(clone, capsys):
    place(clone, "knowledge/sun", KNOWLEDGE)
    assert main(["lint", "--changed", "--format", "json", str(clone)]) == 0
    out = capsys.readouterr()
    assert names(Path(entry["file"]) for entry in json.loads(out.out)) == {"committed", "modified", "new"}
    assert "4 skill file(s) changed under" in out.err and "against origin/main" in out.err
    assert "skipped" in out.err and "knowledge/sun/qna.yaml (knowledge:" in out.err


def test_lint_changed_exits_1_on_an_error_in_a_changed_skill_only(clone, capsys):
    place(clone, "compositional_skills/untouched", BROKEN)
    git(clone, "commit", "-qam", "break a skill")
    assert main(["lint", "--changed", "--base", "feature", str(clone)]) == 0
    place(clone, "compositional_skills/modified", BROKEN)
    assert main(["lint", "--changed", "--base", "feature", str(clone)]) == 1
    assert "modified/qna.yaml:17: error yaml/syntax" in capsys.readouterr().out


def test_lint_changed_usage_errors_exit_2(clone, tmp_path, capsys):
    assert main(["lint", "--changed", "--base", "nope", str(clone)]) == 2
    assert "no git ref 'nope'" in capsys.readouterr().err
    outside = tmp_path / "loose"
    place(outside, "a", GROUNDED)
    assert main(["lint", "--changed", str(outside)]) == 2
    assert "is not in a git repository" in capsys.readouterr().err
    assert main(["lint", "--base", "main", str(clone)]) == 2
    assert "--base only makes sense with --changed" in capsys.readouterr().err


def test_lint_changed_with_nothing_changed_exits_0(clone, capsys):
    git(clone, "add", ".")
    git(clone, "commit", "-qm", "everything")
    assert main(["lint", "--changed", "--base", "HEAD", str(clone)]) == 0
    assert "0 file(s): 0 error(s)" in capsys.readouterr().out
