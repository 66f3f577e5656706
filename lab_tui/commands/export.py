"""`lab-tui export`: a run's pairs as chat-format JSONL, to a file (atomically) or standard output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab_tui.cli import add_db_option, resolve_db
from lab_tui.config import write_atomic
from lab_tui.store.export import DEFAULT_STATUS, EXPORT_STATUSES, export_records, to_jsonl
from lab_tui.store.queries import UnknownRunError, open_existing_db


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="the run to export")
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
        help="also write the pairs the pair judge dropped, marked \"filtered\": true",
    )
    parser.add_argument("--format", choices=["jsonl"], default="jsonl", help="output format (only jsonl)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write, or - for standard output")
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    db_path = resolve_db(args)
    db = open_existing_db(db_path)
    if db is None:
        print(f"lab-tui export: no database at {db_path}", file=sys.stderr)
        return 1
    try:
        records = list(export_records(db, args.run, status=args.status, include_filtered=args.include_filtered))
    except UnknownRunError as error:
        print(f"lab-tui export: {error}", file=sys.stderr)
        return 1
    text = to_jsonl(records)
    if args.output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        destination = "standard output"
    else:
        write_atomic(Path(args.output), text)
        destination = args.output
    print(f"wrote {len(records)} record(s) to {destination}", file=sys.stderr)
    return 0
