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
``top_error_classes``, ``request_trail`` and ``latency_before_after``.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ..data.logformat import (  # noqa: F401 - re-exported: the reference parsers raise the same errors
    _ANSI, _JSON_LINE, EXPECTED, LEVELS, LogFormatError, Source, _decode, _guess, _looks_like_text, _read,
    _wrong_format, check_format, detect_format)

_BRACKET_EVENT = (r"^\[(?P<level>[A-Za-z]+)\]\s+(?P<timestamp>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"
                  r"(?:[.,]\d+)?)\s+(?P<message>[^\n]*)(?:\n(?P<stack>[\s\S]*))?$")
_DEV_EVENT = (r"^(?P<timestamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?P<level>[A-Za-z]+) "
              r"(?:\[(?P<context>[^\]\n]*)\])? ?(?P<message>[^\n]*)(?:\n(?P<meta>[\s\S]*))?$")
_ERROR_CLASS = r"\b((?:[A-Z][A-Za-z0-9_]*)?(?:Error|Exception)):"
# Fields the backend writes, typed up front so every file gives the same columns and dtypes.
# Text is large_string, the layout pandas keeps its Arrow strings in (no copy when converting);
# durationMs is read as a float so that a fractional value is not a parse error.
_TEXT = pa.large_string()
_WINSTON_FIELDS = [
    ("timestamp", pa.timestamp("ms", tz="UTC")), ("level", _TEXT), ("context", _TEXT), ("message", _TEXT),
    ("eventType", _TEXT), ("method", _TEXT), ("path", _TEXT), ("statusCode", pa.int64()),
    ("durationMs", pa.float64()), ("requestId", _TEXT), ("userId", _TEXT), ("organizationId", _TEXT),
    ("ip", _TEXT), ("userAgent", _TEXT), ("error", _TEXT), ("stack", _TEXT), ("service", _TEXT),
]
_PRODUCTION_SCHEMA = pa.schema(_WINSTON_FIELDS)
_META_SCHEMA = pa.schema([f for f in _WINSTON_FIELDS if f[0] not in {"timestamp", "level", "context", "message"}])
_PIECE = 8 << 20  # bytes per JSON read; pieces are read in parallel
_LEVEL_ALIASES = {"warning": "warn", "log": "info", "fatal": "error", "err": "error", "trace": "silly"}


# --------------------------------------------------------------------------- JSON in bulk
def _json_options(schema: pa.Schema) -> pj.ParseOptions:
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")


def _read_span(buffer: pa.Buffer, lines: tuple[np.ndarray, np.ndarray], a: int, b: int,
               schema: pa.Schema) -> tuple[pa.Table | None, int | None]:
    """Read lines ``a:b`` (adjacent in ``buffer``) as one block; on failure, the failing row the
    reader names, if any. ``lines`` holds each line's first byte and the byte after it."""
    begin, end = int(lines[0][a]), int(lines[1][b - 1])
    options = pj.ReadOptions(block_size=max(end - begin + 1, 1 << 16), use_threads=False)
    try:
        table = pj.read_json(pa.BufferReader(buffer.slice(begin, end - begin)),
                             parse_options=_json_options(schema), read_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        row = re.search(r"in row (\d+)", str(error))
        return None, (int(row.group(1)) if row else None)
    # Two objects glued on one line read as two rows: the count gives them away.
    return (table, None) if table.num_rows == b - a else (None, None)


def _bisect(buffer, lines, a: int, b: int, schema) -> tuple[list[pa.Table], np.ndarray]:
    """Halve lines ``a:b`` until each bad line is alone (used when the reader names no row)."""
    table, _ = _read_span(buffer, lines, a, b, schema)
    if table is not None:
        return [table], np.ones(b - a, dtype=bool)
    if b - a == 1:
        return [], np.zeros(1, dtype=bool)
    middle = (a + b) // 2
    left, left_ok = _bisect(buffer, lines, a, middle, schema)
    right, right_ok = _bisect(buffer, lines, middle, b, schema)
    return left + right, np.concatenate([left_ok, right_ok])


def _confirmed_bad_row(buffer, lines, start: int, b: int, row: int | None, schema):
    """Check the reader's hint that line ``start + row`` is bad: that line must fail alone and
    the lines before it must read. Returns (bad line, table of the lines before) or None."""
    if row is None or row >= b - start:
        return None
    bad = start + row
    if _read_span(buffer, lines, bad, bad + 1, schema)[0] is not None:
        return None
    if bad == start:
        return bad, None
    before, _ = _read_span(buffer, lines, start, bad, schema)
    return (bad, before) if before is not None else None


def _parse_piece(buffer, lines, a: int, b: int, schema) -> tuple[list[pa.Table], np.ndarray]:
    """Read lines ``a:b``; each bad line the reader points at costs two short re-reads, and
    anything else (two objects glued on one line, a wrong hint) is bisected."""
    tables, parsed, start = [], np.zeros(b - a, dtype=bool), a
    while start < b:  # one turn per bad line
        table, row = _read_span(buffer, lines, start, b, schema)
        if table is not None:
            tables.append(table)
            parsed[start - a:] = True
            break
        found = _confirmed_bad_row(buffer, lines, start, b, row, schema)
        if found is None:
            rest, rest_parsed = _bisect(buffer, lines, start, b, schema)
            tables += rest
            parsed[start - a:] = rest_parsed
            break
        bad, before = found
        if before is not None:
            tables.append(before)
            parsed[start - a:bad - a] = True
        start = bad + 1
    return tables, parsed


def _read_json_lines(buffer: pa.Buffer, begin: np.ndarray, end: np.ndarray, schema: pa.Schema):
    """Parse the lines ``buffer[begin[i]:end[i]]`` as JSON, straight from the buffer (no copy).

    Lines are read in pieces of a few MB of adjacent lines, in parallel threads (pyarrow
    releases the GIL). Returns the tables in line order and a mask of the lines that parsed.
    """
    n = len(begin)
    gaps = np.flatnonzero(begin[1:] != end[:-1]) + 1  # a skipped line separates two pieces
    sized = np.searchsorted(begin, np.arange(0, end[-1], _PIECE)) if n else np.zeros(0, dtype=np.int64)
    cuts = np.unique(np.concatenate([[0], gaps, sized, [n]]).astype(np.int64))
    spans = [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]  # a few dozen
    if not spans:
        return [], np.zeros(0, dtype=bool)
    with ThreadPoolExecutor(max_workers=min(len(spans), os.cpu_count() or 1)) as pool:
        results = list(pool.map(lambda span: _parse_piece(buffer, (begin, end), *span, schema), spans))
    return [t for tables, _ in results for t in tables], np.concatenate([ok for _, ok in results])


def _json_buffer(texts: pd.Series) -> tuple[pa.Buffer, np.ndarray, np.ndarray]:
    """One-line JSON texts as one buffer of lines, with each line's first byte and end."""
    newline = pa.scalar("\n", pa.large_string())
    lines = pc.binary_join_element_wise(pa.array(texts, pa.large_string()), newline, pa.scalar("", pa.large_string()))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2], offsets[:-1], offsets[1:]


def _concat(tables: list[pa.Table]) -> pa.Table:
    """One table; an extra field inferred with different types in different pieces becomes text."""
    try:
        return pa.concat_tables(tables, promote_options="permissive").flatten()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        kinds: dict[str, set] = {}
        for table in tables:
            for field in table.schema:
                kinds.setdefault(field.name, set()).add(field.type)
        mixed = {name for name, types in kinds.items() if len(types - {pa.null()}) > 1}
        as_text = [_text_columns(table, mixed) for table in tables]
        return pa.concat_tables(as_text, promote_options="permissive").flatten()


def _text_columns(table: pa.Table, names: set) -> pa.Table:
    for name in names & set(table.column_names):
        column = table[name]
        try:
            text = pc.cast(column, pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            text = pa.nulls(len(column), pa.string())  # a nested value that has no text form
        table = table.set_column(table.column_names.index(name), name, text)
    return table


def _column_order(names: list[str]) -> list[str]:
    """The usual columns first, the rest as found, ``line`` last."""
    first = [c for c in ["timestamp", "level", "context", "message"] if c in names]
    last = [c for c in ["line"] if c in names]
    return first + [c for c in names if c not in first + last] + last


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """The table as pandas (columns in the usual order, nullable integers)."""
    frame = table.select(_column_order(table.column_names)).to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if "durationMs" in frame:
        frame["durationMs"] = _whole_or_float(frame["durationMs"])
    return frame


def _whole_or_float(values: pd.Series) -> pd.Series:
    """Nullable integers when every value is whole (the backend writes Date.now() differences)."""
    numbers = pd.to_numeric(values).astype("Float64")
    whole = ((numbers % 1) == 0).fillna(True).all()
    return numbers.astype("Int64") if whole else numbers


# --------------------------------------------------------------------------- production
def _bad_utf8_lines(data: pa.Buffer, starts: np.ndarray) -> np.ndarray:
    """Indices of lines holding bytes that are not UTF-8.

    Arrow validates UTF-8 in bulk (a cast from binary to string) but does not say where it
    failed, so the lines are halved until each bad one is alone: a handful of casts for a few
    bad lines. A file with many (a whole file in latin-1) is checked in one decode instead.
    """
    offsets = pa.py_buffer(np.concatenate([starts, [len(data)]]).astype(np.int64))
    every_line = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(starts), [None, offsets, data])
    bad: list[int] = []

    def search(first: int, count: int) -> None:
        if len(bad) > 64:
            return
        try:
            every_line.slice(first, count).cast(pa.large_string())
        except pa.ArrowInvalid:
            if count == 1:
                bad.append(first)
                return
            search(first, count // 2)
            search(first + count // 2, count - count // 2)

    search(0, len(starts))
    if len(bad) <= 64:
        return np.array(bad, dtype=np.int64)
    fixed = np.frombuffer(_decode(data).encode("utf-8"), dtype=np.uint8)
    line_of = np.cumsum(fixed == 10)  # newlines survive the replacement, so line numbers do too
    marks = np.flatnonzero((fixed[:-2] == 0xEF) & (fixed[1:-1] == 0xBF) & (fixed[2:] == 0xBD))
    return np.unique(line_of[marks])


class _Lines:
    """Line boundaries of a byte buffer, found with a vectorised scan for newlines."""

    def __init__(self, data: pa.Buffer):
        self.data = data
        self.view = np.frombuffer(data, dtype=np.uint8)
        # Scanning in slices keeps the temporary masks small (a big file is hundreds of MB).
        step = 32 << 20
        newlines = np.concatenate([np.flatnonzero(self.view[i:i + step] == 10) + i
                                   for i in range(0, len(self.view), step)] or [np.zeros(0, dtype=np.int64)])
        size = len(self.view)
        self.starts = np.concatenate([[0], newlines + 1])
        ends = np.concatenate([newlines, [size]])
        if self.starts[-1] == size:  # the file ends with a newline: no last empty line
            self.starts, ends = self.starts[:-1], ends[:-1]
        carriage = (ends > self.starts) & (self.view[np.maximum(ends - 1, 0)] == 13)
        self.ends = ends - carriage  # Windows line endings
        self.next = np.concatenate([self.starts[1:], [size]])

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, index: np.ndarray) -> pd.Series:
        """The text of some lines (bytes that are not UTF-8 shown as U+FFFD)."""
        offsets = pa.py_buffer(np.concatenate([self.starts, [len(self.view)]]).astype(np.int64))
        every_line = pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(self), [None, offsets, self.data])
        picked = pd.Series(every_line.take(pa.array(index, pa.int64())).to_pandas(), dtype=object)
        return picked.str.decode("utf-8", errors="replace").str.rstrip("\r\n").astype("str")

    def classify(self) -> dict[str, np.ndarray]:
        """Masks of blank lines, lines shaped like a JSON object, and lines that are not UTF-8.

        The first and last byte decide; the few lines that start with white space go through
        the regular expressions instead.
        """
        empty = self.ends == self.starts
        first = self.view[np.minimum(self.starts, len(self.view) - 1)]
        last = self.view[np.maximum(self.ends - 1, 0)]
        blank, json_like = empty.copy(), ~empty & (first == ord("{")) & (last == ord("}"))
        padded = np.flatnonzero(~empty & np.isin(first, list(b" \t\f\v")))
        if len(padded):
            text = self.text(padded)
            blank[padded] = text.str.strip().eq("").to_numpy(dtype=bool)
            json_like[padded] = text.str.match(_JSON_LINE).to_numpy(dtype=bool)
        mangled = np.zeros(len(self), dtype=bool)
        mangled[_bad_utf8_lines(self.data, self.starts)] = True
        return {"blank": blank, "json_like": json_like & ~mangled, "mangled": mangled}


def parse_production(source: Source) -> pd.DataFrame:
    """Parse production Winston JSON lines into a typed DataFrame, one row per record.

    Columns: ``timestamp`` (UTC, tz-aware), ``level`` (ordered categorical), the Winston
    fields (``statusCode`` and ``durationMs`` as nullable integers), any extra metadata fields,
    and ``line`` (1-based line number in the file). Malformed lines are in ``df.attrs``.

    Lines are told apart from their first and last bytes with NumPy, and the JSON ones are read
    by pyarrow's JSON reader in a few large pieces: no Python code runs per line.
    """
    data, label = _read(source, "production")
    lines = _Lines(data)
    kind = lines.classify()
    candidates = np.flatnonzero(kind["json_like"])
    tables, parsed = _read_json_lines(data, lines.starts[candidates], lines.next[candidates], _PRODUCTION_SCHEMA)
    table = _concat(tables) if tables else _PRODUCTION_SCHEMA.empty_table()
    table = table.append_column("line", pa.array(candidates[parsed] + 1))
    # Valid JSON that is not a Winston record (no time or level) is malformed too.
    record = pc.and_(pc.is_valid(table["timestamp"]), pc.is_valid(table["level"])).to_numpy(zero_copy_only=False)
    if record.sum() == 0 or record.sum() < 0.5 * (~kind["blank"]).sum():
        raise _wrong_format(label, _decode(data.slice(0, min(data.size, 1 << 20))), "production")
    reasons = np.full(len(lines), None, dtype=object)
    reasons[~kind["json_like"] & ~kind["blank"]] = "not a JSON object"
    reasons[kind["mangled"]] = "not valid UTF-8 (another encoding?)"
    reasons[candidates[~parsed]] = "invalid JSON"
    reasons[candidates[parsed][~record]] = "JSON without timestamp or level"
    if not record.all():
        table = table.filter(pa.array(record))
    # Fields that only malformed records had are not columns of the log.
    empty = [name for name in table.column_names
             if name not in _PRODUCTION_SCHEMA.names and table[name].null_count == table.num_rows]
    table = table.drop_columns(empty)
    return _finish(_to_pandas(table), "production", label, _malformed(lines, reasons))


def _malformed(lines: _Lines, reasons: np.ndarray) -> pd.DataFrame:
    where = np.flatnonzero(pd.notna(reasons))
    return pd.DataFrame({"line": where + 1, "reason": pd.Series(reasons[where], dtype="str"),
                         "raw": lines.text(where).reset_index(drop=True)})


def _levels(names: pd.Series) -> pd.Categorical:
    """Level names as ``LEVELS`` (aliases such as WARNING or LOG mapped, unknown names NA).

    Arrow dictionary-encodes the column, so only its few distinct names are looked up.
    """
    names = pa.array(names, pa.large_string(), from_pandas=True)
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    encoded = pc.dictionary_encode(names)
    known = {name: i for i, name in enumerate(LEVELS.categories)}
    spelled = [str(name).lower() for name in encoded.dictionary.to_pylist()]
    lookup = np.array([known.get(_LEVEL_ALIASES.get(name, name), -1) for name in spelled] + [-1])
    indices = pc.fill_null(encoded.indices, len(spelled)).to_numpy()
    return pd.Categorical.from_codes(lookup[indices], dtype=LEVELS)


def _finish(frame: pd.DataFrame, kind: str, label: str, malformed: pd.DataFrame) -> pd.DataFrame:
    """Columns in the usual order, the level as ``LEVELS``; provenance and malformed lines in
    ``attrs``."""
    order = _column_order(list(frame.columns))
    if list(frame.columns) != order:
        frame = frame[order]
    frame["level"] = _levels(frame["level"])
    frame.attrs = {"source": label, "format": kind, "malformed": malformed.reset_index(drop=True),
                   "malformed_count": len(malformed)}
    return frame


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


def request_trail(df: pd.DataFrame, request_id: str) -> pd.DataFrame:
    """Every line carrying ``request_id``, in time order (request, response or error, retries)."""
    rows = df[(_column(df, "requestId") == request_id).fillna(False).astype(bool)]
    return rows.sort_values("timestamp", kind="stable")


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
