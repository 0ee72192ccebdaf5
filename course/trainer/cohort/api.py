"""Open a course folder with nbgrader's Python API, configured by its ``nbgrader_config.py``."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


def open_course(root: str | Path, overrides: Config | None = None) -> NbGraderAPI:
    """An ``NbGraderAPI`` for the course at ``root``, as ``nbgrader`` run there would see it;
    ``overrides`` (traitlets configuration) on top, as command-line options would be."""
    _tools_on_path()
    root = Path(root).resolve()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    if overrides:
        config.merge(overrides)
    config.CourseDirectory.root = str(root)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def assignment_names(root: str | Path) -> list[str]:
    """The course's assignments: one folder each under ``source/``, sorted by name."""
    return sorted(p.name for p in (Path(root) / "source").glob("*/") if p.is_dir())


def _tools_on_path() -> None:
    """nbgrader runs the ``alembic`` command when it creates a gradebook: make sure the one
    installed beside this Python is found even when the environment is not activated."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
