"""Notebooks run headless: the source with its solutions, and nbgrader validate on a release."""
import shutil

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
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.ename, o.evalue)
                  for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_validate_runs_quizzes_without_waiting(course, assignment):
    root, _ = course
    folder = Trainee(f"validate-{assignment}").submit(root, assignment)
    for path in sorted(folder.glob("*.ipynb")):
        results = Validator().validate(str(path))
        assert not results.get("failed") and not results.get("changed"), results
    shutil.rmtree(folder)
