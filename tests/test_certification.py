"""Module 7, certification: the guide's checklist from the gradebook (trainer) and from a trainee's
workspace (trainee), on a simulated cohort: some certified, some not, one graded with problems, one
waiting for a written answer, one with nothing submitted. The notebook runs headless both ways and
agrees item by item with the gradebook."""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.api import Gradebook
from traitlets.config import Config

from harness import ASSIGNMENTS, REPO, Trainee, grade_written_answers
from course import certification as cert
from course.trainer.api import open_course
from course.trainer.certification import certify_cohort

pytestmark = pytest.mark.slow

NOTEBOOK = REPO / "course" / "certification" / "m7_certification.ipynb"
EVERYONE = ["ana", "bruno", "carla", "diego", "eduarda", "fabio"]


def assignment(number: int) -> str:
    return next(name for name in ASSIGNMENTS if cert.module_number(name) == number)


def exercises_of(root: Path, name: str) -> dict[str, list[str]]:
    found = {}
    for path in (root / "source" / name).glob("*.ipynb"):
        for exercise, cells in cert.exercise_cells(json.loads(path.read_text())).items():
            found.setdefault(exercise, []).extend(cells)
    return found


# -- a simulated cohort, written straight into a gradebook ---------------------------------------------
# Each trainee: module number -> what happened to it. "full": every point; "short:<cells>": those
# cells earn nothing; "low": half the points of every cell; "flagged"; "ungraded": written answers
# waiting; absent: not submitted.
COHORT = {
    "ana": {m: "full" for m in range(1, 7)},                                   # certified
    "bruno": {1: "full", 2: "short:m2-ex21-pdf", 3: "full", 4: "full", 5: "low", 6: "full"},
    "carla": {**{m: "full" for m in range(1, 6)}, 6: "flagged"},               # graded with problems
    "diego": {},                                                               # nothing submitted
    "eduarda": {**{m: "full" for m in range(1, 7)}, 5: "ungraded"},           # a written answer waits
    "fabio": {m: "full" for m in (1, 2, 4, 5, 6)},                             # never handed in Module 3
}
ACCESS = {"ana": "yes,yes,yes,yes", "bruno": "yes,no,yes,yes", "carla": "yes,yes,yes,yes",
          "eduarda": "yes,yes,yes,yes", "fabio": "yes,yes,yes,yes"}


def simulate(root: Path) -> None:
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in EVERYONE:
            gb.update_or_create_student(student, first_name=student.capitalize(), last_name="Silva")
        for student, modules in COHORT.items():
            for number, what in modules.items():
                name = assignment(number)
                submission = gb.add_submission(name, student)
                for notebook in submission.notebooks:
                    manual = {cell.name for cell in notebook.notebook.solution_cells}
                    notebook.flagged = what == "flagged"
                    for grade in notebook.grades:
                        top = grade.max_score
                        earned = 0.0 if what.startswith("short:") and grade.name in what[6:].split(",") else \
                            top / 2 if what == "low" else top
                        if grade.name in manual:
                            grade.auto_score = None
                            grade.manual_score = None if what == "ungraded" else earned
                            grade.needs_manual_grade = what == "ungraded"
                        else:
                            grade.auto_score, grade.needs_manual_grade = earned, False
        gb.db.commit()
    with open(root / "certification_access.csv", "w", newline="") as fh:
        fh.write("student_id,railway,sentry,github,discord\n")
        fh.writelines(f"{student},{flags}\n" for student, flags in ACCESS.items())


def expected(root: Path, student: str) -> dict[str, str]:
    """Each item's status, worked out from what the simulation put in the gradebook."""
    modules = COHORT[student]
    statuses = {}
    for item in cert.ITEMS:
        if item.group == cert.ACCESS:
            flags = ACCESS.get(student, "no,no,no,no").split(",")
            statuses[item.id] = cert.MET if flags[cert.ACCESS_ITEMS.index(item.id)] == "yes" else cert.NOT_MET
            continue
        what = modules.get(item.module)
        if what is None:
            statuses[item.id] = cert.NOT_STARTED
        elif what in ("flagged", "ungraded"):
            statuses[item.id] = cert.REVIEW
        elif item.group == cert.KNOWLEDGE:
            statuses[item.id] = cert.NOT_MET if what == "low" else cert.MET
        else:
            cells = exercises_of(root, assignment(item.module)).get(item.exercise, [])
            short = what == "low" or (what.startswith("short:") and set(what[6:].split(",")) & set(cells))
            statuses[item.id] = cert.NOT_MET if short else cert.MET
    return statuses


@pytest.fixture(scope="module")
def cohort_course(tmp_path_factory, data_cache):
    root = tmp_path_factory.mktemp("certification-course")
    shutil.copytree(REPO / "source", root / "source")
    shutil.copy(REPO / "nbgrader_config.py", root)
    api = open_course(root)
    for name in ASSIGNMENTS:
        assert api.generate_assignment(name, force=True)["success"], name
    simulate(root)
    return root


def test_the_guides_items_and_every_exercise_has_cells():
    assert [i.id for i in cert.ITEMS if i.group == cert.PRACTICAL] == [
        "exercise-1.1", "exercise-2.1", "exercise-3.1", "exercise-3.2", "exercise-5.1", "exercise-6.1"]
    assert len([i for i in cert.ITEMS if i.group == cert.KNOWLEDGE]) == 6 and len(cert.ACCESS_ITEMS) == 4
    for item in cert.ITEMS:
        if item.exercise:
            cells = exercises_of(REPO, assignment(item.module)).get(item.exercise)
            assert cells, f"no cell of {assignment(item.module)} under a heading naming Exercise {item.exercise}"
    six = exercises_of(REPO, "m6_incident_response")["6.1"]
    assert "m6-ex61-severity" in six and "m6-roles" not in six


def test_the_cohort_agrees_item_by_item_with_the_gradebook(cohort_course):
    config = Config()
    config.Certification.trainer_name = "Rita Trainer"
    config.Certification.notes = {"carla": "look at the flag first"}
    cohort = certify_cohort(cohort_course, config=config)
    table = cohort.table.set_index("student_id")
    assert sorted(table.index) == EVERYONE
    for student in EVERYONE:
        want = expected(cohort_course, student)
        got = {item.id: table.loc[student, item.id] for item in cert.ITEMS}
        assert got == want, (student, {k: (got[k], want[k]) for k in want if got[k] != want[k]})
    assert table.loc["ana", "result"] == cert.APPROVED
    assert {table.loc[s, "result"] for s in ["bruno", "carla", "eduarda", "fabio"]} == {cert.NEEDS_REVIEW}
    assert table.loc["diego", "result"] == "Not started"
    assert "flagged" in cohort.checklists["carla"].items[5].reason  # knowledge-6 says why
    # the files: the CSV says the same, each trainee has a printable page with the sign-off block
    with open(cohort.paths["cohort"], newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert all(rows[s]["result"] == table.loc[s, "result"] for s in EVERYONE)
    page = cohort.paths["carla.html"].read_text()
    assert "Trainer Name: Rita Trainer" in page and "[x] Needs Review" in page and "look at the flag first" in page
    assert "Trainee Name: Carla Silva" in page and "needs review" in page
    assert json.loads(cohort.paths["ana.json"].read_text())["result"] == cert.APPROVED
    assert cohort.paths["scores_per_module.png"].stat().st_size > 5000
    assert cohort.paths["items_missed.png"].stat().st_size > 5000


def test_the_rule_is_configurable(cohort_course):
    config = Config()
    config.Certification.threshold = 0.4           # bruno's half marks are enough for knowledge now
    config.Certification.exercises = {"2.1": ["m2-ex21-login", "m2-ex21-pool"]}  # the pdf cell left out
    config.Certification.access = {"bruno": ["sentry"]}
    cohort = certify_cohort(cohort_course, config=config, output="certification-lenient")
    bruno = cohort.table.set_index("student_id").loc["bruno"]
    assert bruno["knowledge-5"] == cert.MET and bruno["exercise-2.1"] == cert.MET
    assert bruno["access-sentry"] == cert.MET and bruno["exercise-5.1"] == cert.NOT_MET  # half a cell is short
    assert (cohort_course / "certification-lenient" / "cohort.csv").is_file()


def run_notebook(folder: Path, **parameters) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\n" + "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [(o.ename, o.evalue) for o in errors]
    return nb


def test_the_notebook_runs_headless_for_the_trainer(cohort_course, tmp_path):
    nb = run_notebook(tmp_path, COURSE=str(cohort_course))
    shown = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "Trainer: the checklists of the cohort" in shown and "1 of 6 trainees approved" in shown
    with open(cohort_course / "certification" / "cohort.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    for student in EVERYONE:
        assert {item.id: rows[student][item.id] for item in cert.ITEMS} == expected(cohort_course, student)


# -- a trainee's own preview --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded_m6(course):
    """A real Module 6 submission, autograded, its written answers graded, its feedback generated."""
    root, api = course
    trainee = Trainee("cert-trainee", wrong_quizzes=frozenset({"m6-ex61-severity"}))
    folder = trainee.submit(root, "m6_incident_response")
    assert api.autograde("m6_incident_response", trainee.name)["success"]
    grade_written_answers(root, "m6_incident_response", trainee.name)
    assert api.generate_feedback("m6_incident_response", trainee.name)["success"]
    return root, trainee.name, folder


def workspace_for(tmp: Path, root: Path, student: str, submitted: Path) -> Path:
    """The trainee's folder: Module 6 worked and its feedback fetched, Module 2 fetched and
    started, the rest not fetched; the checklist's notebook beside them."""
    workspace = tmp / "workspace"
    m6 = workspace / "m6_incident_response"
    shutil.copytree(submitted, m6)
    stamp = "2026-11-02 10:00:00.000000 UTC"
    (m6 / "feedback" / stamp).mkdir(parents=True)
    for page in (root / "feedback" / student / "m6_incident_response").glob("*.html"):
        shutil.copy(page, m6 / "feedback" / stamp / page.name)
    shutil.copytree(REPO / "release" / "m2_sla_severity", workspace / "m2_sla_severity")
    from course.quiz.store import AnswerStore

    AnswerStore(workspace / "m2_sla_severity" / "answers.json").record("m2-ex21-typo", "P3", "p3", True)
    target = cert.copy_notebook(workspace)
    assert target == workspace / "m7_certification" / "m7_certification.ipynb"
    return workspace


def test_the_trainee_preview_agrees_with_the_gradebook(graded_m6, tmp_path):
    root, student, submitted = graded_m6
    workspace = workspace_for(tmp_path, root, student, submitted)
    run_notebook(workspace / "m7_certification")
    written = json.loads((workspace / "m7_certification" / "certification_checklist.json").read_text())
    assert written["official"] is False and "not the official result" in written["notice"]
    items = {item["id"]: item for item in written["items"]}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission("m6_incident_response", student)
        score, top = submission.score, submission.max_score
        grades = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
    six = exercises_of(REPO, "m6_incident_response")["6.1"]
    knowledge = cert.MET if score >= 0.8 * top else cert.NOT_MET
    assert items["knowledge-6"]["status"] == knowledge and f"{score:g} of {top:g} points" in items["knowledge-6"]["reason"]
    assert items["exercise-6.1"]["status"] == cert.NOT_MET  # the severity call was wrong on first try
    short = [name for name in six if grades[name][0] < grades[name][1]]
    assert short == ["m6-ex61-severity"] and "m6-ex61-severity" in items["exercise-6.1"]["reason"]
    assert items["knowledge-2"]["status"] == cert.NOT_MET and "not graded yet" in items["knowledge-2"]["reason"]
    assert "1 answer committed, 1 marked right on the first try" in items["knowledge-2"]["reason"]
    assert items["knowledge-1"]["status"] == cert.NOT_STARTED
    assert all(items[i]["status"] == cert.NOT_MET for i in cert.ACCESS_ITEMS)  # nothing ticked
    page = (workspace / "m7_certification" / "certification_checklist.html").read_text()
    assert "not the official result" in page and "Certification sign-off" in page


def test_the_form_writes_what_the_trainee_filled_in(graded_m6, tmp_path):
    root, student, submitted = graded_m6
    workspace = workspace_for(tmp_path, root, student, submitted)
    form = cert.SignOffForm(workspace, folder=workspace / "m7_certification", student="cert-trainee")
    form.access["access-railway"].value = True
    form.access["access-github"].value = True
    form.trainee.value, form.notes.value = "Bia Costa", "Discord invite pending"
    form.button.click()
    written = json.loads((workspace / "m7_certification" / "certification_checklist.json").read_text())
    statuses = {item["id"]: item["status"] for item in written["items"]}
    assert statuses["access-railway"] == statuses["access-github"] == cert.MET
    assert statuses["access-sentry"] == cert.NOT_MET and written["sign_off"]["trainee"] == "Bia Costa"
    assert written["sign_off"]["certification"] == "" and written["result"] == cert.NEEDS_REVIEW


def test_a_trainees_kernel_needs_no_trainer_code():
    probe = ("import sys, course.certification; "
             "print(sorted(m for m in ('nbgrader', 'course.trainer', 'course.reference', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import course

    assert "certification" in course.TRAINEE_PARTS and "incident_template.py" in course.TRAINEE_PARTS
    assert "m7_certification" not in ASSIGNMENTS  # not a graded module: the generic tests skip it
