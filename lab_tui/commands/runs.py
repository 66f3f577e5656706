"""`lab-tui runs`: every run in the database, newest first, with its totals."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from lab_tui.cli import add_db_option, resolve_db
from lab_tui.safe_text import echo, echo_json, literal
from lab_tui.store.queries import INTERRUPTED, list_runs, open_existing_db


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    add_db_option(parser)


def status_label(run: dict) -> str:
    """A run's status in words, with the command that picks an interrupted run up again."""
    if run["display_status"] == INTERRUPTED:
        return f"interrupted (resume with lab-tui run --resume {run['id']})"
    return run["display_status"]


def runs_table(runs: list[dict]) -> Table:
    """Runs as a table; cells are literal text, so a path or model name is never markup or an escape."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for name, justify in (
        ("run", "left"),
        ("created", "left"),
        ("status", "left"),
        ("skill", "left"),
        ("model", "left"),
        ("kept", "right"),
        ("accepted", "right"),
        ("failed", "right"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for run in runs:
        table.add_row(
            literal(run["id"]),
            literal((run["created_at"] or "")[:19].replace("T", " ")),
            literal(status_label(run)),
            literal(run["skill"]),
            literal(run["model"]),
            str(run["pairs_kept"]),
            str(run["accepted"]),
            str(run["failed_rows"]),
        )
    return table


def run(args: argparse.Namespace) -> int:
    db_path = resolve_db(args)
    db = open_existing_db(db_path)
    runs = list_runs(db) if db is not None else []
    if args.format == "json":
        for item in runs:
            item["status_label"] = status_label(item)
        echo_json(runs)
        return 0
    if not runs:
        echo(f"No runs yet in {db_path}.")
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:  # piped: whole cells, no folding, for scripts and grep
        console = Console(highlight=False, width=10_000)
    console.print(runs_table(runs))
    return 0
