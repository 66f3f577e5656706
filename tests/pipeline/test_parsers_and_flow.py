from __future__ import annotations

import shutil

import pytest

from lab_tui.pipeline.flow import FlowError, load_flow
from lab_tui.pipeline.parsers import ParseError, extract_tag, parse_judgement
from lab_tui.resources import data_folder


@pytest.mark.parametrize("text,expected", [
    ("[Start of Question]\nHow did Q2 go?\n[End of Question]", "How did Q2 go?"),
    ("Sure! Here it is:\n[Start of Question] How did Q2 go? [End of Question]\nHope that helps.", "How did Q2 go?"),
    ("[Start of Question]First?[End of Question]\n[Start of Question]Second?[End of Question]", "First?"),
])
def test_extract_tag_tolerates_chatter_and_doubled_tags(text, expected):
    assert extract_tag(text, "Question") == expected


@pytest.mark.parametrize("text,reason", [
    ("How did Q2 go?", "missing tag [Start of Question]"),
    ("[Start of Question]  [End of Question]", "empty question"),
])
def test_extract_tag_failures_say_why(text, reason):
    with pytest.raises(ParseError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        extract_tag(text, "Question")


def test_judgement_parses_score_and_explanation():
    text = "[Start of Evaluation]\nGrounded.\n[End of Evaluation]\n[Start of Score]\n3\n[End of Score]"
    judgement = parse_judgement(text, (1.0, 2.0, 3.0))
    assert judgement.score == 3.0 and judgement.explanation == "Grounded."
    assert parse_judgement("[Start of Score] 2/3 [End of Score]", (1.0, 2.0, 3.0)).score == 2.0


@pytest.mark.parametrize("score,reason", [("excellent", "score did not parse"), ("7", "score 7 is not one of")])
def test_bad_scores_fail_with_a_reason(score, reason):
    with pytest.raises(ParseError, match=reason):
        parse_judgement(f"[Start of Score]{score}[End of Score]", (1.0, 2.0, 3.0))


def test_bundled_flow_has_the_eight_stages_and_renders_every_variable():
    flow = load_flow()
    assert [b.name for b in flow.blocks] == [
        "gen_contexts", "gen_grounded_questions", "eval_grounded_questions", "filter_grounded_questions",
        "gen_grounded_responses", "evaluate_grounded_qa_pair", "filter_grounded_qa_pair",
        "combine_question_and_context"]
    values = {"task_description": "TASK", "context": "CTX {not a variable}", "question": "Q?", "response": "R.",
              "seed_context": "SC", "seed_question": "SQ", "seed_response": "SR", "sample_index": 4}
    for block in flow.blocks:
        if block.prompt:
            system, user = block.prompt.render(values)
            assert system["role"] == "system" and user["role"] == "user"
            assert not any("{" + name + "}" in user["content"] for name in values)
    response = flow.block("gen_grounded_responses").prompt.render(values)[1]["content"]
    assert "CTX {not a variable}" in response and response.rstrip().endswith("[End of Response].")


def test_counts_and_parameters_can_be_overridden_per_run():
    flow = load_flow(counts={"contexts": 4, "questions": 2}, settings={"gen_contexts.temperature": 1.0})
    assert flow.block("gen_contexts").count == 4 and flow.block("gen_grounded_questions").count == 2
    assert flow.block("gen_contexts").temperature == 1.0
    assert flow.block("filter_grounded_qa_pair").threshold == 2.0


@pytest.mark.parametrize("prompt", ["gen_grounded_responses.yaml", "evaluate_grounded_qa_pair.yaml",
                                    "eval_grounded_questions.yaml"])
def test_a_grounded_prompt_without_context_is_refused(prompt, tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(data_folder("prompts") / "grounded_skills", folder)
    path = folder / prompt
    path.write_text(path.read_text().replace("{context}", "the text"))
    with pytest.raises(FlowError, match=rf"{prompt}: .*\{{context\}}"):
        load_flow(folder)


def test_a_user_prompt_folder_changes_the_wording_and_the_version(tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(data_folder("prompts") / "grounded_skills", folder)
    path = folder / "gen_contexts.yaml"
    path.write_text(path.read_text().replace("Invent new organisations", "Invent new shops"))
    custom = load_flow(folder)
    assert custom.version != load_flow().version
    assert "Invent new shops" in custom.block("gen_contexts").prompt.render(
        {"task_description": "t", "seed_context": "c", "seed_question": "q", "sample_index": 1})[1]["content"]


def test_thresholds_and_max_tokens_can_be_overridden_and_unknown_settings_are_refused():
    flow = load_flow(settings={"filter_grounded_qa_pair.threshold": "3", "gen_grounded_responses.max_tokens": "99"})
    assert flow.block("filter_grounded_qa_pair").threshold == 3.0
    assert flow.block("gen_grounded_responses").max_tokens == 99
    with pytest.raises(FlowError, match="cannot override filter_grounded_qa_pair.colour"):
        load_flow(settings={"filter_grounded_qa_pair.colour": "red"})
    with pytest.raises(FlowError, match="is not a float"):
        load_flow(settings={"filter_grounded_qa_pair.threshold": "high"})


def test_the_grounded_context_prompt_asks_for_the_material_the_seed_question_acts_on():
    """Issue 18: contexts "like the seed's" drifted to the task's subject, holding nothing to act on."""
    block = load_flow().block("gen_contexts")
    assert "seed_question" in block.reads
    user = block.prompt.render({"task_description": "Make IT wording inclusive.", "seed_context": "The master node.",
                                "seed_question": "How would you rewrite this sentence to be inclusive?",
                                "sample_index": 2})[1]["content"]
    assert "this request is made about the context: How would you rewrite this sentence to be inclusive?" in user
    assert "must hold the material the request works on" in user
    assert "only about the task's general subject is not a context for it" in user
    assert user.rstrip().endswith("[End of Context].")
