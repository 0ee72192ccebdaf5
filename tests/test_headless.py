"""Notebooks run headless: the source with its solutions, and nbgrader validate on a release."""
import shutil

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.validator import Validator

from harness import ASSIGNMENTS, REPO, Trainee, commit_answers, notebooks
from course.quiz.store import AnswerStore

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_runs_headless_without_error(tmp_path, assignment):
    for name, nb in notebooks(REPO / "source" / assignment).items():
        commit_answers(AnswerStore(tmp_path / "answers.json"), nb)
        nbformat.write(nb, tmp_path / name)  # saved beside its kernel: a written answer's check reads it
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.ename, o.evalue)
                  for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
        # Checks report instead of raising: a solution must make every one of them pass.
        reports = [line for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream"
                   for line in o.text.splitlines() if line.startswith(("✘", "…"))]
        assert not reports, f"{name}: {reports}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_run_all_reaches_the_end_of_an_untouched_release(tmp_path, assignment):
    for name, nb in notebooks(REPO / "release" / assignment).items():
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.ename, o.evalue)
                  for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        assert code[-1].execution_count is not None, f"{name}: the last cell never ran"
        pending = [o.text for c in nb.cells for o in c.get("outputs", []) if o.output_type == "stream"
                   and "not done yet" in o.text]
        assert pending, f"{name}: an untouched notebook should say what is not done yet"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_runs_quizzes_without_waiting(course, assignment):
    root, _ = course
    folder = Trainee("validate").submit(root, assignment)
    for path in sorted(folder.glob("*.ipynb")):
        results = Validator().validate(str(path))
        assert not results.get("failed") and not results.get("changed"), results
    shutil.rmtree(folder)
