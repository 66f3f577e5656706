"""What a terminal shows of a run: its progress (the CLI's live view and summary, the Run pane) and
its validation report (`lab-tui report`), drawn from plain data (`RunProgress`, the report's JSON).

Every name and label in them comes from a flow file, every reason from a teacher: outside text.
Each table cell and each line goes through `safe_text.literal`, so `[bold]` stays `[bold]`, a
`[link=...]` is never a link and an escape sequence never reaches the terminal.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from lab_tui.pipeline.events import EndpointProgress, RunProgress
from lab_tui.safe_text import literal, one_line

BAR_WIDTH = 10
COUNT_WIDTH = 5
BARS_FIXED_WIDTH = 52
"""What a line of the view with bars takes besides the stage name (bar, six counts, padding)."""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _cells(*values: object) -> list[Text]:
    """Table cells as literal text, whatever they hold."""
    return [value if isinstance(value, (Text, ProgressBar)) else literal(str(value)) for value in values]


def progress_view(progress: RunProgress | None, width: int = 80, *, bars: bool = False,
                  empty: str = "starting…") -> RenderableType:
    """A run's progress: a line per stage (queued, in flight, done, kept, filtered, failed; a bar
    with `bars`, else each stage's tokens), the totals under it (`empty` while there are none),
    and for a teacher with several endpoints a line each (with `bars`, where rows are few: one
    compact line; else a table with each one's whole address and answers). The CLI's live view and
    summary and the Run pane all draw this."""
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False, expand=False)
    table.add_column("stage", no_wrap=True, overflow="ellipsis", min_width=None if bars else 12,
                     max_width=max(12, width - BARS_FIXED_WIDTH) if bars else None)
    if bars:
        table.add_column("", width=BAR_WIDTH, no_wrap=True)
    counts = ("queue", "fly", "done", "kept", "filt", "fail") + (() if bars else ("tok in", "tok out"))
    for name in counts:
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name),
                         width=COUNT_WIDTH if bars else None)
    table.caption_justify = "left"
    if progress is None:
        table.caption = empty
        return table
    for stage in progress.stages:
        figures = [stage.queued, stage.in_flight, stage.done, stage.kept, stage.filtered, stage.failed]
        if bars:
            total = stage.done + stage.queued + stage.in_flight
            table.add_row(*_cells(stage.stage, ProgressBar(total=max(total, 1), completed=stage.done if total else 0,
                                                           width=BAR_WIDTH), *figures))
        else:
            table.add_row(*_cells(stage.stage, *figures, stage.tokens_in, stage.tokens_out))
    tokens_in = sum(stage.tokens_in for stage in progress.stages)
    tokens_out = sum(stage.tokens_out for stage in progress.stages)
    latency = f"{progress.mean_latency_s:.2f}s" if progress.mean_latency_s is not None else "–"
    table.caption = (f"{progress.requests_done} req · {progress.requests_per_s:.1f}/s · tokens {tokens_in}/{tokens_out}"
                     f" · {duration(progress.elapsed_s)} · ETA {duration(progress.eta_s)} · latency {latency}")
    if len(progress.endpoints) < 2:
        return table
    if bars:
        return Group(table, *(endpoint_line(endpoint, width) for endpoint in progress.endpoints))
    return Group(table, endpoint_table(progress.endpoints))


def endpoint_table(endpoints: tuple[EndpointProgress, ...]) -> Table:
    """Each endpoint on a line: answers a second, latency, in flight, answered, errors, and whether
    litellm's Router is resting it."""
    table = Table(box=None, pad_edge=False, expand=False)
    table.add_column("endpoint", no_wrap=True, min_width=28)
    for column in ("req/s", "latency", "flight", "answered", "errors", "state"):
        table.add_column(column, justify="right", no_wrap=True)
    for endpoint in endpoints:
        latency = f"{endpoint.mean_latency_s:.2f} s" if endpoint.mean_latency_s is not None else "–"
        table.add_row(*_cells(endpoint.api_base, f"{endpoint.requests_per_s:.1f}", latency, endpoint.in_flight,
                              endpoint.answered, endpoint.errors, "cooling" if endpoint.cooling else "ok"))
    return table


def endpoint_line(endpoint: EndpointProgress, width: int) -> Text:
    """One endpoint of a profile with several, on one line: answers a second, latency, in flight,
    errors, and "cooling" while litellm's Router rests it."""
    where = endpoint.api_base.removeprefix("http://").removeprefix("https://").removesuffix("/v1")
    latency = f"{endpoint.mean_latency_s:.2f}s" if endpoint.mean_latency_s is not None else "–"
    figures = f"{endpoint.requests_per_s:5.1f}/s {latency:>6} fly {endpoint.in_flight:>3} err {endpoint.errors:>3} "
    name_width = max(10, width - len(figures) - 12)
    return Text.assemble(one_line(where, name_width).ljust(name_width), " ", figures,
                         ("cooling", "bold") if endpoint.cooling else ("ok", "dim"))


def _table(title: str, *columns: str, text: tuple[str, ...] = ()) -> Table:
    """A borderless table; columns named in `text` are left-aligned, the counts right-aligned."""
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, show_edge=False)
    for index, column in enumerate(columns):
        table.add_column(
            column, justify="left" if index == 0 or column in text else "right", overflow="fold", no_wrap=index == 0
        )
    return table


def _optional(value) -> str:
    return "–" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def render_report(report: dict) -> Group:
    """The report for a terminal: warnings first, then the tables behind them."""
    run = report["run"]
    parts: list = [
        Text.assemble(
            ("Run ", "bold"),
            literal(f"{run['id']} · {run['status']} · skill {run['skill']} · model {run['model'] or '?'} · flow "
                    f"{report.get('flow', 'grounded_skills')} · {report['pairs']['kept']} pairs kept, "
                    f"{report['pairs']['filtered']} with a response dropped by a judge"),
        )
    ]
    if report["warnings"]:
        parts.append(Text("\nWarnings", style="bold yellow"))
        parts.extend(Text.assemble(("! ", "yellow"), literal(warning)) for warning in report["warnings"])
    else:
        parts.append(Text("\nNo warnings: the outputs look like what the seeds asked for.", style="green"))

    stages = _table("\nRows per stage", "stage", "in", "out", "filtered", "failed", "why rows left", text=("why rows left",))
    for stage in report["stages"]:
        why = "; ".join(f"{item['reason']} ×{item['count']}" for item in stage["reasons"])
        stages.add_row(*_cells(stage["stage"], _optional(stage["in"]), stage["out"], stage["filtered"], stage["failed"],
                               why))
    parts.append(stages)
    left = report["left"]
    parsed = ", ".join(f"{reason} {count}" for reason, count in left["failed to parse"].items()) or "0"
    dropped = [f"{why} {count}" for why, count in left.items() if why not in ("failed to parse", "teacher error")]
    parts.append(Text.assemble(("Rows left: ", "bold"), literal(" · ".join(dropped + [f"failed to parse: {parsed}"]) +
                                                                f" · teacher error {left['teacher error']}")))

    scores = _table("\nJudges' scores", "judge", "distribution", text=("distribution",))
    for judge, score in report["scores"].items():
        shown = ", ".join(f"{label}: {count}" for label, count in score["distribution"].items()) or "none yet"
        if score["no score"]:
            shown += f", no score: {score['no score']}"
        scores.add_row(*_cells(judge, shown))
    parts.append(scores)

    parts.extend(_agreement(report.get("agreement") or []))
    parts.extend(_ontask(report.get("ontask")))

    dups = _table(
        "\nNear-duplicates", "what", "items", "near-dups", "share", "copy a seed", "for example", text=("for example",)
    )
    for what, dup in report["near_duplicates"].items():
        example = " ≈ ".join(dup["examples"][0]) if dup["examples"] else ""
        dups.add_row(*_cells(what, dup["count"] if dup["of"] == dup["count"] else f"{dup['count']} of {dup['of']}",
                             dup["near_duplicates"], f"{dup['share']:.0%}", dup["copies_of_seeds"], example))
    parts.append(dups)

    lengths = _table("\nLengths in words", "what", "seeds' median", "median", "much shorter", "much longer")
    for what, length in report["lengths"].items():
        lengths.add_row(*_cells(what, _optional(length["seed_median_words"]), _optional(length["median_words"]),
                                length["much_shorter"], length["much_longer"]))
    parts.append(lengths)

    formats = _table("\nFormats", "what", "in seeds", "in outputs", "format", text=("format",))
    for what, items in report["formats"].items():
        for item in items:
            formats.add_row(*_cells(what, f"{item['seeds']}/{item['seed_count']}",
                                    f"{item['outputs']}/{item['output_count']}", item["format"]))
    if formats.row_count:
        parts.append(formats)
    return Group(*parts)


def _agreement(agreements: list[dict]) -> list:
    """Each judge against reviewers' verdicts: its table of kept/dropped x accepted/rejected, what is
    wrong with it and what to try."""
    if not agreements:
        return []
    table = _table("\nJudges against reviewers", "judge", "verdicts", "kept", "rejected of kept",
                   "dropped accepted", "AUC", "reads", text=("reads",))
    notes = []
    for item in agreements:
        current = item.get("current")
        if not item["enough"]:
            reads = f"figures from {item['min_verdicts']} scored verdicts"
        elif item["discriminates"] is None:
            reads = "too few accepted or rejected to compare"
        else:
            reads = "agrees with reviewers" if item["discriminates"] else "does not tell good from bad"
        table.add_row(*_cells(item["label"] or item["judge"], item["verdicts"],
                              current["kept"] if current else "–",
                              f"{current['kept_rejected']} ({current['kept_rejected_share']:.0%})"
                              if current and current["kept"] else "–",
                              current["dropped_accepted"] if current else "–",
                              "–" if item["auc"] is None else f"{item['auc']:.2f}", reads))
        for sentence in (*item["problems"], *item["advice"]):
            notes.append(Text.assemble(("! ", "yellow"), literal(f"{item['label'] or item['judge']}: {sentence}")))
    return [table, *notes]


def _ontask(ontask: dict | None) -> list:
    """How close the generated texts are to the seeds: per block, for the pairs, and the furthest pairs."""
    if not ontask or not (ontask["blocks"] or ontask["pairs"]["count"]):
        return []
    threshold = f"{ontask['threshold']:g}"
    table = _table("\nOn-task score (1: as close to the seeds as they are to one another)", "what", "items", "mean",
                   f"below {threshold}", "per tenth", text=("per tenth",))
    for what, figures in [*ontask["blocks"].items(), ("pairs (least on-task text)", ontask["pairs"])]:
        if figures["count"]:
            table.add_row(*_cells(what, figures["count"], f"{figures['mean']:.2f}", figures["below"],
                                  " ".join(f"{tenth}:{count}" for tenth, count in figures["distribution"].items())))
    parts: list = [table]
    if ontask["furthest"]:
        parts.append(Text("\nFurthest from the seeds", style="bold"))
        parts.extend(literal(f"{item['ontask']:.2f} {item['field']} ({item['outcome']}, {item['status']}): "
                             f"{item['text']}") for item in ontask["furthest"])
    return parts
