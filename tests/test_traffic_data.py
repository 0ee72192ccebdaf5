"""The simulated October 2026: determinism, volumes, formats and the planted events.

The checks here read the canonical world (``world.Variant()``), the one the course narrates;
tests/test_variant_traffic.py checks trainees' variants.
"""
import json
import re

import pandas as pd
import pytest

from course.data import cache, traffic, world

MONTH_MINUTES = 31 * 24 * 60
WINSTON_TIME = re.compile(r"^2026-10-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
CHANNEL_LINE = re.compile(r"^2026-10-\d{2} \d{2}:\d{2}:\d{2} BRT \| @[\w.-]+ \| .+$")
HTTP_FIELDS = {"level", "message", "context", "eventType", "method", "path", "statusCode", "durationMs",
               "requestId", "userId", "organizationId", "service", "timestamp"}
ERROR_FIELDS = HTTP_FIELDS | {"error", "stack"}
GENERATORS = (traffic.request_log, traffic.health_probe_log, traffic.incident_channel_log)
CANONICAL = world.Variant()


@pytest.fixture(scope="module")
def month(data_cache):
    return {make.__name__: make(CANONICAL) for make in GENERATORS}


@pytest.fixture(scope="module")
def log_records(month):
    """Every request-log line as a dict (a test may loop; the reference may not)."""
    with open(month["request_log"], encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_files_land_in_the_cache_named_by_version_and_seed(month, data_cache):
    for path in month.values():
        assert path.parent == data_cache
        assert f"v{traffic.GENERATOR_VERSION}" in path.name and f"seed{traffic.DEFAULT_SEED}" in path.name


def test_same_variant_gives_the_same_bytes(month, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    for make in GENERATORS:
        again = make(world.Variant(world.CANONICAL_SEED))
        assert again != month[make.__name__]
        assert again.read_bytes() == month[make.__name__].read_bytes(), make.__name__


def test_another_variant_gives_other_bytes_under_its_own_name(month, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    variant = world.Variant(world.seed_for("another trainee"))
    for make in GENERATORS:
        other = make(variant)
        assert other.name != month[make.__name__].name and f"world{variant.seed}" in other.name
        assert other.read_bytes() != month[make.__name__].read_bytes(), make.__name__


def test_without_a_variant_the_generators_read_the_current_world(month, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    assert world.current().canonical  # the tests' setting: ETP_VARIANTS=off
    assert traffic.incident_channel_log().read_bytes() == month["incident_channel_log"].read_bytes()
    seed = world.seed_for("a graded kernel")
    with world.using(seed):
        assert traffic.incident_channel_log() == traffic.incident_channel_log(world.Variant(seed))
        assert traffic.planted() == traffic.planted(world.Variant(seed)) != traffic.PLANTED
    assert traffic.incident_channel_log(seed) == traffic.incident_channel_log(world.Variant(seed))  # an int is a seed
    with pytest.raises(TypeError):
        traffic.request_log("alice")


def test_a_cached_file_is_reused_not_rewritten(month):
    before = month["request_log"].stat().st_mtime_ns
    assert traffic.request_log() == month["request_log"]
    assert month["request_log"].stat().st_mtime_ns == before


def test_request_log_volume_and_line_kinds(log_records):
    assert 170_000 <= len(log_records) <= 220_000  # health probes every 30 s included
    http = [r for r in log_records if r.get("eventType") in ("http_response", "http_error")]
    sections = [r for r in log_records if r.get("context") == "SectionsProcessor"]
    others = [r for r in log_records if "eventType" not in r and r.get("context") != "SectionsProcessor"]
    assert len(http) > 100_000
    assert 2_000 <= len(sections) <= 6_000
    assert {r.get("context") for r in others} >= {"NestApplication", "HealthService", "OpenAIService"}
    # A level of "error" is not an HTTP failure: some error lines have no status code.
    assert any(r["level"] == "error" and "statusCode" not in r for r in others)


def test_http_lines_carry_exactly_the_interceptor_fields(log_records):
    for r in log_records:
        assert r["service"] == "etp-express-backend" and WINSTON_TIME.match(r["timestamp"])
        if r.get("eventType") == "http_response":
            assert set(r) <= HTTP_FIELDS and r["level"] == "info" and r["message"] == "HTTP Request completed"
        elif r.get("eventType") == "http_error":
            assert set(r) <= ERROR_FIELDS and {"error", "stack"} <= set(r)
            assert r["level"] == "error" and r["message"] == "HTTP Request failed"
        if "eventType" in r:
            assert r["context"] == "HTTP" and re.fullmatch(r"[0-9a-f-]{36}", r["requestId"])


def test_request_log_is_time_ordered_within_october(log_records):
    stamps = pd.to_datetime(pd.Series([r["timestamp"] for r in log_records]),
                            format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    assert stamps.is_monotonic_increasing
    assert stamps.iloc[0] >= traffic.MONTH_START and stamps.iloc[-1] < traffic.MONTH_END


def test_paths_are_real_v1_routes(log_records):
    paths = pd.Series([r["path"] for r in log_records if "eventType" in r])
    assert paths.str.match(r"^/api/(v1/|health$)").all()
    for route in (r"^/api/v1/auth/login$", r"^/api/v1/etps/[0-9a-f-]{36}$",
                  r"^/api/v1/sections/etp/[0-9a-f-]{36}/generate$", r"^/api/v1/sections/jobs/\d+$",
                  r"^/api/v1/export/etp/[0-9a-f-]{36}/pdf$"):
        assert paths.str.match(route).any(), route


def test_working_hours_in_brazil_are_busiest(log_records):
    users = [r for r in log_records if "eventType" in r and not r["path"].startswith("/api/health")]
    stamps = pd.to_datetime(pd.Series([r["timestamp"] for r in users]), format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    brt = stamps.dt.tz_convert("America/Sao_Paulo")
    weekday = brt.dt.day_of_week < 5
    office = brt.dt.hour.between(9, 16)
    assert (weekday & office).sum() > 5 * (weekday & brt.dt.hour.between(1, 5)).sum()
    per_weekday = weekday.sum() / 22
    per_weekend_day = (~weekday).sum() / 9
    assert per_weekday > 3 * per_weekend_day


def test_client_error_noise(log_records):
    codes = pd.Series([r["statusCode"] for r in log_records if "statusCode" in r])
    assert {401, 404, 429} <= set(codes)
    assert codes.between(400, 499).mean() < 0.05


def test_latency_follows_the_route_classes(log_records):
    http = pd.DataFrame([r for r in log_records if r.get("eventType") == "http_response"])
    login = http.loc[http["path"] == "/api/v1/auth/login", "durationMs"]
    crud = http.loc[http["path"].str.startswith("/api/v1/etps"), "durationMs"]
    export = http.loc[http["path"].str.startswith("/api/v1/export/"), "durationMs"]
    assert 200 <= login.median() <= 400 and login.quantile(0.95) < 800
    assert crud.quantile(0.95) < 1_500
    assert 1_000 <= export.median() <= 4_000 and export.quantile(0.95) < 8_000


def test_section_completions_follow_the_sla_latency_targets(log_records):
    done = pd.DataFrame([r for r in log_records if r.get("message") == "Section generation completed"])
    assert set(done.columns) == {"level", "message", "context", "jobId", "sectionId", "durationMs",
                                 "service", "timestamp"}
    assert (done["context"] == "SectionsProcessor").all()
    done["timestamp"] = pd.to_datetime(done["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    start, end = traffic.PLANTED["slow_llm"]
    ordinary = done.loc[~done["timestamp"].between(start, end + pd.Timedelta("1min")), "durationMs"]
    assert 4_000 < ordinary.median() < 6_500          # SLA p50 5 s
    assert 12_000 < ordinary.quantile(0.95) < 20_000  # SLA p95 15 s: an ordinary day meets 30 s
    assert (done["durationMs"] < world.LLM_TIMEOUT_MS).all()  # past the timeout a call fails


def test_pool_exhaustion_fails_requests_slowly(log_records):
    start, end = traffic.PLANTED["pool_exhaustion"]
    http = pd.DataFrame([r for r in log_records if "eventType" in r])
    http["timestamp"] = pd.to_datetime(http["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    during = http[http["timestamp"].between(start, end) & (http["path"] != "/api/health")]
    failed = during[during["statusCode"] == 500]
    assert len(failed) > 0.5 * len(during)
    # A saturated pool: pg-pool's acquire timeout, not a dropped connection.
    assert (failed["error"] == world.POOL_TIMEOUT_ERROR).all()
    assert failed["durationMs"].min() >= world.POOL_ACQUIRE_TIMEOUT_MS


def test_the_crash_loop_serves_nobody_and_restarts_over_and_over(log_records):
    start, end = traffic.PLANTED["crash_loop"]
    during = [r for r in log_records
              if start <= pd.Timestamp(r["timestamp"].replace("+0000", "Z")) < end]
    assert not [r for r in during if "eventType" in r or r.get("context") == "SectionsProcessor"]
    ooms = [r for r in during if r["message"] == world.OOM_MESSAGE]
    starts = [r for r in during if r["message"] == "Nest application successfully started"]
    assert len(ooms) >= 10 and len(starts) == len(ooms) and all(r["level"] == "error" for r in ooms)


def test_health_probes_every_30_s_in_the_raw_formats(month):
    lines = month["health_probe_log"].read_text(encoding="utf-8").splitlines()
    assert len(lines) == MONTH_MINUTES * 2
    assert lines[0].startswith("2026-10-01T00:00:00Z GET /api/health 200 ")
    assert lines[1].startswith("2026-10-01T00:00:30Z ")
    healthy = re.compile(r'^\S+Z GET /api/health 200 \d+ms \{"status":"healthy","timestamp":"[^"]+Z",'
                         r'"database":"connected","redis":"connected"\}$')
    assert sum(bool(healthy.match(line)) for line in lines) > 0.99 * len(lines)
    assert any(line.endswith(" GET /api/health - 5000ms timeout") for line in lines)
    # Down but still HTTP 200: only the body tells (Redis gone; during the 27 Oct failover the
    # check waited for a pool slot, as the day's log shows, and the monitor timed out).
    assert any(" 200 " in line and '"status":"unhealthy"' in line and '"redis":"not_configured"' in line
               for line in lines)
    assert any(" 502 " in line for line in lines)


def test_incident_channel_format_and_mix(month):
    lines = month["incident_channel_log"].read_text(encoding="utf-8").splitlines()
    assert all(CHANNEL_LINE.match(line) for line in lines)
    opened = [line for line in lines if "| [INCIDENT] INC-" in line]
    ids = {re.search(r"INC-2026-10-\d{2}-\d{2}", line).group() for line in opened}
    assert 8 <= len(ids) <= 12
    assert {re.search(r"Severity: (P[0-3])", line).group(1) for line in opened} == {"P0", "P1", "P2", "P3"}
    assert any("ACK " in line for line in lines) and any("[RESOLVED]" in line for line in lines)
    assert sum("INC-" not in line for line in lines) >= 20  # chatter


def test_every_planted_event_has_an_incident(month):
    lines = pd.Series(month["incident_channel_log"].read_text(encoding="utf-8").splitlines())
    opened = lines[lines.str.contains(r"\| \[INCIDENT\] ")]
    opened_at = pd.to_datetime(opened.str.slice(0, 19) + "-0300", format="%Y-%m-%d %H:%M:%S%z")
    for name, (start, end) in traffic.PLANTED.items():
        near = opened_at.between(start - pd.Timedelta("15min"), end)
        assert near.any(), name
