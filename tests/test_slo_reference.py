"""Module 2 reference: parsers, SLO figures of the simulated month, incident deadlines."""
import time

import pandas as pd
import pytest
from pandas.tseries.offsets import BDay

from course.data import cache, traffic
from course.trainer.reference import slo

MONTH_MINUTES = 31 * 24 * 60


@pytest.fixture(scope="module")
def month(data_cache):
    """The default month, generated and parsed once; prints how long each half took."""
    started = time.perf_counter()
    paths = (traffic.request_log(), traffic.health_probe_log(), traffic.incident_channel_log())
    generated = time.perf_counter()
    frames = {
        "requests": slo.parse_request_log(paths[0]),
        "sections": slo.parse_section_completions(paths[0]),
        "health": slo.parse_health_log(paths[1]),
        "incidents": slo.parse_incident_log(paths[2]),
    }
    parsed = time.perf_counter()
    print(f"\nmonth: generation {generated - started:.2f} s, parsing {parsed - generated:.2f} s")
    frames["paths"] = paths
    return frames


# ---------------------------------------------------------------- parsers

def test_request_frame_holds_only_http_events(month):
    requests = month["requests"]
    raw = month["paths"][0].read_text(encoding="utf-8")
    assert len(requests) == raw.count('"eventType":"http_')
    assert set(requests["eventType"]) == {"http_response", "http_error"}
    assert str(requests["timestamp"].dt.tz) == "UTC" and requests["timestamp"].is_monotonic_increasing
    assert requests["statusCode"].dtype == "int64" and requests["durationMs"].dtype == "int64"
    assert requests["userId"].isna().any()  # logins and rejected tokens carry no user


def test_section_frame(month):
    sections = month["sections"]
    assert list(sections.columns) == ["timestamp", "jobId", "sectionId", "durationMs"]
    assert 2_000 <= len(sections) <= 6_000 and sections["durationMs"].dtype == "int64"


def test_health_frame(month):
    health = month["health"]
    assert len(health) == MONTH_MINUTES * 2
    assert health["timestamp"].diff().dropna().eq(pd.Timedelta(seconds=30)).all()
    timed_out = health[health["timed_out"]]
    assert timed_out["status_code"].isna().all() and (timed_out["duration_ms"] == 5000).all()
    # The backend answers 200 when unhealthy: the body decides.
    down_with_200 = health[(health["status_code"] == 200) & ~health["up"]]
    assert len(down_with_200) > 0 and (down_with_200["status"] == "unhealthy").all()
    # Redis gone; during the failover the check waits for a pool slot and the monitor times out
    assert set(down_with_200["redis"]) == {"not_configured"}


def test_incident_frame(month):
    incidents = month["incidents"].set_index("id")
    assert list(month["incidents"].columns) == ["id", "title", "severity", "opened", "acknowledged", "resolved"]
    assert 8 <= len(incidents) <= 12 and set(incidents["severity"]) == {"P0", "P1", "P2", "P3"}
    for column in ("opened", "acknowledged", "resolved"):
        assert str(incidents[column].dt.tz) == "UTC-03:00"
    pool = incidents.loc["INC-2026-10-07-01"]
    assert pool["title"] == "Database connection pool exhausted" and pool["severity"] == "P0"
    # First ACK counts; a second ACK and a "anyone on it?" message do not.
    assert pool["acknowledged"].strftime("%H:%M") == "14:09"
    assert incidents.loc["INC-2026-10-21-01", "acknowledged"].strftime("%H:%M") == "15:26"
    assert pd.isna(incidents.loc["INC-2026-10-29-01", "resolved"])


def test_parsers_survive_blank_lines_and_crlf(month, tmp_path):
    for source, parse in ((month["paths"][1], slo.parse_health_log),
                          (month["paths"][2], slo.parse_incident_log)):
        text = source.read_text(encoding="utf-8")
        messy = tmp_path / source.name
        messy.write_bytes(("\n" + text.replace("\n", "\r\n") + "\r\n\n").encode("utf-8"))
        pd.testing.assert_frame_equal(parse(messy), parse(source))


@pytest.mark.parametrize("parse, generator", [
    (slo.parse_request_log, "request_log"),
    (slo.parse_section_completions, "request_log"),
    (slo.parse_health_log, "health_probe_log"),
    (slo.parse_incident_log, "incident_channel_log"),
])
def test_missing_file_says_how_to_create_it(tmp_path, parse, generator):
    missing = tmp_path / "nowhere.log"
    with pytest.raises(FileNotFoundError, match=rf"not found: .*nowhere\.log.*traffic\.{generator}\(\)"):
        parse(missing)
    with pytest.raises(FileNotFoundError):
        parse(str(tmp_path))  # a folder is not a log


# ---------------------------------------------------------------- the month's figures

def test_uptime_passes_the_guide_slo_but_not_the_sla(month):
    health = month["health"]
    assert slo.downtime_minutes(health) == 112.0
    assert slo.uptime_pct(health) == pytest.approx(100 * (MONTH_MINUTES - 112) / MONTH_MINUTES)
    assert 99.5 < slo.uptime_pct(health) < 99.9


def test_downtime_definition_on_a_tiny_log(tmp_path):
    body = '{"status":"%s","timestamp":"2026-10-01T00:00:00.010Z","database":"%s","redis":"connected"}'
    probe_log = tmp_path / "probes.log"
    probe_log.write_text("\n".join([
        "2026-10-01T00:00:00Z GET /api/health 200 40ms " + body % ("healthy", "connected"),
        "2026-10-01T00:00:30Z GET /api/health 200 12ms " + body % ("unhealthy", "disconnected"),
        "2026-10-01T00:01:00Z GET /api/health - 5000ms timeout",
        "2026-10-01T00:01:30Z GET /api/health 502 3ms Application failed to respond",
    ]) + "\n", encoding="utf-8")
    health = slo.parse_health_log(probe_log)
    assert health["up"].tolist() == [True, False, False, False]
    assert slo.uptime_pct(health) == 25.0 and slo.downtime_minutes(health) == 1.5


def test_error_rate_hides_the_bad_day_only_when_averaged(month):
    requests = month["requests"]
    assert slo.error_rate_pct(requests) < 1 < slo.worst_rolling_error_rate_pct(requests)
    worst_at = slo.rolling_error_rate_pct(requests).idxmax()
    start, _ = traffic.PLANTED["pool_exhaustion"]
    assert start <= worst_at <= start + pd.Timedelta("24h")


def test_rolling_rate_starts_with_a_full_window():
    stamps = pd.date_range("2026-10-01", periods=49, freq="1h", tz="UTC")
    requests = pd.DataFrame({"timestamp": stamps, "path": "/api/v1/etps", "statusCode": 200,
                             "durationMs": 100})
    requests.loc[0, "statusCode"] = 500  # alone in its first hour: 100 % if partial windows counted
    rate = slo.rolling_error_rate_pct(requests)
    assert rate.index[0] == stamps[24]
    assert slo.worst_rolling_error_rate_pct(requests) == 0.0


def test_health_checks_are_not_api_traffic():
    requests = pd.DataFrame({
        "timestamp": pd.date_range("2026-10-01", periods=200, freq="1min", tz="UTC"),
        "path": ["/api/v1/etps"] * 100 + ["/api/health"] * 100,
        "statusCode": [200] * 100 + [500] * 100,
        "durationMs": [100] * 100 + [9_000] * 100,
    })
    assert slo.api_p95_seconds(requests) == 0.1 and slo.error_rate_pct(requests) == 0.0


def test_api_p95_meets_the_guide_clearly(month):
    assert 0.3 < slo.api_p95_seconds(month["requests"]) < 1.5


def test_llm_p95_is_clear_of_30_s_and_the_slow_window_shows(month):
    sections = month["sections"]
    p95 = slo.llm_section_p95_seconds(sections)
    assert p95 < 29 and abs(p95 - 30) > 1
    start, end = traffic.PLANTED["slow_llm"]
    inside = sections["timestamp"].between(start + pd.Timedelta("1min"), end + pd.Timedelta("1min"))
    assert sections.loc[inside, "durationMs"].median() > 35_000
    assert sections.loc[~inside, "durationMs"].median() < 20_000
    hourly_p95 = sections[inside].set_index("timestamp")["durationMs"].resample("1h").quantile(0.95)
    assert (hourly_p95 > 30_000).all()


def test_slo_table(month):
    table = slo.slo_table(month["requests"], month["health"], month["sections"])
    assert table.index.name == "metric" and list(table.columns) == ["target", "actual", "met"]
    assert list(table.index) == ["uptime_pct", "api_p95_s", "error_rate_24h_pct", "llm_p95_s"]
    assert table["target"].tolist() == [99.5, 2.0, 1.0, 30.0]
    assert table["met"].tolist() == [True, True, False, True]
    assert table.loc["uptime_pct", "actual"] == pytest.approx(slo.uptime_pct(month["health"]))


def test_error_budget_minutes():
    assert slo.error_budget_minutes(99.9, MONTH_MINUTES) == pytest.approx(44.64)
    assert slo.error_budget_minutes(99.5, MONTH_MINUTES) == pytest.approx(223.2)
    assert slo.error_budget_minutes(99.9, 30 * 24 * 60) == pytest.approx(43.2)  # the docs' "about 43 min"


def test_same_figures_for_other_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    log = traffic.request_log(7)
    requests = slo.parse_request_log(log)
    health = slo.parse_health_log(traffic.health_probe_log(7))
    table = slo.slo_table(requests, health, slo.parse_section_completions(log))
    assert table["met"].tolist() == [True, True, False, True]
    assert slo.error_rate_pct(requests) < 1


# ---------------------------------------------------------------- incident deadlines

def test_severity_targets():
    assert slo.SEVERITY_TARGETS == {
        "P0": (pd.Timedelta("15min"), pd.Timedelta("4h")),
        "P1": (pd.Timedelta("1h"), pd.Timedelta("8h")),
        "P2": (pd.Timedelta("4h"), pd.Timedelta("48h")),
        "P3": (pd.Timedelta("24h"), BDay(5)),
    }


def test_response_deadlines_find_breaches_and_kept_targets(month):
    checked = slo.response_deadlines(month["incidents"]).set_index("id")
    assert checked["ack_breached"].any() and not checked["ack_breached"].all()
    assert checked["resolve_breached"].any() and not checked["resolve_breached"].all()
    assert sorted(checked.index[checked["ack_breached"]]) == [
        "INC-2026-10-02-01", "INC-2026-10-14-01", "INC-2026-10-15-01", "INC-2026-10-21-01"]
    assert sorted(checked.index[checked["resolve_breached"]]) == ["INC-2026-10-09-01", "INC-2026-10-23-01"]
    pool = checked.loc["INC-2026-10-07-01"]
    assert pool["ack_deadline"] == pool["opened"] + pd.Timedelta("15min")


def test_p3_resolution_counts_business_days(month):
    typo = slo.response_deadlines(month["incidents"]).set_index("id").loc["INC-2026-10-02-01"]
    assert typo["opened"].day_name() == "Friday"
    assert typo["resolve_deadline"] == typo["opened"] + pd.Timedelta(days=7)  # over the weekend
    assert typo["resolved"] > typo["opened"] + pd.Timedelta(days=5)  # late in calendar days...
    assert not typo["resolve_breached"]  # ...on time in business days


def test_an_open_incident_breaches_only_once_its_deadline_passes(month):
    incidents = month["incidents"]
    still_open = "INC-2026-10-29-01"
    on_time = slo.response_deadlines(incidents).set_index("id").loc[still_open]
    late = slo.response_deadlines(incidents, as_of="2026-11-06 00:00-03:00").set_index("id").loc[still_open]
    assert not on_time["resolve_breached"] and late["resolve_breached"]
