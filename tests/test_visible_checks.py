"""A visible ✔ means the grader agrees: every module's plausible wrong solutions are caught by the
check the trainee sees, and cost their own cell only; other right solutions earn full marks."""
import importlib

import pytest

from harness import ASSIGNMENTS
from mutation import Alternative, LiveNotebook, assert_caught

pytestmark = pytest.mark.slow

CATALOGUES = {module: importlib.import_module(f"wrong_solutions.{module}") for module in ASSIGNMENTS}
CASES = [(module, case) for module, catalogue in CATALOGUES.items()
         for case in [*catalogue.MUTATIONS, *getattr(catalogue, "ALTERNATIVES", [])]]


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
