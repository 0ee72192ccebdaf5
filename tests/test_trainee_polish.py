"""A trainee's page without clutter: quiz cells open with their input collapsed."""
import pytest

from harness import ASSIGNMENTS, REPO, notebooks
from course.trainer.preprocessors import has_quiz_call


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_released_quiz_cell_opens_collapsed(assignment):
    for name, released in notebooks(REPO / "release" / assignment).items():
        quiz_cells = [cell for cell in released.cells if cell.cell_type == "code" and has_quiz_call(cell.source)]
        assert quiz_cells, f"{name}: no quiz cell found"
        for cell in quiz_cells:
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, \
                f"{name}: a quiz cell shows its source: {cell.source[:60]!r}"
        others = [cell for cell in released.cells if cell.cell_type == "code" and cell not in quiz_cells]
        assert not any(cell.metadata.get("jupyter", {}).get("source_hidden") for cell in others
                       if "drill." not in cell.source), f"{name}: an exercise cell is collapsed"
