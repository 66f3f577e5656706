"""The SQLite store: runs, every teacher request, every row at every stage, pairs and verdicts."""

from lab_tui.store import db  # noqa: E402,F401  first: it imports sqlite_utils without pandas and numpy (see db.py)
