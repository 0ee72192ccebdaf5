"""Reference parsers for ETP Express backend logs (Module 5, Troubleshooting).

Three formats, three parsers, one table shape (a ``timestamp``, an ordered categorical
``level``, ``message``, ``stack`` and, where the format has them, the Winston fields):

- ``parse_production``: one Winston JSON object per line, as Railway shows the backend in
  production. NumPy finds the lines and tells JSON objects from other text by their first and
  last bytes; pyarrow's JSON reader reads them in a few large pieces, in parallel. No Python
  code runs per line, so a day of logs parses several times faster than ``json.loads``.
- ``parse_bracketed``: the training guide's ``[ERROR] 2025-12-21 10:45:32 ...`` lines, with
  indented stack-trace lines joined to the event above them (one regex split, then pandas
  ``str.extract``).
- ``parse_dev``: development lines ``YYYY-MM-DD HH:mm:ss level [Context] message`` followed by
  pretty-printed JSON metadata, merged into columns.

A line that is not a record (cut off, glued to another, another encoding, plain text) does not
stop a parse: it is kept in ``df.attrs["malformed"]`` (line number, reason, raw text) and
counted in ``df.attrs["malformed_count"]``. Input that is not a log of the expected kind at
all (missing, empty, another format) raises ``LogFormatError`` with a one-line message.

The helpers answer the on-call questions: ``first_failure``, ``errors_per_minute``,
``top_error_classes``, ``user_trail`` and ``latency_before_after``.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from course.data.logformat import (  # noqa: F401 - re-exported: the reference parsers raise the same errors
    _ANSI, _JSON_LINE, EXPECTED, LEVELS, LogFormatError, Source, _decode, _guess, _looks_like_text, _read,
    _wrong_format, check_format, detect_format)
from course.data.winston import (  # noqa: F401 - the production parser trainees are given is the reference's
    _WINSTON_FIELDS, _concat, _finish, _json_buffer, _read_json_lines, _to_pandas, parse_production)

_BRACKET_EVENT = (r"^\[(?P<level>[A-Za-z]+)\]\s+(?P<timestamp>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"
                  r"(?:[.,]\d+)?)\s+(?P<message>[^\n]*)(?:\n(?P<stack>[\s\S]*))?$")
_DEV_EVENT = (r"^(?P<timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?P<level>[A-Za-z]+) "
              r"(?:\[(?P<context>[^\]\n]*)\])? ?(?P<message>[^\n]*)(?:\n(?P<meta>[\s\S]*))?$")
_ERROR_CLASS = r"\b((?:[A-Z][A-Za-z0-9_]*)?(?:Error|Exception)):"
_META_SCHEMA = pa.schema([f for f in _WINSTON_FIELDS if f[0] not in {"timestamp", "level", "context", "message"}])


# --------------------------------------------------------------------------- multi-line formats
def _events(text: str, start_pattern: str) -> pd.DataFrame:
    """Cut the text into events: each starts on a line matching ``start_pattern``.

    One C-level regex split keeps every continuation line (stack frames, JSON metadata) with
    the event above it; ``line`` is where each event starts.
    """
    chunks = re.split(rf"\n(?={start_pattern})", text.rstrip("\n"), flags=re.MULTILINE)
    events = pd.Series(chunks, dtype="str")
    starts = np.concatenate([[1], 1 + np.cumsum(events.str.count("\n").to_numpy() + 1)[:-1]])
    frame = pd.DataFrame({"chunk": events, "line": starts})
    return frame[frame["chunk"].str.strip() != ""].reset_index(drop=True)


def _unmatched(events: pd.DataFrame, matched: pd.Series, reason: str) -> pd.DataFrame:
    bad = events[~matched]
    orphan = bad["chunk"].str.match(r"\s")
    return pd.DataFrame({"line": bad["line"].to_numpy(),
                         "reason": np.where(orphan, "continuation line without an event", reason),
                         "raw": bad["chunk"].to_numpy()}).astype({"reason": "str", "raw": "str"})


def _split_events(source: Source, kind: str, start_pattern: str, event_pattern: str,
                  strip_colours: bool = False):
    """Cut a multi-line log into events and extract each event's fields.

    Returns the file's label, the events, their fields and which events matched. The input is
    refused as another format when fewer than half of its events match.
    """
    data, label = _read(source, kind)
    text = _decode(data)
    if strip_colours:  # a terminal run may leave colour codes in the file
        text = _ANSI.sub("", text)
    events = _events(text, start_pattern)
    fields = events["chunk"].str.extract(event_pattern)
    matched = fields["level"].notna()
    if matched.sum() == 0 or matched.sum() < 0.5 * len(events):
        raise _wrong_format(label, text, kind)
    return label, events, fields, matched


def parse_bracketed(source: Source) -> pd.DataFrame:
    """Parse ``[LEVEL] YYYY-MM-DD HH:mm:ss message`` lines; indented lines below an event are
    its stack trace, joined (newline-separated, as written) into the ``stack`` column.

    The format carries no time zone, so ``timestamp`` is naive (wall-clock time).
    """
    label, events, fields, matched = _split_events(source, "bracketed", r"\S", _BRACKET_EVENT)
    frame = fields[matched].reset_index(drop=True)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].str.replace(",", ".", regex=False), format="ISO8601")
    frame["stack"] = frame["stack"].str.rstrip().replace("", np.nan)
    frame["line"] = events.loc[matched, "line"].to_numpy()
    return _finish(frame, "bracketed", label, _unmatched(events, matched, "not a bracketed log line"))


def parse_dev(source: Source) -> pd.DataFrame:
    """Parse development lines; the pretty-printed JSON metadata under each event is merged into
    columns (``eventType``, ``statusCode``, ``stack``...). ``timestamp`` is naive local time."""
    label, events, fields, matched = _split_events(
        source, "dev", r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [A-Za-z]+ ", _DEV_EVENT, strip_colours=True)
    head = fields[matched].reset_index(drop=True)
    # JSON strings cannot hold a raw newline, so the pretty-printed metadata is one line apart.
    meta_text = head["meta"].fillna("").str.replace("\n", " ", regex=False).str.strip().replace("", "{}")
    tables, parsed = _read_json_lines(*_json_buffer(meta_text), _META_SCHEMA)
    meta = _to_pandas(_concat(tables) if tables else _META_SCHEMA.empty_table())
    frame = head.drop(columns="meta")[parsed].reset_index(drop=True)
    frame = pd.concat([frame, meta.drop(columns=[c for c in meta if c in frame])], axis=1)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%d %H:%M:%S")
    frame["context"] = frame["context"].replace("", np.nan)
    frame["line"] = events.loc[matched, "line"].to_numpy()[parsed]
    malformed = pd.concat([
        _unmatched(events, matched, "not a development log line"),
        pd.DataFrame({"line": events.loc[matched, "line"].to_numpy()[~parsed],
                      "reason": "metadata is not valid JSON",
                      "raw": events.loc[matched, "chunk"].to_numpy()[~parsed]}).astype({"reason": "str", "raw": "str"}),
    ], ignore_index=True).sort_values("line", kind="stable")
    return _finish(frame, "dev", label, malformed)


def parse_log(source: Source) -> pd.DataFrame:
    """Detect the format, then parse with the matching parser."""
    parsers = {"production": parse_production, "bracketed": parse_bracketed, "dev": parse_dev}
    if isinstance(source, str) and _looks_like_text(source):
        source = source.encode("utf-8")
    return parsers[detect_format(source)](source)


# --------------------------------------------------------------------------- analysis helpers
def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df else pd.Series(pd.NA, index=df.index, dtype="str")


def _at_least(df: pd.DataFrame, level: str) -> pd.Series:
    if level not in LEVELS.categories:
        raise ValueError(f"min_level must be one of {list(LEVELS.categories)}, not {level!r}")
    return (df["level"] >= level).fillna(False).astype(bool)


def _mentions(df: pd.DataFrame, pattern: str) -> pd.Series:
    """Rows whose message, error or stack contains ``pattern`` (a regular expression)."""
    hit = pd.Series(False, index=df.index)
    for name in ("message", "error", "stack"):
        if name in df:
            hit |= df[name].str.contains(pattern, regex=True).fillna(False).astype(bool)
    return hit


def _as_time(when, like: pd.Series) -> pd.Timestamp:
    """``when`` as a Timestamp comparable with ``like`` (naive times are read as UTC)."""
    stamp = pd.Timestamp(when)
    zone = getattr(like.dt, "tz", None)
    if zone is not None and stamp.tzinfo is None:
        return stamp.tz_localize(zone)
    if zone is None and stamp.tzinfo is not None:
        return stamp.tz_convert("UTC").tz_localize(None)
    return stamp


def error_classes(df: pd.DataFrame) -> pd.Series:
    """Each row's error class (``QueryFailedError``, ``UnauthorizedException``...) or NA.

    The class is the ``Name:`` ending in Error or Exception on the first line of ``stack``,
    else in ``error``, else in ``message`` (bracketed logs put it in the message).
    """
    first_line = _column(df, "stack").str.extract(r"^([^\n]*)", expand=False)
    found = pd.Series(pd.NA, index=df.index, dtype="str")
    for text in (first_line, _column(df, "error"), _column(df, "message")):
        found = found.fillna(text.str.extract(_ERROR_CLASS, expand=False))
    return found.rename("error_class")


def first_failure(df: pd.DataFrame, match: str | None = None, min_level: str = "error",
                  since=None) -> pd.Series | None:
    """The earliest row at ``min_level`` or above (optionally mentioning ``match``, at or after
    ``since``); ties keep file order. ``None`` when there is no such row."""
    rows = df[_at_least(df, min_level)]
    if match is not None:
        rows = rows[_mentions(rows, match)]
    if since is not None:
        rows = rows[rows["timestamp"] >= _as_time(since, rows["timestamp"])]
    if rows.empty:
        return None
    return rows.sort_values("timestamp", kind="stable").iloc[0]


def errors_per_minute(df: pd.DataFrame, min_level: str = "error", match: str | None = None) -> pd.Series:
    """Lines at ``min_level`` or above per minute, every minute of the log (0 when quiet)."""
    rows = df[_at_least(df, min_level)]
    if match is not None:
        rows = rows[_mentions(rows, match)]
    counts = rows["timestamp"].dt.floor("min").value_counts()
    if df.empty:
        return counts.rename("errors")
    minutes = pd.date_range(df["timestamp"].min().floor("min"), df["timestamp"].max().floor("min"), freq="min")
    return counts.reindex(minutes, fill_value=0).astype("int64").rename("errors").rename_axis("minute")


def top_error_classes(df: pd.DataFrame, n: int = 5, min_level: str = "error") -> pd.Series:
    """The ``n`` most frequent error classes among lines at ``min_level`` or above.

    Lines without a class (e.g. 'Health check failed') are not counted. Ties go alphabetically.
    """
    classes = error_classes(df[_at_least(df, min_level)]).dropna()
    counts = classes.value_counts().rename_axis("error_class").reset_index(name="count")
    counts = counts.sort_values(["count", "error_class"], ascending=[False, True], kind="stable")
    return counts.set_index("error_class")["count"].head(n)


def user_trail(df: pd.DataFrame, request_id: str, window: str = "30min") -> pd.DataFrame:
    """The story behind one ``X-Request-ID``: its user's lines from that request on, for ``window``.

    Every request (a retry too) gets its own id, so the id a user pastes finds her and the
    moment; her ``userId`` follows her through the retries. Time order; empty for an unknown id.
    """
    hit = df[(_column(df, "requestId") == request_id).fillna(False).astype(bool)]
    users = _column(hit, "userId").dropna()
    if hit.empty or users.empty:
        return df.iloc[0:0]
    start = hit["timestamp"].min()
    mine = (_column(df, "userId") == users.iloc[0]).fillna(False).astype(bool)
    inside = df["timestamp"].between(start, start + pd.Timedelta(window))
    return df[mine & inside].sort_values("timestamp", kind="stable")


def latency_before_after(df: pd.DataFrame, at, window: str = "15min") -> pd.DataFrame:
    """Request latency (``durationMs`` of responses and errors) in ``window`` before vs after ``at``.

    Rows ``before`` and ``after``; columns ``requests``, ``p50_ms``, ``p95_ms``, ``mean_ms``.
    """
    timed = df[_column(df, "durationMs").notna()]
    at = _as_time(at, timed["timestamp"])
    span = pd.Timedelta(window)
    before = timed[(timed["timestamp"] >= at - span) & (timed["timestamp"] < at)]["durationMs"]
    after = timed[(timed["timestamp"] >= at) & (timed["timestamp"] < at + span)]["durationMs"]
    return pd.DataFrame({
        "requests": [len(before), len(after)],
        "p50_ms": [_quantile(before, 0.5), _quantile(after, 0.5)],
        "p95_ms": [_quantile(before, 0.95), _quantile(after, 0.95)],
        "mean_ms": [_mean(before), _mean(after)],
    }, index=pd.Index(["before", "after"], name="window"))


def _quantile(values: pd.Series, q: float) -> float:
    return float(values.astype("float64").quantile(q)) if len(values) else float("nan")


def _mean(values: pd.Series) -> float:
    return float(values.astype("float64").mean()) if len(values) else float("nan")
