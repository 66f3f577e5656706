"""The SQLite store: runs, every teacher request, every row at every stage, pairs and verdicts."""
