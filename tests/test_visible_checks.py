"""A visible ✔ means the grader agrees: every module's plausible wrong solutions are caught by the
check the trainee sees, and cost their own cell only; other right solutions earn full marks."""
import importlib

import nbformat
import pytest

from course.certification import is_optional, sections
from harness import ASSIGNMENTS, REPO, nbgrader_meta
from mutation import Alternative, LiveNotebook, assert_caught

pytestmark = pytest.mark.slow

CATALOGUES = {module: importlib.import_module(f"wrong_solutions.{module}") for module in ASSIGNMENTS}


def optional_cells(module: str) -> tuple[list[str], list[str]]:
    """(solution ids, test ids) in the module's optional sections."""
    nb = nbformat.read(REPO / "source" / module / f"{module}.ipynb", as_version=4)
    solutions, tests = [], []
    for cell, headings in sections(nb):
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code" and is_optional(headings) and meta.get("grade_id"):
            (solutions if meta.get("solution") else tests).append(meta["grade_id"])
    return solutions, tests


def cell_ids(module: str) -> list:
    nb = nbformat.read(REPO / "source" / module / f"{module}.ipynb", as_version=4)
    return [nbgrader_meta(cell).get("grade_id") for cell in nb.cells]


def in_notebook_order(module: str, cases: list) -> list:
    """Cases sorted by the first cell they change: each replays the least in between."""
    ids = cell_ids(module)
    return sorted(cases, key=lambda case: min(ids.index(cell_id) for cell_id in case.code))


WITH_OPTIONAL = [module for module in ASSIGNMENTS if optional_cells(module)[0]]
CASES = [(module, case) for module, catalogue in CATALOGUES.items()
         for case in in_notebook_order(module, [*catalogue.MUTATIONS, *getattr(catalogue, "ALTERNATIVES", [])])]


@pytest.fixture(scope="module")
def live(request, tmp_path_factory, data_cache):
    """The module's released notebook with the model solutions, run once in one kernel."""
    module = request.param
    with LiveNotebook(module, tmp_path_factory.mktemp("live") / module) as notebook:
        notebook.baseline = notebook.run()
        yield notebook


def test_every_module_has_plausible_wrong_solutions():
    for module, catalogue in CATALOGUES.items():
        assert len(catalogue.MUTATIONS) >= 3, f"{module}: too few plausible wrong solutions"


@pytest.mark.parametrize("live", ASSIGNMENTS, indirect=True)
def test_model_solution_earns_every_point_with_a_tick(live):
    assert live.baseline, "no test cell ran"
    for seen in live.baseline.values():
        assert not seen.penalised, f"{seen.grade_id}: {seen.verdict}"
        assert seen.ticked, f"{seen.grade_id}: {seen.visible}"


@pytest.mark.parametrize("live, case", CASES, indirect=["live"], ids=[f"{m}:{c.name}" for m, c in CASES])
def test_visible_check_agrees_with_the_grader(live, case):
    if isinstance(case, Alternative):
        assert_caught(live, [], [case])
    else:
        assert_caught(live, [case])


@pytest.mark.parametrize("live", WITH_OPTIONAL, indirect=True)
def test_the_path_to_the_certificate_needs_no_optional_section(live):
    """A trainee who skips every optional exercise loses those cells and nothing else."""
    solutions, optional_tests = optional_cells(live.module)
    seen = live.mutate({cell_id: "# YOUR CODE HERE\n" for cell_id in solutions})
    skipped = [seen[test] for test in optional_tests if test in seen]
    assert skipped and all(check.penalised for check in skipped), "the optional exercises were not skipped"
    for check in seen.values():
        if check.grade_id not in optional_tests:
            assert not check.penalised, f"{check.grade_id} needs an optional section: {check.verdict}"
