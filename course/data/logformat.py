"""Log formats of the ETP Express backend: what a trainee's own parser checks its input against.

``check_format(path, kind)`` raises the same one-line ``LogFormatError`` as the course's parsers
for input that is missing, empty or plainly another format, so a parser written in Module 5
fails the way the production tooling does. Trainee side: no parsing answers live here.
"""
from __future__ import annotations

import codecs
import os
import re
from pathlib import Path
from typing import Union

import pandas as pd
import pyarrow as pa

Source = Union[str, bytes, os.PathLike]

# Winston's levels, least to most severe; bracketed and dev logs map onto the same names.
LEVELS = pd.CategoricalDtype(["silly", "debug", "verbose", "http", "info", "warn", "error"], ordered=True)

EXPECTED = {
    "production": "production logs (one Winston JSON object per line)",
    "bracketed": "bracketed logs ('[LEVEL] YYYY-MM-DD HH:mm:ss message' lines)",
    "dev": "development logs ('YYYY-MM-DD HH:mm:ss level [Context] message' + JSON metadata)",
}

# A line that starts an event, per format (RE2 syntax: pandas hands these to Arrow).
_JSON_LINE = r"^\s*\{.*\}\s*$"
_BRACKET_HEAD = r"^\[[A-Za-z]+\]\s+\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}"
_DEV_HEAD = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [A-Za-z]+ "
_HEADS = {"production": _JSON_LINE, "bracketed": _BRACKET_HEAD, "dev": _DEV_HEAD}

_TEXT_START = re.compile(r"\s*[{\[]|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} ")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")



class LogFormatError(ValueError):
    """The input is not a log of the expected kind; the message is one line naming the file."""

    def __init__(self, label: str, problem: str, expected: str):
        self.label, self.problem, self.expected = label, problem, expected
        super().__init__(f"{label}: expected {expected}, but {problem}")


# --------------------------------------------------------------------------- reading input
def _looks_like_text(value: str) -> bool:
    """A string holding log text rather than a path: several lines, or one event line."""
    return "\n" in value or not value.strip() or bool(_TEXT_START.match(value))


def _read(source: Source, kind: str) -> tuple[pa.Buffer, str]:
    """The raw bytes (a file is memory-mapped, not copied) and a label for messages; missing or
    empty input is a ``LogFormatError``."""
    if isinstance(source, (bytes, bytearray)):
        data, label = pa.py_buffer(bytes(source)), "<bytes>"
    elif isinstance(source, str) and _looks_like_text(source):
        data, label = pa.py_buffer(source.encode("utf-8")), "<text>"
    else:
        path = Path(source)
        label = str(path)
        if not path.exists():
            raise LogFormatError(label, "there is no such file", EXPECTED[kind])
        if path.is_dir():
            raise LogFormatError(label, "it is a folder", EXPECTED[kind])
        try:
            data = pa.memory_map(str(path)).read_buffer() if path.stat().st_size else pa.py_buffer(b"")
        except OSError as exc:
            raise LogFormatError(label, f"it cannot be read ({exc.strerror})", EXPECTED[kind]) from None
    if not re.search(rb"\S", data):
        raise LogFormatError(label, "the text is empty" if label.startswith("<") else "the file is empty",
                             EXPECTED[kind])
    return data, label


def _decode(data: pa.Buffer) -> str:
    """UTF-8 text; bytes that are not UTF-8 become U+FFFD."""
    text = codecs.decode(memoryview(data), "utf-8", errors="replace")
    return text.replace("\r\n", "\n") if "\r" in text else text


def _guess(text: str) -> str | None:
    """The format whose event lines are most common in the first 200 non-blank lines."""
    head = pd.Series(_ANSI.sub("", text[:1 << 20]).split("\n")[:2000], dtype="str")
    head = head[head.str.strip() != ""].iloc[:200]
    counts = {kind: int(head.str.contains(pattern, regex=True).sum()) for kind, pattern in _HEADS.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] else None


def detect_format(source: Source) -> str:
    """``"production"``, ``"bracketed"`` or ``"dev"``; ``LogFormatError`` when it is none of them."""
    data, label = _read(source, "production")
    found = _guess(_decode(data.slice(0, min(data.size, 1 << 20))))
    if found is None:
        raise LogFormatError(label, "no line looks like a backend log event",
                             "production, bracketed or development logs")
    return found


def check_format(source: Source, kind: str) -> None:
    """Raise the ``LogFormatError`` that ``parse_<kind>`` raises for input that is missing, empty
    or plainly another format; return quietly when ``source`` looks like a ``kind`` log.

    A parser of one's own can call it first and fail with the same one-line message.
    """
    if kind not in EXPECTED:
        raise ValueError(f"kind must be one of {sorted(EXPECTED)}, not {kind!r}")
    data, label = _read(source, kind)
    text = _decode(data.slice(0, min(data.size, 1 << 20)))
    if _guess(text) != kind:
        raise _wrong_format(label, text, kind)


def _wrong_format(label: str, text: str, kind: str) -> LogFormatError:
    found = _guess(text)
    if found is None or found == kind:
        problem = "no line could be read as an event"
    else:
        problem = f"it looks like {EXPECTED[found].split(' (')[0]} (use parse_{found})"
    return LogFormatError(label, problem, EXPECTED[kind])
