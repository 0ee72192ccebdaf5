"""Module 1's exercises catch the mistakes they are about, and its narrative and quiz keys hold
in every trainee's world."""
import numpy as np
import pandas as pd
import pytest

from harness import Trainee
from test_roundtrip import autograde
import wrong_solutions.m1_architecture as CATALOGUE  # the wrong solutions the visible checks are tested with

ASSIGNMENT = "m1_architecture"

# -- realistic mistakes lose their own cell, and only it ----------------------------------------

# Reads the staging environment's services (the second list of the export) instead of production's.
STAGING_SERVICES = '''
flat = pd.json_normalize(export["environments"], record_path="services", meta="name", meta_prefix="environment.")
staging = flat[flat["environment.name"] == "staging"]
services = pd.DataFrame({"service": staging["name"], "replicas": staging["deploy.numReplicas"],
                         "healthcheck_path": staging["deploy.healthcheckPath"],
                         "start_command": staging["deploy.startCommand"]}).reset_index(drop=True)
'''

# Guesses secrets from their names instead of reading the export's flag: DATABASE_URL and
# REDIS_URL carry passwords but say nothing of it in their names.
SECRETS_BY_NAME = CATALOGUE.SECRETS_BY_NAME.code["m1-variables-solution"]


# Trusts the HTTP status alone: the trap the module warns about (every body says 200).
STATUS_CODE_ONLY = CATALOGUE.STATUS_CODE_ONLY.code["m1-checks-solution"]

# Names the cause from the readiness body's reason only: the liveness failures (and the degraded
# readiness answers, which have no reason) fall through, and the order of the rules is lost.
REASON_ONLY = '''
def failure_reasons(checks):
    failed = checks[~checks["passed"]].sort_values("checkedAt", kind="stable").copy()
    failed["why"] = failed["reason"].str.replace("_", " ").fillna(failed["error"]).fillna("other")
    return failed


def count_failures(checks):
    failed = failure_reasons(checks)
    return failed.groupby(["path", "why"])["checkedAt"].agg(checks="size", first="min", last="max")
'''

# One spell per day instead of per run of consecutive failures: the two incidents of 27 October
# become one.
SPELLS_BY_DAY = CATALOGUE.SPELLS_BY_DAY.code["m1-spells-solution"]


def assert_only_cell_lost(points, cell):
    assert points[cell][0] == 0, points[cell]
    short = {name: score for name, score in points.items() if name != cell and score[0] != score[1]}
    assert not short, f"other cells lost points too: {short}"


@pytest.mark.slow
@pytest.mark.parametrize("solution_cell, code, test_cell", [
    ("m1-services-solution", STAGING_SERVICES, "m1-services-test"),
    ("m1-variables-solution", SECRETS_BY_NAME, "m1-variables-test"),
    ("m1-checks-solution", STATUS_CODE_ONLY, "m1-checks-test"),
    ("m1-why-solution", REASON_ONLY, "m1-why-test"),
    ("m1-spells-solution", SPELLS_BY_DAY, "m1-spells-test"),
], ids=["staging-services", "secrets-by-name", "status-code-only", "reason-only", "spells-by-day"])
def test_a_realistic_mistake_loses_its_own_cell(one_world_course, solution_cell, code, test_cell):
    name = f"m1-{test_cell.removeprefix('m1-').removesuffix('-test')}-mistake"
    points = autograde(one_world_course, ASSIGNMENT, Trainee(name, code_overrides={solution_cell: code}))
    assert_only_cell_lost(points, test_cell)


# -- what the narrative and the quiz keys claim, checked against the exports --------------------
# The canonical world and two trainees' worlds: the claims hold in every world.
WORLDS = {"canonical": 0, "alice": "alice", "bob": "bob"}


@pytest.fixture(scope="module", params=list(WORLDS))
def month(request, data_cache):
    from course.data import platform, world
    from course.trainer.reference import platform as ref

    who = WORLDS[request.param]
    seed = world.seed_for(who) if isinstance(who, str) else who
    checks = ref.parse_health_checks(platform.health_checks(seed))
    return dict(seed=seed, checks=checks, failed=ref.failing_checks(checks), spells=ref.not_ready_spells(checks),
                truth=platform.health_check_results(seed), export=platform.project_export(seed))


def key(name, seed):
    from course.data import world
    from course.trainer.reference import quiz_keys

    with world.using(seed):
        return quiz_keys.answer(name)


def test_longest_spell_key_is_the_generators_longest_outage(month):
    """m1-longest-spell: the key is the start of the longest run of failed readiness checks the
    generator planted, and that run had no body to read (timeouts or the edge's 502s)."""
    from course.data import world

    truth = month["truth"]
    ready = truth[truth["path"] == world.READY_PATH].sort_values("checkedAt").reset_index(drop=True)
    down = ready["cause"].ne("")
    run = (~down).cumsum()
    runs = ready[down].groupby(run[down]).agg(start=("checkedAt", "min"), checks=("checkedAt", "size"),
                                             causes=("cause", set), states=("state", set))
    longest = runs[runs["checks"] == runs["checks"].max()]
    accepted = key("m1_longest_not_ready_start", month["seed"])
    assert set(accepted[::6]) == {start.strftime("%Y-%m-%d %H:%M") for start in longest["start"]}
    assert all(causes <= {"pool_exhaustion", "crash_loop"} for causes in longest["causes"])
    assert all(states <= {"timeout", "edge_502"} for states in longest["states"])  # the explanation
    spells = month["spells"]
    assert list(spells["start"]) == list(runs["start"]) and list(spells["checks"]) == list(runs["checks"])
    assert (spells["minutes"] == 5 * spells["checks"]).all()


def test_failed_with_200_key_counts_the_failures_that_had_a_body(month):
    truth = month["truth"]
    with_body = truth["state"].isin(["unhealthy", "db_down", "redis_down", "degraded"])
    assert key("m1_failed_with_http_200", month["seed"]) == int(with_body.sum()) > 0
    failed = month["failed"]
    assert set(failed.loc[failed["http_status"].isna(), "why"]) == {"timeout"}  # "only the timeouts
    assert set(failed.loc[failed["http_status"].eq(502).fillna(False), "why"]) == {"HTTP 502"}  # and the 502s"


def test_every_failure_has_a_rule_and_the_frontend_never_failed(month):
    failed = month["failed"]
    assert not failed["why"].eq("other").any()  # the visible check of 5d
    assert (failed["path"] != "/").all()
    ready_whys = set(failed.loc[failed["path"] == "/api/health/ready", "why"])
    assert ready_whys == {"timeout", "HTTP 502", "database disconnected", "redis disconnected", "openai circuit open"}
    checks = month["checks"]
    assert (checks["redis"] == "not_configured").any() and (checks["redis"] == "unhealthy").any()  # 5c's check


def test_one_night_spell_had_redis_as_its_reason_and_liveness_said_not_configured(month):
    """The written question's premise: one spell, at night, with Redis as its reason."""
    failed, spells = month["failed"], month["spells"]
    redis = failed[failed["why"] == "redis disconnected"]
    holding = [(s, e) for s, e in zip(spells["start"], spells["end"]) if redis["checkedAt"].between(s, e).any()]
    assert len(holding) == 1
    start, end = holding[0]
    assert start.hour >= 1 and end.hour <= 5  # night in UTC, and in Brasília (UTC-3)
    liveness = failed[(failed["path"] == "/api/health") & failed["checkedAt"].between(start - pd.Timedelta("1min"), end)]
    assert set(liveness["why"]) == {"redis not_configured"}


def test_readiness_and_liveness_disagree_when_the_breaker_is_open(month):
    """The plot's prompt: there are moments when the two paths disagree. m1-ready-endpoint's key:
    at the marks where readiness failed with the breaker open, liveness answered 200 and healthy."""
    checks, failed = month["checks"], month["failed"]
    breaker = failed[failed["why"] == "openai circuit open"]
    assert len(breaker) >= 2 and (breaker["path"] == "/api/health/ready").all()
    marks = breaker["checkedAt"] - pd.Timedelta(seconds=15)  # the liveness check of the same mark
    liveness = checks[(checks["path"] == "/api/health") & checks["checkedAt"].isin(marks)]
    assert len(liveness) == len(breaker) and liveness["passed"].all()
    assert (liveness["http_status"] == 200).all() and (liveness["status"] == "healthy").all()


def test_the_visible_checks_premises_hold(month):
    """5a: staging's replicas differ from production's (the staging trap is visible); 5c: every
    body gives a database field, at its top level or under components."""
    import json

    export = json.loads(month["export"].read_text())
    replicas = {e["name"]: {s["name"]: s["deploy"]["numReplicas"] for s in e["services"]} for e in export["environments"]}
    assert replicas["production"] != replicas["staging"]
    checks = month["checks"]
    assert checks.loc[checks["status"].notna(), "database"].notna().all()


def test_the_deployment_step_shows_a_failed_build(month):
    """Exercise 1.1 step 4: among the backend's six newest deployments there is one FAILED, with no
    startedAt, and the push after it went live."""
    from course.data import platform
    from course.trainer.reference import platform as ref

    history = ref.parse_deployments(platform.deployment_history(month["seed"]))
    newest = history[history["service"] == "etp-express-backend"].sort_values("createdAt", ascending=False).head(6)
    failed = newest[newest["status"] == "FAILED"]
    assert len(failed) == 1 and failed["startedAt"].isna().all()
    after = newest[newest["createdAt"] > failed["createdAt"].iloc[0]].sort_values("createdAt").iloc[0]
    assert after["reason"] == "push" and pd.notna(after["startedAt"]) and after["status"] in {"SUCCESS", "REMOVED"}


def test_the_export_backs_the_service_quizzes(month):
    from course.trainer.reference import platform as ref

    table = ref.services_table(month["export"]).set_index("service")
    assert table.loc["etp-express-backend", "replicas"] * 20 == 40  # m1-pool-total
    assert list(table["healthcheck_path"].fillna("-")) == ["/api/health", "/", "-", "-"]  # m1-health-per-service
    import json
    backend = json.loads(month["export"].read_text())["environments"][0]["services"][0]
    assert backend["scaling"]["maxReplicas"] == 4  # its explanation
    names = ref.variable_names(month["export"])
    production = names[names["environment"] == "production"]
    secrets = set(production.loc[production["secret"], "name"])
    assert {"DATABASE_URL", "POSTGRES_PASSWORD", "REDIS_URL"} <= secrets  # m1-password-rotation, 5b's checks
    assert "JWT_SECRET_OLD" not in set(production["name"]) and production["service"].nunique() == 4
    assert not production["name"].str.contains("SECRET|PASSWORD|KEY|TOKEN").eq(production["secret"]).all()


def test_two_trainees_get_different_planted_answers():
    from course.data import platform, world
    from course.trainer.reference import platform as ref

    found = {}
    for who in ["alice", "bob"]:
        seed = world.seed_for(who)
        names = ref.variable_names(platform.project_export(seed))
        backend = names[(names["environment"] == "production") & (names["service"] == "etp-express-backend")]
        checks = ref.parse_health_checks(platform.health_checks(seed))
        found[who] = dict(start=key("m1_longest_not_ready_start", seed), variables=len(backend),
                          secrets=sorted(backend.loc[backend["secret"], "name"]),
                          first_failed=checks.loc[~checks["passed"] & checks["path"].eq("/api/health/ready"),
                                                  "checkedAt"].min(),
                          by_why=ref.failures_by_why(checks)[["path", "why", "first"]].to_numpy().tolist())
    alice, bob = found["alice"], found["bob"]
    assert not set(alice["start"]) & set(bob["start"])  # m1-longest-spell
    assert alice["first_failed"] != bob["first_failed"] and alice["by_why"] != bob["by_why"]  # 5c, 5d
    assert (alice["variables"], alice["secrets"]) != (bob["variables"], bob["secrets"])  # 5b


def test_the_solution_functions_agree_with_the_reference_in_every_world(month):
    """The model answers of 5d and 5e, run outside a notebook, give the reference's tables."""
    import nbformat

    from harness import REPO, solution_sources
    from course.trainer.reference import platform as ref

    source = nbformat.read(REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    code = solution_sources(source)
    namespace = {"pd": pd, "np": np, "READY": "/api/health/ready"}
    exec(code["m1-why-solution"] + code["m1-spells-solution"], namespace)
    checks = month["checks"]
    mine = namespace["failure_reasons"](checks).sort_values(["checkedAt", "path"], kind="stable")
    theirs = month["failed"].sort_values(["checkedAt", "path"], kind="stable")
    assert list(mine["why"]) == list(theirs["why"])
    counts = namespace["count_failures"](checks).reset_index()
    assert counts.to_numpy().tolist() == ref.failures_by_why(checks).to_numpy().tolist()
    spells = namespace["not_ready_spells"](checks)
    assert spells.to_numpy().tolist() == month["spells"].to_numpy().tolist()
