"""One world, many views: the month's sources agree on every incident, minute by minute.

Every check runs for the canonical world and for one trainee's variant, whose stories sit
elsewhere: the sources must agree wherever the stories are.
"""
from __future__ import annotations

import pandas as pd
import pytest

from course.data import traffic, world
from course.trainer.reference import slo

BRT = pd.Timedelta(hours=world.UTC_OFFSET_BRT_H)
VARIANTS = {"canonical": world.Variant(), "trainee": world.Variant(world.seed_for("world-views"))}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


@pytest.fixture(scope="module")
def planted(variant):
    return traffic.planted(variant)


@pytest.fixture(scope="module")
def views(data_cache, variant):
    log = pd.read_json(traffic.request_log(variant), lines=True, engine="pyarrow")
    log["timestamp"] = pd.to_datetime(log["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    probes = slo.parse_health_log(traffic.health_probe_log(variant))
    chat = slo.parse_incident_log(traffic.incident_channel_log(variant))
    return log, probes, chat


def test_the_trainee_variant_moves_every_story():
    canonical, moved = traffic.PLANTED, traffic.planted(VARIANTS["trainee"])
    assert all(moved[name] != canonical[name] for name in canonical)


def window(frame, span, column="timestamp"):
    start, end = span
    return frame[(frame[column] >= start) & (frame[column] < end)]


def _received(lines: pd.DataFrame) -> pd.Series:
    """When each request reached the backend: its line is written when it finished."""
    return lines["timestamp"] - pd.to_timedelta(lines["durationMs"], unit="ms")


def test_every_probe_that_reached_the_backend_is_in_its_log_at_the_same_second(views):
    log, probes, _ = views
    hits = log[log["path"].eq(world.HEALTH_PATH) & log["eventType"].eq("http_response")]
    logged = set(_received(hits).dt.floor("s"))
    reached = probes[probes["status_code"].ne(502).fillna(True)]  # a timeout reached it
    assert set(reached["timestamp"]) == logged
    assert not (set(probes.loc[probes["status_code"].eq(502).fillna(False), "timestamp"]) & logged)


def test_pool_exhaustion_in_every_view(views, planted, variant):
    log, probes, chat = views
    api = window(log, planted["pool_exhaustion"])
    api = api[api["path"].notna() & ~api["path"].fillna("").str.startswith("/api/health")]
    server_errors = api[api["statusCode"] >= 500]
    assert (server_errors["error"] == world.POOL_TIMEOUT_ERROR).all() and len(server_errors) > 0.5 * len(api)
    during = window(probes, planted["pool_exhaustion"])
    assert (~during["up"]).mean() > 0.6  # the check waits for a pool slot too: mostly timeouts
    # A probe the monitor gave up on waited out the pool's acquire timeout in the backend.
    health = window(log, planted["pool_exhaustion"])
    health = health[health["path"].eq(world.HEALTH_PATH)]
    health = health.set_index(_received(health).dt.floor("s").rename("t"))
    gave_up = during.loc[during["timed_out"], "timestamp"]
    assert len(gave_up) and (health.loc[gave_up, "durationMs"] >= world.POOL_ACQUIRE_TIMEOUT_MS).all()
    incident = traffic.facts(variant)["incident_id"]["pool_exhaustion"]
    opened = chat.loc[chat["id"].eq(incident), "opened"].iloc[0]
    assert pd.Timedelta(0) <= opened - planted["pool_exhaustion"][0] <= pd.Timedelta("20min")
    text = traffic.incident_channel_log(variant).read_text(encoding="utf-8")
    assert "idle sessions" not in text and "pg_cancel_backend" in text


def test_redis_outage_in_every_view(views, planted):
    log, probes, _ = views
    during = window(probes, planted["redis_outage"])
    assert (during["redis"] == "not_configured").all() and (~during["up"]).all()
    queue_calls = window(log, planted["redis_outage"])
    queue_calls = queue_calls[queue_calls["path"].fillna("").str.contains("/generate|/sections/jobs/")]
    assert (queue_calls["statusCode"] == 500).all()
    # The queue's worker keeps trying to reconnect, and says so, only while Redis is gone.
    lost = log[log["message"].eq(traffic.REDIS_LOST)]
    assert len(window(lost, planted["redis_outage"])) == len(lost) >= 100


def test_crash_loop_in_every_view(views, planted):
    log, probes, _ = views
    assert (window(probes, planted["crash_loop"])["status_code"] == 502).all()
    during = window(log, planted["crash_loop"])
    assert during["eventType"].isna().all() and (during["message"] == world.OOM_MESSAGE).sum() >= 10


def test_restarts_connect_before_nest_reports_typeorm_ready(views):
    log, _, _ = views
    boot = log[log["message"].isin(["No migrations are pending", "Starting Nest application...",
                                    "TypeOrmModule dependencies initialized",
                                    "Nest application successfully started"])]
    first = boot.groupby("message")["timestamp"].min()
    assert (first["No migrations are pending"] < first["Starting Nest application..."]
            < first["TypeOrmModule dependencies initialized"] < first["Nest application successfully started"])


def test_generation_is_asynchronous_and_ordinary_days_meet_the_llm_slo(views, planted, variant):
    log, _, _ = views
    generate = log[log["path"].fillna("").str.endswith("/generate") & log["eventType"].eq("http_response")]
    assert (generate["statusCode"] == world.GENERATE_STATUS).all()
    sections = slo.parse_section_completions(traffic.request_log(variant))
    start, end = planted["slow_llm"]
    in_window = sections["timestamp"].between(start, end + pd.Timedelta("1min"))
    assert sections.loc[~in_window, "durationMs"].quantile(0.95) < 30_000 < sections.loc[in_window, "durationMs"].quantile(0.95)


def test_failover_health_failures_are_logged_before_their_answers(views, planted):
    log, _, _ = views
    failures = window(log, planted["db_failover"])
    failures = failures[failures["message"].eq("Health check failed: Database not connected")]
    answers = window(log, planted["db_failover"])
    answers = answers[answers["path"].eq(world.HEALTH_PATH)]
    answered = answers["timestamp"].sort_values()  # a request's line is written as it is answered
    assert len(failures) == len(answers) > 0
    # each failure is logged within a millisecond before its own answer
    matched = pd.merge_asof(failures[["timestamp"]].sort_values("timestamp"),
                            answered.rename("answered").to_frame(), left_on="timestamp", right_on="answered",
                            direction="forward")
    assert ((matched["answered"] - matched["timestamp"]) <= pd.Timedelta("2ms")).all()


# -- the on-call day: Module 5's day of logs is a day of Module 2's month -----------------------
@pytest.fixture(scope="module")
def on_call_day(data_cache, variant):
    from course.data import backend_logs
    from course.data.winston import parse_production

    return parse_production(backend_logs.production_log("full", variant=variant))


def test_the_day_of_logs_is_a_day_of_the_month(variant, planted):
    from course.data import backend_logs

    assert backend_logs.PRODUCTION_DAY == world.ON_CALL_DAY and world.ON_CALL_DAY.startswith(world.MONTH)
    day = dict(zip(("db_failover", "openai_breaker", "jwt_rotation"), backend_logs.stories(variant)))
    for name, story in day.items():
        start, end = planted[name]
        assert start <= pd.Timestamp(story.first_failure) <= end, name
    month_starts = [when for when in traffic.deploys_utc(variant) if when.startswith(world.ON_CALL_DAY)]
    assert [f"{when.replace(' ', 'T')}Z" for when in month_starts] == list(backend_logs.container_starts(variant)[1:])


def test_each_incident_of_the_day_shows_in_both_modules_at_the_same_minutes(views, on_call_day, planted):
    log, probes, chat = views
    day = on_call_day
    for name, error in [("db_failover", world.DROPPED_CONNECTION_ERROR), ("jwt_rotation", "Token inválido")]:
        start, _ = planted[name]
        in_month = log[log["error"].eq(error) & (log["timestamp"] >= start - pd.Timedelta("1min"))]
        in_day = day[day["error"].eq(error) & (day["timestamp"] >= start - pd.Timedelta("1min"))]
        first_month, first_day = in_month["timestamp"].min(), in_day["timestamp"].min()
        assert abs(first_month - first_day) < pd.Timedelta("1min"), name
        assert first_day >= start - pd.Timedelta("1s"), name
    start, end = planted["openai_breaker"]
    failed_jobs = log[log["message"].fillna("").str.contains("failed: Serviço de IA")]
    assert len(failed_jobs) and failed_jobs["timestamp"].between(start, end + pd.Timedelta("1min")).all()
    assert day["message"].fillna("").str.contains("failed: Serviço de IA").any()
    # The monitor saw the database trouble, and the channel opened an incident for each.
    assert (~window(probes, planted["db_failover"])["up"]).mean() > 0.9
    day_chat = chat[chat["id"].str.startswith(f"INC-{world.ON_CALL_DAY}")]
    assert len(day_chat) == 3
    for name, (start, _) in planted.items():
        if name in world.ON_CALL_INCIDENTS:
            assert ((day_chat["opened"] - start).between(pd.Timedelta(0), pd.Timedelta("70min"))).any(), name


def test_container_starts_agree_to_the_second(views, on_call_day):
    log, _, _ = views
    month_starts = set(log.loc[log["message"].eq("Starting Nest application...")
                               & log["timestamp"].dt.strftime("%Y-%m-%d").eq(world.ON_CALL_DAY), "timestamp"].dt.floor("s"))
    day_starts = set(on_call_day.loc[on_call_day["message"].eq("Starting Nest application..."), "timestamp"].dt.floor("s"))
    assert month_starts == day_starts and len(day_starts) == 2
