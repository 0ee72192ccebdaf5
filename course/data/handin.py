"""The id a trainee hands their work in under, which is the id their world follows.

``nbgrader submit`` files the work under ``CourseDirectory.student_id`` when the trainee's
``nbgrader_config.py`` sets it, else under the login name (``nbgrader.utils.get_username``); on
JupyterHub under the hub user; a trainee with the bundle (no nbgrader) names it in
``$ETP_TRAINEE_ID``. A kernel works in the world of that same id, so that autograde,
which grades a submission in the world of its student id, sees the trainee's own numbers.

The configuration is read, never run: only a literal ``c.CourseDirectory.student_id = "..."`` of
the nearest ``nbgrader_config.py`` (the kernel's folder and its parents, then Jupyter's config
folders) counts. A kernel never executes a config file (the trainer's imports the grader).
"""
from __future__ import annotations

import ast
import os
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"
ID_ENV = "ETP_TRAINEE_ID"  # the id a trainee without nbgrader hands in under (the bundle's start-lab.sh)


def configured_student_id(start: Path | None = None) -> str | None:
    """``CourseDirectory.student_id`` of the nearest nbgrader_config.py that sets one."""
    here = Path(start or Path.cwd()).resolve()
    for folder in [here, *here.parents, *_jupyter_config_folders()]:
        found = _student_id_in(folder / CONFIG_FILE)
        if found:
            return found
    return None


def _jupyter_config_folders() -> list[Path]:
    try:
        from jupyter_core.paths import jupyter_config_path
    except ImportError:  # a trainee's install without Jupyter: no such folders
        return []
    return [Path(p) for p in jupyter_config_path()]


def _student_id_in(path: Path) -> str | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, SyntaxError):
        return None
    found = None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and ast.unparse(node.targets[0]) == "c.CourseDirectory.student_id"
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            value = node.value.value.strip()
            found = value if value and value != "*" else found
    return found


def handed_in_as() -> str:
    """The hub user, else ``$ETP_TRAINEE_ID``, else the configured student id, else the login
    name (as nbgrader submit)."""
    import pwd

    from course.data.world import TRAINEE_ENV

    return (os.environ.get(TRAINEE_ENV) or os.environ.get(ID_ENV, "").strip() or configured_student_id()
            or pwd.getpwuid(os.getuid()).pw_name)
