"""A small local teacher's run replayed through the whole grounded flow, and what the report says of it.

The answers are shaped like the issue's measured run of a 1.5B model on the inclusive-language skill:
contexts on the skill's general subject with nothing to rewrite (the off-task contexts written for
`tests/fixtures/ontask/inclusion.jsonl`), reading-comprehension questions, responses with no tags
that stopped normally, a question judge that gives every question 1 and a pair judge that keeps
everything. A reviewer then rejects every pair, as the issue's reviewer did. The suite's teacher
server replays the answers over litellm's real HTTP path.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab_tui.cli import main
from lab_tui.pipeline.engine import RunParams, run_flow, start_run
from lab_tui.pipeline.teacher import TeacherProfile, close_clients
from lab_tui.seeds import load_skill
from lab_tui.store import review
from lab_tui.store.db import open_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SKILL = FIXTURES / "taxonomy" / "compositional_skills__grounded__linguistics__inclusion.yaml"
QUESTION_JUDGED = ("[Start of Evaluation]\nThe question can be answered from the context and is clear.\n"
                   "[End of Evaluation]\n[Start of Score]\n1\n[End of Score]")
PAIR_JUDGED = ("[Start of Evaluation]\nThe response answers the question accurately using the context.\n"
               "[End of Evaluation]\n[Start of Score]\n3\n[End of Score]")


def off_task_contexts() -> list[str]:
    items = [json.loads(line) for line in (FIXTURES / "ontask" / "inclusion.jsonl").read_text().splitlines()]
    return [item["text"] for item in items if item["field"] == "context" and item["label"] == "off-task"]


def recorded_answers(seed_questions: list[str]) -> list[tuple[str, str, str]]:
    """(text the prompt holds, answer, finish reason), most specific first: judges, then each question's
    response, then each context's questions, then each seed's context."""
    contexts = off_task_contexts()[:len(seed_questions)]
    answers = [("rate the response to the question below", PAIR_JUDGED, "stop"),
               ("decide whether the question below is a good training question", QUESTION_JUDGED, "stop")]
    questions = {context: [f"According to the text, what is the main point of passage {n}?",
                           f"What example does passage {n} give?"] for n, context in enumerate(contexts)}
    for n, context in enumerate(contexts):
        for question in questions[context]:
            answers.append((f"[Start of Question]\n{question}\n[End of Question]\nWrite the response between",
                            f"Passage {n} explains its topic: {context.split('.')[0].lower()}.", "stop"))
    for context, asked in questions.items():
        answers.append((f"[Start of Context]\n{context}\n[End of Context]\nWrite 2 questions",
                        "\n".join(f"[Start of Question]\n{q}\n[End of Question]" for q in asked), "stop"))
    for seed_question, context in zip(seed_questions, contexts):
        answers.append((f"this request is made about the context: {seed_question}\n",
                        f"[Start of Context]\n{context}\n[End of Context]", "stop"))
    return answers


async def test_a_small_teachers_confident_junk_is_called_so_by_the_report(teacher_server, tmp_path, capsys):
    skill = load_skill(SKILL).skill
    teacher_server.config.recorded = recorded_answers([example.question for example in skill.examples])
    db_path = tmp_path / "lab.db"
    run_id = start_run(open_db(db_path), skill, TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base),
                       RunParams(flow="grounded_skills", counts={"contexts": 1, "questions": 2}))
    assert (await run_flow(db_path, run_id)).status == "completed"
    await close_clients()
    db = open_db(db_path)
    assert db.execute("SELECT count(*) FROM requests WHERE response IS NULL").fetchone()[0] == 0
    pairs = [row[0] for row in db.execute("SELECT id FROM pairs WHERE outcome = 'kept' ORDER BY rowid")]
    assert len(pairs) == 12, "the judges kept every pair"
    for pair_id in pairs:  # the reviewer: every pair off the skill's task
        review.record_verdict(db, pair_id, review.Session("reviewer"), "rejected", 0)

    assert main(["report", run_id, "--db", str(db_path), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    question, pair, ontask = report["agreement"]
    assert (pair["label"], pair["verdicts"], pair["current"]["kept"], pair["current"]["kept_rejected"]) == (
        "pair judge", 12, 12, 12)
    assert pair["discriminates"] is False
    assert "Reviewers rejected 12 of the 12 pairs it kept." in pair["problems"]
    assert any("stronger model for block evaluate_grounded_qa_pair" in advice for advice in pair["advice"])
    assert question["problems"][0] == "It gave every pair the same score (1), so it tells none apart."
    assert ontask["verdicts"] == 12 and ontask["auc"] is None, "no accepted pair to compare with yet"
    contexts = report["ontask"]["blocks"]["contexts"]
    assert contexts["count"] == 6 and contexts["below"] == 6, "every context holds nothing to rewrite"
    assert report["ontask"]["pairs"]["below"] == 12
    assert report["ontask"]["furthest"][0]["field"] == "context"
    assert report["untagged"] == {"responses": 12}
    warnings = " ".join(report["warnings"])
    assert "6 of 6 contexts (100%) are off the task" in warnings
    assert "12 responses came without tags and were taken whole" in warnings

    assert main(["report", run_id, "--db", str(db_path)]) == 0
    text = capsys.readouterr().out
    for heading in ("Judges against reviewers", "On-task score", "Furthest from the seeds"):
        assert heading in text
    assert "! pair judge: Reviewers rejected 12 of the 12 pairs it kept." in text
    assert "\x1b" not in text
