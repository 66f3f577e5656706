"""`lab-tui lint PATH... [--format text|json]`: lint seed files for scripts and CI.

Exit 0 when no finding is an error, 1 when one is, 2 for usage errors (including a path that
does not exist: a typo in a CI script should fail loudly, not pass as "no findings").
Many files are linted in worker processes, one chunk per core.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from lab_tui.seeds.io import SEED_SUFFIXES

PARALLEL_THRESHOLD = 16


def configure(parser) -> None:
    from lab_tui.seeds.quality import CHARS_PER_TOKEN, DEFAULT_TOKEN_LIMIT

    parser.epilog = ("Exit status: 0 when no finding is an error, 1 when one is, 2 for usage errors "
                     "(a PATH that does not exist is one).")
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


def seed_files(paths: list[Path]) -> list[Path]:
    """Files named on the command line, plus seed files found under directories."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SEED_SUFFIXES))
        else:
            found.append(path)
    return found


def _lint_chunk(args: tuple[list[str], int]) -> list[dict]:
    from lab_tui.seeds.lint import lint_path

    files, token_limit = args
    return [{"file": f, "findings": [x.as_json() for x in lint_path(f, token_limit=token_limit)]} for f in files]


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

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(f"lab-tui lint: no such file or directory: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    if args.base is not None and not args.changed:
        print("lab-tui lint: --base only makes sense with --changed", file=sys.stderr)
        return 2
    if args.changed:
        from lab_tui.seeds.taxonomy import TaxonomyError, skill_targets

        try:
            files, notes = skill_targets(args.paths, args.base)
        except TaxonomyError as error:
            print(f"lab-tui lint: {error}", file=sys.stderr)
            return 2
        for note in notes:
            print(f"lab-tui lint: {note}", file=sys.stderr)
    else:
        files = seed_files(args.paths)
    results = lint_files(files, args.token_limit or DEFAULT_TOKEN_LIMIT)
    if args.format == "json":
        json.dump(results, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for entry in results:
            for f in entry["findings"]:
                where = f"{entry['file']}:{f['line']}" if f["line"] else entry["file"]
                example = f" (example {f['example'] + 1}" + (f", {f['field']})" if f["field"] else ")") \
                    if f["example"] is not None else ""
                print(f"{where}: {f['severity']} {f['rule']}: {f['message']}{example}")
        counts = {s: sum(f["severity"] == s for e in results for f in e["findings"]) for s in ("error", "warning", "info")}
        print(f"{len(results)} file(s): {counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    return 1 if any(f["severity"] == "error" for e in results for f in e["findings"]) else 0
