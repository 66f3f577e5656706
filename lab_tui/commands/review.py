"""`lab-tui review`: the app opened straight on the Review pane, for people who only review."""

from __future__ import annotations

import argparse
from pathlib import Path

from lab_tui.cli import add_db_option, resolve_db


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", metavar="RUN_ID", help="review only this run's pairs")
    parser.add_argument("--batch", metavar="BATCH_ID", help="review only the pairs of this batch's runs")
    parser.add_argument("--reviewer", metavar="NAME", help="name stored with each verdict (default: login name)")
    parser.add_argument("--skill", type=Path, help="skill file that 'promote to seed' appends to")
    add_db_option(parser)


def run(args: argparse.Namespace) -> int:
    from lab_tui.store.review import login_name
    from lab_tui.ui.launch import launch_app

    return launch_app(args.skill, resolve_db(args), start_mode="review",
                      reviewer=args.reviewer or login_name(), run_id=args.run, batch_id=args.batch)
