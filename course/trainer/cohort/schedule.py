"""Due dates, extensions and the late policy, on nbgrader's gradebook.

- A module's due date is nbgrader's ``Assignment.duedate`` (UTC in the gradebook).
- An extension is nbgrader's ``SubmittedAssignment.extension``: a submission's due date is the
  module's plus its extension, and nbgrader's ``total_seconds_late`` counts from there. The
  gradebook holds an extension only on a submission, which autograde creates; an extension granted
  earlier waits in ``extensions.json`` in the course folder, and ``GrantExtensions`` (an autograde
  step before nbgrader's ``AssignLatePenalties``) writes it on the submission when it is graded.
- The penalty is nbgrader's ``LateSubmissionPlugin`` (``c.LateSubmissionPlugin.penalty_method``:
  ``"none"``, nbgrader's default, marks a late submission and keeps its score; ``"zero"`` scores
  it 0), or whatever ``c.AssignLatePenalties.plugin_class`` names.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import parse_utc

EXTENSIONS_FILE = "extensions.json"  # {module: {student: hours}}, in the course folder


def parse_due(text: str) -> datetime:
    """``2026-12-20T17:00`` (UTC), ``2026-12-20T17:00-03:00`` or nbgrader's ``2026-12-20 17:00
    America/Sao_Paulo``, as the naive UTC time the gradebook stores."""
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as err:
        raise ValueError(f"not a date and time: {text!r} ({err}); e.g. 2026-12-20T17:00 (UTC), "
                         "2026-12-20T17:00-03:00, or '2026-12-20 17:00 America/Sao_Paulo'") from None


def set_due(gradebook: Gradebook, module: str, due: datetime | None) -> None:
    """The module's due date (None: no due date, nobody is late)."""
    gradebook.update_or_create_assignment(module, duedate=due)


def due_of(gradebook: Gradebook, module: str) -> datetime | None:
    try:
        return gradebook.find_assignment(module).duedate
    except MissingEntry:
        return None


# -- extensions ----------------------------------------------------------------------------------
def extensions(root: Path) -> dict[str, dict[str, float]]:
    path = Path(root) / EXTENSIONS_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} cannot be read ({err}); fix or remove it") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError(f"{path} is not {{module: {{student: hours}}}}; fix or remove it")
    return data


def extension_hours(root: Path, module: str, student: str) -> float:
    return float(extensions(root).get(module, {}).get(student, 0) or 0)


def grant(root: Path, gradebook: Gradebook, module: str, student: str, hours: float) -> bool:
    """Record the extension (0 removes it) and put it on the submission if the gradebook has one
    already; True when it did."""
    if hours < 0:
        raise ValueError("an extension cannot be negative")
    data = extensions(root)
    per_student = data.setdefault(module, {})
    if hours:
        per_student[student] = hours
    else:
        per_student.pop(student, None)
    _write_json(Path(root) / EXTENSIONS_FILE, {m: s for m, s in data.items() if s})
    try:
        gradebook.find_submission(module, student)
    except MissingEntry:
        return False
    gradebook.grant_extension(module, student, hours=hours)
    return True


def _write_json(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def student_due(gradebook: Gradebook, root: Path, module: str, student: str) -> datetime | None:
    """This trainee's due date: the module's plus their extension."""
    due = due_of(gradebook, module)
    if due is None:
        return None
    return due + timedelta(hours=extension_hours(root, module, student))


class GrantExtensions(NbGraderPreprocessor):
    """Autograde step: the extension granted for this submission (``extensions.json``) onto its
    gradebook entry, before nbgrader's ``AssignLatePenalties`` reads its lateness."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        root = getattr(getattr(self.parent, "coursedir", None), "root", None) or os.getcwd()
        hours = extension_hours(Path(root), info["assignment"], info["student"])
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            wanted = timedelta(hours=hours) if hours else None
            if submission.extension != wanted:
                gb.grant_extension(info["assignment"], info["student"], hours=hours)
        return nb, resources


def reassess(gradebook: Gradebook, config, module: str, students: list[str] | None = None) -> list[str]:
    """Each graded submission's late penalty again, as nbgrader's ``AssignLatePenalties`` assigns
    it at autograde, after a due date or an extension changed; the trainees now late."""
    from nbgrader.preprocessors import AssignLatePenalties

    step = AssignLatePenalties(config=config)
    step.init_plugin()
    late = []
    for submission in gradebook.assignment_submissions(module):
        if students is not None and submission.student.id not in students:
            continue
        seconds = submission.total_seconds_late
        for notebook in submission.notebooks:
            penalty = None
            if seconds > 0:
                penalty = step.plugin_inst.late_submission_penalty(submission.student.id, notebook.score, seconds)
                if penalty is not None:
                    penalty = step._check_late_penalty(notebook, penalty)  # nbgrader's own clamp
            notebook.late_submission_penalty = penalty
        if seconds > 0:
            late.append(submission.student.id)
    gradebook.db.commit()
    return late


# -- the late policy, in words --------------------------------------------------------------------
def late_policy(config) -> str:
    """What the course does to a late submission, from its nbgrader configuration."""
    from nbgrader.preprocessors import AssignLatePenalties

    plugin = AssignLatePenalties(config=config).plugin_class
    if plugin is not LateSubmissionPlugin:
        return f"late penalty: {plugin.__module__}.{plugin.__name__} (c.AssignLatePenalties.plugin_class)"
    method = LateSubmissionPlugin(config=config).penalty_method
    if method == "zero":
        return "late penalty: a late submission scores 0 (c.LateSubmissionPlugin.penalty_method = 'zero')"
    return "no late penalty: late submissions are marked, scores kept (c.LateSubmissionPlugin.penalty_method = 'none')"
