"""The Textual app: a thin layer over the core (seeds, pipeline, store)."""
