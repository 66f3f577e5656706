"""The `lab-tui` entry point: the app with no subcommand, and the headless subcommands.

Each subcommand lives in `lab_tui.commands.<name>` with `configure(parser)` and `run(args) -> int`.
Command modules must import cheaply (no litellm, no Textual at module level) so `--help` and
`lint` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from lab_tui import __version__
from lab_tui.errors import EXIT_USAGE, UserError
from lab_tui.safe_text import echo

COMMANDS = {
    "lint": "Lint seed files (qna.yaml, *.yaml, *.jsonl); walks directories.",
    "run": "Run a skill's synthetic-data flow (grounded, freeform or your own) against a teacher model.",
    "runs": "List runs in the database.",
    "report": "Print a run's validation report.",
    "export": "Write runs' pairs as a training file (InstructLab's messages format) or lab-tui's rich JSONL.",
    "teacher": "Check the teacher model answers.",
    "review": "Open the app straight on the Review pane.",
    "compare": "Two runs side by side: yield per stage and per seed example, scores, reject reasons.",
}

EXIT_BROKEN_PIPE = 141
"""What a shell reports for a process ended by SIGPIPE (`lab-tui runs | head -1`)."""


def positive(text: str) -> int:
    """An option's whole number of at least 1 (argparse `type=`), refused in words otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, default=None, help="database file (default: lab.db in the user data dir)")


def resolve_db(args: argparse.Namespace) -> Path:
    from lab_tui.config import default_db_path

    return args.db if getattr(args, "db", None) else default_db_path()


def missing_paths(paths) -> list[str]:
    """Why each path a command was given does not exist or cannot be reached, one line each.

    The one rule for `run` and `lint`: such a path is a usage error (exit 2), said before anything is
    read or stored."""
    problems = []
    for path in paths:
        try:
            Path(path).stat()
        except FileNotFoundError:
            problems.append(f"no such file or directory: {path}")
        except OSError as error:
            problems.append(f"cannot reach {path}: {error.strerror}")
    return problems


def refuse_missing(command: str, paths) -> bool:
    """Say `missing_paths` on stderr under the command's name; whether there was any."""
    problems = missing_paths(paths)
    for problem in problems:
        echo(f"lab-tui {command}: {problem}", err=True)
    return bool(problems)


def _unknown_command(word: str) -> bool:
    """A bare word that is neither a command nor a path that exists, nor named like a seed file: a typo
    of a command (`lab-tui bogus`), not a new skill file to create (which ends in .yaml or .jsonl)."""
    from lab_tui.seeds.io import SEED_SUFFIXES

    path = Path(word)
    return (not word.startswith("-") and "/" not in word and os.sep not in word
            and path.suffix.lower() not in SEED_SUFFIXES and not path.exists())


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


def _warn_about_settings() -> None:
    """A settings file lab-tui cannot use is said once on stderr (commands run on defaults for it)."""
    from lab_tui.config import load_settings

    problem = load_settings().problem
    if problem:
        echo(f"lab-tui: {problem}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand or the app. Every command's user errors (`errors.UserError`: the message, and
    the exit code its kind says) and a closed pipe are handled here, once."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        if command is None and argv and _unknown_command(argv[0]):
            echo(_app_parser().format_usage().rstrip(), err=True)
            echo(f"lab-tui: {argv[0]!r} is not a command or a skill file; commands: {', '.join(COMMANDS)} "
                 "(a new skill file is named *.yaml or *.jsonl)", err=True)
            return EXIT_USAGE
        if command:
            _warn_about_settings()
            parser, module = _command_parser(command)
            code = int(module.run(parser.parse_args(argv[1:])) or 0)
            sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
            return code
        args = _app_parser().parse_args(argv)
        from lab_tui.ui.launch import launch_app

        return launch_app(skill_path=args.skill, db_path=resolve_db(args), **({"base": args.base} if args.base else {}))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    except UserError as error:
        echo(f"lab-tui{' ' + command if command else ''}: {error}", err=True)
        return error.exit_code
    except BrokenPipeError:
        # The reader closed the pipe (`| head -1`): end quietly; later writes go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
