"""A dishonest cohort, graded in one run per module (nbgrader's own CLI for one of them).

Every attacker submits no answers and no code besides the attack, so any point it earns is a
point the attack gained. Beside them: an honest trainee (graded last, so that any attack on other
folders happens before) and a blank one. Everyone works in one shared world: the attacks do not
depend on the world, a data-poisoning attacker then aims at the very files the honest trainee
reads, and the module's data and reference results are made once, not once per attacker
(per-trainee worlds are tests/test_variants_cohort.py's subject).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from course.data import cache, world
from course.trainer.grading.verdicts import Verdicts
from harness import ASSIGNMENTS, REPO, Trainee, autograded_points, failure_log, notebooks

pytestmark = pytest.mark.slow

VICTIM = "zz-honest"  # sorts last: nbgrader grades submissions in name order

# Module-specific reference shortcuts: full marks if the reference were importable.
REFERENCE_SHORTCUT = {
    "m1_architecture": ("m1-checks-solution", "m1-checks-test",
                        "from course.trainer.reference.platform import parse_health_checks\n"
                        "checks = parse_health_checks(HEALTH_CHECKS)\n"),
    "m2_sla_severity": ("m2-latency-solution", "m2-latency-test",
                        "from course.trainer.reference import slo as ref\n"
                        "requests = ref.parse_request_log(REQUEST_LOG)\n"
                        "api = ref.api_requests(requests)\n"
                        "api_p95_s = ref.api_p95_seconds(requests)\n"),
    "m3_monitoring": ("m3-top-errors-solution", "m3-top-errors-test",
                      "from course.trainer.reference.platform import top_errors as _top\n"
                      "def top_errors(events, since, until, environment='production', n=3):\n"
                      "    return _top(events, since, until, environment, n=n)\n"),
    "m4_procedures": ("m4-verify-solution", "m4-verify-test",
                      "from course.trainer.reference.auth import verify\n"),
    "m5_troubleshooting": ("m5-parse-bracketed-solution", "m5-parse-bracketed-test",
                           "from course.trainer.reference.logparse import parse_bracketed as _parse\n"
                           "def parse_bracketed(path):\n"
                           "    events = _parse(path)\n"
                           "    return events, events.attrs['malformed']\n"),
    "m6_incident_response": ("m6-ex61-alerts-solution", "m6-ex61-alerts-test",
                             "from course.trainer.reference import incident as ref\n"
                             "night_probes = ref.parse_probes(PROBE_LOG, *WINDOW)\n"
                             "outage_alerts = ref.outage_alerts\n"
                             "alerts = ref.outage_alerts(night_probes)\n"),
}

AST_TRANSFORMER = '''
import ast
class Forgive(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])
        node.body = [ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[]) for stmt in node.body]
        return ast.fix_missing_locations(node)
get_ipython().ast_transformers.append(Forgive())
'''

MONKEYPATCH = '''
import sys, types
fake = types.ModuleType("course.trainer.reference.judge")
fake.grade_quiz = fake.expect_close = fake.expect_one_of = lambda *a, **k: print("passed")
sys.modules["course.trainer.reference.judge"] = fake
import course.quiz.book as book
book.Quiz.grade = lambda self, qid: print("passed")
get_ipython().set_custom_exc((Exception,), lambda *a, **k: print("passed"))
print("passed")
'''

WRITE_OTHERS = '''
import glob, os, pathlib
targets = [pathlib.Path("../../../submitted/{victim}/{assignment}/answers.json"),
           pathlib.Path("{root}/submitted/{victim}/{assignment}/answers.json")]
for target in targets:
    try:
        target.write_text("{{}}")
    except OSError as err:
        print("blocked:", type(err).__name__)
'''

POISON_DATA = '''
import os
from course.data import cache
for name in os.listdir(cache.data_dir()):
    try:
        with open(os.path.join(cache.data_dir(), name), "w") as fh:
            fh.write("poisoned")
    except OSError as err:
        print("blocked:", type(err).__name__)
'''

# The grader's home: its Jupyter and nbgrader settings, keys and tokens. (Not the whole home: the
# sandbox shows its Python where that lives under the home, and copying it is only slow.)
STEAL_SECRETS = '''
import shutil
for source, target in [("{root}/gradebook.db", "stolen.db"), ("../../../gradebook.db", "stolen2.db"),
                       ("{root}/source", "stolen_source"), ("{home}/.jupyter", "stolen_jupyter"),
                       ("{home}/.ssh", "stolen_ssh"), ("{home}/.local/share/jupyter", "stolen_runtime")]:
    try:
        (shutil.copytree if not source.endswith(".db") else shutil.copy)(source, target)
    except OSError as err:
        print("blocked:", type(err).__name__)
open("planted.txt", "w").write("a file the trainee's code dropped")
'''

PRINT_HISTORY = '''
print(In)
print(list(globals()))
def spy(*args, **kwargs):
    print(In[-1], _ih[-1])
    raise RuntimeError("spying")
'''

MEMORY_HOG = '''
chunks = []
for _ in range(30):
    chunks.append(bytearray(1 << 30))
    chunks[-1][::4096] = b"x" * len(range(0, 1 << 30, 4096))
'''

FLOOD = 'print("x" * (50 << 20))'


def attack_cells(assignment: str, root: Path) -> dict[str, list[str]]:
    """Attacker name -> code cells it inserts after the setup cell."""
    fill = dict(root=root, victim=VICTIM, assignment=assignment, home=Path.home())
    return {
        "ast-transformer": [AST_TRANSFORMER],
        "monkeypatch": [MONKEYPATCH],
        "reference-import": ["import course.trainer.reference, course.trainer.reference.judge"],
        "write-others": [WRITE_OTHERS.format(**fill)],
        "poison-data": [POISON_DATA],
        "steal-secrets": [STEAL_SECRETS.format(**fill)],
        "print-history": [PRINT_HISTORY],
        "exit-kernel": ["import os\nos._exit(1)"],
        "memory-hog": [MEMORY_HOG],
        "surrogate": ['text = "\\ud800"\nprint(text)', "x = '\ud800'"],
        "flood": [FLOOD],
    }


def insert_cells(folder: Path, cells: list[str]) -> None:
    for path in folder.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        nb.cells[2:2] = [new_code_cell(code) for code in cells]
        # ASCII JSON: a lone surrogate travels as the escape "\ud800", as a crafted file holds it
        path.write_text(json.dumps(nb, ensure_ascii=True, indent=1), encoding="ascii")


def damage_answers(folder: Path, how: str) -> None:
    answers = folder / "answers.json"
    answers.unlink(missing_ok=True)
    if how == "directory":
        answers.mkdir()
    elif how == "surrogate":
        answers.write_text('{"format": "etp-academy-answers/1", "questions": {"\\ud800": []}}')
    elif how == "huge":
        with open(answers, "wb") as fh:
            fh.truncate(100 << 20)


def build_module_data(assignment: str, root: Path) -> None:
    """Generate the module's data, as its setup cell does, so the poisoning attack has a target."""
    for nb in notebooks(REPO / "source" / assignment).values():
        setup = [c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id", "").endswith("-setup")]
        Verdicts(setup, root / "no-answers.json")


def file_digests(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def data_state(folder: Path) -> dict[str, tuple]:
    """The data cache: a digest of each canonical file (every trainee here reads those), the size
    and time of change of the other worlds' files (reading them would count as a use and keep
    them from the cache's pruning)."""
    state = {}
    for path in sorted(folder.iterdir()):
        try:
            if cache.world_of(path.name) is None:
                state[str(path)] = ("sha256", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                info = path.stat()
                state[str(path)] = ("stat", info.st_size, info.st_mtime_ns)
        except (IsADirectoryError, FileNotFoundError):  # a folder, or a world the cache let go
            continue
    return state


# nbgrader's own CLI grades one module's hostile cohort; the course's parallel grader (the same
# preprocessors, in worker processes) grades the others, in about half the time.
NBGRADER_CLI_MODULE = "m2_sla_severity"


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ETP_CELL_TIMEOUT="20")
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)


def autograde(root: Path, assignment: str) -> subprocess.CompletedProcess:
    if assignment == NBGRADER_CLI_MODULE:
        return nbgrader(root, "autograde", assignment)
    env = dict(os.environ, ETP_CELL_TIMEOUT="20")
    return subprocess.run([sys.executable, "-m", "course", "autograde", "--course", str(root),
                           "--module", assignment, "--no-progress"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)


def grading_log(graded: subprocess.CompletedProcess) -> str:
    """nbgrader's log of the run: its stderr, or the parallel grader's log file it names."""
    found = re.findall(r"worker\(s\).*; log: (\S+)$", graded.stdout + graded.stderr, re.M)
    return Path(found[-1]).read_text(errors="replace") if found else graded.stderr


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def hostile_run(request, one_world_course, data_cache):
    assignment = request.param
    root, _ = one_world_course
    attacks = attack_cells(assignment, root)
    shortcut_cell, _, shortcut_code = REFERENCE_SHORTCUT[assignment]
    cohort = {name: Trainee(f"hostile-{name}", solve=False, answer_quizzes=False) for name in attacks}
    cohort["reference-shortcut"] = Trainee("hostile-reference-shortcut", solve=False, answer_quizzes=False,
                                           code_overrides={shortcut_cell: shortcut_code})
    for how in ["directory", "surrogate", "huge"]:
        cohort[f"answers-{how}"] = Trainee(f"hostile-answers-{how}")
    cohort["blank"] = Trainee("hostile-blank", solve=False, answer_quizzes=False)
    cohort["honest"] = Trainee(VICTIM)
    folders = {name: trainee.submit(root, assignment, seed=world.CANONICAL_SEED) for name, trainee in cohort.items()}
    for name, cells in attacks.items():
        insert_cells(folders[name], cells)
    for how in ["directory", "surrogate", "huge"]:
        damage_answers(folders[f"answers-{how}"], how)
    victim_before = file_digests(folders["honest"])
    build_module_data(assignment, root)
    data_before = data_state(data_cache)

    graded = autograde(root, assignment)
    # written answers are not graded here: the attackers' pages are made all the same
    feedback = nbgrader(root, "generate_feedback", assignment, "--RequireManualGrades.allow_ungraded=True")
    audit = subprocess.run([sys.executable, "-m", "course.trainer.cohort.audit", str(root)],
                           capture_output=True, text=True, timeout=600)
    return dict(assignment=assignment, root=root, cohort=cohort, folders=folders, graded=graded,
                feedback=feedback, audit=audit, victim_before=victim_before, data_before=data_before,
                data_cache=data_cache)


def points(run, name):
    return autograded_points(run["root"], run["assignment"], run["cohort"][name].name)


def test_attacks_gain_nothing(hostile_run):
    for name in attack_cells(hostile_run["assignment"], hostile_run["root"]):
        earned = points(hostile_run, name)
        assert earned and sum(score for score, _ in earned.values()) == 0, (name, earned)
    _, shortcut_test, _ = REFERENCE_SHORTCUT[hostile_run["assignment"]]
    assert points(hostile_run, "reference-shortcut")[shortcut_test][0] == 0


def test_honest_earns_everything_and_blank_nothing(hostile_run):
    honest = points(hostile_run, "honest")
    assert all(score == top for score, top in honest.values()), honest
    assert sum(score for score, _ in points(hostile_run, "blank").values()) == 0


def test_no_other_file_or_data_changed(hostile_run):
    assert file_digests(hostile_run["folders"]["honest"]) == hostile_run["victim_before"]
    before, after = hostile_run["data_before"], data_state(hostile_run["data_cache"])
    # the run's other workers share the cache: a file they were writing then is whole now, or gone
    finished = {path: state for path, state in before.items() if not cache.is_staging(Path(path))}
    assert all(after[path] == state for path, state in finished.items() if path in after)
    # the canonical world (the one every trainee here reads) is never evicted: all of it is still there
    canonical = {path for path, state in finished.items() if state[0] == "sha256"}
    assert canonical and all(after.get(path) == finished[path] for path in canonical)


def hidden_and_key_lines(assignment: str) -> set[str]:
    """Hidden test lines, plain answers and explanations of the module's source notebooks."""
    secrets = set()
    for nb in notebooks(REPO / "source" / assignment).values():
        for cell in nb.cells:
            source = cell.source
            if "### BEGIN HIDDEN TESTS" in source:
                hidden = source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS")[0]
                secrets |= {line.strip() for line in hidden.splitlines() if len(line.strip()) > 15}
            secrets |= {line.strip() for line in source.splitlines()
                        if line.strip().startswith(("answer=", "explanation="))}
    return secrets


def test_feedback_holds_only_pages_without_secrets(hostile_run):
    assert hostile_run["feedback"].returncode == 0, failure_log(hostile_run["feedback"].stderr)
    root, assignment = hostile_run["root"], hostile_run["assignment"]
    secrets = hidden_and_key_lines(assignment)
    pages = 0
    for trainee in hostile_run["cohort"].values():
        folder = root / "feedback" / trainee.name / assignment
        files = [p for p in folder.rglob("*") if p.is_file() and p.name != "timestamp.txt"]
        assert all(p.suffix == ".html" for p in files), files  # (the exchange dates the pages)
        for page in files:
            text = page.read_text(encoding="utf-8")
            leaked = [line for line in secrets if line in text]
            assert not leaked, (trainee.name, leaked[:3])
            assert len(text) < 3_000_000, (trainee.name, len(text))
            pages += 1
    assert pages >= len(hostile_run["cohort"]) - 1


def test_outputs_are_capped(hostile_run):
    root, assignment = hostile_run["root"], hostile_run["assignment"]
    graded = root / "autograded" / "hostile-flood" / assignment
    assert all(p.stat().st_size < 3_000_000 for p in graded.glob("*.ipynb"))
    assert "[output cut" in next(graded.glob("*.ipynb")).read_text()


def test_every_broken_submission_has_a_summary_line(hostile_run):
    summary = hostile_run["graded"].stderr.split("autograde summary:", 1)
    assert len(summary) == 2, failure_log(hostile_run["graded"].stderr)
    lines = summary[1]
    assert "hostile-exit-kernel" in lines and "kernel died" in lines
    assert "hostile-surrogate" in lines and "not valid Unicode" in lines
    for name in ["exit-kernel", "surrogate"]:
        assert points(hostile_run, name), name  # a result, not a missing submission


def test_damaged_answer_files_cost_only_the_quizzes(hostile_run):
    for how in ["directory", "surrogate", "huge"]:
        earned = points(hostile_run, f"answers-{how}")
        code_cells = {cell: pts for cell, pts in earned.items() if cell.endswith("-test")}
        assert all(score == top for score, top in code_cells.values()), (how, earned)
        assert sum(score for cell, (score, _) in earned.items() if cell not in code_cells) == 0, how
    assert hostile_run["audit"].returncode == 1, hostile_run["audit"].stderr
    out = hostile_run["audit"].stdout
    assert all(f"hostile-answers-{how}" in out for how in ["directory", "surrogate", "huge"])
    assert "self-reported" in out


def sanitize_log(run, student: str) -> str:
    """The log lines of sanitizing one student's notebook (where nbgrader warns of changes)."""
    log = grading_log(run["graded"])
    start = log.find(f"Sanitizing {run['root']}/submitted/{student}/")
    assert start >= 0, student
    return log[start:log.find("Autograding", start)]


def test_checksum_warning_means_tampering_again(hostile_run):
    for student in [VICTIM, "hostile-blank"]:
        assert "has changed" not in sanitize_log(hostile_run, student), student
