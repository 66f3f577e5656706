"""`lab-tui report RUN_ID`: a run's validation report, as stored when it ended or built now."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from lab_tui.cli import add_db_option, resolve_db
from lab_tui.pipeline.render import render_report
from lab_tui.pipeline.report import REPORT_VERSION, agreement_section, build_report
from lab_tui.safe_text import echo, echo_json
from lab_tui.store.queries import get_run, open_existing_db
from lab_tui.store.rows import json_dict


PIPED_WIDTH = 10_000
"""The width the report is drawn at when not printed to a terminal: wider than any line it has."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", metavar="RUN_ID", help="the run (lab-tui runs lists them)")
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    add_db_option(parser)


def load_report(db, run_id: str) -> dict:
    """The stored report of a run that ended, with its judges checked against the verdicts given so far;
    a run still going, killed or resumed (its stored report is from an earlier end), or a report stored
    by another version of lab-tui, gets one built now."""
    run = get_run(db, run_id)
    report = json_dict(run["report"] if run["status"] != "running" else None)
    if report.get("version") == REPORT_VERSION:
        return dict(report, agreement=agreement_section(db, run_id))  # verdicts given since the run ended
    return build_report(db, run_id)


def run(args: argparse.Namespace) -> int:
    db_path = resolve_db(args)
    db = open_existing_db(db_path)
    if db is None:
        echo(f"lab-tui report: no database at {db_path}", err=True)
        return 1
    report = load_report(db, args.run_id)  # an unknown run: cli.main says so (exit 1)
    if args.format == "json":
        echo_json(report)
    else:
        print_report(report)
    return 0


def print_report(report: dict) -> None:
    """To a terminal, fitted to its width. Piped, there is no width to fit: each line stays whole
    (Rich would fold it at 80 columns, mid-word in a table cell) without the tables' trailing
    padding, and whatever reads it wraps as it likes."""
    if sys.stdout.isatty():
        Console(highlight=False).print(render_report(report))
        return
    console = Console(highlight=False, width=PIPED_WIDTH)
    with console.capture() as captured:
        console.print(render_report(report))
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
