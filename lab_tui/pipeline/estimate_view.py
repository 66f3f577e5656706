"""An `Estimate` drawn: a line per block that asks the teacher, the totals, and where each figure
comes from. `lab-tui run --estimate` prints it; the Run pane shows it before f5."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab_tui.pipeline.estimate import Estimate
from lab_tui.safe_text import literal


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def money(usd: float | None) -> str:
    return "no price known" if usd is None else f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"


def estimate_lines(estimate: Estimate) -> list[str]:
    """The totals in words, one fact a line (what the pane shows when rows are few)."""
    counts = ", ".join(f"{name} {value}" for name, value in estimate.counts.items())
    time = (f"~{duration(estimate.seconds)} at {estimate.concurrency} in flight ({estimate.latency_from})"
            if estimate.seconds is not None else
            f"time unknown: no measured latency (run `lab-tui teacher check`) · {estimate.concurrency} in flight")
    return [f"{estimate.requests} requests · {estimate.tokens_in:,} tokens in, {estimate.tokens_out:,} out · "
            f"{money(estimate.cost_usd)}",
            time,
            f"{estimate.flow} on {estimate.seeds} seed examples ({counts}) · yields: {estimate.yields_from}"]


def estimate_view(estimate: Estimate) -> RenderableType:
    """A table of the blocks that ask (requests, tokens in and out, latency), then `estimate_lines`."""
    table = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    for column in ("block", "requests", "tokens in", "tokens out", "latency"):
        table.add_column(column, justify="left" if column == "block" else "right", no_wrap=True,
                         overflow="ellipsis")
    for block in estimate.blocks:
        table.add_row(literal(block.label), str(block.requests), f"{block.tokens_in:,}" + ("" if block.measured else "*"),
                      f"{block.tokens_out:,}" + ("" if block.measured else "*"),
                      "–" if block.latency_s is None else f"{block.latency_s:.2f} s")
    lines = [literal(line) for line in estimate_lines(estimate)]
    if not all(block.measured for block in estimate.blocks):
        lines.append(Text("* from the prompts and the seed examples (4 characters a token): no past request measured it",
                          style="dim"))
    return Group(Text.assemble(("Estimate for ", "bold"), literal(estimate.model)), table, *lines)



def estimate_compact(estimate: Estimate) -> RenderableType:
    """The estimate in a few lines, for a pane with little room: requests per block on one line."""
    per_block = ", ".join(f"{block.label} {block.requests}" for block in estimate.blocks)
    return Group(Text.assemble(("Estimate ", "bold"), ("requests per block: ", "dim"), literal(per_block)),
                 *(literal(line) for line in estimate_lines(estimate)))
