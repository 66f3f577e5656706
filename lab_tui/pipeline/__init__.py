"""Runs any flow (a folder of YAML, `flow`): its blocks of registered kinds (`blocks`), the run's
parameters (`params`), starting a run (`launch`), the async engine (`engine`, `batch`), the
teacher client (`teacher`), and what a run shows (`events`, `progress`, `report`, `render`, `preview`)."""
