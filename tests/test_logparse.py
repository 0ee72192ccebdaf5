"""The reference log parsers: types, planted answers, malformed lines and bad input."""
import json

import pandas as pd
import pytest

from course.data import backend_logs
from course.trainer.reference import logparse
from course.trainer.reference.logparse import LogFormatError

GUIDE_EXCERPT = """[ERROR] 2025-12-21 10:45:32 QueryFailedError: Connection terminated unexpectedly
    at PostgresQueryRunner.query (...)
    at EtpRepository.findOne (...)
[ERROR] 2025-12-21 10:45:33 NestJS Error: Unable to connect to the database
"""


def winston(second: int, **fields) -> str:
    return json.dumps({"level": "info", "message": f"m{second}", "service": "etp-express-backend",
                       "timestamp": f"2026-10-27T10:00:{second:02d}.000+0000", **fields}, ensure_ascii=False)


@pytest.fixture(scope="module")
def days(log_files):
    return {size: logparse.parse_production(log_files[size]) for size in ("sample", "full")}


def test_production_frame_is_typed(days):
    df = days["sample"]
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert isinstance(df["level"].dtype, pd.CategoricalDtype) and df["level"].cat.ordered
    assert str(df["statusCode"].dtype) == "Int64" and str(df["durationMs"].dtype) == "Int64"
    for column in ["context", "message", "eventType", "method", "path", "requestId", "userId",
                   "organizationId", "error", "stack", "service", "line"]:
        assert column in df
    assert df["statusCode"].isna().any() and df["statusCode"].notna().any()
    assert df["line"].is_monotonic_increasing


def test_parse_production_reads_no_line_with_json_loads(log_files, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("json.loads was called")

    monkeypatch.setattr(json, "loads", refuse)
    assert len(logparse.parse_production(log_files["sample"])) > 5000


@pytest.mark.parametrize("size", ["sample", "full"])
@pytest.mark.parametrize("story", backend_logs.STORIES, ids=lambda story: story.key)
def test_planted_story_is_found(days, size, story):
    df = days[size]
    first = logparse.first_failure(df, match=story.match, min_level=story.min_level, since=story.since)
    assert first["timestamp"] == pd.Timestamp(story.first_failure)
    window = df[(df["timestamp"] >= pd.Timestamp(story.first_failure))
                & (df["timestamp"] <= pd.Timestamp(story.window_end))]
    top = logparse.top_error_classes(window, 2)
    assert top.index[0] == story.dominant_error_class and (len(top) == 1 or top.iloc[0] > 1.5 * top.iloc[1])
    trail = logparse.user_trail(df, story.request_id)
    steps = [(event, None if pd.isna(status) else int(status))
             for event, status in zip(trail["eventType"], trail["statusCode"])]
    assert steps == list(story.trail)
    for _, when in story.milestones:
        assert (df["timestamp"] == pd.Timestamp(when)).any()


@pytest.mark.parametrize("size", ["sample", "full"])
def test_latency_before_and_after_the_db_incident(days, size):
    latency = logparse.latency_before_after(days[size], backend_logs.DB_INCIDENT.first_failure,
                                            backend_logs.LATENCY_WINDOW)
    assert list(latency.index) == ["before", "after"]
    assert latency.loc["before", "p50_ms"] < backend_logs.DB_LATENCY_BEFORE_P50_MAX_MS
    assert latency.loc["after", "p50_ms"] > backend_logs.DB_LATENCY_AFTER_P50_MIN_MS
    assert (latency["requests"] > 30).all()


def test_errors_per_minute_covers_every_minute_and_peaks_in_the_db_incident(days):
    df = days["full"]
    per_minute = logparse.errors_per_minute(df)
    assert per_minute.index.freq == "min" and str(per_minute.index.tz) == "UTC"
    assert per_minute.sum() == (df["level"] == "error").sum()
    peak = per_minute.idxmax()
    assert pd.Timestamp(backend_logs.DB_INCIDENT.first_failure) <= peak <= pd.Timestamp(
        backend_logs.DB_INCIDENT.window_end)


def test_malformed_lines_are_counted_and_kept(days, log_files):
    for size in ("sample", "full"):
        malformed = days[size].attrs["malformed"]
        assert days[size].attrs["malformed_count"] == len(malformed) == sum(backend_logs.MALFORMED_LINES.values())
        assert set(malformed.columns) == {"line", "reason", "raw"}
        assert (malformed["reason"] == "not valid UTF-8 (another encoding?)").sum() == 1
        assert (malformed["reason"] == "invalid JSON").sum() == 1  # two records glued on one line
        assert malformed["raw"].str.startswith("> ").sum() == 9  # npm's lines of three container starts
    lines = log_files["sample"].read_bytes().splitlines()
    first = days["sample"].attrs["malformed"].iloc[0]
    assert lines[first["line"] - 1].decode("utf-8", errors="replace") == first["raw"]
    assert len(days["sample"]) + len(days["sample"].attrs["malformed"]) == len(lines)


def test_every_kind_of_broken_line_is_survived():
    lines = [winston(i) for i in range(20)]
    lines[1] = lines[1][:25]                                     # cut off
    lines[3] = winston(3) + winston(4)                           # two records on one line
    lines[5] = winston(5, statusCode="five hundred")             # a field of the wrong type
    lines[7] = json.dumps({"hello": "world"})                    # JSON, but no Winston record
    lines[9] = "   "                                             # blank
    lines[11] = "  " + winston(11)                               # indented, still a record
    raw = ("\r\n".join(lines) + "\r\n").encode() + winston(20, error="inválido").encode("latin-1") + b"\n"
    df = logparse.parse_production(raw)
    reasons = dict(zip(df.attrs["malformed"]["line"], df.attrs["malformed"]["reason"]))
    assert reasons == {2: "not a JSON object", 4: "invalid JSON", 6: "invalid JSON",
                       8: "JSON without timestamp or level", 21: "not valid UTF-8 (another encoding?)"}
    assert 12 in set(df["line"]) and len(df) == 15
    assert "hello" not in df.columns


@pytest.mark.parametrize("make, parser, problem", [
    (lambda tmp: tmp / "missing.log", logparse.parse_production, "there is no such file"),
    (lambda tmp: _write(tmp / "empty.log", ""), logparse.parse_production, "the file is empty"),
    (lambda tmp: _write(tmp / "blank.log", "\n  \n"), logparse.parse_dev, "the file is empty"),
    (lambda tmp: _write(tmp / "guide.log", GUIDE_EXCERPT), logparse.parse_production,
     "it looks like bracketed logs (use parse_bracketed)"),
    (lambda tmp: _write(tmp / "prose.log", "hello\nworld\n"), logparse.parse_bracketed,
     "no line could be read as an event"),
])
def test_bad_input_is_one_clear_line(tmp_path, make, parser, problem):
    path = make(tmp_path)
    with pytest.raises(LogFormatError) as caught:
        parser(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)) and message.endswith(problem)
    assert "expected" in message


def test_the_wrong_parser_for_each_generated_format_says_which_to_use(log_files):
    with pytest.raises(LogFormatError, match=r"development logs \(use parse_dev\)"):
        logparse.parse_production(log_files["dev"])
    with pytest.raises(LogFormatError, match=r"production logs \(use parse_production\)"):
        logparse.parse_dev(log_files["sample"])
    with pytest.raises(LogFormatError, match=r"bracketed logs \(use parse_bracketed\)"):
        logparse.parse_dev(log_files["bracketed"])


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_detect_format(log_files):
    assert logparse.detect_format(log_files["sample"]) == "production"
    assert logparse.detect_format(log_files["bracketed"]) == "bracketed"
    assert logparse.detect_format(log_files["dev"]) == "dev"
    assert logparse.detect_format(GUIDE_EXCERPT) == "bracketed"
    with pytest.raises(LogFormatError, match="no line looks like a backend log event"):
        logparse.detect_format("just some\nwords\n")


def test_bracketed_stack_traces_join_their_event():
    df = logparse.parse_bracketed(GUIDE_EXCERPT)
    assert len(df) == 2 and list(df["line"]) == [1, 4]
    assert df.loc[0, "stack"] == "    at PostgresQueryRunner.query (...)\n    at EtpRepository.findOne (...)"
    assert pd.isna(df.loc[1, "stack"])
    assert logparse.first_failure(df)["timestamp"] == pd.Timestamp("2025-12-21 10:45:32")
    assert list(logparse.error_classes(df)) == ["QueryFailedError", "Error"]


def test_bracketed_morning(log_files):
    df = logparse.parse_bracketed(log_files["bracketed"])
    assert logparse.first_failure(df)["timestamp"] == pd.Timestamp(backend_logs.BRACKETED_FIRST_FAILURE)
    assert logparse.top_error_classes(df, 1).index[0] == backend_logs.BRACKETED_ERROR_CLASS
    assert df.attrs["malformed_count"] == backend_logs.BRACKETED_MALFORMED
    assert df["stack"].str.count("\n").max() >= 3 and (df["stack"].notna().sum() > 100)


def test_dev_metadata_is_merged_into_columns(log_files):
    df = logparse.parse_dev(log_files["dev"])
    assert str(df["statusCode"].dtype) == "Int64" and df["timestamp"].dt.tz is None
    failed = df[df["eventType"] == "http_error"].iloc[0]
    assert failed["timestamp"] == pd.Timestamp(backend_logs.DEV_FIRST_ERROR)
    assert failed["stack"].startswith("QueryFailedError: relation \"etp_templates\" does not exist\n    at ")
    assert logparse.top_error_classes(df, 1).index[0] == backend_logs.DEV_ERROR_CLASS
    assert df["context"].isna().sum() == 1 and (df["service"] == "etp-express-backend").all()
    assert df.attrs["malformed_count"] == 1  # the Nest CLI's own lines before the first event


def test_dev_colour_codes_and_parse_log_dispatch():
    coloured = ('2026-01-13 14:00:00 \x1b[32minfo\x1b[39m [HTTP] HTTP Request completed\n'
                '{\n  "service": "etp-express-backend",\n  "statusCode": 200,\n  "durationMs": 12\n}\n')
    df = logparse.parse_log(coloured)
    assert df.attrs["format"] == "dev" and df.loc[0, "level"] == "info" and df.loc[0, "durationMs"] == 12


def test_top_error_classes_breaks_ties_alphabetically():
    df = logparse.parse_production("\n".join([
        winston(1, level="error", stack="ZetaError: z\n    at x"), winston(2, level="error", stack="AlphaError: a"),
        winston(3, level="error", error="BetaException: b"), winston(4, level="warn", stack="WarnError: w"),
    ]))
    assert list(logparse.top_error_classes(df).index) == ["AlphaError", "BetaException", "ZetaError"]
    assert list(logparse.top_error_classes(df, min_level="warn").index)[-1] == "ZetaError"
