"""Module 6's incident simulation played in a real browser (the trainee's JupyterLab as `make start`
starts it, in the trainee's own world): the play typed into its cell by keyboard, the check's
verdict before and after, the debrief's figure and decisions table against the kernel's record,
and the points the trainer's autograde gives the saved notebook."""
import ast
import json
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from browser_lab import trainee_folder, trainee_jupyterlab
from course.data import world
from course.data.incident_sim import IncidentSim
from course.incident_debrief import decisions
from course.trainer.lab import runtime as lab
from course.trainer.reference import incident_sim as reference
from harness import autograded_points
from test_browser import SHOTS, WIDE, Trainee, chromium, trainer  # noqa: F401 - the browser fixtures

pytestmark = pytest.mark.browser
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
jupyter_client = pytest.importorskip("jupyter_client")
expect = playwright.expect

MODULE = "m6_incident_response"
# A plausible first reflex (restart the backend) before looking, then the guide's way: look,
# declare, escalate, page the IC, size the pool for the surge, verify, resolve.
PLAY = r'''sim.acknowledge()
sim.restart("backend")  # a fresh start usually clears a 500, doesn't it?
probes = sim.health()
errors = sim.sentry()
logs = sim.logs()
metrics = sim.metrics()
sim.post("[INCIDENT] Authentication system unavailable\nSeverity: P0\nStatus: Investigating\nImpact: All users unable to login (every attempt returns 500)\nETA: 30-60 min")
sim.escalate("Tech Lead")
sim.page_ic()
needed = int((metrics["pool_in_use"] + metrics["pool_waiting"]).max())
sim.raise_pool(min(48, needed + 20))
sim.wait(3)
print("healthy again:", sim.health()["ok"].iloc[-3:].all())
first_failure = logs.loc[logs["statusCode"].eq(500), "timestamp"].min()
minutes = round((sim.now + pd.Timedelta(minutes=2) - first_failure).total_seconds() / 60)
sim.post(f"[RESOLVED] Authentication system unavailable\nDuration: {minutes} minutes\nRoot Cause: Database connection pool exhausted by the morning login surge\nResolution: Raised DB_POOL_MAX and redeployed the backend; logins verified\nFollow-up: GitHub issue #101 for the post-mortem")'''
# The decisions of PLAY and their minutes on the drill's clock (the notebook's table of costs:
# acknowledge 0.5, restart 2, a look 1, a message 2 and stamped when sent, a call 1, the pool 3).
DECIDED = [(0.0, "ack"), (0.5, "restart backend"), (8.5, "[INCIDENT]"), (8.5, "escalate"), (9.5, "page IC"),
           (10.5, "pool"), (13.5, "wait 3 min"), (19.5, "[RESOLVED]")]
DRILL_POINTS = 3  # m6-sim-drill-test


@pytest.fixture
def trainee(request, tmp_path, trainer, chromium):
    """A trainee folder whose kernel works in the trainee's own world, their Lab and a page."""
    folder, runtime = tmp_path / "trainee", tmp_path / "runtime"
    trainee_folder(folder, runtime, trainer[1], own_world=True)
    with trainee_jupyterlab(folder, runtime, tmp_path) as (base, token):
        context = chromium.new_context(viewport={"width": WIDE, "height": 1000})
        try:
            yield Trainee(folder, base, token, context.new_page())
        finally:
            SHOTS.mkdir(parents=True, exist_ok=True)
            context.pages[0].screenshot(path=SHOTS / f"last-{request.node.name}.png")
            context.close()


def cell_index(notebook: Path, grade_id: str | None = None, containing: str = "") -> int:
    cells = nbformat.read(notebook, as_version=4).cells
    return next(n for n, cell in enumerate(cells) if (grade_id is None or cell.metadata.get("nbgrader", {})
                                                      .get("grade_id") == grade_id) and containing in cell.source)


def run_cell(page, cell, timeout: float = 300_000) -> None:
    """Select the cell, Shift+Enter, and wait until its prompt shows a new count."""
    prompt = cell.locator(".jp-InputArea-prompt")
    cell.scroll_into_view_if_needed()
    before = prompt.inner_text()
    prompt.click()  # selects the cell in command mode
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("([prompt, before]) => prompt.textContent !== before && /\\[\\d+\\]/.test(prompt.textContent)",
                           arg=[prompt.element_handle(), before], timeout=timeout)


def type_play(page, cell) -> None:
    """Replace the cell's placeholder with PLAY, typed line by line."""
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    for number, line in enumerate(PLAY.splitlines()):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)
    page.keyboard.press("Escape")


def kernel_value(trainee, expression: str):
    """``expression`` evaluated in the notebook's kernel, silently (no cell, no execution count)."""
    sessions = json.loads(urllib.request.urlopen(f"{trainee.base}/api/sessions?token={trainee.token}").read())
    (session,) = sessions
    client = jupyter_client.BlockingKernelClient(
        connection_file=jupyter_client.find_connection_file(f"kernel-{session['kernel']['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        sent = client.execute("", silent=True, store_history=False, user_expressions={"value": expression})
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != sent:
            reply = client.get_shell_msg(timeout=60)
        value = reply["content"]["user_expressions"]["value"]
        assert value["status"] == "ok", value
        return ast.literal_eval(value["data"]["text/plain"])
    finally:
        client.stop_channels()


def table_rows(output) -> list[dict]:
    """The DataFrame drawn in ``output``: one dict per row, by column heading."""
    headings = [h.strip() for h in output.locator("table thead tr").first.locator("th").all_inner_texts()]
    rows = []
    for row in output.locator("table tbody tr").all():
        cells = row.locator("th, td").all_inner_texts()
        rows.append(dict(zip(headings, [c.strip() for c in cells])))
    return rows


def test_a_trainee_plays_the_login_outage_in_the_browser_and_autograde_scores_the_saved_run(trainee, trainer):
    started = time.monotonic()
    trainer_root, api = trainer
    page = trainee.page
    notebook = next(lab.fetch_assignment(trainee.folder, MODULE).glob("*.ipynb"))
    cells = page.locator(".jp-Notebook .jp-Cell")

    def cell(grade_id=None, containing=""):
        return cells.nth(cell_index(notebook, grade_id, containing))

    trainee.open(f"{MODULE}/{notebook.name}")
    trainee.wait_idle()
    run_cell(page, cell("m6-setup"))
    run_cell(page, cell("m6-sim-start"))
    expect(cell("m6-sim-start").locator(".jp-OutputArea")).to_contain_text("The monitor paged you at")

    # Checked before any play: the specific ✘ of a drill still open
    run_cell(page, cell("m6-sim-save"))
    check = cell("m6-sim-drill-test").locator(".jp-OutputArea")
    run_cell(page, cell("m6-sim-drill-test"))
    expect(check).to_contain_text("✘ 2 · your drill: the incident is still open")

    type_play(page, cell("m6-sim-drill"))
    run_cell(page, cell("m6-sim-drill"))
    played = cell("m6-sim-drill").locator(".jp-OutputArea")
    expect(played).to_contain_text("healthy again: True")
    expect(played.locator("[data-mime-type='application/vnd.jupyter.error']")).to_have_count(0)
    run_cell(page, cell("m6-sim-save"))
    run_cell(page, cell("m6-sim-drill-test"))
    expect(check).to_contain_text("✔ 2 · your drill")
    expect(check).not_to_contain_text("✘")
    for rule in ["escalate when most users are hit", "Incident Commander for a P0", "[RESOLVED] message"]:
        expect(check).to_contain_text(f"[ok] {rule}")

    debrief = cell(containing="debrief_figure(sim)")
    run_cell(page, debrief)
    figure = debrief.locator(".jp-OutputArea-output img")
    expect(figure).to_have_count(1, timeout=60_000)
    assert figure.evaluate("img => img.complete && img.naturalWidth > 100"), "the debrief's figure is not drawn"

    SHOTS.mkdir(parents=True, exist_ok=True)
    debrief.screenshot(path=SHOTS / f"{MODULE}-sim-debrief.png")  # the figure and its decisions table
    record = kernel_value(trainee, "sim.to_json()")
    mine = IncidentSim.replay(record)  # the kernel's record, the same in this process
    assert kernel_value(trainee, "drill_record") == record
    assert not mine.variant.canonical  # the trainee's own world, as `make start` gives it
    expected = decisions(mine)
    assert [(minute, label.split()[0] if label.startswith("pool ") else label)
            for minute, label in zip(expected["minute"], expected["label"])] == DECIDED
    shown = table_rows(debrief.locator(".jp-OutputArea-output", has=page.locator("table")))
    assert [(float(row["minute"]), row["label"]) for row in shown] == list(zip(expected["minute"], expected["label"]))
    assert [row["time"] for row in shown] == [str(t) for t in expected["time"]]
    restart = shown[1]
    assert restart["seen_failing"] == "True" and restart["looked"] == ""  # restarted blind, while it failed
    assert shown[2]["looked"] == "health,logs,metrics,sentry"
    alt = figure.get_attribute("alt")
    assert "decisions on the drill's clock" in alt and "Your drill" in alt, alt
    for label in expected["label"]:
        assert label in alt, (label, alt)

    trainee.save()
    saved = nbformat.read(notebook, as_version=4).cells[cell_index(notebook, "m6-sim-drill")]
    assert saved.source == PLAY, "the typed play is not what the notebook holds"
    played_seconds = time.monotonic() - started

    trainee.menu("Nbgrader", "Assignment List")
    fetched = page.locator("#nbgrader-assignment-list #fetched_assignments_list > .list_item", has_text=MODULE)
    fetched.get_by_role("button", name="Submit").click()
    submitted = page.locator("#nbgrader-assignment-list #submitted_assignments_list .list_item", has_text=MODULE)
    expect(submitted.first).to_be_visible(timeout=60_000)
    assert api.collect(MODULE)["success"]
    (student,) = [folder.parent.name for folder in (trainer_root / "submitted").glob(f"*/{MODULE}")]
    assert world.seed_for(student, api.coursedir.course_id) == mine.variant.seed  # graded in the world it was played in
    assert api.autograde(MODULE, student)["success"]
    points = autograded_points(trainer_root, MODULE, student)
    assert points["m6-sim-drill-test"] == (DRILL_POINTS, DRILL_POINTS), points

    score = reference.score(record)
    graded = nbformat.read(next((trainer_root / "autograded" / student / MODULE).glob("*.ipynb")), as_version=4)
    feedback = "".join(output.get("text", "") for output in graded.cells[cell_index(notebook, "m6-sim-drill-test")].outputs)
    assert f"Your incident lasted {score.duration_min:.0f} min" in feedback, feedback
    assert score.duration_min > score.best_duration_min  # the restart cost minutes
    lost = score.moves.set_index("move")["minutes_lost"]
    assert lost["restart_backend"] == 2.0 and lost["raise_pool"] == 0.0, score.moves
    print(f"played in the browser in {played_seconds:.0f} s; submitted and autograded in "
          f"{time.monotonic() - started - played_seconds:.0f} s; drill {score.duration_min:.1f} min "
          f"(best path {score.best_duration_min:.1f}); {points['m6-sim-drill-test'][0]:g}/{DRILL_POINTS} points")
