"""Every intermediate output of a run as a tree: context, its questions, their judgements,
responses and outcomes, failures with their reason and raw answer.

Made for preview runs (one seed example, small counts) so a user can read what each prompt made
before paying for a full run. Model text is untrusted: shown literally, control characters gone.
"""

from __future__ import annotations

from collections import defaultdict

import sqlite_utils
from rich.text import Text
from rich.tree import Tree

from lab_tui.pipeline.flow import stored_flow
from lab_tui.safe_text import literal
from lab_tui.store import rows as reads
from lab_tui.store.rows import json_dict


def _label(row: dict, writes: dict[str, str]) -> Text:
    data = json_dict(row["data"])
    label = literal(f"{row['stage']} ", style="bold")
    label.append(f"[{row['status']}]", style={"failed": "red", "filtered": "yellow"}.get(row["status"], "green"))
    if row["score"] is not None:
        label.append(f" score {row['score']:g}")
    if row["reason"]:
        label.append(" · ")
        label.append_text(literal(row["reason"]))
    body = None
    if row["status"] == "failed":
        body = data.get("raw")
    elif row["explanation"]:
        body = row["explanation"]
    elif row["stage"] in writes:
        body = data.get(writes[row["stage"]])
    if body:
        label.append("\n")
        label.append_text(literal(body))
    return label


def run_tree(db: sqlite_utils.Database, run_id: str) -> Tree:
    """The run's rows, each under the row it came from, in the order they were made."""
    flow = stored_flow(json_dict(reads.run_row(db, run_id)["flow"]))
    writes = {b.name: b.writes for b in flow.blocks if b.writes}
    children: dict[str | None, list[dict]] = defaultdict(list)
    for row in reads.rows_of(db, run_id):
        children[row["parent_id"]].append(row)
    tree = Tree(literal(f"run {run_id}", style="bold"))

    def add(node: Tree, parent_id: str | None) -> None:
        for row in children.get(parent_id, ()):
            add(node.add(_label(row, writes)), row["id"])

    add(tree, None)
    return tree
