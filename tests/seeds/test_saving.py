"""Saving keeps what the file was (mode, CRLF, symlink), keeps the backup whole, and never drops
an edit made on disk since the file was read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import shutil
import textwrap

import pytest

from lab_tui.resources import example_skill_path
from lab_tui.seeds.io import FileChanged, load_skill, save_skill

CRLF = example_skill_path().read_bytes().replace(b"\n", b"\r\n")


@pytest.fixture
def crlf_skill(tmp_path):
    path = tmp_path / "qna.yaml"
    path.write_bytes(CRLF)
    path.chmod(0o644)
    return path


def test_crlf_and_mode_survive_an_unedited_and_an_edited_save(crlf_skill):
    loaded = load_skill(crlf_skill)
    save_skill(loaded.skill, expected=loaded.stamp)
    assert crlf_skill.read_bytes() == CRLF
    loaded = load_skill(crlf_skill)
    loaded.skill.examples[0].question = "A new question?"
    save_skill(loaded.skill, expected=loaded.stamp)
    data = crlf_skill.read_bytes()
    assert b"A new question?\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    assert stat.S_IMODE(crlf_skill.stat().st_mode) == 0o644
    assert stat.S_IMODE(crlf_skill.with_name("qna.yaml.bak").stat().st_mode) == 0o644


def test_a_symlinked_skill_is_saved_through_the_link(tmp_path, crlf_skill):
    link = tmp_path / "link.yaml"
    link.symlink_to(crlf_skill)
    loaded = load_skill(link)
    loaded.skill.task_description = "Changed through the link."
    save_skill(loaded.skill, expected=loaded.stamp)
    assert link.is_symlink() and b"Changed through the link." in crlf_skill.read_bytes()


def test_a_file_changed_on_disk_since_it_was_read_is_not_overwritten(crlf_skill):
    mine = load_skill(crlf_skill)
    theirs = load_skill(crlf_skill)
    theirs.skill.task_description = "Their edit."
    save_skill(theirs.skill, expected=theirs.stamp)
    mine.skill.task_description = "My edit."
    with pytest.raises(FileChanged, match="changed on disk"):
        save_skill(mine.skill, expected=mine.stamp)
    assert b"Their edit." in crlf_skill.read_bytes()
    save_skill(mine.skill)  # the user chose to overwrite
    assert b"My edit." in crlf_skill.read_bytes()


def test_a_file_created_meanwhile_is_a_change_too(tmp_path):
    path = tmp_path / "new.yaml"
    skill = load_skill(example_skill_path()).skill
    path.write_text("someone else's file\n")
    with pytest.raises(FileChanged, match="was created on disk"):
        save_skill(skill, path, expected=None)
    assert path.read_text() == "someone else's file\n"


def test_a_save_that_fails_for_lack_of_space_leaves_file_and_backup_whole(crlf_skill):
    """The file size limit makes writes fail as a full disk would (EFBIG instead of ENOSPC)."""
    backup = crlf_skill.with_name("qna.yaml.bak")
    backup.write_bytes(b"the previous backup\n" * 10)
    script = textwrap.dedent(f"""
        import resource, signal
        from lab_tui.seeds.io import load_skill, save_skill
        loaded = load_skill({str(crlf_skill)!r})
        loaded.skill.task_description = "x" * 100
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (150, 150))
        try:
            save_skill(loaded.skill, expected=loaded.stamp)
        except OSError as error:
            print("failed:", error.strerror)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)), timeout=60)
    assert "failed: File too large" in out.stdout, out.stderr
    assert backup.read_bytes() == b"the previous backup\n" * 10
    assert crlf_skill.read_bytes() == CRLF
    assert not [p for p in crlf_skill.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_example_added_to_a_file_is_written_in_its_style_never_as_one_long_line(tmp_path):
    """Review's promote appends a model's answer: one long paragraph went in as a 300-character line."""
    from lab_tui.seeds import SeedExample

    path = tmp_path / "qna.yaml"
    shutil.copy(example_skill_path(), path)
    before = path.read_text()
    loaded = load_skill(path)
    paragraph = " ".join(["The clinic opened its new pediatric wing in October, adding twelve exam rooms"] * 4) + "."
    added = SeedExample(question="When did the wing open?", answer=paragraph, context="Q4 notes:\n- wing opened\n")
    loaded.skill.examples.append(added)
    save_skill(loaded.skill, path, loaded.stamp)
    text = path.read_text()
    assert text.startswith(before)
    appended = text[len(before):]
    assert "context: |\n" in appended and "answer: >-\n" in appended
    assert max(len(line) for line in appended.splitlines()) <= 80
    read = load_skill(path).skill.examples[-1]
    assert (read.context, read.question, read.answer) == (added.context, added.question, paragraph)
