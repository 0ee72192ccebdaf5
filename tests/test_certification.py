"""Module 7, certification: the guide's checklist, its mapping of every practical exercise to the
guide's steps (the table of docs/certification.md), the tool's proposal and the trainer's sign-off.

A simulated cohort is written straight into a gradebook (some ready, some not, one graded with
problems, one waiting for a written answer, one with nothing submitted); four more trainees hand
in Module 1 for real and are autograded (perfect, one slip, blank, an answer file edited by hand)
and walk through `python -m course certify` to the trainer's sign-off. The notebook runs headless
for the trainer, and for a trainee in a workspace laid out as `make start` lays it out, on the
trainee's own kernel."""
from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.api import Gradebook
from traitlets.config import Config

from harness import (ASSIGNMENTS, REPO, Trainee, grade_written_answers, launch_from_a_copy, nbgrader_meta,
                     notebooks)
from course import certification as cert
from course.trainer.cohort import cli
from course.trainer.cohort.api import open_course
from course.trainer.cohort.certification import certify_cohort, latest_signoffs
from course.trainer.cohort.demo import forge

pytestmark = pytest.mark.slow

NOTEBOOK = REPO / "course" / "certification" / "m7_certification.ipynb"
DOCS = REPO / "docs" / "certification.md"
SIMULATED = ["ana", "bruno", "carla", "diego", "eduarda", "fabio"]
WALK = ["perfect", "slip", "blank", "flagged"]  # Module 1 handed in and autograded for real
EVERYONE = SIMULATED + WALK


def assignment(number: int) -> str:
    return next(name for name in ASSIGNMENTS if cert.module_number(name) == number)


def source_cells(root: Path, name: str) -> dict[str, dict]:
    """{grade id: nbgrader metadata} of the graded cells of a module's source notebooks."""
    return {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c) for nb in notebooks(root / "source" / name).values()
            for c in nb.cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("grade_id")}


def headings_of(root: Path, name: str) -> dict[str, list[str]]:
    """{exercise: [grade ids]} of the cells under headings naming "Exercise X.Y"."""
    found = {}
    for path in (root / "source" / name).glob("*.ipynb"):
        for exercise, cells in cert.exercise_cells(json.loads(path.read_text())).items():
            found.setdefault(exercise, []).extend(cells)
    return found


def module_of(exercise: str) -> str:
    return assignment(next(i.module for i in cert.ITEMS if i.exercise == exercise))


# -- the mapping: docs table, code, source notebooks ----------------------------------------------------
def test_the_guides_items():
    assert [i.id for i in cert.ITEMS if i.group == cert.PRACTICAL] == [
        "exercise-1.1", "exercise-2.1", "exercise-3.1", "exercise-3.2", "exercise-5.1", "exercise-6.1"]
    assert len([i for i in cert.ITEMS if i.group == cert.KNOWLEDGE]) == 6 and len(cert.ACCESS_ITEMS) == 4
    assert set(cert.EXERCISES) == {i.exercise for i in cert.ITEMS if i.exercise}
    # 1.1 has the guide's three validation questions and not the written what-if,
    # 3.2 the deployments-in-7-days and redeploy questions
    assert {"m1-pool-max", "m1-bullmq-purpose", "m1-external-apis"} <= set(cert.EXERCISES["1.1"])
    assert "m1-redis-down" not in cert.EXERCISES["1.1"]
    assert {"m3-deploys-test", "m3-redeploy", "m3-memory-now"} <= set(cert.EXERCISES["3.2"])
    from course.trainer.cohort.certification import Certification

    assert Certification().exercises == cert.EXERCISES and Certification().practical_threshold == 0.8


def docs_rows(section: str, columns: int) -> list[list[str]]:
    """The rows of the first table after the heading ``section`` in docs/certification.md."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"\n{section}\n")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if rows and not line.startswith("|"):
            break
        if line.startswith("| Exercise"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            assert len(cells) == columns, line
            rows.append(cells)
    return rows


def ids_in(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([^`]+)`", cell))


def test_the_docs_table_is_the_code_mapping():
    documented = [(item.removeprefix("Exercise "), step, ids_in(cells), note)
                  for item, step, cells, note in docs_rows("## Which cells make each exercise", 4)]
    coded = [(s.exercise, s.step, s.cells, s.note) for s in cert.GUIDE_STEPS]
    for row in documented:
        assert row in coded, f"docs/certification.md has a row the code (GUIDE_STEPS) lacks: {row}"
    for row in coded:
        assert row in documented, f"GUIDE_STEPS has a row docs/certification.md lacks: {row}"
    left_out = {ids_in(cell)[0]: (item.removeprefix("Exercise "), why)
                for item, cell, why in docs_rows("### Cells left out on purpose", 3)}
    assert left_out == cert.EXCLUDED, "docs/certification.md's cells left out differ from EXCLUDED"
    assert "docs/certification.md" in (REPO / "README.md").read_text(encoding="utf-8")


def test_every_mapped_id_exists_in_the_source_notebooks():
    missing = []
    for step in cert.GUIDE_STEPS:
        cells = source_cells(REPO, module_of(step.exercise))
        missing += [f"{cell} (Exercise {step.exercise}, {step.step!r})" for cell in step.cells if cell not in cells]
    for cell, (exercise, _) in cert.EXCLUDED.items():
        if cell not in source_cells(REPO, module_of(exercise)):
            missing.append(f"{cell} (left out of Exercise {exercise})")
    assert not missing, ("grade ids of docs/certification.md not in source/ (renamed or removed? update the "
                         "table and course.certification GUIDE_STEPS / EXCLUDED): " + "; ".join(missing))


def test_no_practical_item_needs_an_optional_section():
    """Optional sections go beyond the guide: no guide step may be assessed there."""
    optional = {name: set(cert.optional_cells(json.loads(path.read_text(encoding="utf-8"))))
                for name in ASSIGNMENTS for path in (REPO / "source" / name).glob("*.ipynb")}
    found = [f"{cell} (Exercise {step.exercise}, {step.step!r})" for step in cert.GUIDE_STEPS
             for cell in step.cells if cell in optional[module_of(step.exercise)]]
    assert not found, "mapped cells in optional sections: " + "; ".join(found)
    assert sum(map(len, optional.values())) >= 10  # the modules do have optional sections


def test_knowledge_leaves_the_optional_sections_out():
    item = next(i for i in cert.ITEMS if i.group == cert.KNOWLEDGE and i.module == 2)
    cells = {"core": (8.0, 10.0), "extra": (0.0, 10.0)}
    skipped = cert.ModuleResult("m2_sla_severity", "graded", 8.0, 20.0, cells, optional=["extra"])
    assert cert.knowledge(item, skipped).status == cert.MET  # 8 of 10 on the path: 80 %
    assert "outside the optional sections" in cert.knowledge(item, skipped).reason
    everything = cert.ModuleResult("m2_sla_severity", "graded", 8.0, 20.0, cells)
    assert cert.knowledge(item, everything).status == cert.NOT_MET  # 8 of 20 when all counts
    slipped = cert.ModuleResult("m2_sla_severity", "graded", 7.0, 20.0, {**cells, "core": (7.0, 10.0)},
                                optional=["extra"])
    assert cert.knowledge(item, slipped).status == cert.NOT_MET


def test_every_graded_cell_of_an_exercise_is_mapped_or_left_out():
    """A cell added under an "Exercise X.Y" heading (a quiz for a step not practised yet, say) must
    be placed in the table, or left out on purpose."""
    unplaced = []
    for exercise in cert.EXERCISES:
        name = module_of(exercise)
        cells = source_cells(REPO, name)
        for cell in headings_of(REPO, name).get(exercise, []):
            autograded = not cells[cell].get("solution")
            if autograded and cell not in cert.EXERCISES[exercise] and cell not in cert.EXCLUDED:
                unplaced.append(f"{cell} (under Exercise {exercise} in {name})")
    assert not unplaced, ("graded cells under an exercise's heading that docs/certification.md neither maps "
                          "nor leaves out (add each to its guide step, or to the cells left out): "
                          + "; ".join(unplaced))


def test_each_exercise_is_worth_something_and_a_slip_is_not_fatal():
    for exercise, cells in cert.EXERCISES.items():
        points = source_cells(REPO, module_of(exercise))
        total = sum(points[c]["points"] for c in cells if c in points)
        smallest_quiz = min((points[c]["points"] for c in cells if c in points), default=0)
        assert total > 0, exercise
        assert total - smallest_quiz >= cert.PRACTICAL_THRESHOLD * total, \
            f"Exercise {exercise}: one slip on a {smallest_quiz}-point cell drops below the threshold"


# -- a simulated cohort, written straight into a gradebook ---------------------------------------------
# Each trainee: module number -> what happened to it. "full": every point; "short:<cells>": those
# cells earn nothing; "low": half the points of every cell; "flagged"; "ungraded": written answers
# waiting; absent: not submitted.
COHORT = {
    "ana": {m: "full" for m in range(1, 7)},                                   # ready for sign-off
    "bruno": {1: "full", 2: "short:m2-ex21-pdf", 3: "full", 4: "full", 5: "low", 6: "full"},
    "carla": {**{m: "full" for m in range(1, 6)}, 6: "flagged"},               # graded with problems
    "diego": {},                                                               # nothing submitted
    "eduarda": {**{m: "full" for m in range(1, 7)}, 5: "ungraded"},           # a written answer waits
    "fabio": {m: "full" for m in (1, 2, 4, 5, 6)},                             # never handed in Module 3
    # the walk: Module 1 is graded for real (walk_cohort), the others simulated
    "perfect": {m: "full" for m in range(2, 7)},
    "slip": {m: "full" for m in range(2, 7)},
    "flagged": {m: "full" for m in range(2, 7)},
    "blank": {},
}
ACCESS = {"ana": "yes,yes,yes,yes", "bruno": "yes,no,yes,yes", "carla": "yes,yes,yes,yes",
          "eduarda": "yes,yes,yes,yes", "fabio": "yes,yes,yes,yes", "perfect": "yes,yes,yes,yes",
          "slip": "yes,yes,yes,yes", "flagged": "yes,yes,yes,yes"}


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
            points = {name: meta["points"] for name, meta in source_cells(root, assignment(item.module)).items()}
            cells = cert.EXERCISES[item.exercise]
            short = set(what[6:].split(",")) if what.startswith("short:") else set()
            earned = sum(points[c] / 2 if what == "low" else 0 if c in short else points[c] for c in cells)
            met = earned >= cert.PRACTICAL_THRESHOLD * sum(points[c] for c in cells)
            statuses[item.id] = cert.MET if met else cert.NOT_MET
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


def test_the_cohort_agrees_item_by_item_with_the_gradebook(cohort_course):
    config = Config()
    config.Certification.trainer_name = "Rita Trainer"
    config.Certification.notes = {"carla": "look at the flag first"}
    cohort = certify_cohort(cohort_course, config=config, students=SIMULATED, output="certification-simulated")
    table = cohort.table.set_index("student_id")
    assert sorted(table.index) == sorted(SIMULATED)
    for student in SIMULATED:
        want = expected(cohort_course, student)
        got = {item.id: table.loc[student, item.id] for item in cert.ITEMS}
        assert got == want, (student, {k: (got[k], want[k]) for k in want if got[k] != want[k]})
    # the tool proposes; nobody is certified before the trainer signs
    assert table.loc["ana", "result"] == cert.READY and table.loc["ana", "items_met"] == 16
    assert {table.loc[s, "result"] for s in ["bruno", "carla", "diego", "eduarda", "fabio"]} == {cert.NOT_YET}
    assert table.loc["bruno", "exercise-2.1"] == cert.MET  # one of 8 points short: 88 %, above 80 %
    assert "short in m2-ex21-pdf" in cohort.checklists["bruno"].items[7].reason
    assert table.loc["ana", "practical"] == "6/6" and table.loc["bruno", "access"] == "3/4"
    assert "flagged" in cohort.checklists["carla"].items[5].reason  # knowledge-6 says why
    assert any("was not submitted" in r for r in cohort.checklists["diego"].reasons)
    assert any("not graded yet" in r for r in cohort.checklists["eduarda"].reasons)
    # the files: the CSV says the same, each trainee has a printable page with empty sign-off boxes
    with open(cohort.paths["cohort"], newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert all(rows[s]["result"] == table.loc[s, "result"] for s in SIMULATED)
    page = cohort.paths["carla.html"].read_text()
    assert "Trainer Name: Rita Trainer" in page and "[ ] Approved [ ] Needs Review" in page
    assert "look at the flag first" in page and "Trainee Name: Carla Silva" in page and "needs review" in page
    assert "Proposal: <b>ready for sign-off</b>" in cohort.paths["ana.html"].read_text()
    assert json.loads(cohort.paths["ana.json"].read_text())["result"] == cert.READY
    assert cohort.paths["scores_per_module.png"].stat().st_size > 5000
    assert cohort.paths["items_missed.png"].stat().st_size > 5000


def test_the_rule_is_configurable(cohort_course):
    config = Config()
    config.Certification.threshold = 0.4            # bruno's half marks are enough for knowledge now
    config.Certification.practical_threshold = 1.0  # every point of an exercise
    config.Certification.exercises = {"2.1": ["m2-ex21-login", "m2-ex21-pool"]}  # the pdf cell left out
    config.Certification.access = {"bruno": ["sentry"]}
    cohort = certify_cohort(cohort_course, config=config, output="certification-lenient", students=["bruno"])
    bruno = cohort.table.set_index("student_id").loc["bruno"]
    assert bruno["knowledge-5"] == cert.MET and bruno["exercise-2.1"] == cert.MET
    assert bruno["access-sentry"] == cert.MET and bruno["exercise-5.1"] == cert.NOT_MET  # half a cell is short
    assert bruno["result"] == cert.NOT_YET  # Exercise 5.1 still short
    assert (cohort_course / "certification-lenient" / "cohort.csv").is_file()
    strict = Config()
    strict.Certification.practical_threshold = 1.0
    cohort = certify_cohort(cohort_course, config=strict, write=False, students=["bruno"])
    assert cohort.table.set_index("student_id").loc["bruno", "exercise-2.1"] == cert.NOT_MET


# -- the walk: four trainees hand in Module 1 for real, the trainer signs --------------------------------
@pytest.fixture(scope="module")
def walk_cohort(cohort_course, monkeypatch_module):
    """perfect, slip (m1-pool-max wrong on the first try), blank (nothing done) and flagged (a
    committed answer changed by hand in answers.json): Module 1 autograded, written answers graded."""
    root = cohort_course
    monkeypatch_module.setenv("NBGRADER_EXCHANGE", str(root / "exchange"))
    api = open_course(root)
    name = assignment(1)
    trainees = {"perfect": Trainee("perfect"), "slip": Trainee("slip", wrong_quizzes=frozenset({"m1-pool-max"})),
                "blank": Trainee("blank", solve=False, answer_quizzes=False), "flagged": Trainee("flagged")}
    for student, trainee in trainees.items():
        folder = trainee.submit(root, name)
        if student == "flagged":
            forge(folder)
        assert api.autograde(name, student)["success"], student
        grade_written_answers(root, name, student, fraction=0.0 if student == "blank" else 1.0)
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def certify(root: Path, *args: str, capsys) -> tuple[int, str]:
    code = cli.main(["certify", "--course", str(root), *args])
    return code, capsys.readouterr().out


def test_a_cohort_walks_through_to_the_trainers_sign_off(walk_cohort, capsys):
    root = walk_cohort
    cohort = certify_cohort(root, students=WALK, write=False)
    result = {s: cohort.checklists[s].result for s in WALK}
    assert result == {"perfect": cert.READY, "slip": cert.READY, "blank": cert.NOT_YET, "flagged": cert.NOT_YET}
    slip = {r.item.id: r for r in cohort.checklists["slip"].items}
    assert slip["exercise-1.1"].status == cert.MET and "short in m1-pool-max" in slip["exercise-1.1"].reason
    blank = {r.item.id: r for r in cohort.checklists["blank"].items}
    assert blank["knowledge-1"].status == blank["exercise-1.1"].status == cert.NOT_MET
    assert blank["knowledge-1"].reason.startswith("0 of ")
    assert blank["knowledge-2"].status == cert.NOT_STARTED and blank["access-railway"].status == cert.NOT_MET
    flagged = {r.item.id: r for r in cohort.checklists["flagged"].items}
    assert flagged["knowledge-1"].status == flagged["exercise-1.1"].status == cert.REVIEW
    assert "changed by hand" in flagged["exercise-1.1"].reason and flagged["knowledge-2"].status == cert.MET

    # the table: every trainee, with the reasons of those not yet
    code, out = certify(root, capsys=capsys)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in EVERYONE}
    assert "ready for sign-off  16/16" in lines["perfect"] and "ready for sign-off" in lines["slip"]
    assert "not yet" in lines["blank"] and "not yet" in lines["flagged"]
    why = out.split("Not yet, and why:")[1]
    assert "blank:" in why and "m2_sla_severity was not submitted" in why and "changed by hand" in why
    assert 'python -m course certify --approve STUDENT --notes "..."' in out

    # the trainer decides: approves the ready, refuses to approve the blank, asks the flagged for review
    code, out = certify(root, "--approve", "perfect", "--notes", "walked through 6.1 with me",
                        "--trainer", "Rita Trainer", "--date", "2026-11-30", capsys=capsys)
    assert code == 0 and "perfect: signed Approved by Rita Trainer on 2026-11-30" in out
    assert "perfect: certified; printable checklist: certification/perfect.html" in out
    code, out = certify(root, "--approve", "blank", "--notes", "?", capsys=capsys)
    assert code == 1 and out.startswith("blank: NOT approved: not ready for sign-off (")
    assert "--force" in out
    code, out = certify(root, "--needs-review", "flagged", "--notes", "answers.json edited: talk first",
                        "--trainer", "Rita Trainer", capsys=capsys)
    assert code == 0 and "flagged: not yet" in out
    with pytest.raises(SystemExit, match="no trainee 'nobody'"):
        cli.main(["certify", "--course", str(root), "--approve", "nobody"])

    signed = latest_signoffs(root / "certification" / "signoffs.json")
    assert set(signed) == {"perfect", "flagged"}
    assert {k: signed["perfect"][k] for k in ("decision", "trainer", "date", "notes", "forced")} == {
        "decision": cert.APPROVED, "trainer": "Rita Trainer", "date": "2026-11-30",
        "notes": "walked through 6.1 with me", "forced": False}
    cohort = certify_cohort(root, students=WALK)
    result = {s: cohort.checklists[s].result for s in WALK}
    assert result == {"perfect": cert.CERTIFIED, "slip": cert.READY, "blank": cert.NOT_YET, "flagged": cert.NOT_YET}
    assert cohort.checklists["flagged"].reasons[0] == \
        "the trainer signed Needs Review by Rita Trainer on " + signed["flagged"]["date"] + ": answers.json edited: talk first"
    page = (root / "certification" / "perfect.html").read_text()
    assert "[x] Approved [ ] Needs Review" in page and "Trainer Name: Rita Trainer" in page
    assert "Result: <b>certified</b>" in page and "walked through 6.1 with me" in page
    assert "[ ] Approved [x] Needs Review" in (root / "certification" / "flagged.html").read_text()
    assert "[ ] Approved [ ] Needs Review" in (root / "certification" / "slip.html").read_text()

    # forced: the record says so
    code, out = certify(root, "--approve", "blank", "--force", "--notes", "certified elsewhere", capsys=capsys)
    assert code == 0 and "(forced: not ready for sign-off)" in out
    assert latest_signoffs(root / "certification" / "signoffs.json")["blank"]["forced"] is True


# -- the notebook ---------------------------------------------------------------------------------------
def run_notebook(folder: Path, kernel: str = "python3", **parameters) -> nbformat.NotebookNode:
    nb = nbformat.read(folder / NOTEBOOK.name if (folder / NOTEBOOK.name).is_file() else NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\n" + "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    NotebookClient(nb, timeout=300, kernel_name=kernel, resources={"metadata": {"path": str(folder)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [(o.ename, o.evalue, o.traceback[-3:]) for o in errors]
    return nb


def printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


def test_the_notebook_runs_headless_for_the_trainer(cohort_course):
    nb = run_notebook(cohort_course)  # MODE auto, in the course folder: the trainer's
    shown = printed(nb)
    assert "Trainer: the checklists of the cohort" in shown
    with open(cohort_course / "certification" / "cohort.csv", newline="") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    counts = {result: sum(row["result"] == result for row in rows.values()) for result in cert.RESULTS}
    assert (f"{counts[cert.CERTIFIED]} certified, {counts[cert.READY]} ready for sign-off, "
            f"{counts[cert.NOT_YET]} not yet, of {len(rows)} trainees") in shown
    for student in SIMULATED:
        assert {item.id: rows[student][item.id] for item in cert.ITEMS} == expected(cohort_course, student)


def test_where_the_notebook_runs(tmp_path, monkeypatch):
    course_folder = tmp_path / "course"
    (course_folder / "source").mkdir(parents=True)
    (course_folder / "nbgrader_config.py").write_text("")
    workspace = course_folder / "workspace"  # make start: workspace/ inside the course folder
    (workspace / "m1_architecture").mkdir(parents=True)
    (workspace / "m1_architecture" / "m1_architecture.ipynb").write_text("{}")
    (workspace / cert.FOLDER).mkdir()
    assert cert.trainer_tools()  # this checkout has them
    place = cert.where_it_runs(workspace / cert.FOLDER)
    assert place.mode == "trainee" and place.workspace == workspace.resolve()
    assert cert.where_it_runs(course_folder).mode == "trainer"
    assert cert.where_it_runs(course_folder / "course" / "certification").course == course_folder.resolve()
    # make trainer: the notebook opened where it ships, in the checkout's course/certification/
    shipped = cert.where_it_runs(NOTEBOOK.parent)
    assert (shipped.mode, shipped.course) == ("trainer", REPO.resolve())
    monkeypatch.setattr(cert.workspace, "trainer_tools", lambda: False)  # a trainee's install
    assert cert.where_it_runs(course_folder).mode == "trainee"
    assert cert.where_it_runs(course_folder, mode="trainer").mode == "trainer"
    with pytest.raises(ValueError):
        cert.where_it_runs(tmp_path, mode="judge")


# -- a trainee's own preview --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded_m6(course):
    """A real Module 6 submission, autograded, its written answers graded, its feedback generated."""
    root, api = course
    trainee = Trainee("cert-trainee", wrong_quizzes=frozenset({"m6-ex61-follow-up"}))
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
    assert written["result"] == cert.NOT_YET
    items = {item["id"]: item for item in written["items"]}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        submission = gb.find_submission("m6_incident_response", student)
        score, top = submission.score, submission.max_score
        grades = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
    # the knowledge item counts the cells outside Module 6's optional section (the Redis night)
    optional = cert.optional_cells(json.loads((submitted / "m6_incident_response.ipynb").read_text(encoding="utf-8")))
    assert "m6-ex61-severity" in optional and "m6-sim-drill-test" not in optional
    score -= sum(grades[name][0] for name in optional if name in grades)
    top -= sum(grades[name][1] for name in optional if name in grades)
    knowledge = cert.MET if score >= 0.8 * top else cert.NOT_MET
    assert items["knowledge-6"]["status"] == knowledge
    assert f"{score:g} of {top:g} points outside the optional sections" in items["knowledge-6"]["reason"]
    six = cert.EXERCISES["6.1"]
    short = [name for name in six if grades[name][0] < grades[name][1]]
    assert short == ["m6-ex61-follow-up"]
    # one wrong first try in 6.1: still met at 80 %, and the reason names the cell
    assert items["exercise-6.1"]["status"] == cert.MET and "short in m6-ex61-follow-up" in items["exercise-6.1"]["reason"]
    assert items["knowledge-2"]["status"] == cert.NOT_MET and "not graded yet" in items["knowledge-2"]["reason"]
    assert "1 of " in items["knowledge-2"]["reason"] and "quiz answers committed, 1 marked right" in items["knowledge-2"]["reason"]
    # what is left of Exercise 2.1: the three quizzes not answered and the four written answers
    todo = items["exercise-2.1"]["reason"]
    assert "m2-ex21-login (quiz not answered)" in todo and "m2-ex21-typo (" not in todo
    assert "m2-ex21-login-why (your answer is still blank)" in todo
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
    import ipywidgets

    ipywidgets.Widget.close_all()  # no widget left for the interpreter's shutdown to close
    written = json.loads((workspace / "m7_certification" / "certification_checklist.json").read_text())
    statuses = {item["id"]: item["status"] for item in written["items"]}
    assert statuses["access-railway"] == statuses["access-github"] == cert.MET
    assert statuses["access-sentry"] == cert.NOT_MET and written["sign_off"]["trainee"] == "Bia Costa"
    assert written["sign_off"]["certification"] == "" and written["result"] == cert.NOT_YET


def test_the_trainee_notebook_runs_in_a_make_start_workspace(tmp_path, monkeypatch, data_cache):
    """`make start` (course.trainer.lab.launch): workspace/ inside the course folder, the trainee's kernel
    without course.trainer. The notebook picks the trainee's mode, lists what is left per exercise,
    and counts quizzes only (never Module 6's drill clock log)."""
    from course.trainer.lab import runtime as lab
    from course.quiz.drill import CLOCK_SUFFIX
    from course.quiz.store import AnswerStore

    launch = launch_from_a_copy(tmp_path, monkeypatch)
    monkeypatch.setattr(launch, "open_lab", lambda *how: None)
    launch.main([])
    workspace = tmp_path / "workspace"
    notebook_folder = workspace / cert.FOLDER
    assert (notebook_folder / NOTEBOOK.name).is_file()

    six = workspace / "m6_incident_response"
    store = AnswerStore(six / "answers.json")
    with monkeypatch.context() as patch:
        patch.setenv("ETP_VARIANTS", "off")
        store.record("m6-roles", {"x": "y"}, "x", False)
        store.record(f"m6-ex61-{CLOCK_SUFFIX}", {"step": "acknowledge", "decided_at": "00:12"}, "acknowledge 00:12", False)
    monkeypatch.setenv("JUPYTER_PATH", lab.trainee_lab_env(tmp_path / ".trainee")["JUPYTER_PATH"])
    nb = run_notebook(notebook_folder)  # MODE auto, the trainee's kernel (python3 in the trainee's Lab)
    assert f"Trainee: your checklist, from the module folders of {workspace}" in printed(nb)
    assert "this kernel has no trainer tools" in printed(nb)
    written = json.loads((notebook_folder / "certification_checklist.json").read_text())
    items = {item["id"]: item for item in written["items"]}
    quizzes = len([q for q in cert.notebook_todo(json.loads(next(six.glob("*.ipynb")).read_text()), [])[1]])
    assert f"1 of {quizzes} quiz answers committed, 0 marked right" in items["knowledge-6"]["reason"]
    assert "m6-ex61-follow-up (quiz not answered)" in items["exercise-6.1"]["reason"]
    assert "m6-sim-drill-test (its code above is still blank)" in items["exercise-6.1"]["reason"]
    assert "m1-variables-test (its code above is still blank)" in items["exercise-1.1"]["reason"]
    assert all(items[i.id]["status"] == cert.NOT_MET for i in cert.ITEMS if i.group != cert.ACCESS)
    assert written["result"] == cert.NOT_YET


def test_a_trainees_kernel_needs_no_trainer_code():
    probe = ("import sys, course.certification; "
             "print(sorted(m for m in ('nbgrader', 'course.trainer', 'course.trainer.reference', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import course

    assert {"certification", "incident_template.py"} <= {p.name for p in course.trainee_side()}
    assert "m7_certification" not in ASSIGNMENTS  # not a graded module: the generic tests skip it
