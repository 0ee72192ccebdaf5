"""``python -m course.trainer.audit [course folder]``: which submitted answer files need a look.

Lists, per trainee and assignment, answer files that cannot be read and questions whose committed
answers no longer verify (changed or removed by hand). Autograde already scores those quizzes zero
with a FLAGGED message; this gives the trainer the whole cohort on one screen.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..quiz.store import ANSWER_FILE, AnswerFileError, AnswerStore


@dataclass(frozen=True)
class Finding:
    student: str
    assignment: str
    problem: str


def audit(submitted: Path) -> list[Finding]:
    """Findings for every ``<student>/<assignment>/answers.json`` below ``submitted``."""
    findings = []
    for path in sorted(submitted.glob(f"*/*/{ANSWER_FILE}")):
        student, assignment = path.parent.parent.name, path.parent.name
        store = AnswerStore(path)
        try:
            flagged = [qid for qid in store.load() if store.tampered(qid)]
        except AnswerFileError as err:
            findings.append(Finding(student, assignment, str(err)))
            continue
        findings += [Finding(student, assignment, f"{qid}: changed by hand after commit")
                     for qid in flagged]
    return findings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else ".").resolve()
    findings = audit(root / "submitted")
    for f in findings:
        print(f"{f.student}\t{f.assignment}\t{f.problem}")
    print(f"{len(findings)} answer file problem(s) in {root / 'submitted'}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
