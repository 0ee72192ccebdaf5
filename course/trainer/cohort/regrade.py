"""One quiz judged again for every graded submission, after its key was fixed in ``source/``.

A quiz cell is judged in the trainer's process from the trainee's answer file (``verdicts``), so
it can be judged again without the trainee's kernel: the module's setup (from the gradebook, as at
autograde), the cell as ``source/`` now has it, the submission's world and the answer file in
``autograded/``. Its score is nbgrader's rule for a test cell (``determine_grade``: an error output
scores 0, else full marks); only that cell's automatic score and outputs change. A manual score the
trainer gave the cell stays, and so does every other cell, comment and flag.

A check of a trainee's code needs their kernel's values: it is refused (autograde grades it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.utils import determine_grade

from course.trainer.grading.verdicts import SETUP_SUFFIX, Verdicts

ANSWERS = "answers.json"


class NotRegradable(Exception):
    """The question cannot be judged again here (one line)."""


@dataclass
class Regraded:
    module: str
    question: str
    changed: list[tuple[str, float, float]] = field(default_factory=list)  # student, before, after
    same: list[str] = field(default_factory=list)
    manual_kept: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)                       # "student (why)"
    stale_gradebook: bool = False

    def lines(self) -> list[str]:
        total = len(self.changed) + len(self.same) + len(self.failed)
        out = [f"{self.module}/{self.question}: judged again for {total} submission(s): "
               f"{len(self.changed)} changed, {len(self.same)} unchanged"]
        out += [f"  {student}: {before:g} -> {after:g}" for student, before, after in self.changed]
        if self.manual_kept:
            out.append("  your manual score kept (it counts, not the new automatic one): "
                       + ", ".join(self.manual_kept))
        if self.failed:
            out.append(f"  NOT judged again: {'; '.join(self.failed)}")
        if self.stale_gradebook:
            out.append("  the gradebook still holds the old cell: run `python -m course release` so that a "
                       "later autograde judges it as source/ does now")
        return out


def _source_cell(root: Path, source_dir: str, module: str, notebook: str, question: str):
    path = root / source_dir / module / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == question:
            return cell
    raise NotRegradable(f"{question} is not in {path.relative_to(root)} any more")


def _find(gradebook, module: str, question: str):
    """(notebook name, grade cell, setup sources, the gradebook's copy of the cell's source)."""
    for notebook in gradebook.find_assignment(module).notebooks:
        cells = {cell.name: cell for cell in notebook.grade_cells}
        if question in cells:
            sources = {cell.name: cell for cell in notebook.source_cells}
            setup = [c.source for name, c in sorted(sources.items())
                     if c.cell_type == "code" and c.locked and name.endswith(SETUP_SUFFIX)]
            solutions = {cell.name for cell in notebook.solution_cells}
            if question in solutions or cells[question].cell_type != "code":
                raise NotRegradable(f"{question} is a written answer: grade it in the formgrader")
            return notebook.name, cells[question], setup, sources[question].source if question in sources else ""
    raise NotRegradable(f"no graded cell {question!r} in {module} (its grade ids: see `nbgrader export`)")


def regrade_question(api, root: Path, module: str, question: str, student: str | None = None) -> Regraded:
    from course.trainer.grading.sealing import questions_in
    from course.trainer.grading.variants import WorldVariants

    coursedir = api.coursedir
    students = sorted(api.get_autograded_students(module))
    if student:
        if student not in students:
            raise NotRegradable(f"{student} has no graded submission of {module}")
        students = [student]
    result = Regraded(module, question)
    with api.gradebook as gb:
        notebook, grade_cell, setup, kept_source = _find(gb, module, question)
        cell = _source_cell(Path(root), coursedir.source_directory, module, notebook, question)
        if not _is_quiz(questions_in, cell.source):
            raise NotRegradable(f"{question} checks the trainee's code, which needs their kernel: "
                                f"`python -m course autograde --module {module} --force` grades it again")
        result.stale_gradebook = kept_source.strip() != cell.source.strip()
        variants = WorldVariants(config=api.config)
        for who in students:
            folder = Path(coursedir.format_path(coursedir.autograded_directory, who, module))
            try:
                verdicts = Verdicts(setup, folder / ANSWERS, variants.seed_of(who))
                if verdicts.needs(cell.source):
                    raise NotRegradable(f"{question} needs names from the trainee's kernel "
                                        f"({', '.join(verdicts.needs(cell.source))}): autograde grades it")
                outputs = verdicts.judge(question, cell.source, None)
            except NotRegradable:
                raise
            except Exception as err:  # noqa: BLE001 - one submission never stops the others
                result.failed.append(f"{who} ({type(err).__name__}: {err})")
                continue
            judged = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata, outputs=outputs)
            score, _ = determine_grade(judged)
            grade = gb.find_grade(question, notebook, module, who)
            before = grade.auto_score
            grade.auto_score = score
            if grade.manual_score is not None:
                result.manual_kept.append(who)
            gb.db.commit()
            _write_outputs(folder / f"{notebook}.ipynb", question, cell.source, outputs)
            if before != score:
                result.changed.append((who, before or 0.0, score))
            else:
                result.same.append(who)
        if result.changed:  # a penalty that depends on the score ("zero") follows it
            from course.trainer.cohort.schedule import reassess

            reassess(gb, api.config, module, [who for who, *_ in result.changed])
    return result


def _is_quiz(questions_in, source: str) -> bool:
    try:
        return bool(questions_in(source))
    except Exception:  # noqa: BLE001 - not a quiz call
        return False


def _write_outputs(path: Path, question: str, source: str, outputs: list) -> None:
    """The graded notebook shows the new verdict (the formgrader and the feedback page read it)."""
    if not path.is_file():
        return
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == question:
            cell.source, cell.outputs = source, outputs
    tmp = path.with_name(f".{path.name}.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(path)
