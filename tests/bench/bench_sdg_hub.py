"""Benchmark: lab-tui against sdg_hub 0.9.4 on the grounded-skills flow, block for block.

Both tools run the same flow (sdg_hub's YAML in tests/bench/sdg_hub_grounded/, with prompt files
made from lab-tui's own prompts/grounded_skills/ at run time) on the same skill and counts,
against one test teacher in its own process (0.5 s ± 50 % latency; tests/bench/counting_teacher.py)
at the same concurrency, each as a whole process started from a shell-like command. The teacher
counts what arrives: the script fails unless both tools sent exactly the same requests (same body
digests, so the same prompts and parameters). For each tool it prints: wall time from the
command's start, the start-up before its first request reached the teacher, the time inside the
run (wall minus start-up) and to the last answer, CPU seconds (user+sys of the process and its
children), requests and pairs kept; and the ideal for the work (requests x latency / concurrency).

sdg_hub lives in its own virtual environment, created and installed from PyPI by this script on
first use and kept in tests/bench/.venvs/ (gitignored). It pins litellm < 1.85, so the two tools
do not run the same litellm: the versions are printed. sdg_hub runs with its defaults (its litellm
asks the network for a price map once at import; lab-tui reads litellm's local copy).

Usage: .venv/bin/python tests/bench/bench_sdg_hub.py [--contexts 13] [--questions 3] [--rounds 1]
       [--concurrency 32] [--latency 0.5] [--jitter 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from lab_tui.pipeline.flow import load_flow  # noqa: E402
from lab_tui.seeds import load_skill  # noqa: E402
from harness import BENCH, REPO, SKILL, Teacher, lab_tui_run, load, measured, warm  # noqa: E402

SDG_HUB = "sdg-hub==0.9.4"
VENV = BENCH / ".venvs" / "sdg_hub-0.9.4"
SDG_FLOW = BENCH / "sdg_hub_grounded" / "flow.yaml"


def venv_python() -> Path:
    """sdg_hub's own interpreter, its virtual environment made and installed on first use."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; print(m.version('sdg-hub'))"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True).stdout.strip() == SDG_HUB.split("==")[1]:
        return python
    print(f"installing {SDG_HUB} into {VENV} (once; a minute or two)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", SDG_HUB], check=True)
    return python


def sdg_hub_flow(folder: Path, lab_flow) -> Path:
    """The sdg_hub flow in `folder` with its prompt files made from lab-tui's: each prompt rendered
    by lab-tui itself with every variable as a Jinja placeholder, so both tools fill the same text.
    Fails if a generation setting of the sdg_hub flow differs from lab-tui's."""
    flow = yaml.safe_load(SDG_FLOW.read_text(encoding="utf-8"))
    blocks = {b.name: b for b in lab_flow.blocks}
    for entry in flow["blocks"]:
        config = entry["block_config"]
        if entry["block_type"] == "LLMChatBlock":
            lab = blocks[config["block_name"]]
            for key in ("temperature", "max_tokens"):
                if float(config[key]) != float(getattr(lab, key)):
                    raise SystemExit(f"{SDG_FLOW}: {config['block_name']}.{key} is {config[key]}, lab-tui's is "
                                     f"{getattr(lab, key)}")
    prompt_files = {raw["name"]: raw.get("prompt") for raw in lab_flow.source["blocks"]}
    for block in lab_flow.blocks:
        if block.prompt is None:
            continue
        messages = block.prompt.render({name: "{{ " + name + " }}" for name in block.prompt.variables})
        for message in messages:
            if any(token in message["content"].replace("{{ ", "").replace(" }}", "") for token in ("{{", "{%", "{#")):
                raise SystemExit(f"{block.name}: its prompt holds Jinja syntax of its own; it would not render the same")
        prompt_file = folder / Path(prompt_files[block.name]).name
        prompt_file.write_text(yaml.safe_dump(messages, sort_keys=False, allow_unicode=True), "utf-8")
    path = folder / "flow.yaml"
    path.write_text(yaml.safe_dump(flow, sort_keys=False, allow_unicode=True), "utf-8")
    return path


def seed_rows(path: Path, contexts: int, questions: int) -> list[dict]:
    """One input row per seed example and sample, as lab-tui sends one request per context sample."""
    skill = load_skill(path).skill
    return [{"task_description": skill.task_description, "seed_context": e.context or "",
             "seed_question": e.question or "", "seed_response": e.answer or "",
             "sample_index": sample, "num_samples": questions}
            for e in skill.examples for sample in range(1, contexts + 1)]


def run_sdg_hub(teacher: Teacher, python: Path, flow_yaml: Path, seeds: Path, args, folder: Path, round_: int) -> dict:
    out = folder / f"sdg_hub-{round_}.json"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    result = measured([str(python), str(BENCH / "sdg_hub_driver.py"), str(flow_yaml), str(seeds), teacher.api_base,
                       str(args.concurrency), str(out)], folder / f"sdg_hub-{round_}.log", env)
    result["pairs_kept"] = json.loads(out.read_text())["pairs_kept"]
    return result


def versions(python: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    theirs = subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()
    return f"litellm {ours} (lab-tui) / {theirs} (sdg_hub)"


def warm_both(python: Path) -> None:
    """Import both tools once, untimed: compiled bytecode and the page cache as on a second run."""
    warm()
    subprocess.run([str(python), "-c", "import sdg_hub, litellm, pandas"], check=True, capture_output=True)


def unmatched(ours: dict, theirs: dict) -> int:
    """Requests (by body digest, with repeats) in `ours` and not in `theirs`."""
    return sum((Counter(ours) - Counter(theirs)).values())


def row(name: str, result: dict, stats: dict, ideal: float) -> str:
    start_up = stats["first_arrived"] - result["started"]
    to_last = stats["last_left"] - result["started"]
    return (f"  {name:<8} wall {result['wall_s']:6.2f} s | start-up {start_up:5.2f} s | in the run "
            f"{result['wall_s'] - start_up:6.2f} s (to the last answer {to_last - start_up:6.2f} s, ideal {ideal:.2f} s) | "
            f"CPU {result['cpu_s']:6.2f} s | requests {stats['requests']} | pairs kept {result['pairs_kept']} | "
            f"most in flight {stats['max_in_flight']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=13, help="per seed example (the skill has 5)")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--jitter", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=1, help="measure both tools this many times, alternately")
    args = parser.parse_args()
    python = venv_python()
    lab_flow = load_flow("grounded_skills", counts={"contexts": args.contexts, "questions": args.questions})
    warm_both(python)
    print(f"grounded_skills on {SKILL.relative_to(REPO)}: {args.contexts} contexts per seed example, "
          f"{args.questions} questions per context, concurrency {args.concurrency}, teacher {args.latency} s "
          f"± {args.jitter:.0%}; {versions(python)}")
    with Teacher(args.latency, args.jitter) as teacher, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        flow_yaml = sdg_hub_flow(folder, lab_flow)
        seeds = folder / "seeds.jsonl"
        seeds.write_text("".join(json.dumps(r) + "\n" for r in seed_rows(SKILL, args.contexts, args.questions)))
        teacher.stats()  # from zero
        for round_ in range(1, args.rounds + 1):
            runs = {}
            for name in ("lab-tui", "sdg_hub"):
                print(f"round {round_}, {name}: {load()} before", flush=True)
                if name == "lab-tui":
                    result = lab_tui_run([SKILL], teacher.api_base, folder, f"lab-{round_}", contexts=args.contexts,
                                         questions=args.questions, concurrency=args.concurrency)
                else:
                    result = run_sdg_hub(teacher, python, flow_yaml, seeds, args, folder, round_)
                runs[name] = (result, teacher.stats())
            (lab, lab_stats), (hub, hub_stats) = runs["lab-tui"], runs["sdg_hub"]
            if lab_stats["digests"] != hub_stats["digests"]:
                raise SystemExit(f"the tools did not send the same requests: "
                                 f"{unmatched(lab_stats['digests'], hub_stats['digests'])} only from lab-tui, "
                                 f"{unmatched(hub_stats['digests'], lab_stats['digests'])} only from sdg_hub; per kind: "
                                 f"lab-tui {lab_stats['by_kind']}, sdg_hub {hub_stats['by_kind']}")
            ideal = lab_stats["requests"] * args.latency / args.concurrency
            print(f"round {round_}: the same {lab_stats['requests']} requests from both (by body digest); per kind "
                  f"{lab_stats['by_kind']}; statuses {lab_stats['by_status']}")
            print(row("lab-tui", lab, lab_stats, ideal))
            print(row("sdg_hub", hub, hub_stats, ideal))
            print(f"  lab-tui / sdg_hub: wall {lab['wall_s'] / hub['wall_s']:.2f} (target <= 0.70), "
                  f"CPU {lab['cpu_s'] / hub['cpu_s']:.2f} (target <= 1.00)", flush=True)


if __name__ == "__main__":
    main()
