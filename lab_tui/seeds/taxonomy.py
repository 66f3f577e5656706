"""A taxonomy as a workspace: every `qna.yaml` under a folder, what each one is, and which changed.

It follows how InstructLab reads a taxonomy clone. Skill files are named exactly `qna.yaml`; in a
clone (a folder with `compositional_skills/` or `knowledge/` at its top) the top folder says what a
file is, elsewhere its contents do. A skill is grounded when its seed examples have a context and
freeform when none has (`ilab data generate` picks its flow so). The changed files are those `ilab
taxonomy diff` lists: what differs between the working tree and the last commit HEAD shares with the
base (`origin/main` by default), untracked files included, deleted ones left out. Git runs as a
subprocess, so only asking for changes needs a repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from lab_tui.errors import EXIT_USAGE, UserError
from lab_tui.seeds.io import load_skill
from lab_tui.seeds.lint import lint_loaded
from lab_tui.seeds.model import Skill
from lab_tui.seeds.quality import DEFAULT_TOKEN_LIMIT

SKILL_FILE = "qna.yaml"
SKILLS_FOLDER = "compositional_skills"
KNOWLEDGE_FOLDER = "knowledge"
DEFAULT_BASE = "origin/main"
"""`ilab taxonomy diff`'s default base: the upstream main branch."""
FALLBACK_BASE = "main"
"""Compared with when a clone has no `origin/main` (no remote, or one named otherwise)."""
ALL_FILES_BASE = "empty"
"""ilab's base meaning "the whole repository": every skill counts as changed."""
MIXED_FLOW_MESSAGE = ("some seed examples have a context and some do not: a skill is grounded (every example has "
                      "one) or freeform (none has), so give all of them a context or none")
PARALLEL_THRESHOLD = 16
CHUNK_SIZE = 24


class TaxonomyError(UserError):
    """A folder or git state lab-tui cannot work with; the message is meant for the user as is."""

    title = "Taxonomy not usable"
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class SkillSummary:
    """One `qna.yaml` as the skills list shows it.

    `kind` is "skill" (a compositional skill lab-tui handles), "knowledge" or "other" (listed, not
    handled). `flow` is "grounded", "freeform" or "mixed" (refused), None when the file does not
    parse; `counts` are lint findings by severity, None for files that are not skills.
    """

    path: Path
    kind: str
    flow: str | None = None
    examples: int | None = None
    counts: dict[str, int] | None = None

    @property
    def handled(self) -> bool:
        return self.kind == "skill"


@dataclass(frozen=True)
class Changes:
    """Changed skill files under a folder, and what they were compared with."""

    base: str
    """The ref asked for or fallen back to (`empty` for the whole repository)."""
    paths: frozenset[Path]
    note: str | None = None
    """Said to the user when the default base was missing and another was used."""


def skill_flow(skill: Skill) -> str:
    """"grounded", "freeform" or "mixed", from which seed examples have a context."""
    with_context = sum(1 for example in skill.examples if example.context)
    if with_context == 0:
        return "freeform"
    return "grounded" if with_context == len(skill.examples) else "mixed"


def skill_files(root: Path) -> list[Path]:
    """Every `qna.yaml` under `root`, sorted by path; hidden folders (`.git`) are skipped.

    Raises TaxonomyError for a folder that cannot be read or holds no skill file.
    """
    root = Path(root)
    if not root.is_dir():
        raise TaxonomyError(f"{root} is not a folder")
    found: list[Path] = []
    errors: list[OSError] = []
    for folder, subfolders, files in os.walk(root, onerror=errors.append):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        if SKILL_FILE in files:
            found.append(Path(folder) / SKILL_FILE)
    if errors and errors[0].filename == str(root):
        raise TaxonomyError(f"{root} cannot be read: {errors[0].strerror}")
    if not found:
        raise TaxonomyError(f"no {SKILL_FILE} under {root}: a taxonomy keeps each skill in its own folder as "
                            f"{SKILL_FILE} (for example {SKILLS_FOLDER}/writing/poems/{SKILL_FILE})")
    return sorted(found)


def taxonomy_root(folder: Path) -> Path | None:
    """The enclosing taxonomy clone: the nearest folder with `compositional_skills/` or `knowledge/`."""
    folder = Path(folder).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / SKILLS_FOLDER).is_dir() or (candidate / KNOWLEDGE_FOLDER).is_dir():
            return candidate
    return None


def _kind_from_path(path: Path, root: Path | None) -> str | None:
    if root is None:
        return None
    try:
        top = Path(path).resolve().relative_to(root).parts[0]
    except (ValueError, IndexError):
        return None
    return {SKILLS_FOLDER: "skill", KNOWLEDGE_FOLDER: "knowledge"}.get(top, "other")


def _looks_like_knowledge(contents) -> bool:
    if not isinstance(contents, dict):
        return False
    examples = contents.get("seed_examples")
    return ("document" in contents or "document_outline" in contents
            or (isinstance(examples, list) and any(isinstance(e, dict) and "questions_and_answers" in e
                                                   for e in examples)))


def file_kind(path: Path, root: Path | None = None) -> str:
    """"skill", "knowledge" or "other": from the top folder in a clone, else from the contents."""
    kind = _kind_from_path(path, root)
    if kind is None:
        kind = "knowledge" if _looks_like_knowledge(load_skill(path).contents) else "skill"
    return kind


def summarise(path: Path, root: Path | None = None, token_limit: int = DEFAULT_TOKEN_LIMIT) -> SkillSummary:
    """Read and lint one file once; `root` is the enclosing taxonomy clone, if any."""
    kind = _kind_from_path(path, root)
    if kind not in (None, "skill"):
        return SkillSummary(Path(path), kind)
    result = load_skill(path)
    if kind is None and _looks_like_knowledge(result.contents):
        return SkillSummary(Path(path), "knowledge")
    counts = dict.fromkeys(("error", "warning", "info"), 0)
    for finding in lint_loaded(result, token_limit):
        counts[finding.severity] += 1
    skill = result.skill
    return SkillSummary(Path(path), "skill", skill_flow(skill) if skill else None,
                        len(skill.examples) if skill else None, counts)


def _summarise_chunk(args: tuple[list[Path], Path | None, int]) -> list[SkillSummary]:
    paths, root, token_limit = args
    return [summarise(path, root, token_limit) for path in paths]


def _lower_priority() -> None:
    """Lint workers yield the CPU to the app that waits for them, so typing never stutters."""
    try:
        os.nice(5)
    except OSError:
        pass


def summarise_many(paths: Iterable[Path], root: Path | None = None,
                   token_limit: int = DEFAULT_TOKEN_LIMIT) -> Iterator[list[SkillSummary]]:
    """Summaries in chunks, each as soon as it is done (not in path order), in worker processes.

    Workers are forked, on Linux only: spawning needs multiprocessing's resource tracker, which
    cannot start inside a Textual app (it hands the tracker sys.stderr's fileno, which the app's
    capture reports as -1). The forked child runs only the lint code. Elsewhere, one process lints.
    """
    paths = list(paths)
    workers = min(os.cpu_count() or 1, len(paths) // PARALLEL_THRESHOLD) if sys.platform == "linux" else 1
    if workers <= 1:
        for start in range(0, len(paths), CHUNK_SIZE):
            yield _summarise_chunk((paths[start:start + CHUNK_SIZE], root, token_limit))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"),
                             initializer=_lower_priority) as pool:
        pending = {pool.submit(_summarise_chunk, (paths[start:start + CHUNK_SIZE], root, token_limit))
                   for start in range(0, len(paths), CHUNK_SIZE)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


# ----- what changed, as `ilab taxonomy diff` sees it ----------------------------------------------

def _git(folder: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              encoding="utf-8", errors="surrogateescape", check=False)
    except FileNotFoundError:
        raise TaxonomyError("git is not installed, and finding changed skills needs it") from None


def _resolves(top: Path, ref: str) -> bool:
    return _git(top, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0


def _is_branch(top: Path, ref: str) -> bool:
    """ilab's test: a name with a slash is a remote branch; otherwise a local branch, or else a commit."""
    return "/" in ref or _git(top, "show-ref", "--verify", "--quiet", f"refs/heads/{ref}").returncode == 0


def _paths(output: str) -> list[str]:
    return [name for name in output.split("\0") if name]


def changed_skill_files(folder: Path, base: str | None = None) -> Changes:
    """Skill files under `folder` changed against `base` (default `origin/main`, else local `main`).

    Raises TaxonomyError when `folder` is not in a git repository, the base does not exist, or
    git fails; the message says what to do.
    """
    folder = Path(folder).resolve()
    found = _git(folder, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise TaxonomyError(f"{folder} is not in a git repository: changed skills are found with git "
                            "against a base branch, so use a clone of your taxonomy (or leave out --changed)")
    top = Path(found.stdout.strip()).resolve()
    files = skill_files(folder)
    if base == ALL_FILES_BASE:
        return Changes(base, frozenset(files))
    note = None
    if base is None:
        base = DEFAULT_BASE
        if not _resolves(top, base):
            if not _resolves(top, FALLBACK_BASE):
                raise TaxonomyError(f"no {DEFAULT_BASE} (ilab's default base) and no {FALLBACK_BASE} branch in {top}: "
                                    "fetch the upstream (git fetch origin) or name a base with --base REF")
            note = f"{DEFAULT_BASE} does not exist in {top}; comparing with the local branch {FALLBACK_BASE}"
            base = FALLBACK_BASE
    elif not _resolves(top, base):
        raise TaxonomyError(f"no git ref {base!r} in {top}: name a branch, tag or commit that exists "
                            "(git branch -a lists branches; fetch the upstream with git fetch origin)")
    if _is_branch(top, base):
        merge_base = _git(top, "merge-base", "HEAD", base)
        if merge_base.returncode != 0:
            raise TaxonomyError(f"HEAD shares no history with {base} in {top}: name another --base")
        start = merge_base.stdout.strip()
    else:
        start = base
    diff = _git(top, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=d", start, "--")
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
    for result in (diff, untracked):
        if result.returncode != 0:
            raise TaxonomyError(f"git failed in {top}: {result.stderr.strip() or 'no message'}")
    changed = {(top / name).resolve() for name in _paths(diff.stdout) + _paths(untracked.stdout)
               if Path(name).name == SKILL_FILE}
    return Changes(base, frozenset(path for path in files if path in changed), note)


def skill_targets(paths: Iterable[Path], base: str | None = None, changed: bool = True) -> tuple[list[Path], list[str]]:
    """What `lab-tui lint --changed` lints and `lab-tui run FOLDER [--changed]` runs: the skills under
    each folder (only those changed against the base with `changed`; a file named is kept as is),
    and notes for the user (the base used, knowledge and other files skipped)."""
    targets: list[Path] = []
    notes: list[str] = []
    for path in map(Path, paths):
        if not path.is_dir():
            targets.append(path)
            continue
        root = taxonomy_root(path)
        if changed:
            changes = changed_skill_files(path, base)
            notes.extend([changes.note] if changes.note else [])
            notes.append(f"{len(changes.paths)} skill file(s) changed under {path} against {changes.base}")
            files = changes.paths
        else:
            files = skill_files(path)
        for file in sorted(files):
            kind = file_kind(file, root)
            if kind == "skill":
                targets.append(file)
            else:
                notes.append(f"skipped {file} ({kind}: lab-tui works on compositional skills)")
    return targets, notes
