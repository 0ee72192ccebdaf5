"""A trainee on the roster, and the nbgrader settings that make them hand in under their id.

The roster is nbgrader's: the gradebook's students (``Gradebook.update_or_create_student``), what
``nbgrader db student import roster.csv`` writes too. A trainee without JupyterHub hands in with
``nbgrader submit`` under ``c.CourseDirectory.student_id`` when their nbgrader configuration sets
it, else under their login name. ``trainee_config`` is that configuration: the file goes to the
trainee's ``~/.jupyter/nbgrader_config.py``, which nbgrader reads before the trainee folder's own
(``make start`` rewrites that one, never this one).
"""
from __future__ import annotations

import re
from pathlib import Path

from nbgrader.api import Gradebook

TRAINEES_FOLDER = "trainees"  # <course>/trainees/<id>/nbgrader_config.py (names: not committed)
# nbgrader refuses '*' and '+' in a student id; a path separator would escape the folders.
VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


def check_id(student: str) -> str:
    if not VALID_ID.match(student):
        raise ValueError(f"{student!r} is not a usable trainee id: letters, digits and . _ @ - only, "
                         "starting with a letter or digit (it names folders and their world)")
    return student


def split_name(name: str) -> tuple[str, str]:
    """'Ana Maria Lima' -> ('Ana Maria', 'Lima'): the roster's first and last name columns."""
    parts = name.split()
    if len(parts) < 2:
        return (parts[0] if parts else ""), ""
    return " ".join(parts[:-1]), parts[-1]


def add_trainee(gradebook: Gradebook, student: str, name: str = "", email: str = "") -> None:
    """Add the trainee to the roster, or update their name and email (empty: left as they are)."""
    fields = {}
    if name:
        fields["first_name"], fields["last_name"] = split_name(name)
    if email:
        fields["email"] = email
    gradebook.update_or_create_student(check_id(student), **fields)


def trainee_config(student: str, course_id: str) -> str:
    return (f'"""nbgrader settings of trainee {student} of {course_id}: copy this file to\n'
            f"~/.jupyter/nbgrader_config.py in the trainee's account (their machine, or theirs on a\n"
            f'shared one). `nbgrader submit` and the Assignment List then hand in under {student}."""\n'
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"c.CourseDirectory.student_id = {student!r}\n")


def write_trainee_config(root: Path, student: str, course_id: str) -> Path:
    folder = Path(root) / TRAINEES_FOLDER / check_id(student)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "nbgrader_config.py"
    path.write_text(trainee_config(student, course_id), encoding="utf-8")
    return path
