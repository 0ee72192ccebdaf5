"""A trainee's traps in a real browser (the trainee's JupyterLab as `make start` starts it):
Submit hands in what the trainee sees, Validate names unfinished exercises, no news toast."""
import json

import nbformat
import pytest

from course import lab
from test_browser import chromium, trainee, trainer  # noqa: F401 - the browser fixtures

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright.expect

MODULE = "m1_architecture"
TYPED = "services = None  # typed, never saved by hand"


def type_into_first_exercise(page) -> None:
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="# YOUR CODE HERE").first
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(TYPED)
    page.keyboard.press("Escape")  # command mode, as a trainee leaving the cell


def test_submit_hands_in_unsaved_edits_and_validate_names_unfinished_exercises(trainee, trainer):
    trainer_root, api = trainer
    page = trainee.page
    notebook = next(lab.fetch_assignment(trainee.folder, MODULE).glob("*.ipynb"))
    trainee.open(f"{MODULE}/{notebook.name}")
    trainee.wait_idle()
    expect(page.locator(".jp-toast-container .Toastify__toast")).to_have_count(0)  # no news toast

    type_into_first_exercise(page)
    expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(1)
    assert TYPED not in notebook.read_text()  # only the page holds the edit

    trainee.menu("Nbgrader", "Assignment List")
    fetched = page.locator("#nbgrader-assignment-list #fetched_assignments_list > .list_item", has_text=MODULE)
    fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#nbgrader-assignment-list #submitted_assignments_list .list_item", has_text=MODULE)
    expect(submitted.first).to_be_visible(timeout=30_000)
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)  # saved before it was handed in

    assert api.collect(MODULE)["success"]
    handed_in = nbformat.read(next(next((trainer_root / "submitted").glob(f"*/{MODULE}")).glob("*.ipynb")), 4)
    assert any(TYPED in cell.source for cell in handed_in.cells), "Submit left out the unsaved edit"

    page.get_by_role("tab", name=notebook.name).click()
    page.locator(".jp-NotebookPanel:visible .validate-button").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    expect(dialog).to_be_visible(timeout=180_000)
    expect(dialog).to_contain_text('check("5b · variables")')  # an untouched exercise
    expect(dialog).to_contain_text("NameError")
    expect(dialog).to_contain_text("YOUR ANSWER HERE")  # the written answer is still listed


def test_the_trainee_install_turns_off_the_news_toast(tmp_path):
    lab.prepare_trainee_runtime(tmp_path)
    overrides = json.loads((tmp_path / "lab" / "settings" / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
