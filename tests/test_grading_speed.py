"""Faster grading keeps every byte: the month's logs written from pyarrow's buffer are the text
the plain join writes, for every kind of line array the generators make."""
from __future__ import annotations

import io

import pyarrow as pa
import pytest

from course.data import traffic


def _plain(lines) -> bytes:
    return ("\n".join(lines.to_pylist()) + "\n").encode("utf-8")


def _written(lines) -> bytes:
    raw = io.BytesIO()
    fh = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
    traffic.write_lines(fh, lines)
    fh.flush()
    return raw.getvalue()


@pytest.mark.parametrize("lines", [
    pa.array(["a", "", "é ünïcode", "x\ny"]),
    pa.array(["one", "two", "three"], pa.large_string()).slice(1),  # an offset into the buffer
    pa.array([], pa.large_string()),
])
def test_written_lines_are_the_plain_join(lines):
    assert _written(lines) == _plain(lines)


def test_a_missing_line_still_fails():
    with pytest.raises(TypeError):
        _written(pa.array(["a", None]))


@pytest.mark.parametrize("make_lines", [traffic._request_log_lines, traffic._health_probe_lines,
                                        traffic._incident_channel_lines])
def test_a_months_log_is_the_same_bytes(make_lines):
    lines = make_lines(traffic._month(traffic._variant(4242)))
    assert _written(lines) == _plain(lines)


def test_reading_a_notebook_builds_no_iri_grammar():
    """Every nbgrader command, grading worker and Jupyter server imports nbformat, and with it
    jsonschema's format checkers; from jsonschema 4.25 on that builds a Lark grammar for IRIs at
    import (about 1.5 CPU-seconds per process; no notebook or Jupyter schema checks an IRI)."""
    import subprocess
    import sys

    probe = "import sys, nbformat, nbgrader.apps; print(sorted({'lark', 'rfc3987_syntax'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
