"""A trainee in a real browser: the trainee's JupyterLab, started as `make start` starts it, in
headless Chromium, on every module's student version.

- nbgrader's path: Fetch in the Assignments tab, work, Submit there; the trainer collects the
  notebook and its answers.json.
- Every quiz answered with the keyboard alone, typed with no delay; no notebook shortcut fires;
  plain-words names and states; contrast in the light and the dark theme; 800 px wide;
  screenshots of every quiz in test-output/browser/.
- Paste, Enter in a text box, a page reload, and reopening after the kernel is gone.
"""
import json
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from browser_lab import CHROMIUM, CHROMIUM_ARGS, released_course, trainee_folder, trainee_jupyterlab
from course.trainer.lab import runtime as lab
from course.data import scenario
from harness import ASSIGNMENTS, REPO, keyed_in_current_world, quiz_questions, wrong_response
from page_checks import OVERFLOW, TEXT_CONTRAST, has_icon_glyph

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
expect = playwright.expect

SHOTS = REPO / "test-output" / "browser"
WIDE, NARROW = 1400, 800
TALL = 2400  # screenshots: tall enough to hold the longest quiz whole
AA_TEXT = 4.5  # WCAG AA contrast for normal text
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# -- the course, the trainee's Lab and a browser page ------------------------------------------

@pytest.fixture(scope="module")
def trainer(tmp_path_factory, data_cache):
    """The trainer's course with every module released to its own exchange: (root, NbGraderAPI)."""
    root = tmp_path_factory.mktemp("trainer")
    return root, released_course(root)


@pytest.fixture(scope="module")
def chromium():
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Trainee:
    """One trainee's folder, their JupyterLab and the page showing it."""

    folder: Path
    base: str
    token: str
    page: object

    def open(self, path: str = "") -> None:
        """A fresh workspace each time, so no old tab starts a stray kernel."""
        tree = f"/tree/{path}" if path else ""
        self.page.goto(f"{self.base}/lab/workspaces/{uuid.uuid4().hex}{tree}?reset&token={self.token}")
        shown = ".jp-Notebook .jp-Cell" if path else ".jp-LauncherCard"  # the layout is restored
        self.page.locator(shown).first.wait_for(timeout=60_000)

    def menu(self, *labels: str) -> None:
        self.page.click(f".lm-MenuBar-itemLabel:text-is('{labels[0]}')")
        for label in labels[1:-1]:
            self.page.hover(f".lm-Menu-itemLabel:text-is('{label}')")
        self.page.click(f".lm-Menu-itemLabel:text-is('{labels[-1]}')")

    def wait_idle(self) -> None:
        self.page.locator(".jp-StatusBar-TextItem", has_text="| Idle").wait_for(timeout=60_000)

    def run_all(self, quizzes: int) -> None:
        """Run > Run All Cells, then wait until no cell is queued and every quiz is new and live."""
        self.wait_idle()
        self.page.evaluate("document.querySelectorAll('.etp-quiz').forEach(q => q.dataset.stale = '1')")
        self.menu("Run", "Run All Cells")
        self.page.wait_for_function(f"""() => document.querySelectorAll('.etp-quiz').length === {quizzes}
            && !document.querySelector('.etp-quiz[data-stale], .etp-quiz[data-readonly]')
            && ![...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'))""",
                                    timeout=120_000)

    def save(self) -> None:
        self.page.keyboard.press("Control+s")  # JupyterLab's own shortcut, wherever the focus is
        expect(self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)

    def quiz(self, qid: str):
        box = self.page.locator(f".etp-quiz[data-qid='{qid}']")
        box.scroll_into_view_if_needed()
        return box

    def cells(self) -> int:
        return self.page.locator(".jp-Notebook .jp-Cell").count()

    def shut_down_kernels(self) -> None:
        sessions = json.loads(urllib.request.urlopen(f"{self.base}/api/sessions?token={self.token}").read())
        for session in sessions:
            url = f"{self.base}/api/sessions/{session['id']}?token={self.token}"
            urllib.request.urlopen(urllib.request.Request(url, method="DELETE"))

    def answers(self, module: str) -> dict:
        return json.loads((self.folder / module / "answers.json").read_text())["questions"]


@pytest.fixture
def trainee(request, tmp_path, trainer, chromium):
    """A trainee folder and runtime as `make start` prepares them (nothing fetched yet), their
    JupyterLab and a page (its last state is saved to test-output/browser/, for a failure)."""
    folder, runtime = tmp_path / "trainee", tmp_path / "runtime"
    trainee_folder(folder, runtime, trainer[1])
    with trainee_jupyterlab(folder, runtime, tmp_path) as (base, token):
        context = chromium.new_context(viewport={"width": WIDE, "height": 1000})
        page = context.new_page()
        try:
            yield Trainee(folder, base, token, page)
        finally:
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SHOTS / f"last-{request.node.name}.png")
            context.close()


def source_questions(module: str) -> list:
    """Every quiz of a module, in notebook order, with its plain answer."""
    notebook = nbformat.read(next((REPO / "source" / module).glob("*.ipynb")), as_version=4)
    facts = STORY_FACTS.get(module, dict)()  # what the module's setup hands to Quiz(facts=...)
    found = [keyed_in_current_world(q) for questions in quiz_questions(notebook).values() for q in questions]
    for question in found:
        question.prompt = question.prompt.format_map(facts)
    return found


STORY_FACTS = {"m5_troubleshooting": scenario.on_call_day}


# -- answering with the keyboard alone ---------------------------------------------------------

def choose_one(page, box, question, response):
    stop = box.locator("[role=radio][tabindex='0']")  # the group's one tab stop
    stop.focus()
    current = [b.get_attribute("tabindex") for b in box.get_by_role("radio").all()].index("0")
    steps = (list(question.options).index(response) - current) % len(question.options)
    page.keyboard.press("b")  # a notebook shortcut (insert a cell below) outside the quiz
    if steps == 0:
        page.keyboard.press("Space")
    for _ in range(steps):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")  # to Submit
    page.keyboard.press("Enter")


def choose_several(page, box, question, response):
    box.locator(".etp-option").first.focus()
    for option in box.locator(".etp-option").all():
        wanted = option.locator(".etp-option-text").inner_text() in response
        if wanted != (option.get_attribute("aria-pressed") == "true"):
            page.keyboard.press("Space")
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Tab left the last option for Submit


def type_number(page, box, question, response):
    box.get_by_role("textbox").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type(f"{response:g}")  # no delay between keys
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")


def type_text(page, box, question, response):
    box.get_by_role("textbox").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type(response)
    page.keyboard.press("Enter")  # Enter in the text box submits


def reorder(page, box, question, response):
    shown = box.locator(".etp-order-label").all_inner_texts()
    for target, item in enumerate(response):
        current = shown.index(item)
        if current > target:
            box.get_by_role("button", name=f'Move "{item}" up').focus()
            for _ in range(current - target):
                page.keyboard.press("Enter")  # focus follows the item
            shown.insert(target, shown.pop(current))
    box.get_by_role("button", name="Submit answer").focus()
    page.keyboard.press("Enter")


def match(page, box, question, response):
    for item in question.left:
        box.get_by_label(item, exact=True).focus()
        page.keyboard.press("Home")  # back to "— choose —"
        for _ in range(list(question.right).index(response[item]) + 1):
            page.keyboard.press("ArrowDown")
    box.get_by_role("button", name="Submit answer").focus()
    page.keyboard.press("Enter")


KEYBOARD = {"single choice": choose_one, "multiple select": choose_several, "numeric": type_number,
            "short text": type_text, "ordering": reorder, "matching": match}


def answer_by_keyboard(trainee, question, response, expected: str) -> None:
    """Answer one quiz with keys only; no key may reach the notebook."""
    page, box = trainee.page, trainee.quiz(question.qid)
    cells = trainee.cells()
    KEYBOARD[question.kind](page, box, question, response)
    if question.answer_from:
        expected = "note"  # a key from the trainee's own data: recorded, checked when graded
    expect(page.locator(f".etp-quiz[data-qid='{question.qid}'][data-waiting]")).to_have_count(0, timeout=15_000)
    expect(box.locator(f".etp-feedback .etp-{expected}")).to_be_visible(timeout=15_000)
    assert trainee.cells() == cells, f"a key reached the notebook at {question.qid}"
    expect(page.locator(".jp-Cell.jp-mod-active").locator(f".etp-quiz[data-qid='{question.qid}']")).to_have_count(1)


def check_names_and_states(box, question, response) -> None:
    """Plain-words names (no icon glyph), and every option exposes whether it is chosen."""
    tree = box.aria_snapshot()
    assert not has_icon_glyph(tree), tree
    roles = [line.strip(" -'").split(" ", 1) for line in tree.splitlines()]
    if question.kind == "single choice":
        radios = [rest for role, *rest in roles if role == "radio"]
        assert len(radios) == len(question.options) and tree.count("[checked]") == 1, tree
    if question.kind == "multiple select":
        assert tree.count("[pressed]") == len(response), tree
    if question.kind in ("numeric", "short text"):
        expect(box.get_by_role("textbox")).to_have_accessible_name(question.prompt)
    if question.kind == "matching":
        for item in question.left:
            expect(box.get_by_role("combobox", name=item, exact=True)).to_have_count(1)
    expect(box.get_by_role("button", name="Submit answer")).to_have_count(1)


# -- checks of look and layout -----------------------------------------------------------------

def use_theme(trainee, theme: str) -> None:
    trainee.menu("Settings", "Theme", THEMES[theme])
    light = "true" if theme == "light" else "false"
    trainee.page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")


def check_contrast(trainee, questions, theme: str) -> None:
    for question in questions:
        for text in trainee.quiz(question.qid).evaluate(TEXT_CONTRAST):
            assert text["opacity"] == 1, (theme, question.qid, text)
            assert text["ratio"] >= AA_TEXT, (theme, question.qid, text)


def check_fits(trainee, questions) -> None:
    for question in questions:
        assert trainee.quiz(question.qid).evaluate(OVERFLOW) == [], question.qid


def screenshots(trainee, module: str, questions, label: str) -> None:
    folder = SHOTS / f"{module}-{label}"
    folder.mkdir(parents=True, exist_ok=True)
    for question in questions:
        trainee.quiz(question.qid).screenshot(path=folder / f"{question.qid}.png")
    trainee.page.screenshot(path=SHOTS / f"{module}-{label}.png")


# -- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("module", ASSIGNMENTS)
def test_fetch_answer_by_keyboard_and_submit(trainee, trainer, module):
    trainer_root, api = trainer
    page, questions = trainee.page, source_questions(module)
    wrong_first = next(q for q in questions if q.kind == "single choice")

    trainee.open()
    page.click(".lm-MenuBar-itemLabel:text-is('Nbgrader')")  # the trainer's items are not there
    expect(page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel")).to_have_text(["Assignment List"])
    page.keyboard.press("Escape")
    trainee.menu("Nbgrader", "Assignment List")
    tab = page.locator("#nbgrader-assignment-list")
    released = tab.locator("#released_assignments_list .list_item", has_text=module)
    released.get_by_role("button", name="Fetch").click()
    expect(released).to_have_count(0, timeout=30_000)  # the lists are drawn again once fetched
    fetched = tab.locator("#fetched_assignments_list > .list_item", has_text=module)
    fetched.locator("a.assignment-notebooks-link").click()
    fetched.locator(".nested_list_item a", has_text=module).click()  # opens the notebook
    trainee.run_all(len(questions))

    answer_by_keyboard(trainee, wrong_first, wrong_response(wrong_first), "wrong")
    chosen = trainee.quiz(wrong_first.qid).locator("[role=radio][aria-checked=true]")
    expect(chosen).to_have_attribute("data-verdict", "wrong")  # the chosen option says it is wrong
    expect(chosen).to_contain_text("not correct")
    for question in questions:
        response = question.accepted_responses()[0]
        answer_by_keyboard(trainee, question, response, "wrong" if question is wrong_first else "right")
        if not question.answer_from:  # a key from the trainee's data shows no verdict in the Lab
            expect(trainee.quiz(question.qid).locator("[data-verdict=right]").first).to_be_visible()
        check_names_and_states(trainee.quiz(question.qid), question, response)

    saved = trainee.answers(module)
    assert saved[wrong_first.qid][0]["answer"] == wrong_response(wrong_first)
    for question in questions:
        assert saved[question.qid][-1]["answer"] == question.accepted_responses()[0], question.qid

    for theme in ("light", "dark"):
        use_theme(trainee, theme)
        check_contrast(trainee, questions, theme)
        page.set_viewport_size({"width": WIDE, "height": TALL})
        screenshots(trainee, module, questions, f"{theme}-{WIDE}")
        page.set_viewport_size({"width": NARROW, "height": TALL})
        check_fits(trainee, questions)
        screenshots(trainee, module, questions, f"{theme}-{NARROW}")
    use_theme(trainee, "light")

    trainee.save()
    page.get_by_role("tab", name="Assignments").click()
    fetched.get_by_role("button", name="Submit").click()
    expect(tab.locator("#submitted_assignments_list .list_item", has_text=module).first).to_be_visible(timeout=30_000)

    assert api.collect(module)["success"]
    submitted = next((trainer_root / "submitted").glob(f"*/{module}"))
    assert json.loads((submitted / "answers.json").read_text())["questions"] == saved
    notebook = nbformat.read(next(submitted.glob("*.ipynb")), as_version=4)
    shown = [o for c in notebook.cells for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    assert len(shown) == len(questions)  # the worked notebook, not the blank release


def test_paste_enter_reload_and_reopen(trainee):
    module = "m2_sla_severity"  # its first numeric and short-text quizzes have keys the Lab can check
    # the first of each type whose key the trainee's notebook holds (not one from their own data)
    questions = {q.kind: q for q in reversed(source_questions(module)) if not q.answer_from}
    number, text = questions["numeric"], questions["short text"]
    typed_number = f"{number.accepted_responses()[0]:g}"
    notebook = next(lab.fetch_assignment(trainee.folder, module).glob("*.ipynb"))  # as make start does
    page = trainee.page
    trainee.open(f"{module}/{notebook.name}")
    trainee.wait_idle()
    expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)  # opening is not an edit
    trainee.run_all(len(source_questions(module)))

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.evaluate("value => navigator.clipboard.writeText(value)", typed_number)
    trainee.quiz(number.qid).get_by_role("textbox").focus()
    page.keyboard.press("Control+v")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(trainee.quiz(number.qid).locator(".etp-feedback .etp-right")).to_be_visible(timeout=15_000)
    trainee.quiz(text.qid).get_by_role("textbox").type(text.accepted_responses()[0])
    trainee.quiz(text.qid).get_by_role("textbox").press("Enter")
    expect(trainee.quiz(text.qid).locator(".etp-feedback .etp-right")).to_be_visible(timeout=15_000)
    saved = trainee.answers(module)
    assert saved[number.qid][0]["answer"] == float(typed_number)
    assert saved[text.qid][0]["answer"] == text.accepted_responses()[0]

    def committed_answers_shown(read_only: bool) -> None:
        count = len(source_questions(module))
        expect(page.locator(".etp-quiz")).to_have_count(count, timeout=60_000)
        expect(page.locator(".etp-quiz[data-readonly]")).to_have_count(count if read_only else 0)
        expect(page.get_by_text("model not found")).to_have_count(0)
        expect(trainee.quiz(number.qid).get_by_role("textbox")).to_have_value(typed_number)
        expect(trainee.quiz(number.qid).locator(".etp-feedback .etp-right")).to_be_visible()
        expect(trainee.quiz(text.qid).get_by_role("textbox")).to_be_editable(editable=not read_only)

    trainee.run_all(len(source_questions(module)))  # the same kernel draws every quiz again
    committed_answers_shown(read_only=False)
    trainee.save()
    page.reload()  # the kernel lives on: the quizzes come back from it, still live
    committed_answers_shown(read_only=False)

    for _ in range(2):  # reopened without its kernel; the second time after a save without a run
        trainee.shut_down_kernels()
        trainee.open(f"{module}/{notebook.name}")
        committed_answers_shown(read_only=True)
        trainee.save()
    trainee.run_all(len(source_questions(module)))  # running the cells makes them live again
    expect(trainee.quiz(number.qid).get_by_role("textbox")).to_have_value(typed_number)


# -- Module 6's incident drill: injects on a clock -------------------------------------------------

DRILL_MODULE, DRILL_PREFIX = "m6_incident_response", "m6-ex61-"


def test_drill_injects_are_revealed_one_at_a_time_and_answered_by_keyboard(trainee):
    """The drill's cards arrive one by one: each decision, answered with the keyboard alone, reveals
    the next inject; the night's clock starts when the first card is in view and ticks; every
    decision is stamped in answers.json; the cards read in both themes, keep notebook shortcuts out,
    and come back after a reload and, read-only, without their kernel."""
    from course.data import scenario

    module = DRILL_MODULE
    injects = scenario.redis_drill()  # the Lab's kernel and this process both see the canonical world
    steps = [question for question in source_questions(module) if question.qid.startswith(DRILL_PREFIX)
             and question.qid.removeprefix(DRILL_PREFIX) in {inject["step"] for inject in injects}]
    assert [q.qid.removeprefix(DRILL_PREFIX) for q in steps] == [inject["step"] for inject in injects]
    notebook = next(lab.fetch_assignment(trainee.folder, module).glob("*.ipynb"))
    page = trainee.page
    trainee.open(f"{module}/{notebook.name}")
    trainee.run_all(len(source_questions(module)))
    cards = page.locator(".etp-inject")
    expect(cards).to_have_count(len(injects))
    expect(page.locator(".etp-inject:visible")).to_have_count(1)  # only the page so far
    for hidden in steps[1:]:
        expect(page.locator(f".etp-quiz[data-qid='{hidden.qid}']")).to_be_hidden()

    first = page.locator(".etp-inject[data-step='1']")
    first.scroll_into_view_if_needed()  # in view: the night's clock starts
    clock = first.locator(".etp-inject-clock")
    expect(clock).to_contain_text("Night's clock:", timeout=15_000)
    expect(clock).not_to_contain_text("stopped")
    ticking = clock.inner_text()
    page.wait_for_timeout(2_200)
    assert clock.inner_text() != ticking, "the night's clock does not run"
    expect(first).to_contain_text("[FIRING]")
    expect(first).to_contain_text(injects[0]["clock"])

    body = first.locator(".etp-inject-body")
    body.focus()  # the excerpt scrolls with the keyboard; notebook shortcuts stay out
    cells = trainee.cells()
    for key in ["b", "ArrowDown", "a", "Space"]:
        page.keyboard.press(key)
    assert trainee.cells() == cells, "a key in the inject card reached the notebook"

    for number, question in enumerate(steps, start=1):
        card = page.locator(f".etp-inject[data-step='{number}']")
        expect(card).to_be_visible(timeout=15_000)
        expect(card).to_contain_text(injects[number - 1]["title"])
        if number < len(steps):
            expect(page.locator(f".etp-inject[data-step='{number + 1}']")).to_be_hidden()
        answer_by_keyboard(trainee, question, question.accepted_responses()[0], "right")
        expect(card.locator(".etp-inject-clock")).to_contain_text("You decided at", timeout=15_000)
    expect(page.locator(".etp-inject:visible")).to_have_count(len(injects))

    saved = trainee.answers(module)
    stamps = [s for s in saved[DRILL_PREFIX + "clock"] if "decided_at" in s["answer"]]  # not the starts
    assert [s["answer"]["step"] for s in stamps] == [inject["step"] for inject in injects]
    decided = [pd_timestamp(s["answer"]["decided_at"]) for s in stamps]
    assert decided == sorted(decided) and decided[0] >= pd_timestamp(injects[0]["at"])
    assert all(s["answer"]["real_seconds"] is not None and s["answer"]["real_seconds"] >= 0 for s in stamps)
    assert stamps[0]["answer"]["real_seconds"] >= 2  # the clock ran while the first card was read
    for question in steps:
        assert saved[question.qid][0]["answer"] == question.accepted_responses()[0]

    for theme in ("light", "dark"):
        use_theme(trainee, theme)
        for card in cards.all():
            for text in card.evaluate(TEXT_CONTRAST):
                assert text["opacity"] == 1 and text["ratio"] >= AA_TEXT, (theme, text)
        page.set_viewport_size({"width": NARROW, "height": TALL})
        for card in cards.all():
            assert card.evaluate(OVERFLOW) == [], theme
        SHOTS.mkdir(parents=True, exist_ok=True)
        cards.first.screenshot(path=SHOTS / f"{module}-drill-{theme}-{NARROW}.png")
        page.set_viewport_size({"width": WIDE, "height": TALL})
        step = page.locator(".widget-vbox", has=page.locator(".etp-inject[data-step='3']"))
        step.screenshot(path=SHOTS / f"{module}-drill-step-{theme}-{WIDE}.png")  # a card and its decision
        page.set_viewport_size({"width": WIDE, "height": 1000})
    use_theme(trainee, "light")

    trainee.save()
    page.reload()  # the kernel lives on: the cards come back from it, decided
    expect(page.locator(".etp-inject")).to_have_count(len(injects), timeout=60_000)
    expect(page.locator(".etp-inject:visible")).to_have_count(len(injects))
    expect(page.locator(".etp-inject[data-step='1'] .etp-inject-clock")).to_contain_text("You decided at")
    trainee.shut_down_kernels()
    trainee.open(f"{module}/{notebook.name}")  # without its kernel: the saved state, read-only
    expect(page.locator(".etp-inject")).to_have_count(len(injects), timeout=60_000)
    expect(page.locator(".etp-inject-note").first).to_contain_text("without its kernel")
    expect(trainee.quiz(steps[-1].qid).locator(".etp-feedback .etp-right")).to_be_visible()


def pd_timestamp(text):
    import pandas as pd

    return pd.Timestamp(text)
