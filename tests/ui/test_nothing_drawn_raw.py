"""Nothing drawn raw: every pane and every dialog, fed hostile text from every source, sends the
terminal no escape sequence of that text and no link.

What is checked is what Textual would write to the terminal for the screen on top: the screen's
compositor renders a full update (every widget, toasts and the screens under a modal dialog
included) and `LayoutUpdate.render_segments` turns it into the exact text `App._display` hands the
driver (less the cursor placement and synchronised-output markers it adds around it). From that
text the sequences Textual itself writes are removed: cursor moves (`CSI row;col H`) and colours
(`CSI ... m`). Anything left that is ESC (0x1b), CSI (0x9b) or BEL (0x07) came from outside text
(an OSC 52 clipboard write, a title, an OSC 8 link Textual made from a `[link=...]` read as
markup) and fails the test; so does a segment whose style carries a link or a `@click` action.

Hostile text comes from: the seed file (every field) and the names of its folders, a flow folder
whose block names and labels hold it, a teacher whose answers and error bodies hold it, model
answers, judge labels and explanations, notes, reviewers and run ids in the database, and the
settings file (keymap values and ids, theme, recent files). Notifications stay on screen until the
next check has drawn them (their expiry is patched away), so every one of them is checked. The dialogs are found by walking
`lab_tui.ui` for ModalScreen classes, and the test fails if one was never shown, so a new dialog
must be added here to pass.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import pkgutil
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from rich.console import Console
from textual.command import CommandPalette
from textual.notifications import Notification, Notify
from textual.screen import ModalScreen
from textual.widgets import Input, TextArea
from waiting import until

import lab_tui.ui
from lab_tui.config import load_settings
from lab_tui.store import review
from lab_tui.store.db import open_db
from lab_tui.ui.app import LabApp
from lab_tui.ui.dialogs import ChoiceDialog, OpenDialog, SaveAsDialog
from lab_tui.ui.messages import OpenSkill
from lab_tui.ui.widgets.safe_text_area import SafeInput, SafeTextArea

SHOWN = "[link=http://evil.example]see[/link][@click=app.quit]me[/]"
"""Markup that must be drawn as the characters it is: seeing it on screen proves the text was drawn."""
MARK = "[link=http"
"""What of SHOWN survives a narrow column (wrapped or cut with "…")."""
HOSTILE = ("\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x9b2J\x1b[31m" + SHOWN
           + "\x1b]8;;http://evil.example\x1b\\osc8\x1b]8;;\x1b\\\x1bP+q\x1b\\\u202eevil\x07")
NAME = "\x1b]0;pwned\x07[link=evil]x[@click=app.quit]y"
"""A folder or file name: anything but a slash, so its markup is never closed."""
TEXTUAL_WRITES = re.compile(r"\x1b\[\d+;\d+H|\x1b\[[0-9;]*m")
FROM_OUTSIDE = re.compile("[\x1b\x9b\x07]")
CONSOLE = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=80)


def dialogs() -> set[type]:
    """Every ModalScreen class defined in lab_tui.ui."""
    found = set()
    for module in pkgutil.walk_packages(lab_tui.ui.__path__, "lab_tui.ui."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, ModalScreen) and cls.__module__.startswith("lab_tui.ui"):
                found.add(cls)
    return found


class Checker:
    def __init__(self) -> None:
        self.shown: set[type] = set()
        self.notices: list = []
        """Notifications asked for since the last check (the app's `Notify` messages)."""

    def hook(self, message) -> None:
        if isinstance(message, Notify):
            self.notices.append(message.notification)

    async def __call__(self, pilot, where: str, must_show: bool = False) -> str:
        """Check the screen on top as the terminal gets it, once the notifications made since the last
        check are drawn; with `must_show`, wait until the hostile text is drawn (as the characters it
        is), checking every frame on the way."""
        app = pilot.app
        await pilot.pause()
        await until(pilot, lambda: len(app.screen.query("Toast")) >= len(self.notices))
        drawn = self.frame(app, where)
        if must_show:
            await until(pilot, lambda: MARK in self.frame(app, where))
        app.clear_notifications()  # checked: the next check sees the notifications made after this one
        self.notices.clear()
        return drawn

    def frame(self, app, where: str) -> str:
        """The screen on top, as `App._display` would write it: checked, and returned as plain text.
        Every editor on lab-tui's own screens must draw safely (the palette's input holds what is typed)."""
        screen = app.screen
        self.shown.add(type(screen))
        update = screen._compositor.render_update(full=True, screen_stack=app._background_screens)
        plain = []
        for line in update.strips:
            for strip in line:
                for segment in strip:
                    style = segment.style
                    assert not (style and (style.link or (style.meta or {}).get("@click"))), (where, segment)
                    plain.append(segment.text)
            plain.append("\n")
        sent = TEXTUAL_WRITES.sub("", update.render_segments(CONSOLE))
        found = FROM_OUTSIDE.search(sent)
        assert found is None, f"{where}: {sent[max(0, found.start() - 60):found.end() + 60]!r}"
        for widget in screen.query("TextArea, Input") if type(screen).__module__.startswith("lab_tui") else ():
            assert isinstance(widget, (SafeTextArea, SafeInput)) or getattr(widget, "type", "") in ("integer", "number"), \
                f"{where}: {widget!r} draws its text raw"
        return "".join(plain)


def hostile_skill(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    examples = [{"context": f"{HOSTILE} context {i}", "question": f"{HOSTILE} question {i}?",
                 "answer": f"{HOSTILE} answer {i}."} for i in range(3)]
    path.write_text(yaml.safe_dump({"version": 3, "task_description": f"{HOSTILE} task", "created_by": HOSTILE,
                                    "seed_examples": examples}, allow_unicode=True, sort_keys=False))
    return path


def hostile_flow(folder: Path) -> Path:
    """The bundled freeform flow with hostile block names and labels."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "prompts" / "freeform_skills", folder)
    flow = yaml.safe_load((folder / "flow.yaml").read_text())
    names = {block["name"]: f"{block['name']}{NAME}" for block in flow["blocks"]}
    for block in flow["blocks"]:
        block["name"] = names[block["name"]]
        block["label"] = f"{block.get('label', '')}{HOSTILE}"
        if "judge" in block:
            block["judge"] = names[block["judge"]]
    flow["pair"]["judges"] = [names[name] for name in flow["pair"]["judges"]]
    (folder / "flow.yaml").write_text(yaml.safe_dump(flow, allow_unicode=True, sort_keys=False))
    return folder


class HostileTeacher(BaseHTTPRequestHandler):
    """Answers every generation with hostile text in the tags asked for; refuses every judge with a 401
    whose error body is hostile (the run then fails, and says why in a notification)."""

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = "\n".join(str(m["content"]) for m in body["messages"])
        tags = re.findall(r"\[Start of (\w+)\]", prompt)
        wanted = tags[-1] if tags else "Response"
        if wanted == "Score":
            self.reply(401, {"error": {"message": f"key refused {HOSTILE}", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
            return
        content = "\n".join(f"[Start of {wanted}]\n{HOSTILE} {wanted} {n} {len(prompt)}\n[End of {wanted}]"
                            for n in range(3))
        self.reply(200, {"id": "x", "object": "chat.completion", "created": 0, "model": "teacher",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})

    def reply(self, status: int, data: dict) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


def hostile_pairs(db_path: Path, skill: Path) -> None:
    db = open_db(db_path)
    run_id = f"r1{NAME}"
    db["runs"].insert({"id": run_id, "created_at": "2026-11-25T08:00:00+00:00", "status": "completed",
                       "skill_path": str(skill), "skill_snapshot": "{}", "flow": "{}", "prompts_version": "p",
                       "params": "{}", "teacher": json.dumps({"model": "openai/teacher"})})
    with db.conn:
        for index in range(3):
            db["pairs"].insert({
                "id": f"p{index}{NAME}", "run_id": run_id, "seed_index": index,
                "context": f"{HOSTILE} context", "question": f"{HOSTILE} question?", "response": f"{HOSTILE} response.",
                "score": 3.0, "scores": json.dumps([{"judge": NAME, "label": f"judge {HOSTILE}", "score": 1.0,
                                                     "explanation": f"{HOSTILE} explained"}]),
                "outcome": "kept", "status": "pending", "note": f"{HOSTILE} note", "reviewer": None,
                "created_at": f"2026-11-25T08:00:0{index}+00:00"})


def hostile_settings(tmp_path: Path, skill: Path) -> None:
    load_settings().set("keymap", {"seeds.save": f"ctrl+s{HOSTILE}", NAME: "f9", "review.note": "n,N"})
    load_settings().set("theme", HOSTILE)
    load_settings().set("recent", [str(tmp_path / f"{NAME}.yaml"), str(skill)])


async def test_every_pane_and_dialog_draws_hostile_text_harmlessly(tmp_path, monkeypatch):
    monkeypatch.setattr(Notification, "time_left", property(lambda self: 3600.0))  # toasts stay until checked
    check = Checker()
    taxonomy = tmp_path / "taxonomy"
    skill = hostile_skill(taxonomy / "compositional_skills" / NAME / "qna.yaml")
    hostile_skill(taxonomy / "compositional_skills" / f"second{NAME}" / "qna.yaml")
    broken = tmp_path / "broken" / "qna.yaml"
    broken.parent.mkdir()
    broken.write_text(f"version: 3\ntask_description: {HOSTILE}\nseed_examples: []\n")
    (tmp_path / f"{NAME}.yaml").write_text("version: 3\n")
    monkeypatch.chdir(tmp_path)
    hostile_settings(tmp_path, skill)
    db_path = tmp_path / "lab.db"
    hostile_pairs(db_path, skill)

    # Seeds, its dialogs, help, the palette, the Skills pane, raw mode
    app = LabApp(skill, db_path, reviewer=HOSTILE)
    async with app.run_test(size=(80, 24), notifications=True, tooltips=True, message_hook=check.hook) as pilot:
        seeds = app.screen
        await until(pilot, lambda: seeds.skill is not None)
        await check(pilot, "seeds", must_show=True)
        seeds.select_example(1)
        await check(pilot, "seeds, example 2", must_show=True)
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await check(pilot, "delete dialog")
        await pilot.press("escape")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, OpenDialog))
        await pilot.press(*"x")
        await check(pilot, "open dialog")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is seeds)
        seeds.query_one("#task", TextArea).insert("Mine. ")
        await until(pilot, lambda: seeds.unsaved)
        skill.write_text(skill.read_text() + "\n")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await check(pilot, "file changed dialog")
        await pilot.click("#elsewhere")
        await until(pilot, lambda: isinstance(app.screen, SaveAsDialog))
        await check(pilot, "save as dialog")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is seeds)
        await pilot.press("f1")
        await check(pilot, "help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await check(pilot, "command palette")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is seeds)
        await pilot.press("f9")
        skills = app.screen
        await until(pilot, lambda: skills.rows and skills.linted == len(skills.rows))
        await check(pilot, "skills")
        app.post_message(OpenSkill(broken))
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await check(pilot, "unsaved edits dialog")
        await pilot.click("#discard")
        await until(pilot, lambda: app.screen is seeds and seeds.raw_mode)
        await check(pilot, "seeds, raw text")

    # The Run pane: a run of a hostile flow against a hostile teacher
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileTeacher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flow = hostile_flow(tmp_path / f"flow{NAME}")
        app = LabApp(skill, db_path, start_mode="run")
        async with app.run_test(size=(80, 24), notifications=True, tooltips=True, message_hook=check.hook) as pilot:
            run = app.screen
            run.query_one("#run-api-base", Input).value = f"http://127.0.0.1:{server.server_port}/v1"
            run.query_one("#run-flow", Input).value = str(flow)
            await check(pilot, "run, before")
            await pilot.press("f5")
            # the first run of a process loads litellm (tens of seconds on a loaded machine): wait for the work
            await until(pilot, lambda: run.own_run is None and run.recent and run.progress is not None, timeout=300)
            await until(pilot, lambda: len(run.runs) == 2)
            drawn = await check(pilot, "run, after", must_show=True)
            assert "key refused" in drawn, "the run's failure is notified, with the teacher's error body"
            run.query_one("#run-recent").focus()
            await pilot.press("down", "enter")
            await until(pilot, lambda: app.screen is not run)
            await check(pilot, "output dialog", must_show=True)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is run)
            runs = run.query_one("#run-runs")
            runs.focus()
            runs.highlighted = 0
            await pilot.press("ctrl+g")  # the hostile run beside the one before it
            await until(pilot, lambda: app.screen is not run)
            await check(pilot, "compare dialog")
            app.screen.query_one("VerticalScroll").scroll_end(animate=False)  # the judges' labels
            await check(pilot, "compare dialog, scores", must_show=True)
    finally:
        server.shutdown()
        from lab_tui.pipeline.teacher import close_clients
        await close_clients()

    # The Review pane and its dialogs
    app = LabApp(skill, db_path, start_mode="review", reviewer=HOSTILE)
    async with app.run_test(size=(80, 24), notifications=True, tooltips=True, message_hook=check.hook) as pilot:
        screen = app.screen
        await until(pilot, lambda: screen.pair is not None and screen.counts)
        await check(pilot, "review", must_show=True)
        screen.query_one("#review-body").scroll_end(animate=False)
        await check(pilot, "review, judges", must_show=True)
        for key in ("e", "n", "f", "R", "E"):
            await pilot.press(key)
            await until(pilot, lambda: app.screen is not screen)
            await check(pilot, f"review {key} dialog", must_show=key not in ("f", "E"))
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is screen)
        first = screen.pair.id
        await pilot.press("R", "o")
        await until(pilot, lambda: screen.pair.id != first)
        await pilot.press("h")
        await until(pilot, lambda: app.screen is not screen)
        await check(pilot, "review recent decisions", must_show=True)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        review.record_verdict(open_db(db_path), screen.pair.id, review.Session(HOSTILE), "rejected", 0)
        await pilot.press("a")
        await until(pilot, lambda: screen.pair.status == "rejected")
        await check(pilot, "review, conflict notification")

    assert dialogs() <= check.shown, f"never shown: {sorted(c.__name__ for c in dialogs() - check.shown)}"
