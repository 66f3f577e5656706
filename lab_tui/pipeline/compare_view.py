"""A `Comparison` drawn as tables, run A's column beside run B's with the change: what `lab-tui
compare` prints and the Run pane's compare dialog shows. Every name in it is literal text."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab_tui.pipeline.compare import Comparison
from lab_tui.safe_text import literal


def _table(first: str) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    table.add_column(first, no_wrap=True, overflow="ellipsis", max_width=28)
    for name in ("A", "B", "change"):
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _title(text: str) -> Text:
    return Text(text, style="bold")


def _change(a: float | None, b: float | None, digits: int = 0) -> str:
    if a is None or b is None:
        return ""
    delta = b - a
    return f"{delta:+.{digits}f}" if delta else "="


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def compare_view(comparison: Comparison) -> RenderableType:
    a, b = comparison.a, comparison.b
    head = [Text.assemble((f"{mark}  ", "bold"), literal(f"{side.id} · {side.skill} · {side.flow} · {side.status}"))
            for mark, side in (("A", a), ("B", b))]
    pairs = _table("pairs")
    for what in ("made", "kept", "accepted", "rejected"):
        count_a, count_b = getattr(a, f"pairs_{what}" if what in ("made", "kept") else what), \
            getattr(b, f"pairs_{what}" if what in ("made", "kept") else what)
        pairs.add_row(what, str(count_a), str(count_b), _change(count_a, count_b))
    stages = _table("stage")
    for line in comparison.stages:
        cells = [f"{s['done']}/{s['kept']}/{s['failed']}" if s else "–" for s in (line.a, line.b)]
        stages.add_row(literal(line.stage), *cells, _change(line.a and line.a["done"], line.b and line.b["done"]))
    seeds = _table("seed example")
    for line in comparison.seeds:
        cells = [f"{y.kept}/{y.accepted}/{y.rejected}" if y else "–" for y in (line.a, line.b)]
        seeds.add_row(str(line.seed_index + 1), *cells, _change(line.a and line.a.kept, line.b and line.b.kept))
    scores = _table("score")
    for line in comparison.scores:
        scores.add_row(literal(line.what), *(f"{_number(mean, 2)} ({count})" for mean, count in
                                             ((line.a_mean, line.a_count), (line.b_mean, line.b_count))),
                       _change(line.a_mean, line.b_mean, 2))
    parts: list[RenderableType] = [
        *head, Text(), pairs, Text(), _title("Rows per stage (done / kept by a filter / failed)"), stages, Text(),
        _title("Per seed example (pairs kept by the judges / accepted / rejected)"), seeds, Text(),
        _title("Mean scores (pairs scored)"), scores, Text()]
    if comparison.reasons:
        parts.append(_title("Reject reasons"))
        reasons = _table("reason")
        for line in comparison.reasons:
            reasons.add_row(literal(line.reason), str(line.a), str(line.b), _change(line.a, line.b))
        parts.append(reasons)
    else:
        parts.append(Text("No pair of either run was rejected with a reason.", style="dim"))
    return Group(*parts)
