"""release/ is what generate_assignment makes from source/, and gives nothing away."""
import re

import nbformat
import pytest

from harness import ASSIGNMENTS, REPO, notebooks, nbgrader_meta, quiz_questions, solution_sources
from course.trainer.grading.sealing import questions_in

MARKERS = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS")


def comparable(nb):
    """A notebook as nbgrader writes it, minus nothing: cells and their metadata."""
    return [(c.cell_type, c.source, c.metadata) for c in nb.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_matches_generate_assignment(course, assignment):
    root, _ = course
    fresh = notebooks(root / "release" / assignment)
    committed = notebooks(REPO / "release" / assignment)
    assert sorted(fresh) == sorted(committed), "release/ lists other notebooks than source/ makes"
    for name in fresh:
        assert comparable(fresh[name]) == comparable(committed[name]), (
            f"release/{assignment}/{name} is stale: run nbgrader generate_assignment {assignment}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_holds_no_solution_hidden_test_or_key(assignment):
    for name, released in notebooks(REPO / "release" / assignment).items():
        text = nbformat.writes(released)
        assert not MARKERS.search(text), f"{name}: solution or hidden-test markers in release"
        source = nbformat.read(REPO / "source" / assignment / name, as_version=4)
        for code in solution_sources(source).values():
            for line in code.splitlines():
                if len(line.strip()) > 25:
                    assert line.strip() not in text, f"{name}: solution line in release: {line}"
        for questions in quiz_questions(source).values():
            for question in questions:
                if question.explanation:
                    assert question.explanation not in text, f"{question.qid}: explanation in plain text"
        for cell in released.cells:
            for question in questions_in(cell.source):
                assert not question.has_plain_answer, f"{question.qid}: plain key in release"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebooks_are_clean_and_valid(assignment):
    for name, nb in notebooks(REPO / "source" / assignment).items():
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{name}: outputs in source"
            meta = nbgrader_meta(cell)
            if meta:
                assert meta.get("schema_version") == 3, f"{name}: nbgrader metadata must be schema 3"
        assert not list((REPO / "source" / assignment).glob("answers*.json"))
