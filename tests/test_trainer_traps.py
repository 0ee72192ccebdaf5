"""The trainer's day without traps: a regrade keeps manual grades, a trainee handed in under
another id than their login is told apart from a copier, a kernel that cannot import the
course's trainee parts stops the run before the first trainee."""
from __future__ import annotations

import json
from datetime import timedelta
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course.trainer.cohort.api import open_course
from harness import REPO, Trainee

pytestmark = pytest.mark.slow
MODULE = "m5_troubleshooting"
WRITTEN = "m5-diagnosis"  # the module's manually graded answer


@pytest.fixture(scope="module")
def one_module(tmp_path_factory):
    """A course folder with Module 5 only, generated: (root, api)."""
    root = tmp_path_factory.mktemp("traps")
    (root / "source").mkdir()
    shutil.copytree(REPO / "source" / MODULE, root / "source" / MODULE)
    shutil.copy(REPO / "nbgrader_config.py", root)
    os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
    api = open_course(root)
    made = api.generate_assignment(MODULE, force=True)
    assert made["success"], made.get("log")
    return root, api


def grade_of(api, student: str):
    with api.gradebook as gb:
        grade = gb.find_grade(WRITTEN, MODULE, MODULE, student)
        comment = gb.find_comment(WRITTEN, MODULE, MODULE, student)
        return grade.manual_score, grade.needs_manual_grade, comment.manual_comment


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def test_a_forced_regrade_keeps_the_trainers_manual_grades(one_module):
    root, api = one_module
    Trainee("keep-ana").submit(root, MODULE)
    assert api.autograde(MODULE, "keep-ana")["success"]
    assert grade_of(api, "keep-ana")[1] is True  # her written answer waits for the trainer
    with api.gradebook as gb:  # the trainer grades it, as the formgrader saves it
        grade = gb.find_grade(WRITTEN, MODULE, MODULE, "keep-ana")
        grade.manual_score, grade.needs_manual_grade = 2.0, False
        gb.find_comment(WRITTEN, MODULE, MODULE, "keep-ana").manual_comment = "Good diagnosis."
        gb.db.commit()

    assert api.autograde(MODULE, "keep-ana", force=True)["success"]
    assert grade_of(api, "keep-ana") == (2.0, False, "Good diagnosis.")
    done = nbgrader(root, "autograde", MODULE, "--student", "keep-ana", "--force")  # nbgrader's own CLI
    assert done.returncode == 0, done.stderr[-2000:]
    assert grade_of(api, "keep-ana") == (2.0, False, "Good diagnosis.")


def test_a_changed_answer_is_opened_again_with_its_old_grade_kept(one_module):
    root, api = one_module
    folder = Trainee("keep-ben").submit(root, MODULE)
    assert api.autograde(MODULE, "keep-ben")["success"]
    with api.gradebook as gb:
        grade = gb.find_grade(WRITTEN, MODULE, MODULE, "keep-ben")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    notebook = folder / f"{MODULE}.ipynb"
    data = json.loads(notebook.read_text())
    [cell] = [c for c in data["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == WRITTEN]
    cell["source"] = "A new answer, handed in again."
    notebook.write_text(json.dumps(data))
    assert api.autograde(MODULE, "keep-ben", force=True)["success"]
    assert grade_of(api, "keep-ben")[:2] == (1.0, True)  # the trainer looks at the new answer


# -- the world follows the id the work is handed in under ------------------------------------------
def test_a_kernel_works_in_the_world_of_the_configured_student_id(tmp_path, monkeypatch):
    from course.data import world

    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'etp-ops-academy'\n"
        "c.CourseDirectory.student_id = 'roster-kim'\n")
    module = tmp_path / MODULE
    module.mkdir()
    monkeypatch.chdir(module)  # a kernel runs in the module's folder, the config is above it
    monkeypatch.delenv(world.TRAINEE_ENV, raising=False)
    monkeypatch.delenv(world.SEED_ENV, raising=False)
    monkeypatch.setenv(world.VARIANTS_ENV, "on")
    assert world.trainee_id() == "roster-kim"
    assert world.current().seed == world.seed_for("roster-kim")
    monkeypatch.setenv(world.TRAINEE_ENV, "hub-kim")  # on a hub, the hub user hands in
    assert world.trainee_id() == "hub-kim"


def test_a_wrong_id_reads_as_a_set_up_problem_and_a_classmates_world_as_a_copy():
    from course.data.world import seed_for
    from course.trainer.grading.variants import world_mismatch

    roster = {seed_for(name): name for name in ("kim", "lou")}
    laptop = seed_for("kim.laptop")
    said = world_mismatch("kim", [laptop], {str(laptop): "kim.laptop"}, roster, seed_for)
    assert said.startswith("answers committed as kim.laptop, handed in as kim: check the trainee's id")
    assert "copied" not in said
    copied = world_mismatch("kim", [seed_for("lou")], {}, roster, seed_for)
    assert "world of lou" in copied and "copied answers.json" in copied
    lying = world_mismatch("kim", [seed_for("lou")], {str(seed_for("lou")): "kim.laptop"}, roster, seed_for)
    assert "world of lou" in lying  # a name written in the file never hides a classmate's world
    unknown = world_mismatch("kim", [laptop], {}, roster, seed_for)
    assert "check the trainee's id" in unknown and "copied" not in unknown


def test_an_honest_trainee_under_another_login_is_told_to_check_the_id(one_module, monkeypatch):
    from course.data import world

    root, api = one_module
    monkeypatch.setenv(world.VARIANTS_ENV, "on")  # the trainee's kernel: their login's world
    monkeypatch.setenv(world.TRAINEE_ENV, "kim.laptop")
    monkeypatch.delenv(world.SEED_ENV, raising=False)
    Trainee("setup-kim")._submit(root, MODULE)  # handed in under the roster id
    monkeypatch.delenv(world.TRAINEE_ENV)
    assert api.autograde(MODULE, "setup-kim")["success"]
    with api.gradebook as gb:
        [notebook] = gb.find_submission(MODULE, "setup-kim").notebooks
        comments = " ".join(c.auto_comment or "" for c in notebook.comments)
        assert notebook.flagged
    assert "answers committed as kim.laptop, handed in as setup-kim: check the trainee's id" in comments
    assert "copied" not in comments, comments


def test_the_cohorts_bundle_asks_once_for_the_trainee_id_its_world_follows(tmp_path, monkeypatch):
    from course.data import world
    from course.data.handin import ID_ENV
    from course.trainer.cohort.bundle import start_script

    script = tmp_path / "start-lab.sh"
    script.write_text(start_script({}, ask_id=True).replace('exec jupyter lab "$@"', f'echo "${ID_ENV}"'))
    env = {k: v for k, v in os.environ.items() if k != ID_ENV}
    first = subprocess.run(["sh", str(script)], input="kim\n", capture_output=True, text=True, env=env)
    again = subprocess.run(["sh", str(script)], input="", capture_output=True, text=True, env=env)
    assert first.stdout.splitlines()[-1].endswith("kim") and again.stdout.strip() == "kim"
    monkeypatch.setenv(ID_ENV, "kim")
    monkeypatch.delenv(world.TRAINEE_ENV, raising=False)
    assert world.trainee_id() == "kim"


def test_autograde_refuses_in_one_line_when_a_graded_kernel_cannot_import_the_course(one_module, tmp_path):
    root, _ = one_module
    Trainee("pre-lee").submit(root, MODULE)
    spec = tmp_path / "kernels" / "python3"
    spec.mkdir(parents=True)
    launch = ("import sys; sys.modules['course'] = None; "  # an install whose `course` is not there
              "from ipykernel import kernelapp; kernelapp.launch_new_instance()")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", launch, "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python"}))
    env = dict(os.environ, JUPYTER_PATH=str(tmp_path), PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "course", "autograde", "--course", str(root),
                           "--student", "pre-lee", "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=600)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 2, done.stdout + done.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith(
        "autograde refused: a graded kernel cannot import the course's trainee parts (course ("), lines
    assert not (root / "autograded" / "pre-lee").exists()  # nobody graded to zero


# -- what the trainer reads --------------------------------------------------------------------------
def test_the_summary_header_counts_notebooks_not_problem_lines(monkeypatch):
    from course.trainer.grading import problems

    monkeypatch.setattr(problems, "_graded", [("ana", MODULE, MODULE), ("ben", MODULE, MODULE)])
    monkeypatch.setattr(problems, "_problems", [("ana", MODULE, MODULE, "one"), ("ana", MODULE, MODULE, "two")])
    header = problems.summary_lines([])[0]
    assert header.startswith("autograde summary: 2 notebook(s) graded this run, 1 with problems"), header


def test_an_interrupted_run_counts_what_it_graded_and_never_repeats_force(monkeypatch):
    from course.trainer.grading import parallel

    run = parallel.RunResult(plan=parallel.Plan([MODULE], {"ana", "ben"}, pending={MODULE: ["ana", "ben"]}),
                             outcomes=[parallel.Outcome("ana", MODULE, True, 4.0)], workers=2,
                             seconds=8.0, interrupted=True, log_path="log")
    monkeypatch.setattr(sys, "argv", ["course", "autograde", "--force", "--module", MODULE])
    lines = parallel.summary_lines([], run)
    assert "8.00 s per graded notebook" in lines[-2] and "0 MiB" not in lines[-2], lines
    assert "--force" not in lines[-1].split("(without")[0] and f"autograde --module {MODULE}" in lines[-1]


@pytest.mark.parametrize("sandboxed", [False, True], ids=["plain", "sandboxed"])
def test_a_dead_kernel_is_explained_by_its_signal_not_a_font_warning(tmp_path, sandboxed):
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    from course.trainer.grading.sandbox import Sandbox, SandboxedKernelManager

    sandbox = Sandbox()
    if sandboxed and not sandbox.status()[0]:
        pytest.skip(f"no sandbox here: {sandbox.status()[1]}")
    workdir, rundir = tmp_path / "work", tmp_path / "run"
    workdir.mkdir()
    rundir.mkdir()
    dies = ("import os, signal, sys\n"
            "os.write(2, b'Fontconfig error: No writable cache directories\\n')\n"
            "os.kill(os.getpid(), signal.SIGSEGV)")
    client = NotebookClient(new_notebook(cells=[new_code_cell(dies)]), kernel_name="python3",
                            timeout=60, kernel_manager_class=SandboxedKernelManager)
    km = client.create_kernel_manager()
    km.transport, km.ip = "ipc", str(rundir / "kernel")
    km.connection_file = str(rundir / "kernel.json")
    km.sandbox, km.workdir, km.rundir = (sandbox if sandboxed else None), workdir, rundir
    with pytest.raises(Exception):
        client.execute()
    said = km.last_words()
    assert "Fontconfig" not in said and "SIGSEGV" in said, said


def test_a_kernel_out_of_memory_says_so(tmp_path):
    from course.trainer.grading.sandbox import Sandbox, SandboxedKernelManager

    km = SandboxedKernelManager()
    km.rundir, km.sandbox = tmp_path, Sandbox(memory_mb=512)
    (tmp_path / km.LOG_NAME).write_text(
        "Fatal Python error: _PyMem_RawMalloc: Cannot allocate memory\n"
        "Matplotlib is building the font cache; this may take a moment.\n")
    said = km.last_words()
    assert said.startswith("out of memory (a graded kernel may use 512 MiB)") and "font" not in said, said


def test_the_audit_names_a_submission_without_an_answer_file(tmp_path, capsys):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from course.trainer.cohort.audit import main

    quiz = 'quiz.single_choice("q1", "Which?", options=["a", "b"], key=["0123"])'
    for module, source in (("m2", quiz), ("cert", "print('no quiz here')")):
        (tmp_path / "release" / module).mkdir(parents=True)
        nbformat.write(new_notebook(cells=[new_code_cell(source)]), tmp_path / "release" / module / "n.ipynb")
        (tmp_path / "submitted" / "ana" / module).mkdir(parents=True)
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "ana\tm2\tno answers.json handed in: every quiz of it scores zero" in out, out
    assert "\tcert\t" not in out


def test_a_notebook_that_could_not_be_graded_has_no_total_and_the_sheet_says_when_and_how_late(one_module):
    from course.trainer.cohort.cli import report_table
    from course.trainer.cohort.export import grade_sheet

    root, api = one_module
    Trainee("sheet-ann").submit(root, MODULE)
    broken = Trainee("sheet-bob").submit(root, MODULE) / f"{MODULE}.ipynb"
    broken.write_text('{"cells": [')  # no notebook nbgrader can read
    assert api.autograde(MODULE, "sheet-ann")["success"]
    assert not api.autograde(MODULE, "sheet-bob")["success"]
    with api.gradebook as gb:
        assignment = gb.find_assignment(MODULE)
        assignment.duedate = gb.find_submission(MODULE, "sheet-ann").timestamp - timedelta(seconds=90)
        gb.db.commit()
        header, rows = grade_sheet(gb, [MODULE], ["sheet-ann", "sheet-bob"])
    sheet = {row[0]: dict(zip(header, row)) for row in rows}
    ann, bob = sheet["sheet-ann"], sheet["sheet-bob"]
    total = [name for name in header if name.startswith(f"{MODULE} total")][0]
    overall = [name for name in header if name.startswith("total (max")][0]
    assert bob[f"{MODULE} status"] == "not graded" and bob[total] == "" and bob[overall] == "", bob
    assert ann[f"{MODULE} seconds late"] == "90" and ann[f"{MODULE} submitted at"].startswith("20"), ann
    assert float(ann[total]) >= 0 and ann[overall] == ann[total]
    _, report = report_table(api, root, [MODULE])
    [bob_row] = [row for row in report if row[0] == "sheet-bob"]
    assert bob_row[1:] == ["not graded", "-"], bob_row
    from course.trainer.cohort.certification import module_result

    with api.gradebook as gb:
        result = module_result(gb, MODULE, "sheet-bob", {})
    assert result.percent is None and result.state == "pending", result  # out of the cohort's mean


# -- explanations in a released notebook ------------------------------------------------------------
def test_a_released_quiz_shows_its_explanation_only_after_a_right_answer(tmp_path):
    from course.quiz import Quiz
    from course.quiz.widgets import view_for
    from course.trainer.grading.sealing import questions_in, seal_source

    source = ('quiz.single_choice("s", "Severity at {time}?", options=["P0", "P1", "P2"], answer="P1",'
              ' explanation="Login broken at {time}: P1.")')
    [released] = questions_in(seal_source(source))
    quiz = Quiz(tmp_path / "answers.json", facts={"time": "09:12"}, service=None)
    question = quiz.build("single_choice", "s", released.prompt, options=released.options,
                          key=released.key, explanation=released.explanation)
    view = view_for(question, quiz.store, service=None)
    view.box.send = lambda message: None
    view.box._handle_custom_msg({"event": "submit", "response": "P2"}, [])
    assert "P1." not in view.box.feedback and "once you find the right answer" in view.box.feedback
    view.box._handle_custom_msg({"event": "submit", "response": "P1"}, [])
    assert "Login broken at 09:12: P1." in view.box.feedback, view.box.feedback


def test_no_explanation_in_release_opens_without_a_right_answer():
    """What a released notebook gives away: each explanation is locked, no decoder in the bundle
    (``unseal_text``) reads it, and only an answer whose hash is the key opens it."""
    import base64
    import zlib

    import nbformat

    from course.quiz.keys import LOCKED_PREFIX, unlock_text, unseal_text
    from course.quiz.questions import MultipleSelect, Numeric, SingleChoice
    from course.trainer.grading.sealing import questions_in
    from harness import ASSIGNMENTS

    checked = 0
    for assignment in ASSIGNMENTS:
        for path in sorted((REPO / "release" / assignment).glob("*.ipynb")):
            text = path.read_text(encoding="utf-8")
            assert "sealed:" not in text, f"{path.name}: an explanation anyone can decode"
            for cell in nbformat.read(path, as_version=4).cells:
                for question in questions_in(cell.source) if cell.cell_type == "code" else []:
                    if not question.explanation:
                        continue
                    assert question.explanation.startswith(LOCKED_PREFIX), question.qid
                    assert unseal_text(question.explanation) == question.explanation
                    blob = base64.b64decode(question.explanation[len(LOCKED_PREFIX):])
                    with pytest.raises(zlib.error):
                        zlib.decompress(blob[2 + 32 * int.from_bytes(blob[:2], "big") + 16:])
                    if isinstance(question, SingleChoice):
                        opens = [o for o in question.options
                                 if unlock_text(question.explanation, question.qid, question.canonical(o))]
                        assert opens and all(question.is_correct(o) for o in opens), question.qid
                    elif isinstance(question, Numeric):
                        assert not question.explanation_after([-123456.0]), question.qid
                    elif isinstance(question, MultipleSelect):
                        assert not question.explanation_after([list(question.options)]) or \
                            question.is_correct(list(question.options)), question.qid
                    checked += 1
    assert checked > 20, checked
