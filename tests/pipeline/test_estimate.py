"""`lab-tui run --estimate` and `pipeline.estimate` against the suite's teacher server: the requests
a run will send, its time from the teacher's measured latency, its money where litellm has a price."""

from __future__ import annotations

from lab_tui.cli import main
from lab_tui.pipeline.estimate import estimate_run
from lab_tui.pipeline.params import RunParams
from lab_tui.pipeline.teacher import TeacherProfile, litellm_module
from lab_tui.resources import example_skill_path
from lab_tui.seeds import load_skill
from lab_tui.store.db import open_db

SKILL = load_skill(example_skill_path()).skill
COUNTS = ["--contexts", "1", "--questions", "2"]


def test_teacher_check_records_its_latency_and_the_estimate_times_the_run_with_it(teacher_server, tmp_path, capsys):
    db_path = tmp_path / "lab.db"
    assert main(["teacher", "check", "--api-base", teacher_server.api_base, "--db", str(db_path)]) == 0
    assert main(["teacher", "check", "--api-base", "http://127.0.0.1:9/v1", "--db", str(db_path)]) == 1
    checks = list(open_db(db_path)["teacher_checks"].rows)
    assert [(c["api_base"], c["latency_s"] is not None, c["error"] is None) for c in checks] == [
        (teacher_server.api_base, True, True), ("http://127.0.0.1:9/v1", False, False)]
    assert "connection" in checks[1]["error"]
    capsys.readouterr()
    assert main(["run", "--estimate", str(example_skill_path()), "--api-base", teacher_server.api_base,
                 *COUNTS, "--concurrency", "4", "--db", str(db_path)]) == 0
    out = capsys.readouterr().out
    assert "at 4 in flight (teacher check of" in out and "no price known" in out
    assert open_db(db_path).execute("SELECT count(*) FROM runs").fetchone()[0] == 0, "an estimate starts nothing"
    assert len(teacher_server.answered()) == 1, "only the check asked the teacher"


def test_the_estimate_bounds_a_first_run_and_matches_the_next_from_what_the_first_measured(teacher_server,
                                                                                           tmp_path, capsys):
    db_path = tmp_path / "lab.db"
    profile = TeacherProfile(model="openai/teacher", api_base=teacher_server.api_base)
    params = RunParams(counts={"contexts": 1, "questions": 2}, concurrency=4)
    before = estimate_run(None, SKILL, profile, params)
    assert before.yields_from.startswith("no past runs") and before.seconds is None
    assert main(["run", str(example_skill_path()), "--api-base", teacher_server.api_base, *COUNTS,
                 "--concurrency", "4", "--db", str(db_path)]) == 0
    db = open_db(db_path)
    sent = dict(db.execute("SELECT stage, count(*) FROM requests GROUP BY stage").fetchall())
    assert before.requests >= sum(sent.values())
    after = estimate_run(db, SKILL, profile, params)
    assert after.yields_from == "this skill's past runs of the flow"
    assert {block.name: block.requests for block in after.blocks} == sent
    assert all(block.measured and block.latency_s is not None for block in after.blocks)
    answered = db.execute("SELECT sum(tokens_in), sum(tokens_out) FROM requests").fetchone()
    assert (after.tokens_in, after.tokens_out) == tuple(answered)
    assert after.seconds is not None and after.latency_from == "past requests of this flow"


def test_money_where_litellm_knows_the_models_price_and_none_where_it_does_not():
    params = RunParams(counts={"contexts": 1})
    priced = estimate_run(None, SKILL, TeacherProfile(model="openai/gpt-4o-mini"), params)
    prompt, completion = litellm_module().cost_per_token(model="openai/gpt-4o-mini", prompt_tokens=priced.tokens_in,
                                                         completion_tokens=priced.tokens_out)
    assert priced.cost_usd == prompt + completion > 0
    assert estimate_run(None, SKILL, TeacherProfile(model="hosted_vllm/my-teacher"), params).cost_usd is None


def test_an_estimate_refuses_a_count_the_flow_does_not_have(tmp_path, capsys):
    assert main(["run", "--estimate", str(example_skill_path()), "--count", "texts=2",
                 "--db", str(tmp_path / "lab.db")]) == 2
    assert "has no texts count" in capsys.readouterr().err


def test_a_fleet_built_earlier_in_the_process_makes_no_model_free():
    """A Router declares its deployments free and litellm writes that into its price table under the
    model's name: an estimate after a fleet run in the same app said $0 for every model it had run."""
    from lab_tui.pipeline.teacher import Endpoint
    from lab_tui.pipeline.teacher.litellm_setup import build_router

    params = RunParams(counts={"contexts": 1, "questions": 1}, concurrency=4)
    for model in ("openai/teacher", "openai/gpt-4o"):
        build_router(TeacherProfile(model=model, endpoints=(Endpoint("http://127.0.0.1:9/v1"),
                                                            Endpoint("http://127.0.0.1:10/v1"))))
    assert estimate_run(None, SKILL, TeacherProfile(model="openai/teacher"), params).cost_usd is None
    priced = estimate_run(None, SKILL, TeacherProfile(model="openai/gpt-4o"), params)
    assert priced.cost_usd is not None and priced.cost_usd > 0
