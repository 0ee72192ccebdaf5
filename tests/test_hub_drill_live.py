"""Module 6's drill on a live hub: an honest trainee is not flagged and sees the playbook's verdicts.

The trainer releases Module 6 through the formgrader; one trainee fetches it and runs the drill in
their kernel as the notebook does: each card comes into view (the browser's ``seen`` message), each
decision goes through the widget's Submit path with the model answer, and ``drill.debrief()``
shows the quiz service's verdicts. The trainee hands in; the trainer collects and autogrades
through the formgrader. The handed-in clock log matches the service's record (no "differs"
flag), and every decision earns its point. The trainee also plays the simulation (Exercise 6.1's
login outage) in the same kernel: the quiz service records the run call by call, and the graded
``drill_record`` is found among the service's runs (no "never played" flag).
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import solution_sources  # noqa: E402

from course.data import world  # noqa: E402
from course.trainer.reference import quiz_keys  # noqa: E402

from hub_harness import COURSE_ID, KERNEL_SETUP, REPO, hub  # noqa: E402,F401 (hub: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MODULE = "m6_incident_response"
DECISIONS = ("acknowledge", "diagnose", "severity", "deadline", "communicate", "mitigate", "verify")


def decision_cells(nb) -> dict[str, str]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells
            if c.cell_type == "code"}


def model_answers(source, trainee: str) -> dict[str, str]:
    """The model answer of each decision: the source's ``answer=``, the deadline from the world."""
    answers = {}
    for cell in source.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id.startswith("m6-ex61-") and grade_id[len("m6-ex61-"):] in DECISIONS:
            call = ast.parse(cell.source.split("### BEGIN HIDDEN TESTS")[0]).body[0].value
            fields = {kw.arg: kw.value for kw in call.keywords}
            if "answer" in fields:
                answers[grade_id] = ast.literal_eval(fields["answer"])
    with world.using(world.seed_for(trainee, COURSE_ID)):
        answers["m6-ex61-deadline"] = quiz_keys.answer("m6_ack_deadline")[0]
    return answers


RUN_DRILL = '''
import course.quiz.drill as drill_widgets

def step_box(qid):
    return drill_widgets._SHOWN[(str(drill.store.path), qid)]

def decide(qid, response):
    """The card comes into view, then the decision's Submit, as the browser sends them."""
    box = step_box(qid)
    box.panel._handle_message(box.panel, {{"event": "seen"}}, [])
    widget = box.view.box
    widget._handle_message(widget, {{"event": "submit", "response": response}}, [])
    return widget.verdict

verdicts = {{qid: decide(qid, response) for qid, response in {answers!r}.items()}}
table = drill.debrief()
print(json.dumps({{"verdicts": verdicts, "playbook": table["playbook"].tolist(),
                  "decisions": table["your decision"].tolist(),
                  "stamps": len(drill.log())}}))
'''

SIM_RECORDED = '''
runs = sim.recorder.service.sim_runs()
print(json.dumps({"runs": len(runs), "closed": sim.closed,
                  "recorded": [c["call"] for c in runs[-1]["calls"]] == json.loads(drill_record)["script"]}))
'''


def test_an_honest_drill_on_the_hub_is_not_flagged_and_earns_its_points(hub):
    trainer, trainee = hub.users["trainer"], hub.users["ana"]
    for name in (trainer, trainee):
        hub.login(name)
    for step in ("assign", "release"):
        answer = hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/{step}")
        assert answer.status_code == 200 and answer.json().get("success", True), answer.text[-3000:]

    hub.start_server(trainee)
    fetched = hub.server(trainee, "POST", "/assignments/fetch",
                         json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert fetched.status_code == 200, fetched.text
    notebook_path = f"/api/contents/{MODULE}/{MODULE}.ipynb"
    nb = nbformat.from_dict(hub.server(trainee, "GET", notebook_path).json()["content"])
    cells = decision_cells(nb)
    source = nbformat.read(REPO / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    answers = model_answers(source, trainee)
    assert set(answers) == {f"m6-ex61-{step}" for step in DECISIONS}
    kernel = hub.server(trainee, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
    code = "\n".join([KERNEL_SETUP, cells["m6-setup"], *(cells[qid] for qid in answers),
                      RUN_DRILL.format(answers=answers)])
    ran = json.loads(hub.run(trainee, kernel["id"], code).strip().splitlines()[-1])
    assert ran["verdicts"] == {qid: "right" for qid in answers}, ran
    assert ran["playbook"] == ["correct"] * len(DECISIONS), ran  # the service's verdicts
    assert "checked when graded" not in json.dumps(ran)
    assert ran["stamps"] == len(DECISIONS)

    solutions = solution_sources(source)
    played = hub.run(trainee, kernel["id"], "\n".join([cells["m6-sim-start"], solutions["m6-sim-drill"],
                                                       cells["m6-sim-save"], SIM_RECORDED]))
    assert json.loads(played.strip().splitlines()[-1]) == {"runs": 1, "closed": True, "recorded": True}, played
    for cell in nb.cells:  # the trainee writes the exercises' code
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in solutions:
            cell.source = solutions[grade_id]
    saved = hub.server(trainee, "PUT", notebook_path, json={
        "type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))})
    assert saved.status_code == 200, saved.text
    submitted = hub.server(trainee, "POST", "/assignments/submit",
                           json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert submitted.status_code == 200 and "error" not in submitted.text.lower()[:200], submitted.text

    collected = hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/collect")
    assert collected.status_code == 200 and collected.json().get("success", True), collected.text
    graded = hub.formgrader(trainer, "POST", f"/api/submission/{MODULE}/{trainee}/autograde")
    assert graded.status_code == 200 and graded.json().get("success", True), graded.text[-3000:]
    assert "differs" not in graded.text, graded.text[-3000:]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hub.root / 'course' / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(MODULE, MODULE, trainee)
        scores = {grade.name: grade.score for grade in submission.grades}
        comments = "\n".join(c.auto_comment or "" for c in submission.comments)
        flagged = submission.flagged
    assert not flagged and "differs" not in comments and "never played" not in comments, comments
    assert {qid: scores[qid] for qid in answers} == {qid: 1 for qid in answers}, scores
    assert scores["m6-sim-drill-test"] == 3, scores
