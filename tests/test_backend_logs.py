"""Simulated backend logs: determinism, volume, the three formats and what is planted in them."""
import json
import re

import pandas as pd
import pytest

from course.data import backend_logs, world

WINSTON_TIME = re.compile(r"^2026-10-27T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
DEV_HEAD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} (info|warn|error|debug) (\[\w+\] | )")
BASE_FIELDS = {"level", "message", "service", "timestamp"}
REQUEST_FIELDS = BASE_FIELDS | {"context", "eventType", "method", "path", "ip", "userAgent", "requestId"}
RESPONSE_FIELDS = BASE_FIELDS | {"context", "eventType", "method", "path", "statusCode", "durationMs", "requestId"}
ERROR_FIELDS = RESPONSE_FIELDS | {"error", "stack"}


@pytest.fixture(scope="module")
def sample_records(log_files):
    """The sample's JSON records (a test may loop over lines; the reference parser may not)."""
    records = []
    for raw in log_files["sample"].read_bytes().splitlines():
        try:
            records.append(json.loads(raw))
        except ValueError:
            pass
    return records


def test_files_are_named_by_version_seed_and_size(log_files, data_cache):
    for kind, path in log_files.items():
        assert path.parent == data_cache
        version = backend_logs.BRACKETED_VERSION if kind == "bracketed" else backend_logs.GENERATOR_VERSION
        assert f"v{version}-" in path.name
        assert f"seed{backend_logs.DEFAULT_SEED}" in path.name
    assert log_files["sample"].name.endswith("-sample.log") and log_files["full"].name.endswith("-full.log")


def test_same_variant_same_bytes_and_another_variant_differs(data_cache):
    makers = [lambda variant: backend_logs.production_log("sample", variant), backend_logs.bracketed_log,
              backend_logs.dev_log]
    for make in makers:
        first = make(world.Variant(7))
        kept = first.read_bytes()
        first.unlink()
        assert make(world.Variant(7)).read_bytes() == kept
        assert make(world.Variant(8)).read_bytes() != kept


def test_the_day_has_the_months_traffic_and_the_sample_less(log_files):
    """The month's volume (course.data.world), so the same day reads the same in both modules."""
    full = log_files["full"].read_bytes().count(b"\n")
    assert 12_000 <= full <= 20_000
    assert 5_000 <= log_files["sample"].read_bytes().count(b"\n") < full


def test_production_lines_carry_the_winston_fields(sample_records):
    for record in sample_records:
        assert record["service"] == "etp-express-backend"
        assert WINSTON_TIME.match(record["timestamp"])
        assert record["level"] in {"info", "warn", "error"}
    by_event = {}
    for record in sample_records:
        by_event.setdefault(record.get("eventType"), []).append(record)
    assert all(REQUEST_FIELDS <= set(r) for r in by_event["http_request"])
    assert all(RESPONSE_FIELDS <= set(r) for r in by_event["http_response"])
    assert all(ERROR_FIELDS <= set(r) and r["level"] == "error" for r in by_event["http_error"])
    assert {r["message"] for r in by_event["http_request"]} == {"HTTP Request received"}
    assert {r["message"] for r in by_event["http_response"]} == {"HTTP Request completed"}
    assert {r["message"] for r in by_event["http_error"]} == {"HTTP Request failed"}


def test_non_http_lines_use_the_backend_messages(sample_records):
    messages = {(r.get("context"), r["message"]) for r in sample_records}
    expected = [
        ("InstanceLoader", "TypeOrmModule dependencies initialized"),
        ("OpenAIService", "OpenAI circuit breaker OPENED - too many failures"),
        ("OpenAIService", "[OpenAI API] All 4 attempts exhausted. Last error: Request timed out."),
        ("HealthService", "Health check failed: Database not connected"),
        ("NestApplication", "Nest application successfully started"),
    ]
    for pair in expected:
        assert pair in messages
    attempts = [m for c, m in messages if c == "OpenAIService" and m.startswith("[OpenAI API] Attempt 1/4 failed:")]
    assert attempts and all(re.search(r"Retrying in \d+ms\.\.\.$", m) for m in attempts)
    filtered = [r for r in sample_records if r.get("context") == "HttpExceptionFilter"]
    assert filtered and all(re.match(r"^(GET|POST|PATCH) /api/", r["message"]) and r["stack"] for r in filtered)


def test_every_kind_of_malformed_line_is_planted(log_files):
    for size in ("sample", "full"):
        # Plain ASCII records that open and close like one are fine; look closer at the rest.
        odd = [raw for raw in log_files[size].read_bytes().splitlines()
               if not raw.isascii() or not (raw.startswith(b'{"level":') and raw.endswith(b'"}'))
               or raw.count(b'{"level":') > 1]
        not_utf8 = [raw for raw in odd if not _is_utf8(raw)]
        not_json = [raw for raw in odd if _is_utf8(raw) and not _is_json(raw)]
        assert len(not_utf8) == backend_logs.MALFORMED_LINES["latin-1 bytes (not UTF-8)"]
        assert b"Descri\xe7\xe3o inv\xe1lida" in not_utf8[0]
        assert len(not_json) == sum(backend_logs.MALFORMED_LINES.values()) - len(not_utf8)
        assert sum(raw.startswith(b"\x00") for raw in not_json) == 1
        # the start command's plain text: three container starts, the first without a database
        assert sum(raw.startswith(b"> etp-express-backend@1.0.0 migration:run:prod") for raw in not_json) == 3
        assert sum(raw == b"Error during migration run:" for raw in not_json) == 1


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _is_json(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def test_bracketed_log_opens_exercise_5_1_as_the_guide_prints_it(log_files):
    text = log_files["bracketed"].read_text(encoding="utf-8")
    # the guide's two lines, at the production day's first database failure in Brasília time
    assert backend_logs.BRACKETED_FIRST_FAILURE == "2026-10-27 10:02:11"
    assert backend_logs.DB_INCIDENT.first_failure.startswith("2026-10-27T13:02:11")
    excerpt = re.search(r"^\[ERROR\] 2026-10-27 10:02:11 QueryFailedError: Connection terminated unexpectedly\n"
                        r"    at PostgresQueryRunner\.query \(.+\)\n"
                        r"    at EtpRepository\.findOne \(.+\)\n"
                        r"\[ERROR\] 2026-10-27 10:02:12 NestJS Error: Unable to connect to the database$", text, re.M)
    assert excerpt
    first_error = re.search(r"^\[ERROR\] (\S+ \S+)", text, re.M).group(1)
    assert first_error == backend_logs.BRACKETED_FIRST_FAILURE
    heads = [line for line in text.splitlines() if line and not line[0].isspace()]
    assert sum(not line.startswith("[") for line in heads) == backend_logs.BRACKETED_MALFORMED


def test_dev_log_has_header_lines_and_pretty_json_metadata(log_files):
    text = log_files["dev"].read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=\d{4}-\d{2}-\d{2} )", text.split("\n\n", 2)[-1].strip())
    assert len(blocks) > 300
    for block in blocks[1:]:
        head, _, meta = block.partition("\n")
        assert DEV_HEAD.match(head)
        assert json.loads(meta)["service"] == "etp-express-backend"
    assert "2026-10-26 14:07:19 error [HTTP] HTTP Request failed\n{\n" in text
    assert re.search(r"^2026-10-26 \d\d:\d\d:\d\d info  Swagger", text, re.M)  # no context: two spaces


def test_story_facts_are_consistent():
    for story in backend_logs.STORIES:
        start, end = pd.Timestamp(story.first_failure), pd.Timestamp(story.window_end)
        assert start < end and start.tzinfo is not None
        assert story.trail[0] == ("http_request", None) and story.trail[-1][0] == "http_response"
    assert len({story.request_id for story in backend_logs.STORIES}) == 3


def test_the_day_follows_the_platform(sample_records):
    """One world: the same parameters as the month of Module 2 (course.data.world)."""
    done = [r for r in sample_records if r["message"] == "Section generation completed"]
    assert done and all(r["durationMs"] < world.LLM_TIMEOUT_MS for r in done)
    generate = [r for r in sample_records if r.get("path", "").endswith("/generate") and "statusCode" in r]
    assert {r["statusCode"] for r in generate if r["level"] == "info"} == {world.GENERATE_STATUS}
    assert not [r for r in sample_records if r.get("statusCode") == 503]  # generation is not synchronous
    boot = [(r.get("context"), r["message"]) for r in sample_records if r.get("context") in ("InstanceLoader", "TypeOrmModule")]
    assert ("TypeOrmModule", "Unable to connect to the database. Retrying (1)...") not in boot
    assert any(m.endswith(f"port {world.PORT}") for m in (r["message"] for r in sample_records))


def test_health_waits_for_the_pool_and_says_so_before_answering(log_files):
    from course.trainer.reference import logparse

    day = logparse.parse_production(log_files["full"])
    story = backend_logs.DB_INCIDENT
    during = day[day["timestamp"].between(pd.Timestamp(story.first_failure), pd.Timestamp("2026-10-27T13:21:14Z"))]
    health = during[during["path"].eq("/api/health") & during["eventType"].eq("http_response")]
    assert len(health) and (health["durationMs"] >= world.POOL_ACQUIRE_TIMEOUT_MS).all()
    failed = during[during["message"].eq("Health check failed: Database not connected")]
    assert len(failed) == len(health)
    assert (failed["timestamp"].to_numpy() <= health["timestamp"].to_numpy()).all()


def test_write_production_lines_writes_exactly_n_lines(tmp_path):
    path = backend_logs.write_production_lines(tmp_path / "bench.log", 5_000)
    data = path.read_bytes()
    assert data.count(b"\n") == 5_000 and data.endswith(b"\n")
    assert backend_logs.write_production_lines(tmp_path / "again.log", 5_000).read_bytes() == data
