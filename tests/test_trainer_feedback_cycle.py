"""A small cohort through nbgrader's whole cycle for one module: submit (nbgrader's own, to the
local exchange), collect, autograde, generate, release and fetch feedback, then export.

- cycle-ana: honest; her written answer waits for the trainer, so her feedback waits too.
- cycle-ben: changed his first answer to one quiz by hand before submitting: FLAGGED.
- cycle-cy: his folder was put into submitted/ by hand, without nbgrader's submission files:
  his feedback cannot be released, and that must not stop anyone else's.
- cycle-dee: on the roster, submitted nothing.
"""
from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbgrader.utils import notebook_hash
from traitlets.config import Config

from course.trainer.cohort import demo
from course.trainer.cohort.api import open_course
from harness import Trainee, failure_log

pytestmark = pytest.mark.slow
MODULE = "m5_troubleshooting"
TAMPERED = "m5-jwt-severity"  # ben's first answer P0, changed by hand to P1 (the key)
WRITTEN = "m5-diagnosis"  # the module's manually graded answer


def trainee_config(api, home: Path, student: str) -> Config:
    return demo.trainee_config(api, home, student, MODULE)


def as_trainee(config: Config, step: str) -> None:
    """``nbgrader submit`` or ``nbgrader fetch_feedback``, through nbgrader's exchange classes."""
    factory = ExchangeFactory(config=config)
    app = getattr(factory, step)(coursedir=CourseDirectory(config=config),
                                 authenticator=Authenticator(config=config), config=config)
    app.start()


def work_on(trainee: Trainee, root: Path, scratch: Path) -> Path:
    """The trainee's own folder with the module worked on (the harness's work, not yet handed in)."""
    desk = scratch / trainee.name
    desk.mkdir()
    for part in ("release", "source"):
        (desk / part).symlink_to(root / part)
    folder = trainee.submit(desk, MODULE)  # desk/submitted/<name>/<module>: their working copy
    for name in ("timestamp.txt", "submission_secret.txt"):
        (folder / name).unlink()  # nbgrader submit writes its own
    return folder


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=dict(os.environ),
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cycle(course, tmp_path_factory):
    """The whole cycle, run once; each test below checks one part of what it left."""
    root, _ = course
    api = open_course(root)  # the course's own settings, whatever another test set on the shared one
    scratch = tmp_path_factory.mktemp("trainee-desks")
    if not (Path(api.exchange_root) / api.course_id / "outbound" / MODULE).is_dir():
        assert api.release_assignment(MODULE)["success"]
    ana = work_on(Trainee("cycle-ana"), root, scratch)
    ben = work_on(Trainee("cycle-ben", solve=False, wrong_quizzes=frozenset({TAMPERED})), root, scratch)
    answers = json.loads((ben / "answers.json").read_text())
    assert answers["questions"][TAMPERED][0]["answer"] != "P1"
    answers["questions"][TAMPERED][0]["answer"] = "P1"
    (ben / "answers.json").write_text(json.dumps(answers))
    homes = {folder.parent.name: folder.parent for folder in (ana, ben)}
    for student, home in homes.items():
        as_trainee(trainee_config(api, home, student), "Submit")
    collected = api.collect(MODULE)
    assert collected["success"], collected.get("log")
    cy = Trainee("cycle-cy").submit(root, MODULE)  # placed by hand: no nbgrader submission files
    for name in ("timestamp.txt", "submission_secret.txt"):
        (cy / name).unlink()
    graded = api.autograde(MODULE, "cycle-*")
    assert graded["success"], graded.get("log")

    run = dict(root=root, api=api, homes=homes)
    run["refused"] = api.generate_feedback(MODULE, "cycle-ana")  # her written answer waits
    run["page_while_refused"] = list((root / "feedback" / "cycle-ana" / MODULE).glob("*.html"))
    with api.gradebook as gb:  # the trainer grades it, as the formgrader saves a score
        grade = gb.find_grade(WRITTEN, MODULE, MODULE, "cycle-ana")
        grade.manual_score, grade.needs_manual_grade = 2.0, False
        gb.db.commit()
    # ben left the written answer blank: nothing waits for the trainer
    run["made"] = {student: api.generate_feedback(MODULE, student) for student in homes}
    run["forced"] = nbgrader(root, "generate_feedback", MODULE, "--student", "cycle-cy",
                             "--RequireManualGrades.allow_ungraded=True")
    run["released"] = api.release_feedback(MODULE)
    for student, home in homes.items():
        as_trainee(trainee_config(api, home, student), "FetchFeedback")
    return run


def page(run, student: str) -> Path:
    return run["root"] / "feedback" / student / MODULE / f"{MODULE}.html"


def graded_outputs(root: Path, student: str, grade_id: str) -> list:
    notebook = json.loads((root / "autograded" / student / MODULE / f"{MODULE}.ipynb").read_text())
    [cell] = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id]
    return [dict(o, text="".join(o["text"])) if "text" in o else o for o in cell["outputs"]]


def page_text(run, student: str) -> str:
    """A feedback page as its reader sees it: no tags, no styles, entities decoded."""
    text = page(run, student).read_text(encoding="utf-8")
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_submissions_are_collected_with_nbgrader_submission_files(cycle):
    for student in ("cycle-ana", "cycle-ben"):
        folder = cycle["root"] / "submitted" / student / MODULE
        assert (folder / "timestamp.txt").is_file() and (folder / "submission_secret.txt").is_file()


def test_graded_quiz_cells_show_the_committed_answer_and_flag_the_hand_edit(cycle):
    ana = graded_outputs(cycle["root"], "cycle-ana", TAMPERED)
    assert ana[0]["text"].startswith(f"[quiz {TAMPERED}] first answer: P1 (correct)")
    ben = graded_outputs(cycle["root"], "cycle-ben", TAMPERED)
    assert ben[0]["text"].startswith(f"FLAGGED [quiz {TAMPERED}]"), ben
    assert "P1" in ben[0]["text"] and "(correct)" not in ben[0]["text"]
    assert ben[-1]["evalue"].startswith(f"FLAGGED: quiz {TAMPERED}:")


def test_a_flagged_submission_is_flagged_in_the_gradebook_with_its_reason_first(cycle):
    with cycle["api"].gradebook as gb:
        ben = gb.find_submission_notebook(MODULE, MODULE, "cycle-ben")
        reasons = [c.auto_comment for c in ben.comments if c.auto_comment and "FLAGGED" in c.auto_comment]
        assert ben.flagged and len(reasons) == 1
        assert reasons[0].startswith(f"FLAGGED: quiz {TAMPERED}: the answer file was changed by hand")
        assert not gb.find_submission_notebook(MODULE, MODULE, "cycle-ana").flagged


def test_feedback_waits_for_written_answers_unless_forced(cycle):
    refused = cycle["refused"]
    assert not refused["success"] and not cycle["page_while_refused"]
    assert f"feedback NOT generated for cycle-ana ({MODULE}/{MODULE})" in refused["log"]
    assert WRITTEN in refused["log"]
    for student, made in cycle["made"].items():  # once graded
        assert made["success"], made.get("log")
        assert page(cycle, student).is_file()
    assert cycle["forced"].returncode == 0, failure_log(cycle["forced"].stderr)
    assert page(cycle, "cycle-cy").is_file()


def test_feedback_pages_show_quiz_calls_and_answers_without_keys(cycle):
    ana, ben = page_text(cycle, "cycle-ana"), page_text(cycle, "cycle-ben")
    for text in (ana, ben):
        assert "key=" not in text and "sealed:" not in text and "answer=" not in text
        assert "quiz.single_choice" in text  # the call itself is still there
    assert f"[quiz {TAMPERED}] first answer: P1 (correct)" in ana
    flagged = [line for line in ben.splitlines() if f"[quiz {TAMPERED}]" in line]
    assert flagged and all("(correct)" not in line for line in flagged) and "FLAGGED" in flagged[0]


def test_release_skips_a_submission_without_its_secret_and_trainees_fetch_theirs(cycle):
    released = cycle["released"]
    assert not released["success"]  # said loudly, after the others were released
    assert "feedback NOT released for cycle-cy" in released["log"]
    api = cycle["api"]
    outbound = Path(api.exchange_root) / api.course_id / "feedback"
    for student, home in cycle["homes"].items():
        secret = (cycle["root"] / "submitted" / student / MODULE / "submission_secret.txt").read_text()
        ours = page(cycle, student).read_bytes()
        assert (outbound / f"{notebook_hash(secret=secret, notebook_id=MODULE)}.html").read_bytes() == ours
        [fetched] = (home / MODULE / "feedback").glob(f"*/{MODULE}.html")
        assert fetched.read_bytes() == ours


def test_export_writes_per_question_scores_totals_and_roster_names(cycle, tmp_path):
    root = cycle["root"]
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email\ncycle-ana,Ana,Lima,ana@example.com\n"
                      "cycle-ben,Ben,Costa,\ncycle-cy,Cy,Dias,\ncycle-dee,Dee,Reis,\n")
    imported = nbgrader(root, "db", "student", "import", str(roster))
    assert imported.returncode == 0, failure_log(imported.stderr)
    exported = nbgrader(root, "export", "--to", str(tmp_path / "grades.csv"))
    assert exported.returncode == 0, failure_log(exported.stderr)
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = {row["student_id"]: row for row in csv.DictReader(fh)}
    header = list(next(iter(rows.values())))
    column = {name.split(" (max")[0]: name for name in header}
    m5_total, m2_total, total = column[f"{MODULE} total"], column["m2_sla_severity total"], column["total"]
    m2_cells = [name for name in header if name.startswith("m2_sla_severity/")]
    ana, ben, cy, dee = (rows[f"cycle-{n}"] for n in ("ana", "ben", "cy", "dee"))
    assert (ana["first_name"], ana["last_name"], ana["email"]) == ("Ana", "Lima", "ana@example.com")
    assert ana[f"{MODULE} status"] == "graded" and ana[column[f"{MODULE}/{WRITTEN}"]] == "2"
    assert ana[column[f"{MODULE}/{TAMPERED}"]] == "1" and float(ana[m5_total]) > 2
    assert ana["m2_sla_severity status"] == "not submitted"
    assert m2_cells and all(ana[name] == "" for name in m2_cells) and ana[m2_total] == ""
    assert ana[total] == ana[m5_total]  # the module not submitted is empty, not 0.0
    assert "flagged" in ben[f"{MODULE} status"] and ben[column[f"{MODULE}/{TAMPERED}"]] == "0"
    assert cy[f"{MODULE} status"] == "ungraded answers" and cy[column[f"{MODULE}/{WRITTEN}"]] == ""
    assert dee["first_name"] == "Dee" and dee[f"{MODULE} status"] == "not submitted" and dee[total] == ""
