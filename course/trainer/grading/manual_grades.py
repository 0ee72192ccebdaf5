"""A regrade keeps the trainer's manual grades of answers that did not change.

nbgrader's ``SaveAutoGrades`` marks every cell that has a manual score as needing grading again,
whether or not the trainee's answer changed: ``autograde --force`` would reopen every written
answer the trainer graded (report, certification and feedback would wait for them again).

- ``RememberManualGrades`` (before SaveAutoGrades) notes which cells the trainer had graded.
- ``KeepManualGrades`` (after it) closes them again when the answer is the one the trainer
  graded: the cell's checksum equals the one recorded when that answer was last autograded.
  A changed answer (a new submission) stays open, as nbgrader wants. Manual scores and comments
  are never touched by either step.
- The checksums of a submission's graded cells are kept in ``.grading/answers`` of the course
  folder, one small JSON file per submitted notebook.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

FOLDER = ".grading/answers"
_REVIEWED = "etp_reviewed"  # resources key: grade ids the trainer had graded before this run


def checksums_path(resources: dict) -> Path:
    info = resources["nbgrader"]
    # the notebook is converted in <course>/<autograded or submitted>/<student>/<assignment>
    root = Path(resources["metadata"]["path"]).resolve().parents[2]
    return root / FOLDER / info["assignment"] / f"{info['student']}+{info['notebook']}.json"


def _grades(resources: dict):
    info = resources["nbgrader"]
    gb = Gradebook(info["db_url"])
    try:
        notebook = gb.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
    except MissingEntry:
        gb.close()
        return None, []
    return gb, list(notebook.grades)


class RememberManualGrades(NbGraderPreprocessor):
    """Note the cells with a manual grade the trainer gave and nothing reopened since."""

    def preprocess(self, nb, resources):
        gb, grades = _grades(resources)
        resources[_REVIEWED] = {g.name for g in grades
                                if g.manual_score is not None and not g.needs_manual_grade}
        if gb is not None:
            gb.close()
        return nb, resources


class KeepManualGrades(NbGraderPreprocessor):
    """Close again the manual grades of unchanged answers; record this run's checksums."""

    def preprocess(self, nb, resources):
        path = checksums_path(resources)
        before = _read(path)
        now = {cell.metadata.nbgrader["grade_id"]: utils.compute_checksum(cell)
               for cell in nb.cells if utils.is_grade(cell)}
        reviewed = resources.pop(_REVIEWED, set())
        gb, grades = _grades(resources)
        if gb is not None:
            with gb:
                for grade in grades:
                    if grade.name in reviewed and before.get(grade.name) == now.get(grade.name):
                        grade.needs_manual_grade = False
                gb.db.commit()
        _write(path, now)
        return nb, resources


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, checksums: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(checksums, fh, sort_keys=True)
    os.replace(tmp, path)
