"""Certification of a cohort, from the gradebook: the guide's checklist for every trainee.

    from course.trainer.certification import certify_cohort
    cohort = certify_cohort(".")        # the course folder; writes certification/ there
    cohort.table                        # one row per trainee: the result and every item

The items and the rule are ``course.certification``'s; what each item is decided from is the
gradebook's, never a trainee's own files:

- a module with no submission: its items are **not started**;
- a submission graded with problems (flagged) or with written answers still to grade: **needs
  review**, never met;
- knowledge: the module's score (late penalty taken off) is at least ``threshold`` of its points;
- practical: every cell of the exercise earned all its points. An exercise's cells are those under
  a heading naming "Exercise X.Y" in the module's source notebook, unless ``exercises`` lists them;
- access: confirmed by the trainer, in ``access_file`` (CSV: ``student_id`` and a column per
  item, ``railway``, ``sentry``, ``github``, ``discord``, with yes/no) or ``access``.

Written to ``output`` (``certification/`` in the course folder by default): ``cohort.csv`` (one row
per trainee), ``<student>.html`` (the printable checklist with its sign-off block) and
``<student>.json`` per trainee, ``scores_per_module.png`` and ``items_missed.png``.

Every setting is a ``c.Certification.*`` line of ``nbgrader_config.py``.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from traitlets import Dict, Float, List, Unicode
from traitlets.config import LoggingConfigurable

from .. import certification as cert
from .api import assignment_names, open_course

YES = {"yes", "y", "true", "1", "x", "confirmed", "ok"}


class Certification(LoggingConfigurable):
    """The course's certification rule and where its checklists go."""

    threshold = Float(cert.THRESHOLD, help="Knowledge items: the share of a module's points to reach "
                      "(0.8 is 80 %)").tag(config=True)
    modules = Dict(help="{module number: assignment id}, e.g. {1: 'm1_architecture'}; empty: each "
                   "m<N>_ folder of source/").tag(config=True)
    exercises = Dict(help="{exercise: [grade cell ids or patterns]}, e.g. {'2.1': ['m2-ex21-*']}; an "
                     "exercise not listed takes the cells under its 'Exercise X.Y' heading").tag(config=True)
    access_file = Unicode("certification_access.csv", help="CSV of confirmed access (course folder): "
                          "student_id, railway, sentry, github, discord (yes/no)").tag(config=True)
    access = Dict(help="{student id: ['railway', 'sentry', ...]}: access confirmed, besides the file"
                  ).tag(config=True)
    trainer_name = Unicode("", help="The trainer's name on every sign-off block").tag(config=True)
    sign_off_date = Unicode("", help="The date on the sign-off blocks (default: today)").tag(config=True)
    notes = Dict(help="{student id: note} printed on that trainee's sign-off block").tag(config=True)
    students = List(Unicode(), help="Only these trainees (default: everyone in the gradebook)").tag(config=True)
    output = Unicode("certification", help="Folder of the checklists, relative to the course folder"
                     ).tag(config=True)


@dataclass
class CohortCertification:
    """What ``certify_cohort`` found and wrote."""

    table: pd.DataFrame
    checklists: dict[str, cert.Checklist]
    results: dict[str, dict[int, cert.ModuleResult]]
    threshold: float = cert.THRESHOLD
    paths: dict[str, Path] = field(default_factory=dict)

    def statuses(self) -> pd.DataFrame:
        """Item statuses: one row per trainee, one column per item id."""
        return self.table[[item.id for item in cert.ITEMS]]


# -- reading the gradebook ---------------------------------------------------------------------------
def _module_map(settings: Certification, root: Path) -> dict[int, str]:
    if settings.modules:
        return {int(number): str(name) for number, name in settings.modules.items()}
    found = {}
    for name in assignment_names(root):
        number = cert.module_number(name)
        if number is not None and 1 <= number <= 6:
            found.setdefault(number, name)
    return found


def _exercise_map(settings: Certification, root: Path, assignment: str, cell_names: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((root / "source" / assignment).glob("*.ipynb")):
        for exercise, names in cert.exercise_cells(json.loads(path.read_text(encoding="utf-8"))).items():
            found.setdefault(exercise, []).extend(names)
    for exercise, patterns in settings.exercises.items():
        listed = [patterns] if isinstance(patterns, str) else list(patterns)
        found[str(exercise)] = cert.cells_matching(cell_names, listed)
    return found


def module_result(gradebook: Gradebook, assignment: str, student: str, exercises: dict[str, list[str]]) -> cert.ModuleResult:
    """One trainee's module as the gradebook has it."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return cert.ModuleResult(assignment, "missing", exercises=exercises)
    grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
    cells = {name: (None if grade.auto_score is None and grade.manual_score is None else grade.score,
                    grade.max_score) for name, grade in grades.items()}
    if any(notebook.flagged for notebook in submission.notebooks):
        state = "flagged"
    elif any(grade.needs_manual_grade for grade in grades.values()):
        state = "ungraded"
    else:
        state = "graded"
    score = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
    return cert.ModuleResult(assignment, state, score, submission.max_score, cells, exercises)


def confirmed_access(settings: Certification, root: Path) -> dict[str, list[str]]:
    """{student: [access item ids]} from ``access_file`` and ``access``."""
    confirmed: dict[str, set[str]] = {}
    path = root / settings.access_file if settings.access_file else None
    if path is not None and path.is_file():
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                student = (row.get("student_id") or "").strip()
                for column, value in row.items():
                    item = _access_item(column)
                    if student and item and str(value).strip().lower() in YES:
                        confirmed.setdefault(student, set()).add(item)
    for student, items in settings.access.items():
        confirmed.setdefault(str(student), set()).update(filter(None, map(_access_item, items)))
    return {student: sorted(items) for student, items in confirmed.items()}


def _access_item(name) -> str | None:
    key = str(name or "").strip().lower()
    key = key if key.startswith("access-") else f"access-{key}"
    return key if key in cert.ACCESS_ITEMS else None


# -- the cohort ----------------------------------------------------------------------------------------
def certify_cohort(course_root: str | Path = ".", output: str | Path | None = None, config=None,
                   write: bool = True) -> CohortCertification:
    """The checklist of every trainee of the course at ``course_root``, from its gradebook.

    ``config`` (a traitlets Config) adds to or overrides the course's ``nbgrader_config.py``;
    ``output`` overrides ``Certification.output``; ``write=False`` writes nothing."""
    root = Path(course_root).resolve()
    api = open_course(root)
    merged = api.config
    if config is not None:
        merged.merge(config)
    settings = Certification(config=merged)
    modules = _module_map(settings, root)
    access = confirmed_access(settings, root)
    day = settings.sign_off_date or date.today().isoformat()
    rows, checklists, results = [], {}, {}
    with Gradebook(api.coursedir.db_url) as gradebook:
        known = {a.name: a for a in gradebook.assignments}
        layouts = {}
        for number, name in modules.items():
            if name in known:
                cell_names = [cell.name for notebook in known[name].notebooks for cell in notebook.grade_cells]
                layouts[number] = (name, _exercise_map(settings, root, name, cell_names))
        for student in gradebook.students:
            if settings.students and student.id not in settings.students:
                continue
            mine = {number: module_result(gradebook, name, student.id, exercises)
                    for number, (name, exercises) in layouts.items()}
            items = cert.decide(mine, access.get(student.id, []), settings.threshold)
            name = " ".join(filter(None, [student.first_name, student.last_name])) or student.id
            outcome = cert.overall(items)
            if all(m.state == "missing" for m in mine.values()):
                outcome = cert.NOT_STARTED.capitalize()
            sign = cert.SignOff(trainee=name, trainer=settings.trainer_name, date=day,
                                certification=cert.APPROVED if outcome == cert.APPROVED else cert.NEEDS_REVIEW,
                                notes=str(settings.notes.get(student.id, "")))
            checklists[student.id] = cert.Checklist(student.id, items, sign, official=True,
                                                    source=f"the gradebook of {root.name}",
                                                    modules=[mine[n] for n in sorted(mine)])
            results[student.id] = mine
            rows.append({"student_id": student.id, "first_name": student.first_name or "",
                         "last_name": student.last_name or "", "result": outcome,
                         "items_met": sum(item.status == cert.MET for item in items),
                         **{f"{modules[n]} %": (None if mine[n].percent is None or mine[n].state == "missing"
                                                else round(mine[n].percent, 1)) for n in sorted(mine)},
                         **{item.item.id: item.status for item in items}})
    table = pd.DataFrame(rows)
    cohort = CohortCertification(table, checklists, results, settings.threshold)
    if write:
        cohort.paths = write_cohort(cohort, root / (output or settings.output))
    return cohort


def _file_stem(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", student) or "_"


def write_cohort(cohort: CohortCertification, folder: Path) -> dict[str, Path]:
    """The cohort table (CSV), each trainee's checklist (HTML, JSON) and the two plots."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"cohort": folder / "cohort.csv"}
    cohort.table.to_csv(paths["cohort"], index=False)
    for student, checklist in cohort.checklists.items():
        json_path, html_path = checklist.write(folder, _file_stem(student))
        paths[f"{student}.json"], paths[f"{student}.html"] = json_path, html_path
    paths.update(plot_cohort(cohort, folder))
    return paths


def plot_cohort(cohort: CohortCertification, folder: Path) -> dict[str, Path]:
    """Two pictures of the cohort: each module's scores, and the items most often not met."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    paths = {}
    scores = cohort.table.filter(like=" %")
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for position, column in enumerate(scores.columns):
        values = scores[column].dropna()
        ax.scatter([position] * len(values), values, alpha=0.7, color="#1f5fae", zorder=3)
        if len(values):
            ax.hlines(values.mean(), position - 0.3, position + 0.3, color="black", lw=2, zorder=4)
    ax.axhline(100 * cohort.threshold, ls="--", color="#c0392b", lw=1, label="knowledge threshold")
    ax.set_xticks(range(len(scores.columns)), [c.removesuffix(" %") for c in scores.columns], rotation=20)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of the module's points")
    ax.set_title("Scores per module (graded submissions; the bar is the mean)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    paths["scores_per_module.png"] = folder / "scores_per_module.png"
    fig.savefig(paths["scores_per_module.png"], dpi=110)
    plt.close(fig)

    ids = [item.id for item in cert.ITEMS]
    counts = pd.DataFrame({status: (cohort.table[ids] == status).sum() for status in
                           (cert.NOT_MET, cert.REVIEW, cert.NOT_STARTED)}) if len(cohort.table) else \
        pd.DataFrame(0, index=ids, columns=[cert.NOT_MET, cert.REVIEW, cert.NOT_STARTED])
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=True, kind="stable").index]
    fig, ax = plt.subplots(figsize=(9, 5))
    counts.plot.barh(stacked=True, ax=ax, color=["#c0392b", "#b8860b", "#7b8794"])
    ax.set_xlabel("trainees")
    ax.set_title("Items not met, by status (most often missed at the top)")
    fig.tight_layout()
    paths["items_missed.png"] = folder / "items_missed.png"
    fig.savefig(paths["items_missed.png"], dpi=110)
    plt.close(fig)
    return paths

