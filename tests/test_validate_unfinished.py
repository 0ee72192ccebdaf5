"""nbgrader's Validate (the Assignments tab's button, `nbgrader validate`) names every unfinished
or failing exercise, not only unwritten answers: a visible check raises under Validate."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.validator import Validator

SETUP = "from course.checks import check\nanswer = 1\n"
STUB = "# YOUR CODE HERE"


def graded(source: str, grade_id: str, **meta):
    cell = new_code_cell(source)
    cell.metadata.nbgrader = {"grade_id": grade_id, "schema_version": 3, "solution": False,
                              "grade": True, "locked": True, "points": 1, **meta}
    return cell


def solution(source: str, grade_id: str):
    cell = new_code_cell(source)
    cell.metadata.nbgrader = {"grade_id": grade_id, "schema_version": 3, "solution": True,
                              "grade": False, "locked": False}
    return cell


def notebook(tmp_path, cells) -> str:
    nb = new_notebook(cells=[new_markdown_cell("# An exercise"), new_code_cell(SETUP), *cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "exercise.ipynb"
    nbformat.write(nb, path)
    return str(path)


def failed_sources(path: str) -> list[str]:
    return [cell["source"] for cell in Validator(ignore_checksums=True).validate(path).get("failed", [])]


def test_validate_names_an_unfinished_and_a_failing_exercise(tmp_path):
    unfinished = 'with check("1 · total"):\n    assert total == 3, "total counts three services"'
    failing = 'with check("2 · answer"):\n    assert answer == 2, "answer is two"'
    path = notebook(tmp_path, [solution(STUB, "total-solution"), graded(unfinished, "total-test"),
                               graded(failing, "answer-test")])
    assert failed_sources(path) == [unfinished, failing]


def test_validate_passes_a_finished_exercise(tmp_path):
    done = 'with check("1 · total"):\n    assert total == 3, "total counts three services"'
    path = notebook(tmp_path, [solution("total = 3", "total-solution"), graded(done, "total-test")])
    assert failed_sources(path) == []


def test_a_trainee_kernel_still_runs_on_after_an_unfinished_check(capsys):
    from course.checks import check

    with check("1 · total"):
        raise NameError("name 'total' is not defined")
    assert "1 · total: not done yet" in capsys.readouterr().out
