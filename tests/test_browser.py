"""A trainee in a real browser: JupyterLab in headless Chromium, Module 2's student version."""
import json
import re
import shutil
import uuid

import pytest

from browser_lab import CHROMIUM, CHROMIUM_ARGS, jupyterlab
from harness import REPO

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright.expect

ASSIGNMENT = "m2_sla_severity"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
# A fresh student version runs until the first unsolved exercise raises NotImplementedError;
# every quiz stands before it.
RAN_TO_FIRST_EXERCISE = """() => document.querySelectorAll('.etp-quiz').length === 10 &&
  [...document.querySelectorAll('.jp-OutputArea-output')].some(o => o.textContent.includes('NotImplementedError'))"""


@pytest.fixture
def lab_page(tmp_path):
    workspace = tmp_path / "workspace"
    shutil.copytree(REPO / "release" / ASSIGNMENT, workspace / ASSIGNMENT)
    with jupyterlab(workspace, tmp_path) as (base, token), playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.goto(f"{base}/lab/workspaces/{uuid.uuid4().hex}/tree/{NOTEBOOK}?reset&token={token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        try:
            yield page, workspace / ASSIGNMENT
        finally:
            (REPO / "test-output").mkdir(exist_ok=True)
            page.screenshot(path=REPO / "test-output" / "module2_browser.png", full_page=True)
            browser.close()


def run_all(page):
    # As a trainee would: wait until the kernel says Idle, then Run > Run All Cells.
    page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for(timeout=60_000)
    page.locator(".jp-Notebook").click()
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    page.wait_for_function(RAN_TO_FIRST_EXERCISE, timeout=120_000)


def restart_and_run_all(page):
    """Kernel > Restart Kernel and Run All Cells, then wait for brand-new quiz widgets."""
    page.evaluate("document.querySelectorAll('.etp-quiz').forEach(q => q.dataset.stale = '1')")
    page.click(".lm-MenuBar-itemLabel:text-is('Kernel')")
    page.click(".lm-Menu-itemLabel:has-text('Restart Kernel and Run All Cells')")
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function("""() => {
      const quizzes = [...document.querySelectorAll('.etp-quiz')];
      return quizzes.length === 10 && quizzes.every(q => !q.dataset.stale);
    }""", timeout=120_000)


def quiz(page, qid):
    box = page.locator(".etp-quiz", has_text=qid)
    box.scroll_into_view_if_needed()
    return box


def option(box, label):
    """An option button by its exact label (the accessible name also holds the icon glyph)."""
    return box.locator("button.etp-option").filter(has_text=re.compile(f"^{re.escape(label)}$"))


def submit_and_expect_right(box):
    box.get_by_role("button", name="Submit").click()
    box.locator(".etp-right").wait_for(timeout=15_000)


def test_trainee_answers_each_quiz_type(lab_page):
    page, folder = lab_page
    run_all(page)
    assert page.locator(".etp-quiz").count() == 10

    single = quiz(page, "m2-ex21-login")
    option(single, "P0").click()
    single.get_by_role("button", name="Submit").focus()
    page.keyboard.press("Enter")  # keyboard works as well as the mouse
    single.locator(".etp-right").wait_for(timeout=15_000)

    multi = quiz(page, "m2-escalate-now")
    for label in ["More than half of the users are affected", "Data may be lost or corrupted",
                   "Your estimate to fix is more than twice the resolution target",
                   "A P0 still has no root cause after 30 minutes"]:
        option(multi, label).click()
    submit_and_expect_right(multi)

    numeric = quiz(page, "m2-budget-995")
    numeric.get_by_role("textbox").fill("223.2")
    numeric.get_by_role("textbox").press("Tab")
    submit_and_expect_right(numeric)

    text = quiz(page, "m2-health-field")
    text.get_by_role("textbox").type("Status")
    submit_and_expect_right(text)

    order = quiz(page, "m2-p0-escalation")
    rows = order.locator(".etp-order-row")
    for item, row in [("On-call engineer", 2), ("On-call engineer", 1), ("Tech Lead", 3), ("Tech Lead", 2)]:
        up = rows.nth(row).locator("button").first
        expect(up).to_have_attribute("title", f"Move '{item}' up")  # each button says what it moves
        up.click()
        expect(rows.nth(row - 1).locator(".etp-order-label")).to_contain_text(item)
    submit_and_expect_right(order)

    matching = quiz(page, "m2-response-times")
    for select, value in zip(matching.locator("select").all(),
                             ["15 minutes", "1 hour", "4 hours", "24 hours"]):
        select.select_option(label=value)
    submit_and_expect_right(matching)
    assert "Correct." in matching.locator(".etp-feedback").inner_text()

    page.keyboard.press("Control+s")
    page.reload()  # widgets come back from the kernel's state
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    reloaded = quiz(page, "m2-response-times")
    expect(reloaded.locator(".etp-right")).to_be_visible(timeout=30_000)

    restart_and_run_all(page)
    again = quiz(page, "m2-ex21-login")  # a fresh widget, rebuilt from answers.json
    assert "Correct." in again.locator(".etp-feedback").inner_text()
    assert "etp-selected" in option(again, "P0").get_attribute("class")

    saved = json.loads((folder / "answers.json").read_text())["questions"]
    assert saved["m2-ex21-login"][0]["answer"] == "P0"
    assert sorted(saved["m2-escalate-now"][0]["answer"])[0] == "A P0 still has no root cause after 30 minutes"
    assert saved["m2-budget-995"][0]["answer"] == 223.2
    assert saved["m2-health-field"][0]["answer"] == "Status"
    assert saved["m2-p0-escalation"][0]["answer"] == ["On-call engineer", "Tech Lead", "CTO",
                                                      "CEO and stakeholders"]
    assert saved["m2-response-times"][0]["answer"]["P3"] == "24 hours"
