"""``nbgrader export``: the course's grade sheet, one row per trainee (``c.ExportApp.plugin_class``).

Columns: the trainee's id and names (from the roster: ``nbgrader db student import roster.csv``),
then per module its status, when it was submitted (ISO time in UTC, as nbgrader records it) and how
many seconds after the due date (0: on time or no due date), the score of every graded cell in
notebook order and the module total (late penalty applied), then the total of all modules. Each
score column names its maximum.

- A module a trainee did not submit is empty, never 0.0; its status says "not submitted".
- A module with a notebook autograde could not grade is empty too, and out of the total; its
  status says "not graded".
- A written answer not graded yet is empty too, and the status says "ungraded answers".
- A submission flagged for review (``problems.flag``) says "flagged".

``nbgrader export`` writes ``grades.csv`` in the course folder; ``--to`` names another file,
``--assignment`` and ``--student`` narrow it down as for nbgrader's own exporter.
"""
from __future__ import annotations

import csv
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

DEFAULT_FILE = "grades.csv"
NAME_COLUMNS = ["student_id", "first_name", "last_name", "email"]


class GradeSheetExport(ExportPlugin):
    """Per-question scores and totals per trainee and module, names from the roster."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or DEFAULT_FILE
        header, rows = grade_sheet(gradebook, self.assignment, self.student, self._source_root())
        self.log.info("Exporting %d trainee(s) and %d column(s) to %s", len(rows), len(header), dest)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)

    def _source_root(self) -> Path | None:
        """The course's source folder, for the cells' notebook order (None: order by name)."""
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is None:
            return None
        return Path(coursedir.root) / coursedir.source_directory


def grade_sheet(gradebook: Gradebook, assignments=(), students=(), source: Path | None = None):
    """(header, rows) of the grade sheet; ``assignments``/``students`` narrow it when not empty."""
    wanted_assignments = {str(a) for a in assignments}
    wanted_students = {str(s) for s in students}
    modules = [a for a in gradebook.assignments if not wanted_assignments or a.name in wanted_assignments]
    layout = {module.name: _cells(module, source) for module in modules}
    header = list(NAME_COLUMNS)
    for module in modules:
        header += [f"{module.name} status", f"{module.name} submitted at", f"{module.name} seconds late"]
        header += [f"{module.name}/{name} (max {top:g})" for name, top in layout[module.name]]
        header.append(f"{module.name} total (max {module.max_score:g})")
    header.append(f"total (max {sum(m.max_score for m in modules):g})")
    rows = []
    for student in gradebook.students:
        if wanted_students and student.id not in wanted_students:
            continue
        row = [student.id, student.first_name or "", student.last_name or "", student.email or ""]
        totals = []
        for module in modules:
            cells, total = _module_columns(gradebook, module.name, student.id, layout[module.name])
            row += cells
            if total != "":
                totals.append(total)
        row.append(_number(sum(totals)) if totals else "")
        rows.append(row)
    return header, rows


def _cells(module, source: Path | None) -> list[tuple[str, float]]:
    """(cell name, max score) of every graded cell of a module, notebook by notebook."""
    cells = []
    for notebook in sorted(module.notebooks, key=lambda nb: nb.name):
        order = _notebook_order(source, module.name, notebook.name)
        grades = sorted(notebook.grade_cells, key=lambda c: (order.get(c.name, len(order)), c.name))
        cells += [(cell.name, cell.max_score) for cell in grades]
    return cells


def _notebook_order(source: Path | None, assignment: str, notebook: str) -> dict[str, int]:
    path = source / assignment / f"{notebook}.ipynb" if source else None
    if path is None or not path.is_file():
        return {}
    nb = nbformat.read(path, as_version=4)
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    return {grade_id: index for index, grade_id in enumerate(ids) if grade_id}


def _module_columns(gradebook: Gradebook, assignment: str, student: str, cells) -> tuple[list, object]:
    """The status, cell scores and total of one module for one trainee; ("" total) if unsubmitted."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return ["not submitted", "", ""] + [""] * len(cells) + [""], ""
    when = [submission.timestamp.isoformat(sep=" ") if submission.timestamp else "",
            _number(submission.total_seconds_late or 0)]
    grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
    if not all(autograded(notebook) for notebook in submission.notebooks):
        return ["not graded"] + when + [""] * len(cells) + [""], ""
    scores = []
    for name, _ in cells:
        grade = grades.get(name)
        waiting = grade is None or (grade.manual_score is None and grade.auto_score is None)
        scores.append("" if waiting else _number(grade.score))
    status = [label for label, is_so in (
        ("ungraded answers", any(g.needs_manual_grade for g in grades.values())),
        ("flagged", any(notebook.flagged for notebook in submission.notebooks))) if is_so]
    total = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
    return ["; ".join(status) or "graded"] + when + scores + [_number(total)], total


def autograded(notebook) -> bool:
    """Whether autograde scored this submitted notebook: its checks have automatic scores
    (a notebook of written answers only cannot tell, and counts as graded)."""
    written = {cell.name for cell in notebook.notebook.solution_cells}
    checks = [grade for grade in notebook.grades if grade.name not in written]
    return not checks or any(grade.auto_score is not None for grade in checks)


def _number(value: float) -> str:
    return f"{value:g}"
