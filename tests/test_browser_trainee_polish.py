"""A worked module page in a real browser (the trainee's JupyterLab as `make start` starts it):
quiz cells open collapsed, plots are images with a text alternative, and axe-core finds no critical
accessibility violation in the notebook."""
import nbformat
import pytest

from course.trainer.lab import runtime as lab
from harness import REPO, solution_sources
from test_browser import chromium, source_questions, trainee, trainer  # noqa: F401 - the browser fixtures

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
axe_playwright = pytest.importorskip("axe_playwright_python.sync_playwright", reason="pip install axe-playwright-python")
expect = playwright.expect

MODULE = "m2_sla_severity"  # two plots, numeric quizzes with a unit, every kind of quiz cell
PLOTS = 2
# Never acceptable at any impact: an image without a text alternative, a field labelled by its title.
BARRIERS = {"image-alt", "label-title-only", "label", "aria-input-field-name"}


def worked_notebook(folder):
    """The module fetched as `make start` does, every exercise solved as a trainee would."""
    notebook = next(lab.fetch_assignment(folder, MODULE).glob("*.ipynb"))
    source = nbformat.read(REPO / "source" / MODULE / notebook.name, as_version=4)
    solutions, worked = solution_sources(source), nbformat.read(notebook, as_version=4)
    for cell in worked.cells:
        cell_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell_id in solutions:
            cell.source = solutions[cell_id]
    nbformat.write(worked, notebook)
    return notebook


def test_quiz_cells_collapsed_plots_with_alt_text_and_no_critical_axe_violation(trainee):
    page, questions = trainee.page, source_questions(MODULE)
    notebook = worked_notebook(trainee.folder)
    trainee.open(f"{MODULE}/{notebook.name}")
    quiz_cells = page.locator(".jp-Notebook .jp-CodeCell", has=page.locator(".jp-InputPlaceholder"))
    expect(quiz_cells).to_have_count(len(questions))  # collapsed as soon as the notebook opens
    trainee.run_all(len(questions))

    expect(page.locator(".jp-CodeCell:has(.etp-quiz) .jp-InputPlaceholder")).to_have_count(len(questions))
    expect(page.locator(".jp-CodeCell:has(.etp-quiz) .cm-editor:visible")).to_have_count(0)
    expect(page.get_by_text("sealed:")).to_have_count(0)

    images = page.locator(".jp-OutputArea-output img")
    expect(images).to_have_count(PLOTS, timeout=60_000)
    for image in images.all():
        alt = image.get_attribute("alt")
        assert alt and alt.startswith("Plot") and "axis" in alt, alt
        assert image.evaluate("img => img.complete && img.naturalWidth > 100")

    # The course's own content: every output (quizzes, plots, tables). JupyterLab's editors and
    # toolbars have findings of their own (CodeMirror's unnamed textbox, an unnamed heading toggle).
    results = axe_playwright.Axe().run(page, context=".jp-Notebook .jp-OutputArea")
    violations = results.response["violations"]
    found = [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["html"][:120]) for v in violations]
    print("axe violations in the notebook:", found)
    assert not [v for v in violations if v["impact"] == "critical" or v["id"] in BARRIERS], found
