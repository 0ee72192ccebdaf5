"""``python -m course.trainer.cohort.audit [course folder]``: which submitted answer files need a look.

Lists, per trainee and assignment, answer files that cannot be read, questions whose committed
answers no longer verify (changed or removed by hand), and submissions of an assignment with
quizzes that hold no answer file at all. Autograde already scores those quizzes zero
with a FLAGGED message; this gives the trainer the whole cohort on one screen.

On a JupyterHub with the quiz service (``ETP_QUIZ_SERVICE_URL`` set, as in the formgrader), each
submission's answer file is also compared with the service's record, the one graded: a forged,
copied or missing file is named even when its seals are consistent.

Whatever a trainee left in a submission, every file costs bounded time and at most a few lines:
an odd file is one finding and the audit goes on with the rest of the cohort.
"""
from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from course.quiz.store import ANSWER_FILE, AnswerFileError, AnswerStore, one_line

USAGE = "usage: python -m course.trainer.cohort.audit [course folder]  (default: the current folder)"
HUB_NOTE = ("On this hub each answer file was compared with the quiz service's record, which is what "
            "autograde grades.")
LIMITS = ("Without JupyterHub, quiz answers are self-reported: a trainee who rewrites the file "
          "consistently (recomputed seals, a classmate's file, or one written from scratch)\n"
          "cannot be detected by this audit; only a hub's quiz service records answers where "
          "trainees cannot write.")


@dataclass(frozen=True)
class Finding:
    student: str
    assignment: str
    problem: str

    def line(self) -> str:
        # names come from the trainees' folders: no tab or newline may break the columns
        return "\t".join(one_line(text, 300) for text in (self.student, self.assignment, self.problem))


Record = Callable[[str, str], dict]  # (assignment, student) -> the service's answer file


def audit(submitted: Path, record: Record | None = None) -> list[Finding]:
    """Findings for every ``<student>/<assignment>/answers.json`` below ``submitted``."""
    return [finding for found in checked(submitted, record) for finding in found]


def checked(submitted: Path, record: Record | None = None) -> Iterator[list[Finding]]:
    """One list of findings per answer file (empty when it is fine), in name order; with the
    quiz service's ``record``, one per submission, compared with that record too."""
    for student in _entries(submitted):
        if student.is_symlink():
            yield [Finding(student.name, "-", "folder is a link; not followed")]
            continue
        try:
            assignments = _entries(student)
        except OSError as err:
            yield [Finding(student.name, "-", f"folder could not be read ({_reason(err)})")]
            continue
        for assignment in assignments:
            path = assignment / ANSWER_FILE
            if assignment.is_symlink():
                yield [Finding(student.name, assignment.name, "folder is a link; not followed")]
            elif record is not None:
                found = check(student.name, assignment.name, path) if os.path.lexists(path) else []
                yield found + compare(student.name, assignment.name, path, record)
            elif os.path.lexists(path):
                yield check(student.name, assignment.name, path)
            elif has_quizzes(submitted.parent, assignment.name):
                yield [Finding(student.name, assignment.name,
                               f"no {ANSWER_FILE} handed in: every quiz of it scores zero")]


def check(student: str, assignment: str, path: Path) -> list[Finding]:
    """The findings for one answer file: none, one per hand-edited question, or why it is unread."""
    try:
        flagged = AnswerStore(path).flagged()
    except AnswerFileError as err:
        return [Finding(student, assignment, str(err))]
    except Exception as err:  # one odd file must never stop the audit of the others
        return [Finding(student, assignment, f"{ANSWER_FILE} could not be read: {type(err).__name__}")]
    return [Finding(student, assignment, f"{one_line(qid)}: changed by hand after commit")
            for qid in flagged]


@functools.lru_cache(maxsize=None)
def has_quizzes(root: Path, assignment: str) -> bool:
    """Whether the course's released (else source) notebooks of ``assignment`` ask any quiz."""
    import nbformat

    from course.trainer.grading.sealing import questions_in

    for folder in (root / "release" / assignment, root / "source" / assignment):
        notebooks = sorted(folder.glob("*.ipynb"))
        if notebooks:
            return any(_asks(nbformat.read(nb, as_version=4), questions_in) for nb in notebooks)
    return True  # nothing to tell by: a submission without answers is worth a look


def _asks(nb, questions_in) -> bool:
    for cell in nb.cells:
        try:
            if cell.cell_type == "code" and questions_in(cell.source):
                return True
        except Exception:  # noqa: BLE001 - a cell that is not a literal quiz call
            continue
    return False
def compare(student: str, assignment: str, path: Path, record: Record) -> list[Finding]:
    """A finding when the handed-in file differs from the quiz service's record of the trainee."""
    from course.trainer.grading.hub_grading import QuizServiceUnavailable, handed_in_differs

    try:
        differs = handed_in_differs(path, record(assignment, student))
    except QuizServiceUnavailable as err:
        return [Finding(student, assignment, f"the quiz service's record cannot be read: {err}")]
    except Exception as err:  # one odd file must never stop the audit of the others
        return [Finding(student, assignment, f"{ANSWER_FILE} could not be compared: {type(err).__name__}")]
    if not differs:
        return []
    return [Finding(student, assignment, f"differs from the quiz service's record: {differs} "
                                         "(the record is what is graded)")]


def service_record() -> Record | None:
    """The hub's quiz service as the formgrader reads it, when this runs on a hub."""
    from course.trainer.grading.hub_grading import ServiceAnswers, hub_mode

    return ServiceAnswers().fetch if hub_mode() else None


def _entries(folder: Path) -> list[Path]:
    """Sub-folders (and links, reported rather than followed) of ``folder``, in name order."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_dir(follow_symlinks=False) or e.is_symlink())


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _missing(root: Path) -> str:
    if not os.path.exists(root):
        return "does not exist"
    return "has no submitted/ folder" if os.path.isdir(root) else "is not a folder"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(args):
        print(f"{USAGE}\nLists unreadable and hand-edited answer files below <course folder>/submitted.")
        print(LIMITS)
        return 0
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(USAGE, file=sys.stderr)
        return 2
    root = Path(args[0] if args else ".").resolve()
    submitted = root / "submitted"
    if not os.path.isdir(submitted):
        print(f"audit: {one_line(str(root), 300)} {_missing(root)}", file=sys.stderr)
        return 2
    record = service_record()
    try:
        results = list(checked(submitted, record))
    except OSError as err:
        print(f"audit: {one_line(str(submitted), 300)} could not be read ({_reason(err)})",
              file=sys.stderr)
        return 2
    findings = [finding for found in results for finding in found]
    for finding in findings:
        print(finding.line())
    fine = sum(1 for found in results if not found)
    print(f"{len(findings)} answer file problem(s) in {one_line(str(submitted), 300)}; "
          f"{fine} of {len(results)} answer file(s) fine")
    print(LIMITS if record is None else HUB_NOTE)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
