"""Where generated data files live, and how they are written.

Files go to a per-user cache (``$ETP_ACADEMY_DATA`` or ``~/.cache/etp-academy``), not the
assignment folder: a trainee's submission stays small and autograde regenerates the same bytes.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Callable

ENV_VAR = "ETP_ACADEMY_DATA"
STAGING = ".tmp"  # suffix of a file being written (a hidden name beside its target), never read


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
    return path
