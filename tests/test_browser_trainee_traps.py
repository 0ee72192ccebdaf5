"""A trainee's traps in a real browser (the trainee's JupyterLab as `make start` starts it):
Submit hands in what the trainee sees, Validate names unfinished exercises, no news toast."""
import json

import nbformat
import pytest

from course.trainer.lab import runtime as lab
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


DRILL_MODULE, DRILL_PREFIX = "m6_incident_response", "m6-ex61-"
BROKEN_LINK_ICONS = """() => [...document.querySelectorAll('.jupyter-widgets-disconnected')]
    .filter((element) => { const icon = getComputedStyle(element, '::before');
                           return icon.display !== 'none' && icon.content !== 'none' && icon.content !== 'normal'; })
    .map((element) => element.className)"""


def test_keys_after_a_click_on_text_stay_in_the_widget_and_a_worked_notebook_reopens_clean(trainee):
    from test_browser import answer_by_keyboard, source_questions

    page, questions = trainee.page, source_questions(DRILL_MODULE)
    keyed = next(q for q in questions if q.answer_from)  # its key comes from the trainee's own data
    drill = [q for q in questions if q.qid.startswith(DRILL_PREFIX)]
    steps = drill[:drill.index(keyed)]  # the drill's decisions up to the keyed one, in order
    first_quiz = questions[0]
    notebook = next(lab.fetch_assignment(trainee.folder, DRILL_MODULE).glob("*.ipynb"))
    trainee.open(f"{DRILL_MODULE}/{notebook.name}")
    trainee.run_all(len(questions))

    header = trainee.quiz(first_quiz.qid).locator(".etp-quiz-kind")
    expect(header).to_have_text(f"Quiz · {first_quiz.kind}")  # a title, not the internal id in capitals
    expect(header).to_have_css("text-transform", "none")
    cells = trainee.cells()
    for text in [page.locator(".etp-inject[data-step='1'] .etp-inject-title"),
                 trainee.quiz(first_quiz.qid).locator(".etp-quiz-prompt")]:
        text.click()
        page.keyboard.press("b")  # command mode's "insert a cell below"
        assert trainee.cells() == cells, "a key after a click on a widget's text reached the notebook"

    for step in steps:
        answer_by_keyboard(trainee, step, step.accepted_responses()[0], "right")
    answer_by_keyboard(trainee, keyed, keyed.accepted_responses()[0], "note")
    trainee.save()
    trainee.shut_down_kernels()

    trainee.open(f"{DRILL_MODULE}/{notebook.name}")  # worked, reopened without its kernel
    expect(page.locator(".etp-quiz[data-readonly]")).to_have_count(len(questions), timeout=60_000)
    trainee.wait_idle()
    page.wait_for_timeout(3_000)  # anything that changes on open has changed by now
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)  # opening is not an edit
    status = trainee.quiz(keyed.qid).locator(".etp-status")
    expect(status).to_have_text("Your saved answer, shown read-only: run this cell to answer again.")
    assert page.evaluate(BROKEN_LINK_ICONS) == []
