"""Teacher checks (`lab-tui teacher check`): when a model at an address answered and how fast.

The estimate of a run's time (`pipeline.estimate`) reads the newest answered check's latency when no
past run has measured the teacher; a check that failed is kept with its error, so the history says
when a teacher was down.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlite_utils


def record_teacher_check(db: sqlite_utils.Database, *, model: str, api_base: str | None, latency_s: float | None,
                         error: str | None) -> None:
    """One check: its latency when the teacher answered, else why it did not (never a key: the
    message is the client's, already redacted)."""
    with db.conn:
        db["teacher_checks"].insert({"checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                     "model": model, "api_base": api_base, "latency_s": latency_s, "error": error})


def latest_latency(db: sqlite_utils.Database, model: str, api_base: str | None) -> tuple[float, str] | None:
    """(latency in seconds, when) of the newest check this model at this address answered, or None."""
    row = db.execute(
        "SELECT latency_s, checked_at FROM teacher_checks WHERE model = ? AND api_base IS ? AND latency_s IS NOT NULL "
        "ORDER BY id DESC LIMIT 1", [model, api_base]).fetchone()
    return (row[0], row[1]) if row else None
