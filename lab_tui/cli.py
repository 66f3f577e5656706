"""The `lab-tui` entry point: the app with no subcommand, and the headless subcommands.

Each subcommand lives in `lab_tui.commands.<name>` with `configure(parser)` and `run(args) -> int`.
Command modules must import cheaply (no litellm, no Textual at module level) so `--help` and
`lint` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from lab_tui import __version__

COMMANDS = {
    "lint": "Lint seed files (qna.yaml, *.yaml, *.jsonl); walks directories.",
    "run": "Run a skill's synthetic-data flow (grounded or freeform) against a teacher model.",
    "runs": "List runs in the database.",
    "report": "Print a run's validation report.",
    "export": "Write runs' pairs as a training file (InstructLab's messages format) or lab-tui's rich JSONL.",
    "teacher": "Check the teacher model answers.",
    "review": "Open the app straight on the Review pane.",
}

EXIT_USAGE = 2


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None, help="database file (default: lab.db in the user data dir)")


def resolve_db(args: argparse.Namespace) -> Path:
    from lab_tui.config import default_db_path

    return args.db if getattr(args, "db", None) else default_db_path()


def _app_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab-tui",
        description="Write seed examples, run the teacher, review what it made. "
        f"Subcommands: {', '.join(COMMANDS)} (lab-tui SUBCOMMAND --help).",
    )
    parser.add_argument("skill", nargs="?", type=Path, metavar="PATH",
                        help="skill file to open, or a folder (a taxonomy clone) to list its skills "
                             "(default: the bundled example)")
    parser.add_argument("--base", metavar="REF", default=None,
                        help="git ref the Skills pane's changed filter compares with (default origin/main, "
                             "else the local main branch)")
    add_db_option(parser)
    parser.add_argument("--version", action="version", version=f"lab-tui {__version__}")
    return parser


def _command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module = importlib.import_module(f"lab_tui.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"lab-tui {name}", description=COMMANDS[name])
    module.configure(parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            parser, module = _command_parser(argv[0])
            args = parser.parse_args(argv[1:])
            return int(module.run(args) or 0)
        args = _app_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    from lab_tui.ui.launch import launch_app

    return launch_app(skill_path=args.skill, db_path=resolve_db(args), **({"base": args.base} if args.base else {}))
