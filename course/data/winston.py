"""Reading the backend's production logs: one Winston JSON object per line, as Railway shows them.

``parse_production(path)`` is the tool an on-call engineer has at work, and the course gives it to
trainees: a typed DataFrame (``timestamp`` UTC, ``level`` as the ordered ``LEVELS``, the Winston
fields, ``statusCode`` and ``durationMs`` as nullable integers, ``line``), with every line that is
not a record kept in ``df.attrs["malformed"]`` (line, reason, raw text) and counted in
``df.attrs["malformed_count"]``. NumPy tells lines apart by their first and last bytes and
pyarrow's JSON reader reads the records in a few large pieces, in parallel: no Python code runs
per line, so a day of logs parses several times faster than ``json.loads``.
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

from course.data.logformat import _JSON_LINE, LEVELS, Source, _decode, _read, _wrong_format

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
