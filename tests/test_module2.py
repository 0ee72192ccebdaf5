"""Module 2's exercises catch the mistakes they are about."""
import pandas as pd
import pytest

from harness import Trainee
from test_roundtrip import autograde
import wrong_solutions.m2_sla_severity as CATALOGUE  # the wrong solutions the visible checks are tested with

pytestmark = pytest.mark.slow

ASSIGNMENT = "m2_sla_severity"


# Counting HTTP 200 as "up" ignores the unhealthy bodies: the trap the module warns about.
STATUS_CODE_ONLY = CATALOGUE.STATUS_CODE_ONLY

# The whole month's average instead of the worst trailing 24 hours.
MONTH_AVERAGE = '''
error_rate_24h = 100 * pd.Series((api["statusCode"] >= 500).astype(float).to_numpy(),
                                 index=pd.DatetimeIndex(api["timestamp"])).expanding().mean()
worst_error_rate_24h_pct = 100 * (api["statusCode"] >= 500).mean() + 0.5
'''


def test_status_code_only_uptime_loses_the_health_points(one_world_course):
    points = autograde(one_world_course, ASSIGNMENT, Trainee("m2-code-only",
                       code_overrides={"m2-health-solution": STATUS_CODE_ONLY}))
    assert points["m2-health-test"][0] == 0
    assert points["m2-latency-test"][0] == points["m2-latency-test"][1]


def test_month_average_is_not_the_rolling_rate(one_world_course):
    points = autograde(one_world_course, ASSIGNMENT, Trainee("m2-month-average",
                       code_overrides={"m2-errors-solution": MONTH_AVERAGE}))
    assert points["m2-errors-test"][0] == 0
    assert points["m2-health-test"][0] == points["m2-health-test"][1]


# -- what the narrative and the quiz keys claim, checked against the month's data ---------------
# The canonical month and two trainees' months: the claims hold in every world.
WORLDS = {"canonical": 0, "alice": "alice", "bob": "bob"}


@pytest.fixture(scope="module", params=list(WORLDS))
def month(request, data_cache):
    from course.data import traffic, world
    from course.trainer.reference import slo

    who = WORLDS[request.param]
    seed = world.seed_for(who) if isinstance(who, str) else who
    with world.using(seed):
        requests = slo.parse_request_log(traffic.request_log())
        return dict(seed=seed, health=slo.parse_health_log(traffic.health_probe_log()), requests=requests,
                    sections=slo.parse_section_completions(traffic.request_log()))


def test_uptime_met_the_guide_but_not_the_sla(month):
    from course.trainer.reference import slo

    uptime = slo.uptime_pct(month["health"])
    assert 99.5 < uptime < 99.9  # key of m2-sla-999
    spent = slo.downtime_minutes(month["health"]) / slo.error_budget_minutes(99.5, 44_640)
    assert 0.3 < spent < 0.6  # "October spent a good part of its 223"


def test_exactly_one_afternoon_broke_the_llm_slo(month):
    from course.data import world
    from course.trainer.reference import quiz_keys

    sections = month["sections"]
    day = sections["timestamp"].dt.tz_convert("America/Sao_Paulo").dt.strftime("%a %d %b")
    p95 = sections.groupby(day)["durationMs"].quantile(0.95)
    broken = list(p95[p95 > 30_000].index)
    with world.using(month["seed"]):
        key = quiz_keys.answer("slow_llm_day")  # key of m2-llm-bad-day
    assert broken == [key] and key in [quiz_keys.day_label(d) for d in world.SLOW_LLM_DAYS]
    assert sections["durationMs"].quantile(0.95) < 30_000  # while the month's p95 met the SLO


def test_several_days_broke_the_error_slo(month):
    from course.trainer.reference import slo

    api = slo.api_requests(month["requests"])
    is_5xx = pd.Series((api["statusCode"] >= 500).astype(float).to_numpy(), index=pd.DatetimeIndex(api["timestamp"]))
    breaking = 100 * is_5xx.rolling("24h").mean() > 1
    first_days = breaking[breaking & ~breaking.shift(fill_value=False)].index.strftime("%d %b")
    assert len(first_days) >= 3 and "27 Oct" in list(first_days)  # the summary's "several days"
    if month["seed"] == 0:
        assert list(first_days) == ["07 Oct", "23 Oct", "27 Oct"]


def test_two_trainees_get_different_planted_answers():
    from course.data import world
    from course.trainer.reference import quiz_keys, slo
    from course.data import traffic

    found = {}
    for who in ["alice", "bob"]:
        with world.using(world.seed_for(who)):
            health = slo.parse_health_log(traffic.health_probe_log())
            found[who] = (quiz_keys.answer("slow_llm_day"), round(slo.uptime_pct(health), 4),
                          traffic.facts()["bad_llm_hours_brt"])
    assert found["alice"][1] != found["bob"][1]
    assert found["alice"][0] != found["bob"][0] or found["alice"][2] != found["bob"][2]
