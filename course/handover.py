"""Values crossing between a graded kernel and the trainer's process, as data only.

During autograde no check runs in the kernel that ran trainee code. The trainer's process asks
the kernel for the values a check names (``export``) and for the results of calling a trainee's
function on inputs the check chooses (``call``); the kernel writes them here as files, and the
trainer's process judges them. Everything is JSON, Parquet or ``.npy`` without pickles, so
reading a value never runs code from the kernel.
"""
from __future__ import annotations

import json
import math
import os
import sys
import types
from pathlib import Path, PurePath
from typing import Any

FORMAT = "etp-handover/1"
MAX_JSON_BYTES = 5_000_000
MAX_CELLS_AS_JSON = 10_000  # a table of mixed Python values this small may travel as JSON

# What a name in the kernel can be, besides a value carried over as data.
CALLABLE, MODULE, UNDEFINED, UNSUPPORTED = "callable", "module", "undefined", "unsupported"


class HandOverError(Exception):
    """A value could not be written or read as data (one-line message)."""


# -- encoding ---------------------------------------------------------------------------------
def _pandas():
    import pandas as pd  # only when a value needs it: the kernel has it loaded anyway

    return pd


def _plain(value: Any) -> Any:
    """A JSON-able form of a small value, with tags for what JSON lacks."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"$float": repr(float(value))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return {"$" + type(value).__name__: [_plain(v) for v in items]}
    if isinstance(value, dict):
        return {"$dict": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.generic):
        return _plain(value.item())
    pd = sys.modules.get("pandas")
    if pd is not None:
        if value is pd.NaT:
            return {"$nat": True}
        if value is pd.NA:
            return {"$na": True}
        if isinstance(value, pd.Timestamp):
            return {"$timestamp": value.isoformat()}
        if isinstance(value, pd.Timedelta):
            return {"$timedelta": value.value}
    raise HandOverError(f"a {type(value).__name__} cannot be handed over as data")


def _unplain(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (tag, inner), = value.items()
    if tag == "$float":
        return float(inner)
    if tag in ("$list", "$tuple", "$set", "$frozenset"):
        items = [_unplain(v) for v in inner]
        return {"$list": list, "$tuple": tuple, "$set": set, "$frozenset": frozenset}[tag](items)
    if tag == "$dict":
        return {_unplain(k): _unplain(v) for k, v in inner}
    pd = _pandas()
    if tag == "$path":
        return Path(inner)
    return {"$nat": lambda _: pd.NaT, "$na": lambda _: pd.NA,
            "$timestamp": pd.Timestamp, "$timedelta": pd.Timedelta}[tag](inner)


def write_value(value: Any, stem: Path) -> dict:
    """Write ``value`` beside ``stem`` and return its manifest entry."""
    pd, numpy = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
        return _write_frame(value, stem, pd)
    if numpy is not None and isinstance(value, numpy.ndarray):
        if value.dtype.hasobject:
            raise HandOverError("an array of Python objects cannot be handed over as data")
        numpy.save(stem.with_suffix(".npy"), value, allow_pickle=False)
        return {"kind": "array", "file": stem.with_suffix(".npy").name}
    return {"kind": "json", "value": _plain(value)}


def _write_frame(value, stem: Path, pd) -> dict:
    kind = type(value).__name__.lower()
    frame = value.to_frame() if kind == "series" else value.to_frame(index=False) if kind == "index" else value
    frame = frame.copy(deep=False)
    frame.attrs = {}  # attrs may hold anything; checks compare the table itself
    names = list(frame.columns)
    frame = frame.set_axis([f"c{i}" for i in range(len(names))], axis=1)  # Parquet wants str names
    # A frame has no name of its own (getattr would find a column called "name")
    label = None if isinstance(value, pd.DataFrame) else getattr(value, "name", None)
    entry = {"kind": kind, "names": [_plain(n) for n in names], "name": _plain(label)}
    path = stem.with_suffix(".parquet")
    try:
        frame.to_parquet(path, engine="pyarrow")
        return {**entry, "file": path.name}
    except Exception as err:  # noqa: BLE001 - any pyarrow refusal is the same answer
        if frame.size > MAX_CELLS_AS_JSON:
            raise HandOverError(f"this {kind} cannot be handed over as data ({type(err).__name__})") from None
    path.unlink(missing_ok=True)
    # Mixed Python values (a row of a table, say) go as tagged JSON, cell by cell.
    return {**entry, "rows": _plain(frame.to_numpy().tolist()), "index": _plain(list(frame.index))}


def read_value(entry: dict, folder: Path, max_bytes: int) -> Any:
    """The value an entry of a manifest stands for; never unpickles, never reads past ``max_bytes``."""
    kind = entry.get("kind")
    if kind == "json":
        return _unplain(entry.get("value"))
    if "rows" in entry:
        return _from_rows(entry, kind)
    path = folder / Path(str(entry.get("file", ""))).name
    if not path.is_file() or path.is_symlink():
        raise HandOverError(f"the file of a {kind} value is missing")
    if path.stat().st_size > max_bytes:
        raise HandOverError(f"a {kind} value is larger than the {max_bytes:,}-byte limit")
    if kind == "array":
        import numpy

        return numpy.load(path, allow_pickle=False)
    pd = _pandas()
    frame = pd.read_parquet(path, engine="pyarrow")
    frame.columns = [_unplain(n) for n in entry.get("names", [])]
    if kind == "series":
        series = frame.iloc[:, 0]
        return series.rename(_unplain(entry.get("name")))
    if kind == "index":
        return pd.Index(frame.iloc[:, 0], name=_unplain(entry.get("name")))
    if kind == "dataframe":
        return frame
    raise HandOverError(f"unknown kind of value {kind!r}")


def _from_rows(entry: dict, kind: str):
    pd = _pandas()
    names = [_unplain(n) for n in entry.get("names", [])]
    frame = pd.DataFrame(_unplain(entry["rows"]), columns=names, index=_unplain(entry["index"]), dtype=object)
    if kind == "series":
        return frame.iloc[:, 0].rename(_unplain(entry.get("name")))
    if kind == "index":
        return pd.Index(frame.iloc[:, 0], name=_unplain(entry.get("name")))
    return frame


def describe(value: Any) -> str | None:
    """What a kernel name is when it is not plain data, or None when it is data."""
    if isinstance(value, types.ModuleType):
        return MODULE
    if callable(value) and not isinstance(value, type):
        pd = sys.modules.get("pandas")
        if pd is None or not isinstance(value, (pd.DataFrame, pd.Series, pd.Index)):
            return CALLABLE
    return None


# -- the kernel's side ------------------------------------------------------------------------
def _user_namespace() -> dict:
    return sys._getframe(2).f_globals  # the cell's globals: the kernel's user namespace


def _write_manifest(folder: Path, entries: dict) -> None:
    text = json.dumps({"format": FORMAT, "entries": entries}, ensure_ascii=True)
    (folder / "manifest.json").write_text(text, encoding="ascii")


def _entry(value: Any, stem: Path) -> dict:
    what = describe(value)
    if what:
        return {"kind": what}
    try:
        return write_value(value, stem)
    except HandOverError as err:
        return {"kind": UNSUPPORTED, "why": str(err)}


def export(names: list[str], folder: str) -> None:
    """Kernel side: write the values of ``names`` from the user namespace into ``folder``."""
    namespace, out = _user_namespace(), Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    entries = {}
    for index, name in enumerate(names):
        entries[name] = _entry(namespace[name], out / f"v{index}") if name in namespace else {"kind": UNDEFINED}
    _write_manifest(out, entries)


def call(name: str, folder: str) -> None:
    """Kernel side: call the user's ``name`` on the arguments in ``folder``; write the result."""
    namespace, out = _user_namespace(), Path(folder)
    request = json.loads((out / "request.json").read_text(encoding="utf-8"))
    args = [read_value(e, out, sys.maxsize) for e in request["args"]]
    kwargs = {k: read_value(e, out, sys.maxsize) for k, e in request["kwargs"].items()}
    try:
        result = {"result": _entry(namespace[name](*args, **kwargs), out / "result")}
    except Exception as err:  # noqa: BLE001 - the trainee's error is the answer
        result = {"raised": {"type": type(err).__name__, "message": str(err)[:300]}}
    _write_manifest(out, result)


# -- the trainer's side -----------------------------------------------------------------------
def write_request(folder: Path, args: tuple, kwargs: dict, written: dict | None = None) -> None:
    """Write a call's arguments into ``folder``. ``written`` remembers tables already written for
    earlier calls (a check passes the same day of logs again and again): they are linked, not
    written anew."""
    folder.mkdir(parents=True, exist_ok=True)

    def entry(value, stem: Path) -> dict:
        if written is None or "file" not in (known := written.get(id(value), (None, {}))[1]):
            made = write_value(value, stem)
            if written is not None and "file" in made:
                written[id(value)] = (value, {**made, "path": str(stem.parent / made["file"])})
            return made
        target = stem.with_suffix(Path(known["file"]).suffix)
        os.link(known["path"], target)
        return {**{k: v for k, v in known.items() if k != "path"}, "file": target.name}

    request = {"args": [entry(a, folder / f"a{i}") for i, a in enumerate(args)],
               "kwargs": {k: entry(v, folder / f"k_{i}") for i, (k, v) in enumerate(kwargs.items())}}
    (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")


def read_manifest(folder: Path) -> dict:
    """The entries the kernel wrote into ``folder``; HandOverError when there are none."""
    path = folder / "manifest.json"
    if not path.is_file() or path.is_symlink():
        raise HandOverError("the kernel handed nothing over")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise HandOverError("the kernel handed over too much")
    try:
        data = json.loads(path.read_text(encoding="ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HandOverError("what the kernel handed over is not readable") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HandOverError("what the kernel handed over is not in the expected format")
    return data
