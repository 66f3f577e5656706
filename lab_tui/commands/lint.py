"""`lab-tui lint PATH... [--format text|json]`: lint seed files for scripts and CI.

Exit 0 when no finding is an error, 1 when one is, 2 for usage errors (including a path that
does not exist or cannot be reached: a typo in a CI script should fail loudly, not pass as "no
findings"). A folder that cannot be read is an error finding of its own, never skipped silently,
and one file that breaks the linter costs only its own entry. Many files are linted in worker
processes, one chunk per core.

A folder inside a taxonomy clone is linted as `ilab taxonomy diff` checks it: its skill files
(`qna.yaml` under `compositional_skills/`), with the knowledge files, the template under `docs/` and
the other YAML (CI workflows, tool settings) named on stderr as skipped, so a clean taxonomy exits 0.
Any other folder is walked for every seed file (`*.yaml`, `*.yml`, `*.jsonl`), hidden folders aside.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lab_tui.safe_text import echo, echo_json
from lab_tui.seeds.io import SEED_SUFFIXES

PARALLEL_THRESHOLD = 16
SKIPPED_SHOWN = 5
"""Skipped files named per kind; the rest are counted."""
SKIPPED_KINDS = {
    "knowledge": "knowledge file(s) (lab-tui lints compositional skills)",
    "other": "qna.yaml file(s) outside compositional_skills/ (not skills to ilab)",
    "named otherwise": "YAML/JSONL file(s) not named qna.yaml (not skills to ilab)",
}
"""What a taxonomy clone holds besides skills, in the words its skip note uses."""


def configure(parser) -> None:
    from lab_tui.seeds.quality import CHARS_PER_TOKEN, DEFAULT_TOKEN_LIMIT

    parser.epilog = ("Exit status: 0 when no finding is an error, 1 when one is (a folder that cannot be read "
                     "is one), 2 for usage errors (a PATH that does not exist or cannot be reached is one).")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="seed files (qna.yaml, *.yaml, *.jsonl) or directories to walk for them")
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text: one `file:line: severity rule: message` per finding; json: a list of files")
    parser.add_argument("--changed", action="store_true",
                        help="lint only the skills under each folder PATH that changed against the base, as "
                             "`ilab taxonomy diff` lists them (committed, modified and untracked); exit 2 when "
                             "PATH is not in git or the base does not exist")
    parser.add_argument("--base", metavar="REF", default=None,
                        help="git ref --changed compares with (default origin/main, else the local main branch; "
                             "'empty' = every skill)")
    parser.add_argument("--token-limit", type=int, default=None,
                        help="teacher context window an example must fit in, in tokens estimated as "
                             f"characters / {CHARS_PER_TOKEN} (default {DEFAULT_TOKEN_LIMIT})")


def seed_files(paths: list[Path]) -> tuple[list[Path], list[dict], list[str]]:
    """Files named on the command line plus the seed files under each folder (a taxonomy clone's
    skills only), an entry with an error finding for every folder the walk could not read, and
    notes naming what a folder held that was not linted."""
    from lab_tui.seeds.taxonomy import SKILL_FILE, file_kind, taxonomy_root

    found: list[Path] = []
    unreadable: list[dict] = []
    notes: list[str] = []

    def cannot_read(error: OSError) -> None:
        unreadable.append(_unreadable_entry(error.filename, f"This folder cannot be read: {error.strerror}."))

    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        walked = []
        for folder, subfolders, files in os.walk(path, onerror=cannot_read):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            walked.extend(Path(folder, name) for name in sorted(files) if Path(name).suffix in SEED_SUFFIXES)
        root = taxonomy_root(path)
        if root is None:
            found.extend(walked)
            continue
        skipped: dict[str, list[Path]] = {}
        for file in walked:
            kind = file_kind(file, root) if file.name == SKILL_FILE else "named otherwise"
            if kind == "skill":
                found.append(file)
            else:
                skipped.setdefault(kind, []).append(file)
        for kind, files in skipped.items():
            shown = ", ".join(str(file) for file in files[:SKIPPED_SHOWN]) + (", …" if len(files) > SKIPPED_SHOWN else "")
            notes.append(f"skipped {len(files)} {SKIPPED_KINDS[kind]}: {shown}")
    return found, unreadable, notes


def _unreadable_entry(name: str, message: str) -> dict:
    return {"file": name, "findings": [{"rule": "file/unreadable", "severity": "error", "message": message,
                                        "example": None, "field": None, "line": None}]}


def _lint_chunk(args: tuple[list[str], int]) -> list[dict]:
    from lab_tui.seeds.lint import lint_path

    files, token_limit = args
    entries = []
    for name in files:
        try:
            findings = [x.as_json() for x in lint_path(name, token_limit=token_limit)]
        except Exception as error:  # noqa: BLE001 - one file that breaks the linter must not hide the others
            entries.append(_unreadable_entry(name, f"lab-tui could not lint this file ({type(error).__name__}: "
                                                   f"{str(error)[:200]}); please report it."))
            continue
        entries.append({"file": name, "findings": findings})
    return entries


def lint_files(files: list[Path], token_limit: int) -> list[dict]:
    names = [str(f) for f in files]
    workers = min(os.cpu_count() or 1, max(1, len(names) // PARALLEL_THRESHOLD))
    if workers <= 1:
        return _lint_chunk((names, token_limit))
    size = -(-len(names) // (workers * 4))
    chunks = [(names[i:i + size], token_limit) for i in range(0, len(names), size)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [entry for result in pool.map(_lint_chunk, chunks) for entry in result]


def run(args) -> int:
    from lab_tui.seeds.quality import DEFAULT_TOKEN_LIMIT

    from lab_tui.cli import refuse_missing

    if refuse_missing("lint", args.paths):
        return 2
    if args.base is not None and not args.changed:
        echo("lab-tui lint: --base only makes sense with --changed", err=True)
        return 2
    unreadable: list[dict] = []
    if args.changed:
        from lab_tui.seeds.taxonomy import TaxonomyError, skill_targets

        try:
            files, notes = skill_targets(args.paths, args.base)
        except TaxonomyError as error:
            echo(f"lab-tui lint: {error}", err=True)
            return 2
        for note in notes:
            echo(f"lab-tui lint: {note}", err=True)
    else:
        files, unreadable, notes = seed_files(args.paths)
        for note in notes:
            echo(f"lab-tui lint: {note}", err=True)
    results = unreadable + lint_files(files, args.token_limit or DEFAULT_TOKEN_LIMIT)
    if args.format == "json":
        echo_json(results)
    else:
        for entry in results:
            for f in entry["findings"]:
                where = f"{entry['file']}:{f['line']}" if f["line"] else entry["file"]
                example = f" (example {f['example'] + 1}" + (f", {f['field']})" if f["field"] else ")") \
                    if f["example"] is not None else ""
                echo(f"{where}: {f['severity']} {f['rule']}: {f['message']}{example}")
        counts = {s: sum(f["severity"] == s for e in results for f in e["findings"]) for s in ("error", "warning", "info")}
        echo(f"{len(results)} file(s): {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    return 1 if any(f["severity"] == "error" for e in results for f in e["findings"]) else 0
