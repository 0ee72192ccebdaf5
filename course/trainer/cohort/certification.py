"""Certification of a cohort, from the gradebook: the guide's checklist for every trainee, the
tool's proposal, and the trainer's sign-off.

    python -m course certify                                   # the cohort: proposal and progress
    python -m course certify --approve ana --notes "..."       # the trainer signs Approved
    python -m course certify --needs-review bruno --notes "..."

    from course.trainer.cohort.certification import certify_cohort, sign
    cohort = certify_cohort(".")        # the course folder; writes certification/ there
    cohort.table                        # one row per trainee: the proposal and every item

The items, the mapping of each practical exercise and the rule are ``course.certification``'s
(docs/certification.md); what each item is decided from is the gradebook's, never a trainee's own
files:

- a module with no submission: its items are **not started**;
- a submission graded with problems (flagged, with the grader's reason) or with written answers
  still to grade: **needs review**, never met;
- knowledge: the module's score (late penalty taken off) is at least ``threshold`` of its points;
- practical: the exercise's cells (``exercises``: the guide's steps mapped to grade ids) earned at
  least ``practical_threshold`` of their points;
- access: confirmed by the trainer, in ``access_file`` (CSV: ``student_id`` and a column per
  item, ``railway``, ``sentry``, ``github``, ``discord``, with yes/no) or ``access``.

The tool proposes, per trainee, **ready for sign-off** (every item met) or **not yet** (with the
reason of each item not met); the trainer decides. A sign-off (trainer, date, Approved or Needs
Review, notes) is appended to ``signoff_file``; the latest one per trainee counts. Approved makes
the trainee **certified**; ``sign`` refuses Approved for a trainee who is not ready unless forced.

Written to ``output`` (``certification/`` in the course folder by default): ``cohort.csv`` (one row
per trainee), ``<student>.html`` (the printable checklist: the trainer's decision in its sign-off
block, or empty boxes) and ``<student>.json`` per trainee, ``scores_per_module.png`` and
``items_missed.png``.

Every setting is a ``c.Certification.*`` line of ``nbgrader_config.py``.
"""
from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
from nbgrader.api import Gradebook, MissingEntry
from traitlets import Dict, Float, List, Unicode
from traitlets.config import LoggingConfigurable

from course import certification as cert
from course.trainer.reference.judge import REVIEW_MARK
from course.trainer.cohort.api import assignment_names, open_course
from course.trainer.cohort.export import autograded

YES = {"yes", "y", "true", "1", "x", "confirmed", "ok"}
SIGNOFF_FORMAT = "etp-academy-signoffs/1"


class Certification(LoggingConfigurable):
    """The course's certification rule and where its checklists go."""

    threshold = Float(cert.THRESHOLD, help="Knowledge items: the share of a module's points to reach "
                      "(0.8 is 80 %)").tag(config=True)
    practical_threshold = Float(cert.PRACTICAL_THRESHOLD, help="Practical items: the share of an "
                                "exercise's points (its mapped cells) to reach (0.8 is 80 %)").tag(config=True)
    modules = Dict(help="{module number: assignment id}, e.g. {1: 'm1_architecture'}; empty: each "
                   "m<N>_ folder of source/").tag(config=True)
    exercises = Dict(default_value=cert.EXERCISES,
                     help="{exercise: [grade ids or patterns]}: the cells of each practical exercise "
                     "(default: the guide's steps mapped in docs/certification.md); listing an "
                     "exercise replaces its default").tag(config=True)
    access_file = Unicode("certification_access.csv", help="CSV of confirmed access (course folder): "
                          "student_id, railway, sentry, github, discord (yes/no)").tag(config=True)
    access = Dict(help="{student id: ['railway', 'sentry', ...]}: access confirmed, besides the file"
                  ).tag(config=True)
    signoff_file = Unicode("certification/signoffs.json", help="The trainer's sign-offs (course folder): "
                           "every decision with trainer, date and notes; the latest per trainee counts"
                           ).tag(config=True)
    trainer_name = Unicode("", help="The trainer's name: on sign-offs made without --trainer, and on "
                           "the sign-off block of checklists not signed yet").tag(config=True)
    sign_off_date = Unicode("", help="The date on the sign-off blocks not signed yet (default: left "
                            "blank for the trainer to fill in)").tag(config=True)
    notes = Dict(help="{student id: note} printed on that trainee's sign-off block until it is signed"
                 ).tag(config=True)
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
    practical_threshold: float = cert.PRACTICAL_THRESHOLD

    def statuses(self) -> pd.DataFrame:
        """Item statuses: one row per trainee, one column per item id."""
        return self.table[[item.id for item in cert.ITEMS]]

    def result(self, student: str) -> str:
        return self.checklists[student].result


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


def _exercise_map(settings: Certification, number: int, cell_names: list[str]) -> dict[str, list[str]]:
    """{exercise: [grade ids]} of module ``number``'s practical items, patterns resolved."""
    found = {}
    for item in cert.ITEMS:
        if item.module == number and item.exercise:
            listed = settings.exercises.get(item.exercise, cert.EXERCISES.get(item.exercise, []))
            listed = [listed] if isinstance(listed, str) else list(listed)
            found[item.exercise] = cert.cells_matching(cell_names, listed)
    return found


def flag_reasons(submission) -> str:
    """The grader's reasons for a flag (lines starting with FLAGGED in the automatic comments)."""
    lines = [cert.workspace._flag_line(line) for notebook in submission.notebooks for comment in notebook.comments
             for line in (comment.auto_comment or "").splitlines() if line.startswith(REVIEW_MARK)]
    return "; ".join(dict.fromkeys(lines))[:400]


def optional_cells(root: Path, assignment: str) -> list[str]:
    """The grade ids in the optional sections of an assignment's source notebooks."""
    return [name for path in sorted((root / "source" / assignment).glob("*.ipynb"))
            for name in cert.optional_cells(json.loads(path.read_text(encoding="utf-8")))]


def module_result(gradebook: Gradebook, assignment: str, student: str, exercises: dict[str, list[str]],
                  optional: list[str] = ()) -> cert.ModuleResult:
    """One trainee's module as the gradebook has it."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return cert.ModuleResult(assignment, "missing", exercises=exercises)
    if not all(autograded(notebook) for notebook in submission.notebooks):  # no score, not a 0
        return cert.ModuleResult(assignment, "pending", exercises=exercises, optional=list(optional),
                                 note="handed in; autograde could not grade it (see its summary)")
    grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
    cells = {name: (None if grade.auto_score is None and grade.manual_score is None else grade.score,
                    grade.max_score) for name, grade in grades.items()}
    note = ""
    if any(notebook.flagged for notebook in submission.notebooks):
        state, note = "flagged", flag_reasons(submission)
    elif any(grade.needs_manual_grade for grade in grades.values()):
        state = "ungraded"
    else:
        state = "graded"
    score = max(0.0, submission.score - (submission.late_submission_penalty or 0.0))
    return cert.ModuleResult(assignment, state, score, submission.max_score, cells, exercises, note=note,
                             optional=list(optional))


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


# -- the trainer's sign-offs -----------------------------------------------------------------------------
def signoff_path(settings: Certification, root: Path) -> Path:
    return root / settings.signoff_file


def load_signoffs(path: Path) -> list[dict]:
    """Every sign-off recorded, oldest first (none when there is no file)."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != SIGNOFF_FORMAT or not isinstance(data.get("signoffs"), list):
        raise ValueError(f"{path} is not a sign-off file of this course")
    return data["signoffs"]


def latest_signoffs(path: Path) -> dict[str, dict]:
    """{student: their latest sign-off}."""
    return {record["student"]: record for record in load_signoffs(path)}


def _write_signoffs(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": SIGNOFF_FORMAT, "signoffs": records}, ensure_ascii=False, indent=1) + "\n"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(temporary, path)


class NotReady(Exception):
    """Approved asked for a trainee who is not ready for sign-off (and not forced); its argument
    is the list of reasons, one per item not met."""


# -- the cohort ----------------------------------------------------------------------------------------
def _settings(root: Path, config=None) -> Certification:
    api = open_course(root)
    merged = api.config
    if config is not None:
        merged.merge(config)
    return Certification(config=merged), api


def certify_cohort(course_root: str | Path = ".", output: str | Path | None = None, config=None,
                   write: bool = True, students: list[str] | None = None) -> CohortCertification:
    """The checklist of every trainee of the course at ``course_root``, from its gradebook, with
    the tool's proposal and the trainer's latest sign-off.

    ``config`` (a traitlets Config) adds to or overrides the course's ``nbgrader_config.py``;
    ``output`` overrides ``Certification.output``; ``students`` narrows the cohort (as does
    ``Certification.students``); ``write=False`` writes nothing."""
    root = Path(course_root).resolve()
    settings, api = _settings(root, config)
    modules = _module_map(settings, root)
    access = confirmed_access(settings, root)
    signed = latest_signoffs(signoff_path(settings, root))
    wanted = set(students or []) | set(settings.students)
    rows, checklists, results = [], {}, {}
    with Gradebook(api.coursedir.db_url) as gradebook:
        known = {a.name: a for a in gradebook.assignments}
        layouts = {}
        for number, name in modules.items():
            if name in known:
                cell_names = [cell.name for notebook in known[name].notebooks for cell in notebook.grade_cells]
                layouts[number] = (name, _exercise_map(settings, number, cell_names), optional_cells(root, name))
        for student in gradebook.students:
            if wanted and student.id not in wanted:
                continue
            mine = {number: module_result(gradebook, name, student.id, exercises, optional)
                    for number, (name, exercises, optional) in layouts.items()}
            items = cert.decide(mine, access.get(student.id, []), settings.threshold,
                                practical_threshold=settings.practical_threshold)
            name = " ".join(filter(None, [student.first_name, student.last_name])) or student.id
            record = signed.get(student.id)
            if record:
                sign = cert.SignOff(trainee=name, trainer=record.get("trainer", ""), date=record.get("date", ""),
                                    certification=record.get("decision", ""), notes=record.get("notes", ""))
            else:  # empty boxes: the trainer decides
                sign = cert.SignOff(trainee=name, trainer=settings.trainer_name, date=settings.sign_off_date,
                                    notes=str(settings.notes.get(student.id, "")))
            checklist = cert.Checklist(student.id, items, sign, official=True,
                                       source=f"the gradebook of {root.name}",
                                       modules=[mine[n] for n in sorted(mine)])
            checklists[student.id] = checklist
            results[student.id] = mine
            counts = {group: "{}/{}".format(*checklist.count(group))
                      for group in (cert.KNOWLEDGE, cert.PRACTICAL, cert.ACCESS)}
            rows.append({"student_id": student.id, "first_name": student.first_name or "",
                         "last_name": student.last_name or "", "result": checklist.result,
                         "decision": sign.certification, "signed_by": sign.trainer if record else "",
                         "signed_on": sign.date if record else "",
                         "items_met": checklist.count()[0], "knowledge": counts[cert.KNOWLEDGE],
                         "practical": counts[cert.PRACTICAL], "access": counts[cert.ACCESS],
                         **{f"{modules[n]} %": (None if mine[n].percent is None or mine[n].state == "missing"
                                                else round(mine[n].percent, 1)) for n in sorted(mine)},
                         **{item.item.id: item.status for item in items},
                         "reasons": " | ".join(checklist.reasons)})
    table = pd.DataFrame(rows)
    cohort = CohortCertification(table, checklists, results, settings.threshold,
                                 practical_threshold=settings.practical_threshold)
    if write:
        cohort.paths = write_cohort(cohort, root / (output or settings.output))
    return cohort


def sign(course_root: str | Path, student: str, decision: str, notes: str = "", trainer: str = "",
         day: str = "", force: bool = False, config=None) -> dict:
    """Record the trainer's decision for ``student`` (Approved or Needs Review) and return the
    record. Approved needs a trainee ready for sign-off, unless ``force``: else ``NotReady`` with
    the reasons. Raises KeyError for a trainee not in the gradebook."""
    if decision not in (cert.APPROVED, cert.NEEDS_REVIEW):
        raise ValueError(f"a decision is {cert.APPROVED!r} or {cert.NEEDS_REVIEW!r}, not {decision!r}")
    root = Path(course_root).resolve()
    settings, _ = _settings(root, config)
    cohort = certify_cohort(root, config=config, write=False, students=[student])
    if student not in cohort.checklists:
        raise KeyError(student)
    checklist = cohort.checklists[student]
    # the proposal from the items alone: a Needs Review signed before does not block an Approved now
    proposal = cert.propose(checklist.items)
    if decision == cert.APPROVED and proposal != cert.READY and not force:
        raise NotReady(cert.reasons(checklist.items))
    path = signoff_path(settings, root)
    records = load_signoffs(path)
    record = {"student": student, "decision": decision, "trainer": trainer or settings.trainer_name or _login(),
              "date": day or date.today().isoformat(), "notes": notes, "proposal": proposal,
              "items_met": checklist.count()[0], "forced": bool(force and proposal != cert.READY),
              "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    records.append(record)
    _write_signoffs(path, records)
    return record


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "the trainer"


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

