"""`lab-tui export`: runs' pairs as a training file (InstructLab's messages format by default), with a
header file and a skills recipe beside it; or to standard output.

An output path in a folder that does not exist, or a file of the export that exists but is not a
regular file (a named pipe, a device, a folder), exits 1 with a clear message before the database
is read; a write that fails (disk full, permission) exits 1 too and leaves any earlier file whole.
The formats and their help come from the store's table (`lab_tui.store.export.FORMATS`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab_tui.cli import add_db_option, positive, resolve_db
from lab_tui.safe_text import echo
from lab_tui.store.export import (DEFAULT_FORMAT, DEFAULT_SEED, DEFAULT_STATUS, EXPORT_STATUSES, SYSTEM_PROMPTS,
                                  build_export, check_targets, export_to_file, format_names, formats_help,
                                  system_prompt, to_jsonl)
from lab_tui.store.queries import open_existing_db


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, action="append", metavar="RUN_ID",
                        help="a run to export; repeat it to put several runs in one file")
    parser.add_argument(
        "--status",
        choices=EXPORT_STATUSES,
        default=DEFAULT_STATUS,
        help="review status of the final pairs to write; 'all' = every final pair whatever its verdict "
        f"(default: {DEFAULT_STATUS})",
    )
    parser.add_argument(
        "--include-filtered",
        action="store_true",
        help="also write the pairs the pair judge dropped (marked filtered in the metadata; lab also top-level)",
    )
    parser.add_argument("--format", choices=format_names(), default=DEFAULT_FORMAT,
                        help=f"{formats_help()} (default: {DEFAULT_FORMAT})")
    parser.add_argument("--system-prompt", default="default", metavar="granite|default|TEXT",
                        help=f"the system turn: a student model family as InstructLab names them "
                             f"({', '.join(SYSTEM_PROMPTS)}), a student model folder (its config.json's family, as "
                             "ilab picks it), or the text itself (default: default)")
    parser.add_argument("--max-per-skill", type=positive, default=None, metavar="N",
                        help="keep at most N pairs of each skill, drawn at random (InstructLab's recipe takes 30)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of --max-per-skill's draw: the same seed keeps the same pairs (default {DEFAULT_SEED})")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="file to write (FILE.header.json and, for messages, FILE.recipe.yaml go beside it), "
                             "or - for standard output (records only)")
    add_db_option(parser)
    parser.epilog = ("Exit status: 0 when written; 1 when the run or database is not there or the file cannot be "
                     "written (an output FILE in a folder that does not exist, or that is a named pipe, a device "
                     "or a folder, is one); 2 for usage errors.")


def run(args: argparse.Namespace) -> int:
    try:
        prompt = system_prompt(args.system_prompt)
    except ValueError as error:
        echo(f"lab-tui export: {error}", err=True)
        return 2
    to_file = args.output != "-"
    options = dict(format=args.format, status=args.status, include_filtered=args.include_filtered, prompt=prompt,
                   max_per_skill=args.max_per_skill, seed=args.seed)
    if to_file:
        check_targets(Path(args.output), args.format)  # a UserError: the CLI prints it and exits 1
    db_path = resolve_db(args)
    db = open_existing_db(db_path)
    if db is None:
        echo(f"lab-tui export: no database at {db_path}", err=True)
        return 1
    try:
        if to_file:
            export, written = export_to_file(db, args.run, Path(args.output), **options)
        else:
            export = build_export(db, args.run, **options)
    except OSError as error:
        echo(f"lab-tui export: cannot write {args.output}: {error.strerror}", err=True)
        return 1
    count = len(export.records)
    if not to_file:
        sys.stdout.write(to_jsonl(export.records))
        sys.stdout.flush()
        echo(f"wrote {count} record(s) to standard output (no header or recipe: those go beside a file)", err=True)
        return 0
    echo(f"wrote {count} record(s) to {args.output}; system prompt: {prompt.choice}; "
         f"beside it: {', '.join(path.name for path in written[1:])}", err=True)
    return 0
