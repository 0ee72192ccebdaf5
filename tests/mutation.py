"""Plausible wrong solutions, run the way a trainee and the grader each see them.

One kernel runs a module's released notebook with the model solutions pasted in, as a trainee's
Lab would: each check cell prints its visible line (✔, ✘ or "not done yet"). Each test cell is
also judged the grader's way, by ``Verdicts`` in this process with values handed over from that
kernel through the grader's own ``KernelBridge``. A mutation swaps one or more solution cells for
other code, replays the notebook from the first swapped cell and reports, for every test cell
from there on, what the trainee saw and whether the grader took points. Before the next
mutation, the model solutions run again over the cells that one changed and the next one does
not run anyway, so each mutation starts from a right notebook.

The two rules every module keeps, asserted by ``assert_caught``:
- no visible ✔ on a cell the grader penalises (the check agrees with the grader);
- the mistake costs its own cell only (later cells are judged on the trainee's own values).
"""
from __future__ import annotations

import shutil
import symtable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.quiz import Quiz
from course.trainer.grading.execute import KernelBridge, _is_test
from course.trainer.grading.verdicts import SETUP_SUFFIX, Verdicts
from harness import REPO, nbgrader_meta, solution_sources

VISIBLE_MARKS = ("✔", "✘", "…")


@dataclass
class Seen:
    """One test cell after a run: the trainee's visible lines and the grader's verdict."""

    grade_id: str
    visible: list[str]
    penalised: bool
    verdict: str  # the grader's error line, or "" when the cell earned its points

    @property
    def ticked(self) -> bool:
        """Every visible line of the cell is a ✔ (a cell with no visible check shows none)."""
        return bool(self.visible) and all(line.startswith("✔") for line in self.visible)


@dataclass
class Mutation:
    """Code a plausible trainee writes instead of the model solution, and the cell it must cost."""

    name: str
    code: dict[str, str]  # {solution cell id: code}
    costs: str            # the test cell that must lose points (and show no ✔)
    why: str = ""


@dataclass
class Alternative:
    """Another right way to solve an exercise: full marks and a ✔ everywhere."""

    name: str
    code: dict[str, str]
    why: str = ""


class LiveNotebook:
    """A module's released notebook running in one kernel, judged like the grader judges it."""

    def __init__(self, module: str, folder: Path, timeout: int = 300):
        self.module, self.folder = module, folder
        source = nbformat.read(REPO / "source" / module / f"{module}.ipynb", as_version=4)
        shutil.copytree(REPO / "release" / module, folder, dirs_exist_ok=True)
        self.nb = nbformat.read(folder / f"{module}.ipynb", as_version=4)
        self.solutions = solution_sources(source)
        self.ids = [nbgrader_meta(c).get("grade_id") for c in self.nb.cells]
        for cell, cell_id in zip(self.nb.cells, self.ids):
            if cell_id in self.solutions:
                cell.source = self.solutions[cell_id]
        nbformat.write(self.nb, folder / f"{module}.ipynb")  # the written answers, as a saved notebook holds them
        self.tests = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if _is_test(c)}
        setup = [c.source for c in source.cells
                 if c.cell_type == "code" and nbgrader_meta(c).get("grade_id", "").endswith(SETUP_SUFFIX)]
        self.verdicts = Verdicts(setup, folder / "answers.json")
        self.verdicts.written = {cell_id: cell.source for cell, cell_id in zip(self.nb.cells, self.ids)
                                 if cell.cell_type == "markdown" and cell_id in self.solutions}
        self.client = _BridgedClient(self.nb, timeout=timeout, allow_errors=True,
                                     resources={"metadata": {"path": str(folder)}})
        self.client.verdicts = self.verdicts
        self.dirty_from = None  # the first cell that last ran with a mutation's code
        self.handover = folder.parent / f"{folder.name}-handover"
        self.handover.mkdir(exist_ok=True)

    def __enter__(self):
        self._kernel = self.client.setup_kernel()
        self._kernel.__enter__()
        return self

    def __exit__(self, *exc):
        return self._kernel.__exit__(*exc)

    # -- running ---------------------------------------------------------------------------------
    def run(self, start: int = 0, code: dict[str, str] | None = None, stop: int | None = None) -> dict[str, Seen]:
        """Run every code cell from ``start`` on, solutions swapped for ``code``; return what each
        exercise's test cell showed and how the grader judged it. Quiz cells run too (a check may
        ask a quiz whether a value is its key), unanswered and so not reported."""
        code = code or {}
        seen = {}
        for index in range(start, len(self.nb.cells) if stop is None else stop):
            cell, cell_id = self.nb.cells[index], self.ids[index]
            if cell.cell_type != "code":
                continue
            original = cell.source
            if cell_id in code:  # the model solution's names go first: nothing of it lingers
                cell.source = forget(assigned_names(self.solutions.get(cell_id, ""))) + code[cell_id]
            try:
                self.client.execute_cell(cell, index, store_history=True)
            finally:
                cell.source = original
            if cell_id in self.tests:
                judged = self._judge(cell, index)
                if not self._is_quiz(cell_id):
                    seen[cell_id] = judged
        return seen

    def mutate(self, code: dict[str, str]) -> dict[str, Seen]:
        """What a trainee who wrote ``code`` sees and earns, on top of the model solutions."""
        start = min(self.ids.index(cell_id) for cell_id in code)
        if self.dirty_from is not None and self.dirty_from < start:
            self.run(self.dirty_from, stop=start)  # the model solutions again, up to this change
        self.dirty_from = start  # from here on, the cells ran with this change
        return self.run(start, code)

    def _is_quiz(self, cell_id) -> bool:
        """A quiz cell, or a drill's decision (a ``Drill`` is a ``Quiz``, graded from the answer
        file like any quiz): whatever setup object the cell's hidden part calls ``.grade(`` on."""
        quizzes = [name for name, value in self.verdicts.namespace.items() if isinstance(value, Quiz)]
        return cell_id in self.tests and any(f"{name}.grade(" in self.tests[cell_id] for name in quizzes)

    def _judge(self, cell, index: int) -> Seen:
        cell_id = self.ids[index]
        bridge = KernelBridge(self.client, self.handover, index)
        outputs = self.verdicts.judge(cell_id, self.tests[cell_id], bridge)
        errors = [o for o in outputs if o.output_type == "error"]
        printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        visible = [line for line in printed.splitlines() if line.startswith(VISIBLE_MARKS)]
        verdict = f"{errors[0].ename}: {errors[0].evalue}" if errors else ""
        return Seen(cell_id, visible, bool(errors), verdict)


def assigned_names(source: str) -> list[str]:
    """The names a cell assigns at its top level (imports aside)."""
    top = symtable.symtable(source, "<cell>", "exec")
    return sorted(s.get_name() for s in top.get_symbols() if s.is_assigned() and not s.is_imported())


def forget(names: list[str]) -> str:
    """A line that removes ``names`` from the kernel, so a trainee's code starts without them."""
    return f"for _name in {names!r}:\n    globals().pop(_name, None)\n" if names else ""


class _BridgedClient(NotebookClient):
    """What ``KernelBridge`` asks of the grader's executor, on a plain nbclient kernel."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gone, self.requests, self.written = None, 0, {}
        self.max_value_bytes = 256 << 20
        self.verdicts = None

    def sandbox_user(self, folder: Path) -> None:
        """No sandbox here: the tests' kernel runs as the tests' user."""

    def check_responsive(self, error) -> None:
        """A timed-out cell is a failed test here, not a kernel to stop."""


# -- the assertions ------------------------------------------------------------------------------
@dataclass
class Report:
    problems: list[str] = field(default_factory=list)

    def need(self, ok: bool, line: str) -> None:
        if not ok:
            self.problems.append(line)


def assert_caught(live: LiveNotebook, mutations: list[Mutation], alternatives: list[Alternative] = ()):
    """Each mutation costs its own cell, visibly, and no other; each alternative costs nothing."""
    report = Report()
    for mutation in mutations:
        seen = live.mutate(mutation.code)
        own = seen.get(mutation.costs)
        report.need(own is not None, f"{mutation.name}: {mutation.costs} did not run after the change")
        if own is None:
            continue
        report.need(own.penalised, f"{mutation.name}: the grader gave {mutation.costs} full marks")
        report.need(not own.ticked, f"{mutation.name}: {mutation.costs} showed {own.visible} "
                    f"while the grader said {own.verdict!r}")
        for other in seen.values():
            if other.grade_id != mutation.costs:
                report.need(not other.penalised, f"{mutation.name}: also cost {other.grade_id} "
                            f"({other.verdict})")
            report.need(not (other.penalised and other.ticked),
                        f"{mutation.name}: {other.grade_id} showed ✔ and lost points")
    for alternative in alternatives:
        for seen in live.mutate(alternative.code).values():
            report.need(not seen.penalised, f"{alternative.name}: {seen.grade_id} lost points "
                        f"({seen.verdict})")
            report.need(not seen.visible or seen.ticked,
                        f"{alternative.name}: {seen.grade_id} showed {seen.visible}")
    assert not report.problems, "\n".join(report.problems)
