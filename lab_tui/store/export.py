"""Turn runs' pairs into the training file InstructLab reads, with its header and skills recipe.

The record formats are one table (`FORMATS`: name, record builder, whether a recipe goes beside
the file, help text) that `lab-tui export` takes its choices and help from:
- `messages` (for training): exactly the top-level keys `instructlab.sdg` writes into
  `skills_train_msgs_*.jsonl`: `id`, `messages` (system, user, assistant), `unmask` (false) and
  `metadata` as a JSON *string*. Its data mixing keeps only those four columns and asserts so, and
  Hugging Face `datasets` refuses files whose columns differ, so lab-tui's provenance (skill, run,
  seed, judges, review, edits) lives inside `metadata`.
- `lab`: everything lab-tui knows about a pair, with a top-level `filtered` (not for ilab's mixing).

The system prompt follows the student model as ilab picks it (`SYSTEM_PROMPTS`, by model family);
the choice, the runs and the sampling are written to a header file beside the export, and a recipe in
ilab's skills recipe format lets `ilab`'s own mixing take the file with the user's other data.
Nothing of the teacher profile but its model name is exported.
"""

from __future__ import annotations

import json
import random
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils
import yaml

from lab_tui import __version__
from lab_tui.config import write_atomic
from lab_tui.errors import UserError
from lab_tui.store import queries
from lab_tui.store.pairs import Pair

SYSTEM_PROMPTS = {
    "default": "I am an advanced AI language model designed to assist you with a wide range of tasks and provide "
               "helpful, clear, and accurate responses. My primary role is to serve as a chat assistant, engaging in "
               "natural, conversational dialogue, answering questions, generating ideas, and offering support across "
               "various topics.",
    "granite": "I am a Red Hat® Instruct Model, an AI language model developed by Red Hat and IBM Research based on "
               "the granite-3.0-8b-base model. My primary role is to serve as a chat assistant.",
    "granite-3.1": "I am a Red Hat® Instruct Model, an AI language model developed by Red Hat and IBM Research based "
                   "on the granite-3.1-8b-base model. My primary role is to serve as a chat assistant.",
    "llama": "I am, Red Hat® Instruct Model based on Granite 7B, an AI language model developed by Red Hat and IBM "
             "Research, based on the Granite-7b-base language model. My primary function is to be a chat assistant.",
}
"""ilab's system prompts by student model family (`SYSTEM_PROMPTS` and `DEFAULT_SYS_PROMPT` in its
`common.py`): `granite` is also instructlab-sdg's own default; any other family gets `default`."""
GRANITE_LONG_CONTEXT = 131072
"""A granite model whose config allows this many positions is granite-3.1 to ilab."""

EXPORT_STATUSES = ("accepted", "all", "rejected", "pending")
DEFAULT_STATUS = "accepted"
DEFAULT_SEED = 42
"""The seed ilab's mixing samples with (`random_state=42`)."""


@dataclass(frozen=True)
class SystemPrompt:
    choice: str
    """The family named or found (`default`, `granite`, ...), or `custom` for a text given as is."""
    text: str


def model_family(model_dir: Path) -> str:
    """A student model's family as ilab reads it from the model's `config.json` (ValueError if unreadable)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {model_dir / 'config.json'}: {error}") from None
    family = str(config.get("model_type") or "default") if isinstance(config, dict) else "default"
    if family == "granite" and (config.get("max_position_embeddings") or 0) >= GRANITE_LONG_CONTEXT:
        return "granite-3.1"
    return family


def system_prompt(choice: str) -> SystemPrompt:
    """A family name (`default`, `granite`, `granite-3.1`, `llama`), a student model's folder (its
    family picks the text, as `ilab data generate` does), or the text itself."""
    if choice in SYSTEM_PROMPTS:
        return SystemPrompt(choice, SYSTEM_PROMPTS[choice])
    try:
        is_model = (Path(choice) / "config.json").is_file()
    except (OSError, ValueError):
        is_model = False
    if is_model:
        family = model_family(Path(choice))
        family = family if family in SYSTEM_PROMPTS else "default"
        return SystemPrompt(family, SYSTEM_PROMPTS[family])
    if not choice.strip():
        raise ValueError("the system prompt is empty: name a family (default, granite, granite-3.1, llama), "
                         "a student model folder, or give the text")
    return SystemPrompt("custom", choice)


@dataclass(frozen=True)
class ExportedPair:
    """A pair with the run it came from (its skill, seed examples and teacher)."""

    pair: Pair
    run: dict

    @property
    def skill(self) -> str:
        """What `--max-per-skill` groups by: the skill file, or the run for a skill given without one."""
        return self.run.get("skill_path") or f"run {self.run['id']}"


def _messages(pair: Pair, prompt: SystemPrompt) -> list[dict]:
    """System, user and assistant turns, each with its keys in the order instructlab-sdg writes them."""
    return [
        {"content": prompt.text, "role": "system"},
        {"content": pair.user_turn, "role": "user"},
        {"content": pair.response, "role": "assistant"},
    ]


def _judges(pair: Pair) -> list[dict]:
    return [asdict(judge) for judge in pair.judges]


def _snapshot(run: dict) -> dict:
    try:
        value = json.loads(run.get("skill_snapshot") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def lab_record(item: ExportedPair, prompt: SystemPrompt) -> dict:
    """The `lab` record: all lab-tui knows about a pair."""
    pair = item.pair
    metadata = {
        "run_id": pair.run_id,
        "pair_id": pair.id,
        "seed_index": pair.seed_index,
        "teacher_model": queries.teacher_model(item.run["teacher"]),
        "context": pair.context,
        "question": pair.question,
        "score": pair.score,
        "judges": _judges(pair),
        "filtered": pair.filtered,
        "review_status": pair.status,
        "reviewer": pair.reviewer,
        "note": pair.note,
        "question_edited": pair.question_edited,
        "response_edited": pair.response_edited,
        "original_question": pair.original_question if pair.question_edited else None,
        "original_response": pair.original_response if pair.response_edited else None,
    }
    return {"id": pair.id, "messages": _messages(pair, prompt),
            "metadata": json.dumps(metadata, ensure_ascii=False), "filtered": pair.filtered}


def messages_record(item: ExportedPair, prompt: SystemPrompt) -> dict:
    """The `messages` record: InstructLab's four top-level keys, lab-tui's provenance in `metadata`.

    `metadata` starts with the fields ilab's own skills records carry (task_description, seed_*,
    leaf_node_type, context, question, response, score), then lab-tui's.
    """
    pair, run = item.pair, item.run
    snapshot = _snapshot(run)
    examples = snapshot.get("examples") or []
    index = pair.seed_index
    seed = examples[index] if isinstance(index, int) and 0 <= index < len(examples) else {}
    edits = {field: {"original": original, "edited": edited}
             for field, original, edited in (("question", pair.original_question, pair.edited_question),
                                             ("response", pair.original_response, pair.edited_response))
             if edited}
    metadata = {
        "task_description": snapshot.get("task_description"),
        "seed_context": seed.get("context"),
        "seed_question": seed.get("question"),
        "seed_response": seed.get("answer"),
        "leaf_node_type": "grounded_skill" if pair.context else "freeform_skill",
        "context": pair.context,
        "question": pair.question,
        "response": pair.response,
        "score": pair.score,
        "source": "lab-tui",
        "skill_path": run.get("skill_path"),
        "run_id": run["id"],
        "pair_id": pair.id,
        "seed_index": index,
        "teacher_model": queries.teacher_model(run.get("teacher")),
        "judges": _judges(pair),
        "filtered": pair.filtered,
        "review_status": pair.status,
        "reviewer": pair.reviewer,
        "note": pair.note,
        "edits": edits,
    }
    return {"id": pair.id, "messages": _messages(pair, prompt), "unmask": False,
            "metadata": json.dumps(metadata, ensure_ascii=False)}


@dataclass(frozen=True)
class ExportFormat:
    """A record format: adding one is a record builder and a line in `FORMATS`."""

    name: str
    record: Callable[[ExportedPair, SystemPrompt], dict]
    recipe: bool
    """Whether ilab's skills recipe is written beside the file (a training file ilab mixes)."""
    help: str
    aliases: tuple[str, ...] = ()


FORMATS = {format.name: format for format in (
    ExportFormat("messages", messages_record, recipe=True,
                 help="exactly the keys InstructLab's training file has (id, messages, unmask, metadata as a JSON "
                      "string), with a recipe beside it"),
    ExportFormat("lab", lab_record, recipe=False,
                 help="everything lab-tui knows about a pair, with a top-level filtered", aliases=("jsonl",)),
)}
DEFAULT_FORMAT = "messages"


def export_format(name: str) -> ExportFormat:
    """The format called `name` (or one of its aliases); ValueError for another name."""
    for format in FORMATS.values():
        if name == format.name or name in format.aliases:
            return format
    raise ValueError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}")


def format_names() -> list[str]:
    """Every name a format answers to, aliases after the names."""
    return [*FORMATS, *(alias for format in FORMATS.values() for alias in format.aliases)]


def formats_help() -> str:
    """One line on each format, its aliases named."""
    return "; ".join(f"{format.name}: {format.help}" + "".join(
        f" ({alias} is another name for {format.name})" for alias in format.aliases) for format in FORMATS.values())


def exported_pairs(db: sqlite_utils.Database, run_ids: str | Sequence[str], status: str = DEFAULT_STATUS,
                   include_filtered: bool = False) -> list[ExportedPair]:
    """Final pairs (outcome kept) of each run, in the order given, with the review `status` asked for.

    `status` "all" takes every review status; `include_filtered` also takes the pairs the pair
    judge dropped. Raises UnknownRunError for a run id not in the database (before reading any
    pair), and ValueError for an unknown status.
    """
    if status not in EXPORT_STATUSES:
        raise ValueError(f"unknown status {status!r}: choose one of {', '.join(EXPORT_STATUSES)}")
    run_ids = [run_ids] if isinstance(run_ids, str) else list(dict.fromkeys(run_ids))
    runs = [queries.get_run(db, run_id) for run_id in run_ids]
    outcome = queries.OUTCOMES if include_filtered else "kept"
    review_status = None if status == "all" else status
    return [ExportedPair(pair, run) for run in runs
            for pair in queries.pairs(db, run_id=run["id"], outcome=outcome, status=review_status)]


def sample_per_skill(items: list[ExportedPair], limit: int, seed: int = DEFAULT_SEED) -> list[ExportedPair]:
    """At most `limit` pairs of each skill, drawn without replacement, the same for the same seed.

    Each skill draws from its own generator seeded with (seed, skill), so adding a run of another
    skill never changes which pairs of this one are kept; the kept pairs keep their order.
    """
    by_skill: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_skill.setdefault(item.skill, []).append(index)
    kept: set[int] = set()
    for skill, indexes in by_skill.items():
        kept.update(indexes if len(indexes) <= limit else random.Random(f"{seed}:{skill}").sample(indexes, limit))
    return [item for index, item in enumerate(items) if index in kept]


def to_jsonl(records: Iterable[dict]) -> str:
    """One JSON object per line, text kept literal (UTF-8, JSON escapes only).

    U+2028/U+2029 are escaped too: they are legal inside JSON strings, but tools that split lines
    the Unicode way (Python's str.splitlines, JavaScript) would cut a record in two.
    """
    lines = []
    for item in records:
        line = json.dumps(item, ensure_ascii=False)
        lines.append(line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return "".join(line + "\n" for line in lines)


def header_path(path: Path) -> Path:
    return path.with_name(path.stem + ".header.json")


def recipe_path(path: Path) -> Path:
    return path.with_name(path.stem + ".recipe.yaml")


def written_paths(path: Path, format: str) -> list[Path]:
    """The files an export to `path` writes: the records, the header, and the recipe if the format has one."""
    return [path, header_path(path)] + ([recipe_path(path)] if export_format(format).recipe else [])


class ExportTargetError(UserError):
    """An export's file cannot be written where asked; nothing was read or written."""

    title = "Not exported"
    """What the app shows above the message."""


_NOT_A_FILE = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"))


def check_targets(path: Path, format: str) -> None:
    """Refuse (ExportTargetError) a folder that does not exist and any file of the export that exists
    but is not a regular file (through symlinks): a named pipe would hang the write until something
    reads it, and a device would be replaced by a regular file."""
    if not path.parent.is_dir():
        raise ExportTargetError(f"cannot write {path}: the folder {path.parent} does not exist")
    for target in written_paths(path, format):
        try:
            mode = target.stat().st_mode
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ExportTargetError(f"cannot write {target}: {error.strerror}") from None
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _NOT_A_FILE if test(mode)), "not a regular file")
            beside = "" if target == path else f" (written beside {path.name})"
            raise ExportTargetError(f"cannot write {target}{beside}: it is {kind}; give the path of a regular file "
                                    "(or - for standard output)")


def recipe_text(data_file: str, prompt: SystemPrompt) -> str:
    """A skills recipe as ilab's `Recipe.save_recipe` writes it: the file taken whole (sampling done)."""
    return yaml.safe_dump({"datasets": [{"path": data_file, "sampling_size": 1.0}],
                           "metadata": {"sys_prompt": prompt.text}}, sort_keys=False, allow_unicode=True)


@dataclass
class Export:
    """One export: its records and what the header file says about them."""

    records: list[dict]
    header: dict


def build_export(db: sqlite_utils.Database, run_ids: Sequence[str], *, format: str = DEFAULT_FORMAT,
                 status: str = DEFAULT_STATUS, include_filtered: bool = False, prompt: SystemPrompt | None = None,
                 max_per_skill: int | None = None, seed: int = DEFAULT_SEED) -> Export:
    """The records of the runs' pairs in `format`, sampled per skill when `max_per_skill` is given."""
    chosen = export_format(format)
    prompt = prompt or system_prompt("default")
    items = exported_pairs(db, run_ids, status, include_filtered)
    available: dict[str, int] = {}
    for item in items:
        available[item.skill] = available.get(item.skill, 0) + 1
    if max_per_skill is not None:
        items = sample_per_skill(items, max_per_skill, seed)
    exported: dict[str, int] = dict.fromkeys(available, 0)
    for item in items:
        exported[item.skill] += 1
    records = [chosen.record(item, prompt) for item in items]
    header = {
        "lab_tui": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "format": chosen.name,
        "records": len(records),
        "system_prompt": {"choice": prompt.choice, "text": prompt.text},
        "runs": list(dict.fromkeys(run_ids)),
        "status": status,
        "include_filtered": include_filtered,
        "max_per_skill": max_per_skill,
        "seed": seed if max_per_skill is not None else None,
        "skills": [{"skill": skill, "pairs": available[skill], "exported": exported[skill]} for skill in available],
    }
    return Export(records, header)


def write_export(path: Path, export: Export) -> list[Path]:
    """Write the records, then the header beside them (and, for a format with one, the recipe), each
    atomically; the files written, in that order."""
    written = written_paths(path, export.header["format"])
    header = dict(export.header, file=path.name)
    write_atomic(path, to_jsonl(export.records))
    write_atomic(written[1], json.dumps(header, ensure_ascii=False, indent=2) + "\n")
    if len(written) > 2:
        write_atomic(written[2], recipe_text(path.name, SystemPrompt(**export.header["system_prompt"])))
    return written


def export_to_file(db: sqlite_utils.Database, run_ids: Sequence[str], path: Path, **options) -> tuple[Export, list[Path]]:
    """Build the runs' export (`build_export`'s `options`: format, status, include_filtered, prompt,
    max_per_skill, seed) and write it to `path` with its header (and recipe): what `lab-tui export
    -o FILE` and the Review pane's export both do. Raises ExportTargetError before reading the
    database when the files cannot be written there, UnknownRunError for a run not in it, and
    OSError when a write fails (any file already there is left whole)."""
    check_targets(path, options.get("format", DEFAULT_FORMAT))
    export = build_export(db, run_ids, **options)
    return export, write_export(path, export)

