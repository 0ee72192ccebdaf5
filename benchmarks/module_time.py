"""How long each module takes a trainee: a walk-through of the source notebook at reading speed,
with the model solutions typed in, beside the guide's time.

    python benchmarks/module_time.py [--no-run]

The walk-through reads every cell a trainee meets, in order, and counts:

- prose (markdown) at ``PROSE_WPM`` words a minute; code cells the course gives at
  ``GIVEN_CODE_LINE_S`` seconds a line (read, then run), except a cell that only draws or shows
  (``with show(...)``): ``SHOWN_S`` to run it and look at what it shows;
- each quiz: its prompt, options and explanation at ``PROSE_WPM``, plus ``QUIZ_DECIDE_S`` to choose;
- each code exercise: ``SOLUTION_LINE_S`` seconds per line of the model solution (write, run,
  read the check, fix), the pace of someone who knows pandas basics, plus ``CHECK_READ_S``;
- each written answer: ``WRITTEN_ANSWER_S``;
- the kernel's own time, measured by running the notebook with the solutions (``--no-run`` skips it).

A section whose heading says "optional" is counted apart: no certificate item needs it
(``course.certification.is_optional``).
Prints one row per module; it asserts nothing.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness import ASSIGNMENTS, commit_answers, nbgrader_meta  # noqa: E402
from course.quiz.store import AnswerStore  # noqa: E402
from course.certification import is_optional, sections  # noqa: E402
from course.trainer.grading.sealing import questions_in  # noqa: E402

PROSE_WPM = 180          # technical prose with tables, read to act on it
GIVEN_CODE_LINE_S = 3    # a line of code the course gives: read it, run it
SHOWN_S = 45             # a plot or a table the course draws: run it, look at it
QUIZ_DECIDE_S = 30       # think, choose, commit
SOLUTION_LINE_S = 60     # a line of pandas written, run and checked by someone who knows the basics
CHECK_READ_S = 10        # read what the check printed
WRITTEN_ANSWER_S = 120   # two or three sentences
GUIDE_MINUTES = {1: 30, 2: 30, 3: 45, 4: 60, 5: 45, 6: 60}

HEADING = re.compile(r"^(#+) ", re.M)
SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.M)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


@dataclass
class Walk:
    """Seconds a trainee spends, on the certificate's path and in optional sections."""

    path: float = 0.0
    optional: float = 0.0
    kernel: float = 0.0

    def add(self, seconds: float, optional: bool) -> None:
        if optional:
            self.optional += seconds
        else:
            self.path += seconds


def words(text: str) -> int:
    return len(re.findall(r"[\w'’-]+", text))


def code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


def quiz_text(question) -> str:
    """What a trainee reads of a quiz: prompt, choices and, after committing, the explanation."""
    choices = [str(c) for field in ("options", "items", "left", "right") for c in getattr(question, field, None) or []]
    return " ".join([question.prompt, question.explanation, *choices])


def cell_seconds(cell) -> float:
    """A trainee's seconds on one cell (its kernel time aside)."""
    meta = nbgrader_meta(cell)
    if cell.cell_type == "markdown":
        return WRITTEN_ANSWER_S if meta.get("solution") else 60 * words(cell.source) / PROSE_WPM
    questions = questions_in(cell.source)
    if questions:
        text = " ".join(quiz_text(q) for q in questions)
        return 60 * words(text) / PROSE_WPM + QUIZ_DECIDE_S * len(questions)
    if meta.get("solution"):
        return SOLUTION_LINE_S * code_lines(SOLUTION_MARKER.sub("", cell.source))
    visible = HIDDEN.sub("", cell.source)
    if not meta.get("grade") and "with show(" in visible:
        return SHOWN_S
    return GIVEN_CODE_LINE_S * code_lines(visible) + (CHECK_READ_S if meta.get("grade") else 0)


def optional_flags(nb) -> list[bool]:
    """For each cell: does it sit in a section whose heading says optional? (The certificate's rule.)"""
    return [is_optional(headings) for _, headings in sections(nb)]


def kernel_seconds(nb) -> float:
    with tempfile.TemporaryDirectory() as folder:
        commit_answers(AnswerStore(Path(folder) / "answers.json"), nb)
        started = time.perf_counter()
        NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
        return time.perf_counter() - started


def walk(assignment: str, run: bool) -> Walk:
    nb = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    result = Walk()
    for cell, optional in zip(nb.cells, optional_flags(nb)):
        result.add(cell_seconds(cell), optional)
    result.kernel = kernel_seconds(nb) if run else 0.0
    return result


def section_minutes(assignment: str) -> list[tuple[str, float, bool]]:
    """(heading, minutes, optional) of each section of a module, kernel time aside."""
    nb = nbformat.read(REPO / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    found = [["(before the first heading)", 0.0, False]]
    for cell, optional in zip(nb.cells, optional_flags(nb)):
        heading = HEADING.match(cell.source) if cell.cell_type == "markdown" else None
        if heading and len(heading.group(1)) <= 3:
            found.append([cell.source.splitlines()[0], 0.0, optional])
        found[-1][1] += cell_seconds(cell) / 60
    return [tuple(section) for section in found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-run", action="store_true", help="skip running the notebooks")
    parser.add_argument("--sections", action="store_true", help="minutes per section, for authors")
    args = parser.parse_args()
    run = not args.no_run
    if args.sections:
        for assignment in ASSIGNMENTS:
            print(assignment)
            for heading, minutes, optional in section_minutes(assignment):
                print(f"  {minutes:5.1f} {'(optional) ' if optional else ''}{heading[:90]}")
        return
    print(f"{'module':24} {'guide':>6} {'path':>6} {'ratio':>6} {'optional':>9} {'kernel':>7}  (minutes)")
    for number, assignment in enumerate(ASSIGNMENTS, start=1):
        w = walk(assignment, run)
        path = (w.path + w.kernel) / 60
        guide = GUIDE_MINUTES.get(number)
        ratio = f"{path / guide:.2f}" if guide else "-"
        print(f"{assignment:24} {guide or '-':>6} {path:6.0f} {ratio:>6} {w.optional / 60:9.0f} {w.kernel / 60:7.1f}")


if __name__ == "__main__":
    main()
