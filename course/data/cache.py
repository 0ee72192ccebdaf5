"""Where generated data files live, and how they are written.

Files go to a per-user cache (``$ETP_ACADEMY_DATA`` or ``~/.cache/etp-academy``), not the
assignment folder: a trainee's submission stays small and autograde regenerates the same bytes.

A trainee's world is about 120 MB, so a trainer grading a cohort, or a hub's quiz service, would
keep one per trainee. The cache is bounded instead (``$ETP_ACADEMY_DATA_LIMIT_MB``): past the
limit, the worlds used longest ago are deleted whole: never the canonical world, never one a
grader holds (``in_use``: its kernel reads files the grader cannot see it read) and never one used
in the last ``$ETP_ACADEMY_DATA_IDLE_S`` seconds. An evicted world is regenerated, byte for byte,
the next time it is asked for.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, Iterator

from course.data.world import CANONICAL_SEED

ENV_VAR = "ETP_ACADEMY_DATA"
LIMIT_ENV = "ETP_ACADEMY_DATA_LIMIT_MB"  # "0" or "off": no limit
IDLE_ENV = "ETP_ACADEMY_DATA_IDLE_S"
DEFAULT_LIMIT_MB = 4096                  # some forty trainees' worlds
DEFAULT_IDLE_S = 600                     # a reader that holds no lock: a kernel, a world worker
STAGING = ".tmp"  # suffix of a file being written (a hidden name beside its target), never read
_WORLD_TAG = re.compile(r"(?:_world|-variant)(\d+)")  # how the generators name a world's files


def is_staging(path: Path) -> bool:
    """A file ``materialise`` is still writing: it becomes its target whole, or disappears."""
    return path.name.startswith(".") and path.name.endswith(STAGING)


def data_dir() -> Path:
    """The folder generated data is written to (created when missing)."""
    root = os.environ.get(ENV_VAR) or Path.home() / ".cache" / "etp-academy"
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        # A read-only home (some hub images) still gets a working course.
        path = Path(tempfile.gettempdir()) / "etp-academy"
        path.mkdir(parents=True, exist_ok=True)
    return path


def materialise(name: str, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Return the path of data file ``name``, writing it with ``write(fh)`` if it is missing.

    ``name`` should carry the generator's version and seed so that a change to either makes
    a new file instead of reusing a stale one. The write is atomic: a file that exists is whole.
    ``binary=True`` hands ``write`` a byte stream (for logs that plant undecodable bytes).
    """
    path = data_dir() / name
    if path.exists():
        _mark_used(path)
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=STAGING)
    try:
        opened = os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        with opened as fh:
            write(fh)
            os.fchmod(fh.fileno(), 0o644)  # shared data: graded kernels read it as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    prune()
    return path


def world_of(name: str) -> int | None:
    """The seed of the world data file ``name`` belongs to; None for the canonical world's files
    and for files of no world."""
    found = _WORLD_TAG.search(name)
    if found is None or int(found.group(1)) == CANONICAL_SEED:
        return None
    return int(found.group(1))


def prune(limit_mb: float | None = None, idle_s: float | None = None) -> list[int]:
    """Delete whole worlds, least recently used first, until the cache fits ``limit_mb``.

    Only worlds idle for ``idle_s`` go. Returns the evicted seeds. Defaults come from the
    environment (see the module's docstring)."""
    limit = _setting(LIMIT_ENV, DEFAULT_LIMIT_MB) if limit_mb is None else limit_mb
    idle = _setting(IDLE_ENV, DEFAULT_IDLE_S) if idle_s is None else idle_s
    if limit <= 0:
        return []
    total, worlds = _usage(data_dir())
    if total <= limit * 2**20:
        return []
    evicted = []
    now = time.time()
    for seed, (last_used, size, paths) in sorted(worlds.items(), key=lambda item: item[1][0]):
        if total <= limit * 2**20 or now - last_used < idle:
            break
        with _held(seed, fcntl.LOCK_EX | fcntl.LOCK_NB) as free:
            if not free:  # being graded: its kernel may open any of these files next
                continue
            try:
                for path in paths:
                    path.unlink(missing_ok=True)
            except OSError:  # another account's files: theirs to prune
                continue
        total -= size
        evicted.append(seed)
    return evicted


@contextlib.contextmanager
def in_use(seed: int) -> Iterator[None]:
    """Keep world ``seed`` in the cache for the block, whoever prunes it (a grader wraps a
    submission's whole grading in this)."""
    with _held(seed, fcntl.LOCK_SH):
        yield


@contextlib.contextmanager
def _held(seed: int, how: int) -> Iterator[bool]:
    """The world's lock file taken ``how``; yields False if a non-blocking take found it held.
    A read-only cache (a graded kernel's) has no lock and nothing to prune."""
    try:
        fd = os.open(data_dir() / f".world-{seed}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, how)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _usage(folder: Path) -> tuple[int, dict[int, tuple[float, int, list[Path]]]]:
    """The cache's bytes, and per world: when it was last used, its bytes and its files."""
    total, worlds = 0, {}
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # evicted or renamed by another process meanwhile
                continue
            total += stat.st_size
            seed = None if entry.name.startswith(".") else world_of(entry.name)
            if seed is not None and entry.is_file(follow_symlinks=False):
                used, size, paths = worlds.get(seed, (0.0, 0, []))
                used = max(used, stat.st_atime, stat.st_mtime)
                worlds[seed] = (used, size + stat.st_size, [*paths, Path(entry.path)])
    return total, worlds


def _mark_used(path: Path) -> None:
    """A read counts as a use, so the world is not the next one evicted. It moves the access
    time only: the modification time is the file's version for the readers' caches."""
    try:
        os.utime(path, ns=(time.time_ns(), path.stat().st_mtime_ns))
    except OSError:  # a graded kernel's cache is read-only; its grader marked the world
        pass


def _setting(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip().lower()
    if text in ("off", "none"):
        return 0
    try:
        return float(text) if text else default
    except ValueError:
        raise ValueError(f"${name} must be a number, not {text!r}") from None
