"""Trusted verdicts: every test cell is judged in the trainer's process, never in the kernel.

A test cell's code (its visible checks and its hidden tests, as the gradebook holds them) runs
here, in a namespace built from the module's setup cells. Each name the cell needs that setup did
not define is asked of the trainee's kernel through a ``bridge``: a value comes back as data, and a
trainee's function comes back as a ``KernelFunction`` that calls into the kernel with data
arguments. Quizzes are graded from the answer file, read here. Whatever the kernel printed,
raised or patched, the cell's outputs are what this module writes.
"""
from __future__ import annotations

import builtins
import contextlib
import io
import symtable
import warnings
from pathlib import Path
from typing import Any, Protocol

from nbformat.v4 import new_output

from course import checks, postmortem
from course.data import world
from course.trainer.reference.judge import comparisons, graded_drills
from course.quiz import Quiz
from course.trainer.grading.variants import matches

SETUP_SUFFIX = "-setup"  # grade_id of a locked cell whose code builds the module's givens
HIDDEN_MARK = "### BEGIN HIDDEN TESTS"
MAX_MESSAGE = 300


class Unavailable:
    """A kernel name that exists but is not data a check can use (a module, an open file...)."""

    def __init__(self, name: str, why: str):
        self.name, self.why = name, why

    def __getattr__(self, attr):
        raise AssertionError(f"{self.name} cannot be checked: {self.why}")

    def __repr__(self):
        return f"<{self.name}: {self.why}>"


class Bridge(Protocol):
    def fetch(self, names: list[str]) -> dict[str, Any]:
        """Each name's value as data, a KernelFunction, an Unavailable, or absent if undefined."""


class GradingQuiz(Quiz):
    """The trainer's ``quiz``: builds each question from the source's plain key (or, for a key
    that depends on the trainee's data, from the reference run on their world) and grades the
    trainee's answer file; it shows no widget."""

    def ask(self, kind: str, qid: str, prompt: str, **fields) -> None:
        self.build(kind, qid, prompt, **fields)  # a data-dependent key: computed in this world


class Evidence:
    """What this notebook's checks compared: each reference value, and the values that failed."""

    def __init__(self):
        self.references: dict[str, Any] = {}
        self.failed: dict[str, tuple[Any, float]] = {}
        self.drills: list[Any] = []   # saved drills of Module 6's simulation the checks graded

    def drill(self, saved: Any) -> None:
        if saved not in self.drills:
            self.drills.append(saved)

    def __call__(self, name: str, value: Any, expected: Any, tolerance: float) -> None:
        self.references[name] = expected
        if not matches(value, expected, tolerance):
            self.failed[name] = (value, tolerance)


def free_names(source: str) -> set[str]:
    """Names ``source`` reads but never assigns at its top level (builtins excluded)."""
    try:
        top = symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return set()
    assigned = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    read, tables = set(), [top]
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table is top or symbol.is_global()):
                read.add(symbol.get_name())
    return read - assigned - set(dir(builtins))


def _message(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, AssertionError):
        return (text or "a check did not pass")[:MAX_MESSAGE]
    return f"{type(err).__name__}: {text}"[:MAX_MESSAGE]


def error_output(ename: str, evalue: str):
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


class Verdicts:
    """Judges the test cells of one submitted notebook, in notebook order."""

    def __init__(self, setup_sources: list[str], answer_file: Path, seed: int = world.CANONICAL_SEED):
        # `display` shows things to the trainee; a verdict has nobody to show them to.
        self.namespace: dict[str, Any] = {"__name__": "__verdicts__", "display": lambda *a, **k: None}
        self.seed, self.evidence = seed, Evidence()
        for source in setup_sources:
            with self._in_world(), contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, "<setup>", "exec"), self.namespace)  # noqa: S102 - trusted source
        for name, value in list(self.namespace.items()):
            if isinstance(value, Quiz):
                self.namespace[name] = GradingQuiz(answer_file, facts=value.facts)
            elif value is checks.check:
                self.namespace[name] = checks.strict_check  # here a failed check is a failure
            elif value is postmortem.written:
                self.namespace[name] = self._written  # the submitted cell, not a file beside a kernel
        self.written: dict[str, str] = {}  # Markdown answers of the submission, by grade_id
        self.givens = frozenset(self.namespace)

    def _written(self, grade_id: str, notebook: str = "") -> str:
        text = self.written.get(grade_id, "")
        if not text.strip() or text.strip() == "YOUR ANSWER HERE":
            raise postmortem.NotWritten(f"{grade_id} is not written")
        return text

    def needs(self, source: str) -> list[str]:
        """The names of a test cell that must come from the trainee's kernel."""
        return sorted(free_names(source) - self.givens)

    def judge(self, grade_id: str, source: str, bridge: Bridge | None) -> list:
        """The outputs of one test cell: what the checks printed, and an error if one failed."""
        stdout = io.StringIO()
        visible, marker, hidden = source.partition(HIDDEN_MARK)
        reached_hidden = False
        try:
            wanted = self.needs(source)
            fetched = bridge.fetch(wanted) if (wanted and bridge) else {}
            for name in wanted:
                self.namespace.pop(name, None)
            self.namespace.update(fetched)
            with self._in_world(), contextlib.redirect_stdout(stdout):
                exec(compile(visible, f"<check {grade_id}>", "exec"), self.namespace)  # noqa: S102
                reached_hidden = True
                exec(compile(marker + hidden, f"<check {grade_id}>", "exec"), self.namespace)  # noqa: S102
            failure = None
        except NameError as err:
            failure = error_output("NameError", f"{getattr(err, 'name', '') or err} was not defined "
                                   "when this check ran")
        except Exception as err:  # noqa: BLE001 - every failure becomes the cell's one-line error
            failure = error_output(type(err).__name__, _message(err))
        if failure and hidden and not reached_hidden:
            self._compare_only(grade_id, hidden)
        outputs = [new_output("stream", name="stdout", text=stdout.getvalue())] if stdout.getvalue() else []
        return quiz_answer_outputs(source, self.namespace) + outputs + ([failure] if failure else [])

    def _compare_only(self, grade_id: str, hidden: str) -> None:
        """A visible check failed before the hidden comparisons ran: run them anyway, for what they
        compare (a value from another trainee's world is flagged even when a visible check caught
        the cell); the cell's verdict stays the visible check's."""
        with self._in_world(), contextlib.redirect_stdout(io.StringIO()):
            try:
                exec(compile(hidden, f"<check {grade_id}>", "exec"), self.namespace)  # noqa: S102
            except Exception:  # noqa: BLE001, S110 - the verdict is already given
                pass

    @contextlib.contextmanager
    def _in_world(self):
        """The trainee's own world, the evidence listener, and no warnings."""
        with world.using(self.seed), comparisons(self.evidence), graded_drills(self.evidence.drill), _quiet():
            yield


@contextlib.contextmanager
def _quiet():
    """Warnings from pandas or matplotlib are not a verdict (nbgrader scores stderr as a fail)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- what a trainee committed, shown on each quiz cell --------------------------------------------
def quiz_answer_outputs(source: str, namespace: dict) -> list:
    """One text output per quiz a test cell asks: what the trainee committed (first answer, later
    tries, FLAGGED first if changed by hand), for the formgrader and the feedback page, where a
    quiz widget draws nothing. Never the key."""
    from course.quiz.widgets import committed_answers
    from course.trainer.grading.sealing import questions_in

    try:
        qids = [question.qid for question in questions_in(source)]
    except Exception:  # noqa: BLE001 - a cell that is not a quiz call shows nothing more
        return []
    quizzes = {id(value): value for value in namespace.values() if isinstance(value, GradingQuiz)}
    return [new_output("stream", name="stdout", text=committed_answers(quiz.questions[qid], quiz.store).text + "\n")
            for quiz in quizzes.values() for qid in qids if qid in quiz.questions]
