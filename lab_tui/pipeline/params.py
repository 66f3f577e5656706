"""A run's parameters, as stored with it: the one reading of them for starting, resuming and reporting.

Counts are a mapping keyed by the flow's `count_param`s (`{"contexts": 10, "questions": 3}` for the
grounded flow, `{"texts": 5}` for a custom flow that names its count so), never fields of their
own: a new count is a line in a flow file. Runs stored before that kept each count as a key of its
own (`"contexts": 2`); `RunParams.stored` reads those too, so old runs report, resume and export.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from lab_tui.pipeline.flow import Flow, load_flow, stored_flow

REQUEST_IDS = 2
"""How a new run's request ids are made: 2, per asking row (see `Engine.request_id`); runs stored
before that used 1, by prompt alone, and keep it so their resume finds their stored answers."""


@dataclass
class RunParams:
    flow: str | None = None
    """A bundled flow's name or a flow folder; None: chosen from the skill as `ilab data generate` does."""
    counts: dict[str, int] = field(default_factory=dict)
    """By the flow's count_params; a started run stores every count its flow has, defaults included."""
    concurrency: int | None = None
    """Requests in flight at most; None: the teacher profile's (a fleet's: its endpoints' sum)."""
    preview_seed: int | None = None
    """Preview: run on this one seed example with small counts."""
    overrides: dict = field(default_factory=dict)
    """Flow settings for this run only, as {"BLOCK.KEY": value}: temperature, max_tokens, threshold, count."""
    teachers: dict = field(default_factory=dict)
    """Profiles (names only, no secrets) of blocks that use their own teacher, by profile name."""
    request_ids: int = REQUEST_IDS

    @classmethod
    def stored(cls, values: dict) -> "RunParams":
        """The parameters a run stored, also as runs stored them before counts were a mapping (then
        every whole-number value of a key that is not a parameter was a count)."""
        names = {f.name for f in fields(cls)}
        counts = {key: value for key, value in values.items()
                  if key not in names and type(value) is int}
        counts.update(values.get("counts") or {})
        return cls(**{**{k: v for k, v in values.items() if k in names}, "counts": counts,
                      "request_ids": values.get("request_ids", 1)})

    def load_flow(self, profiles: set[str] | None = None) -> Flow:
        """This run's flow read from its folder (at start), with the counts, settings and preview applied."""
        return load_flow(self.flow, counts=self.counts, settings=self.overrides, preview=self.preview_seed is not None,
                         profiles=profiles)

    def stored_flow(self, stored: dict) -> Flow:
        """The flow a run stored, with the counts, settings and preview it ran with."""
        return stored_flow(stored, counts=self.counts, settings=self.overrides, preview=self.preview_seed is not None)
