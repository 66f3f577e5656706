"""What a run will cost before it starts: requests per block, tokens, time and money.

The same flow and counts `launch.start` would use, walked block by block with each kind's own
`expect` (requests it sends, rows it passes on). What past runs measured comes first: the share of
rows each filter kept and the requests' mean tokens and latency, from this skill's runs of the
flow, else any skill's; without them filters are taken to keep every row (so the figures are an
upper bound), tokens come from the prompts filled with the seed examples (4 characters a token) and
the latency from the newest `teacher check` of the model. Money only where litellm's local price
table knows the model (`cost_per_token`, no network); a local server's model has no price.
Nothing is stored: an estimate never creates a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from lab_tui.pipeline.blocks import SEED_FIELDS, Block
from lab_tui.pipeline.flow import Flow
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import TeacherProfile
from lab_tui.seeds.model import SeedExample, Skill
from lab_tui.seeds.quality import CHARS_PER_TOKEN
from lab_tui.store.checks import latest_latency
from lab_tui.store.queries import StageHistory, stage_history

JUDGE_ANSWER_CHARS = 400
"""A judge's answer (a short explanation and its score) when no past run measured one."""


@dataclass(frozen=True)
class BlockEstimate:
    name: str
    label: str
    requests: int
    tokens_in: int
    tokens_out: int
    measured: bool
    """Its tokens are past requests' means (else worked out from the prompt and the seed examples)."""
    latency_s: float | None


@dataclass(frozen=True)
class Estimate:
    flow: str
    model: str
    seeds: int
    counts: dict[str, int]
    blocks: tuple[BlockEstimate, ...]
    concurrency: int
    yields_from: str
    """Where the filters' keep rates come from, in words."""
    latency_from: str
    """Where the latency comes from, in words ("" when nothing measured the teacher)."""
    seconds: float | None
    cost_usd: float | None

    @property
    def requests(self) -> int:
        return sum(block.requests for block in self.blocks)

    @property
    def tokens_in(self) -> int:
        return sum(block.tokens_in for block in self.blocks)

    @property
    def tokens_out(self) -> int:
        return sum(block.tokens_out for block in self.blocks)


def estimate_run(db: sqlite_utils.Database | None, skill: Skill, profile: TeacherProfile,
                 params: RunParams) -> Estimate:
    """The estimate of running `skill` with this teacher and these parameters (`db` None: no history);
    a count the flow does not have is refused as `launch.start` refuses it (`FlowError`)."""
    from lab_tui.pipeline.blocks import FlowError
    from lab_tui.pipeline.flow import default_flow_for
    from lab_tui.pipeline.teacher import profile_names

    params = RunParams(flow=params.flow or default_flow_for(skill.examples), counts=dict(params.counts),
                       concurrency=params.concurrency, preview_seed=params.preview_seed,
                       overrides=dict(params.overrides))
    flow = params.load_flow(profiles=profile_names())
    unknown = sorted(set(params.counts) - set(flow.counts()))
    if unknown:
        raise FlowError(f"the {flow.name} flow has no {', '.join(unknown)} count "
                        f"(its counts: {', '.join(flow.counts()) or 'none'})")
    examples = skill.examples if params.preview_seed is None else skill.examples[params.preview_seed:params.preview_seed + 1]
    history, yields_from = _history(db, flow, skill, profile.model)
    check = latest_latency(db, profile.model, profile.api_base) if db is not None else None
    blocks, rows = [], float(len(examples))
    for block in flow.blocks:
        past = history.get(block.name)
        stage = {"done": past.done, "kept": past.kept, "filtered": past.filtered, "failed": past.failed} if past \
            else {"done": 0, "kept": 0, "filtered": 0, "failed": 0}
        asked, passed = block.expect(rows, stage)
        requests = round(asked)
        if block.asks and requests:
            measured = past is not None and past.answered > 0
            each_in, each_out = (past.tokens_in or 0, past.tokens_out or 0) if measured else \
                _prompt_tokens(block, flow, skill.task_description, examples)
            blocks.append(BlockEstimate(block.name, block.label or block.name, requests, round(requests * each_in),
                                        round(requests * each_out), measured,
                                        past.latency_s if measured else (check[0] if check else None)))
        rows = passed
    concurrency = params.concurrency or profile.max_concurrency
    latency_from = ("past requests of this flow" if any(b.measured and b.latency_s for b in blocks)
                    else f"teacher check of {check[1]}" if check else "")
    return Estimate(flow.name, profile.model, len(examples), flow.counts(), tuple(blocks), concurrency, yields_from,
                    latency_from, _seconds(blocks, concurrency), _cost(profile.model, blocks))


def _history(db, flow: Flow, skill: Skill, model: str) -> tuple[dict[str, StageHistory], str]:
    """Past runs' figures per stage: this skill's runs of the flow, else any skill's, else none."""
    if db is None:
        return {}, "no past runs: filters taken to keep every row (an upper bound)"
    if skill.path is not None:
        mine = stage_history(db, flow.name, str(skill.path), model)
        if mine:
            return mine, "this skill's past runs of the flow"
    others = stage_history(db, flow.name, None, model)
    if others:
        return others, f"past runs of {flow.name}"
    return {}, "no past runs: filters taken to keep every row (an upper bound)"


def _prompt_tokens(block: Block, flow: Flow, task: str, examples: list[SeedExample]) -> tuple[float, float]:
    """(tokens in, tokens out) of one request of this block, from its prompt filled with the seed
    examples (a generated field stands in as the seed field its block imitates)."""
    imitated = {other.writes: SEED_FIELDS.get(other.imitates or "") for other in flow.blocks if other.writes}
    total_in = total_out = 0.0
    for example in examples:
        values = {}
        for variable in block.prompt.variables:
            field = SEED_FIELDS.get(variable) or imitated.get(variable)
            values[variable] = (getattr(example, field, None) or "") if field else \
                task if variable in SEED_FIELDS else ""  # the one seed variable of the skill, not an example
        total_in += sum(len(message["content"]) for message in block.prompt.render(values))
        own = SEED_FIELDS.get(block.imitates or "")
        answer = len(getattr(example, own, None) or "") if own else JUDGE_ANSWER_CHARS
        total_out += answer * (block.count if getattr(block, "list", False) else 1)
    return total_in / len(examples) / CHARS_PER_TOKEN, total_out / len(examples) / CHARS_PER_TOKEN


def _seconds(blocks: list[BlockEstimate], concurrency: int) -> float | None:
    """Requests spread over the requests in flight, but never less than one chain's blocks in a row."""
    if not blocks or any(block.latency_s is None for block in blocks):
        return None
    spread = sum(block.requests * block.latency_s for block in blocks) / max(1, concurrency)
    return max(spread, sum(block.latency_s for block in blocks))


def _cost(model: str, blocks: list[BlockEstimate]) -> float | None:
    """US dollars at litellm's bundled price for the model, or None when it has none."""
    from lab_tui.pipeline.teacher.litellm_setup import list_price

    price = list_price(model)
    if price is None:
        return None
    return sum(b.tokens_in for b in blocks) * price[0] + sum(b.tokens_out for b in blocks) * price[1]
