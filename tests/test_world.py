"""One world, many views: the month's sources agree on every incident, minute by minute."""
from __future__ import annotations

import pandas as pd
import pytest

from course.data import traffic, world
from course.reference import slo

BRT = pd.Timedelta(hours=world.UTC_OFFSET_BRT_H)


@pytest.fixture(scope="module")
def views(data_cache):
    log = pd.read_json(traffic.request_log(), lines=True, engine="pyarrow")
    log["timestamp"] = pd.to_datetime(log["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    probes = slo.parse_health_log(traffic.health_probe_log())
    chat = slo.parse_incident_log(traffic.incident_channel_log())
    return log, probes, chat


def window(frame, name, column="timestamp"):
    start, end = traffic.PLANTED[name]
    return frame[(frame[column] >= start) & (frame[column] < end)]


def test_every_probe_that_reached_the_backend_is_in_its_log_at_the_same_second(views):
    log, probes, _ = views
    hits = log[log["path"].eq(world.HEALTH_PATH) & log["eventType"].eq("http_response")]
    logged = set(hits["timestamp"].dt.floor("s"))
    reached = probes[probes["status_code"].ne(502).fillna(True)]  # a timeout reached it
    assert set(reached["timestamp"]) == logged
    assert not (set(probes.loc[probes["status_code"].eq(502).fillna(False), "timestamp"]) & logged)


def test_pool_exhaustion_in_every_view(views):
    log, probes, chat = views
    api = window(log, "pool_exhaustion")
    api = api[api["path"].notna() & ~api["path"].fillna("").str.startswith("/api/health")]
    server_errors = api[api["statusCode"] >= 500]
    assert (server_errors["error"] == world.POOL_TIMEOUT_ERROR).all() and len(server_errors) > 0.5 * len(api)
    during = window(probes, "pool_exhaustion")
    assert (~during["up"]).mean() > 0.6  # the check waits for a pool slot too: mostly timeouts
    # A probe the monitor gave up on waited out the pool's acquire timeout in the backend.
    health = window(log, "pool_exhaustion")
    health = health[health["path"].eq(world.HEALTH_PATH)]
    health = health.set_index(health["timestamp"].dt.floor("s").rename("t"))
    gave_up = during.loc[during["timed_out"], "timestamp"]
    assert len(gave_up) and (health.loc[gave_up, "durationMs"] >= world.POOL_ACQUIRE_TIMEOUT_MS).all()
    opened = chat.loc[chat["id"].eq("INC-2026-10-07-01"), "opened"].iloc[0]
    assert pd.Timedelta(0) <= opened - traffic.PLANTED["pool_exhaustion"][0] <= pd.Timedelta("20min")
    text = traffic.incident_channel_log().read_text(encoding="utf-8")
    assert "idle sessions" not in text and "pg_cancel_backend" in text


def test_redis_outage_in_every_view(views):
    log, probes, _ = views
    during = window(probes, "redis_outage")
    assert (during["redis"] == "not_configured").all() and (~during["up"]).all()
    queue_calls = window(log, "redis_outage")
    queue_calls = queue_calls[queue_calls["path"].fillna("").str.contains("/generate|/sections/jobs/")]
    assert (queue_calls["statusCode"] == 500).all()
    # The queue's worker keeps trying to reconnect, and says so, only while Redis is gone.
    lost = log[log["message"].eq(traffic.REDIS_LOST)]
    assert len(window(lost, "redis_outage")) == len(lost) >= 100


def test_crash_loop_in_every_view(views):
    log, probes, _ = views
    assert (window(probes, "crash_loop")["status_code"] == 502).all()
    during = window(log, "crash_loop")
    assert during["eventType"].isna().all() and (during["message"] == world.OOM_MESSAGE).sum() >= 10


def test_restarts_connect_before_nest_reports_typeorm_ready(views):
    log, _, _ = views
    boot = log[log["message"].isin(["No migrations are pending", "Starting Nest application...",
                                    "TypeOrmModule dependencies initialized",
                                    "Nest application successfully started"])]
    first = boot.groupby("message")["timestamp"].min()
    assert (first["No migrations are pending"] < first["Starting Nest application..."]
            < first["TypeOrmModule dependencies initialized"] < first["Nest application successfully started"])


def test_generation_is_asynchronous_and_ordinary_days_meet_the_llm_slo(views):
    log, _, _ = views
    generate = log[log["path"].fillna("").str.endswith("/generate") & log["eventType"].eq("http_response")]
    assert (generate["statusCode"] == world.GENERATE_STATUS).all()
    sections = slo.parse_section_completions(traffic.request_log())
    start, end = traffic.PLANTED["slow_llm"]
    in_window = sections["timestamp"].between(start, end + pd.Timedelta("1min"))
    assert sections.loc[~in_window, "durationMs"].quantile(0.95) < 30_000 < sections.loc[in_window, "durationMs"].quantile(0.95)


def test_failover_health_failures_are_logged_before_their_answers(views):
    log, _, _ = views
    failures = window(log, "db_failover")
    failures = failures[failures["message"].eq("Health check failed: Database not connected")]
    answers = window(log, "db_failover")
    answers = answers[answers["path"].eq(world.HEALTH_PATH)]
    answered = dict(zip(answers["timestamp"].dt.floor("s"), answers["timestamp"] + pd.to_timedelta(
        answers["durationMs"], unit="ms")))
    assert len(failures) == len(answered) > 0
    assert all(stamp <= answered[stamp.floor("s")] for stamp in failures["timestamp"])
