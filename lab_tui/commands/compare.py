"""`lab-tui compare RUN_A RUN_B [--format text|json]`: two runs side by side (yield per stage and
per seed example, judges' and on-task scores, reject reasons), to see what a seed edit changed."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from lab_tui.cli import add_db_option, resolve_db
from lab_tui.errors import EXIT_USAGE, UserError
from lab_tui.safe_text import echo_json


class NoDatabase(UserError):
    exit_code = EXIT_USAGE


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="the run to compare from (e.g. before a seed edit)")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to compare with it")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="--format json")
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lab_tui.pipeline.compare import compare_runs
    from lab_tui.pipeline.compare_view import compare_view
    from lab_tui.store.queries import open_existing_db

    db_path = resolve_db(args)
    db = open_existing_db(db_path)
    if db is None:
        raise NoDatabase(f"no database at {db_path} (runs are stored there; --db names another)")
    comparison = compare_runs(db, args.run_a, args.run_b)
    if args.format == "json":
        echo_json(asdict(comparison))
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=200)
    console.print(compare_view(comparison))
    return 0
