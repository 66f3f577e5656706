"""`lab-tui run SKILL_FILE ...`: run a skill's flow headless, with live progress.

The first line is `run: <RUN_ID>` (flushed at once, for scripts that want to follow or resume
the run). Exit 0 when the run completed, even with failed rows (they are recorded); 1 when it
could not complete; 130 when interrupted (resume with --resume). What cannot start (a profile, a
flow, a skill) is a `UserError` that `cli.main` prints with its exit code (2 for usage errors).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from lab_tui.cli import add_db_option, positive, refuse_missing, resolve_db
from lab_tui.errors import UserError
from lab_tui.safe_text import echo, literal


PIPED_WIDTH = 200


def _count(text: str) -> tuple[str, int]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=N (e.g. contexts=10)")
    return name, positive(value)


def _setting(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or "." not in key or not value:
        raise argparse.ArgumentTypeError(f"{text!r} is not BLOCK.KEY=VALUE (e.g. filter_qa_pair.threshold=3)")
    return key, value


def configure(parser) -> None:
    parser.add_argument("skill", nargs="*", type=Path, metavar="SKILL_FILE",
                        help="skill to run (qna.yaml or JSONL); several files, or a folder (every qna.yaml under "
                        "it), run together as one batch sharing the teacher's concurrency")
    parser.add_argument("--model", help="litellm model string, e.g. openai/<name> or hosted_vllm/<name>")
    parser.add_argument("--api-base", help="teacher URL (default http://127.0.0.1:8000/v1)")
    parser.add_argument("--api-key-env", help="name of the environment variable holding the API key")
    parser.add_argument("--profile", default="default", help="teacher profile from the settings file")
    parser.add_argument("--concurrency", type=positive,
                        help="requests in flight at most (default: the profile's max_concurrency, 16)")
    parser.add_argument("--flow", metavar="NAME_OR_DIR",
                        help="the flow to run: grounded_skills, freeform_skills, transformation_skills, "
                        "unstructured_to_structured or a folder with a flow.yaml (default: chosen from the seed "
                        "examples and said on the run's second line: transformation_skills when their questions "
                        "give one instruction about different contexts, else grounded_skills when they have a "
                        "context, freeform_skills when they have none)")
    parser.add_argument("--prompts", dest="flow", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--count", action="append", default=[], metavar="NAME=N", type=_count,
                        help="set one of the flow's counts (its blocks' count_param), e.g. --count texts=5; "
                        "repeatable")
    parser.add_argument("--contexts", type=positive,
                        help="--count contexts=N: contexts per seed example (grounded flows; default 10)")
    parser.add_argument("--questions", type=positive,
                        help="--count questions=N: questions per context (grounded, default 3) or per seed example "
                        "(freeform, default 30)")
    parser.add_argument("--preview", type=int, nargs="?", const=1, metavar="SEED",
                        help="run on one seed example (1-based, default 1) with small counts and print every "
                        "intermediate output")
    parser.add_argument("--set", action="append", default=[], metavar="BLOCK.KEY=VALUE", type=_setting,
                        help="override a flow setting for this run (temperature, max_tokens, threshold, count), "
                        "e.g. --set filter_qa_pair.threshold=3")
    parser.add_argument("--changed", action="store_true",
                        help="with a folder: run only the skills changed against the base, as `ilab taxonomy diff` "
                        "lists them (untracked and modified files included)")
    parser.add_argument("--base", metavar="REF", help="git ref --changed compares with (default origin/main, "
                        "else the local main branch)")
    parser.add_argument("--workers", type=positive, metavar="N",
                        help="a batch's worker processes, each running some of its skills on a core of its own, "
                        "all sharing its concurrency (default: the machine's cores)")
    parser.add_argument("--estimate", action="store_true",
                        help="start nothing: print what the run would send (requests per block, tokens), how long "
                        "it would take at the concurrency and the teacher's measured latency, and what it would cost "
                        "where litellm knows the model's price")
    parser.add_argument("--resume", metavar="RUN_ID|BATCH_ID",
                        help="resume a run, or every unfinished run of a batch: only unanswered requests are sent")
    add_db_option(parser)


def _console():
    """A terminal gets its own width; a pipe or a file gets every column whole."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else PIPED_WIDTH)


def _follow():
    """(cancel, latest, on_event): ctrl+c and SIGTERM set `cancel`; `on_event` keeps each run's
    latest progress in `latest`, which the live view draws at its own pace."""
    from lab_tui.pipeline.events import RunProgress

    latest: dict[str, RunProgress] = {}
    cancel = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, cancel.set)

    def on_event(event) -> None:
        if isinstance(event, RunProgress):
            latest[event.run_id] = event

    return cancel, latest, on_event


def run(args) -> int:
    if args.resume is None and not args.skill:
        echo("lab-tui run: give a SKILL_FILE, or --resume RUN_ID", err=True)
        return 2
    if refuse_missing("run", args.skill):
        return 2
    if (args.changed or args.base) and not any(path.is_dir() for path in args.skill):
        echo("lab-tui run: --changed and --base take a taxonomy folder", err=True)
        return 2
    from lab_tui.seeds.taxonomy import skill_targets

    skills, notes = skill_targets(args.skill, args.base, changed=args.changed)
    for note in notes:
        echo(f"lab-tui run: {note}", err=True)
    if args.estimate:
        if args.resume or len(skills) != 1:
            echo("lab-tui run: --estimate takes one SKILL_FILE", err=True)
            return 2
        return _estimate(args, skills[0])
    if (args.resume or "").startswith("batch-") or len(skills) > 1 or any(path.is_dir() for path in args.skill):
        if args.preview:
            echo("lab-tui run: --preview runs one skill", err=True)
            return 2
        return asyncio.run(_batch(args, skills))
    args.skill = skills[0] if skills else None
    return asyncio.run(_run(args))


def _estimate(args, skill_path: Path) -> int:
    """Print the estimate of the run these options describe; nothing is stored (no database is made)."""
    from lab_tui.pipeline.estimate import estimate_run
    from lab_tui.pipeline.estimate_view import estimate_view
    from lab_tui.pipeline.launch import SkillUnreadable
    from lab_tui.pipeline.teacher import load_profile
    from lab_tui.seeds import load_skill
    from lab_tui.store.queries import open_existing_db

    loaded = load_skill(skill_path)
    if loaded.skill is None:
        finding = loaded.findings[0] if loaded.findings else None
        raise SkillUnreadable(f"{skill_path}: {finding.message if finding else 'cannot be read'}")
    profile = load_profile(args.profile, model=args.model, api_base=args.api_base, api_key_env=args.api_key_env)
    estimate = estimate_run(open_existing_db(resolve_db(args)), loaded.skill, profile, _params(args))
    _console().print(estimate_view(estimate))
    return 0


def _say_log_problem() -> None:
    """Once, after the run: litellm's log lines had nowhere to go (the run itself went on)."""
    from lab_tui.pipeline.teacher import log_file_problem

    problem = log_file_problem()
    if problem:
        echo(f"lab-tui run: {problem}", err=True)


def _params(args):
    """The run's parameters from the options (`--contexts`/`--questions` are the bundled flows' counts)."""
    from lab_tui.pipeline.params import RunParams

    counts = {name: value for name, value in (("contexts", args.contexts), ("questions", args.questions)) if value}
    counts.update(args.count)
    return RunParams(flow=args.flow, counts=counts, concurrency=args.concurrency, overrides=dict(args.set),
                     preview_seed=args.preview - 1 if args.preview else None)


async def _batch(args, skills: list[Path]) -> int:
    """Several skills as one batch: one line per run, then each run's status; exit 0 when all completed."""
    from rich.live import Live
    from rich.table import Table

    from lab_tui.pipeline.batch import run_in_workers, shares, start_batch, unfinished_runs
    from lab_tui.pipeline.teacher import TeacherProfile, close_clients, load_profile, preload_litellm
    from lab_tui.store import rows as reads
    from lab_tui.store.db import open_db
    from lab_tui.store.queries import skill_name

    console = _console()
    db_path = resolve_db(args)
    overrides = dict(model=args.model, api_base=args.api_base, api_key_env=args.api_key_env)
    profile = load_profile(args.profile, **overrides)
    if args.resume:
        run_ids = unfinished_runs(db_path, args.resume)
        batch_id = args.resume
        if not any(overrides.values()) and args.profile == "default" and run_ids:
            profile = TeacherProfile(**reads.json_dict(reads.run_row(open_db(db_path), run_ids[0])["teacher"]))
        names = {run_id: reads.run_row(open_db(db_path), run_id)["skill_path"] for run_id in run_ids}
    else:
        if not skills:
            echo("lab-tui run: no skill to run (nothing changed against the base?)", err=True)
            return 2
        started = start_batch(db_path, skills, profile, _params(args))
        batch_id, run_ids = started.batch_id, list(started.runs)
        names = {run_id: str(path) for run_id, path in started.runs.items()}
    echo(f"batch: {batch_id}", flush=True)
    for run_id in run_ids:
        echo(f"run: {run_id} {names[run_id]}", flush=True)
    refused = {} if args.resume else started.refused
    for path, reason in refused.items():
        echo(f"lab-tui run: {path}: not started: {reason}", err=True)
    concurrency = args.concurrency or profile.max_concurrency
    workers = args.workers or os.cpu_count() or 1
    if len(shares(run_ids, concurrency, workers)) == 1:
        preload_litellm()  # the runs go on in this process
    cancel, latest, on_event = _follow()

    def table() -> Table:
        view = Table(box=None, pad_edge=False)
        for column in ("run", "skill", "requests", "pairs", "failed"):
            view.add_column(column, no_wrap=column != "skill", justify="left" if column in ("run", "skill") else "right")
        for run_id in run_ids:
            progress = latest.get(run_id)
            stages = progress.stages if progress else ()
            view.add_row(*(literal(str(cell)) for cell in (
                run_id, skill_name(names[run_id], None), progress.requests_done if progress else 0,
                stages[-1].kept or stages[-1].done if stages else 0, sum(stage.failed for stage in stages))))
        view.caption = f"{sum(p.requests_done for p in latest.values())} requests · {len(run_ids)} runs"
        return view

    class View:
        def __rich__(self):
            return table()

    try:
        with Live(View(), console=console, refresh_per_second=4, transient=not console.is_terminal):
            results = await run_in_workers(db_path, run_ids, profile, concurrency, workers, on_event=on_event,
                                           cancel=cancel)
    finally:
        await close_clients()
        _say_log_problem()
    console.print(table())
    failed = 0
    for run_id, outcome in results.items():
        status = outcome.status if not isinstance(outcome, BaseException) else f"failed: {outcome}"
        failed += status != "completed"
        console.print(literal(f"{run_id} {status}"))
    if cancel.is_set():
        echo(f"Interrupted. Resume with: lab-tui run --resume {batch_id}", err=True)
        return 130
    if failed or refused:
        echo(f"Not every skill completed. Resume with: lab-tui run --resume {batch_id}", err=True)
        return 1
    return 0


async def _run(args) -> int:
    from rich.live import Live

    from lab_tui.pipeline import launch
    from lab_tui.pipeline.engine import RunAborted, run_flow
    from lab_tui.pipeline.render import progress_view
    from lab_tui.pipeline.teacher import close_clients, load_profile, preload_litellm
    from lab_tui.store import rows as reads
    from lab_tui.store.db import open_db

    preload_litellm()  # while the skill, the flow and the database are read
    console = _console()
    db_path = resolve_db(args)
    overrides = dict(model=args.model, api_base=args.api_base, api_key_env=args.api_key_env)
    profile = None
    if args.resume is None or any(overrides.values()) or args.profile != "default":
        profile = load_profile(args.profile, **overrides)
    chosen: list[str] = []
    run_id = args.resume or launch.start(db_path, args.skill, profile, _params(args), on_flow_chosen=lambda flow, why:
                                         chosen.append(f"flow: {flow} ({why}; --flow chooses another)"))
    echo(f"run: {run_id}", flush=True)
    for line in chosen:
        echo(line, flush=True)

    cancel, latest, on_event = _follow()

    class View:
        def __rich__(self):
            return progress_view(latest.get(run_id), console.width)

    try:
        with Live(View(), console=console, refresh_per_second=4, transient=not console.is_terminal):
            result = await run_flow(db_path, run_id, on_event=on_event, cancel=cancel, profile=profile,
                                    concurrency=args.concurrency)
    except RunAborted as error:
        echo(f"lab-tui run: the run stopped: {error}\nResume with: lab-tui run --resume {run_id}", err=True)
        return 1
    except UserError:  # the run could not start here: cli.main says why
        raise
    except Exception as error:  # reported, and the run is marked failed by the engine
        echo(f"lab-tui run: the run could not complete: {type(error).__name__}: {error}", err=True)
        return 1
    finally:
        await close_clients()
        _say_log_problem()
    db = open_db(db_path)
    if reads.run_params(db, run_id).get("preview_seed") is not None:  # also when a preview run is resumed
        from lab_tui.pipeline.preview import run_tree

        console.print(run_tree(db, run_id))
    console.print(progress_view(latest.get(run_id), console.width))
    counts = reads.pair_outcomes(db, run_id)
    console.print(literal(
        f"status: {result.status} · pairs kept: {counts.get('kept', 0)} · with a response dropped by a "
        f"judge: {counts.get('filtered', 0)} · distinct {result.first_label}: {result.distinct_first} · "
        f"tokens: {sum(s.tokens_in for s in result.stages)} in / {sum(s.tokens_out for s in result.stages)} out"
        f" · wall time: {result.wall_s:.1f} s"))
    if result.failures:
        console.print("failed rows by reason:")
        for reason, count in sorted(result.failures.items(), key=lambda item: -item[1]):
            console.print(literal(f"  {count:>5}  {reason}"))
    if result.status == "cancelled":
        echo(f"Interrupted. Resume with: lab-tui run --resume {run_id}", err=True)
        return 130
    return 0
