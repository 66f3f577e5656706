"""Runs the grounded flow with sdg_hub, the way its notebooks drive a flow; run by bench_sdg_hub.py
with the python of sdg_hub's own virtual environment (never imported by lab-tui or its tests).

Loads the flow YAML, points every LLM block at the teacher through a litellm model config
(`flow.set_model_config`), reads the seed rows from JSONL into a DataFrame and calls
`flow.generate(dataset, max_concurrency=N)`. Writes one JSON object to RESULT_JSON (sdg_hub logs
to the console): the pairs kept and when the generation started and ended (time.time()).

Usage: python sdg_hub_driver.py FLOW_YAML SEEDS_JSONL API_BASE CONCURRENCY RESULT_JSON
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd
from sdg_hub import Flow
from sdg_hub.core.blocks.base import BaseBlock
from sdg_hub.core.blocks.registry import BlockRegistry


@BlockRegistry.register("DropDuplicatesBlock", "filtering", "Drops rows whose input column repeats an earlier row's")
class DropDuplicatesBlock(BaseBlock):
    """InstructLab's drop_duplicates after a generation block: sdg_hub 0.9.4 has no such block."""

    block_type: str = "filtering"

    def generate(self, samples: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        return samples.drop_duplicates(subset=list(self.input_cols)).reset_index(drop=True)


def main() -> None:
    flow_yaml, seeds_jsonl, api_base, concurrency, result_json = sys.argv[1:6]
    flow = Flow.from_yaml(flow_yaml)
    flow.set_model_config(model="openai/teacher", api_base=api_base, api_key="no-key-needed")
    dataset = pd.read_json(seeds_jsonl, lines=True)
    started = time.time()
    result = flow.generate(dataset, max_concurrency=int(concurrency))
    ended = time.time()
    with open(result_json, "w", encoding="utf-8") as out:
        json.dump({"pairs_kept": len(result), "generate_started": started, "generate_ended": ended}, out)


if __name__ == "__main__":
    main()
