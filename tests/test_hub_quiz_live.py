"""The quiz service on a live hub started docs/hub.md's way: it runs as its own account, a
trainer's edit of a setup cell runs unprivileged in the world sandbox, and nothing of the service
is left when the hub stops. (The service's API, the drill and the audit: test_quiz_service_worlds.)"""
import os
import pwd
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hub_harness import DUMMY_LAYER, HUB_STOP_S, QUIZ, REPO, _start_hub  # noqa: E402

pytestmark = pytest.mark.slow  # a live hub

TARGETS = {"checkout": str(REPO / "course"), "course": "COURSE", "data": "DATA"}
EXPLANATION = "uid {uid} checkout {checkout} course {course} data {data}"
# Runs in the hub's config, after the course's: a trainer's edit of source/ before a start.
PROBE_LAYER = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
               "from test_hub_quiz_live import add_probe_module; add_probe_module()\n")


def add_probe_module() -> None:
    """A module in the course folder whose setup cell reports its account and tries to write to
    the checkout, the course folder and the service's data; the service's copy refreshed."""
    from course.trainer.hub import deployment
    from test_quiz_service_worlds import probe_course

    course, root = Path(os.environ["ETP_COURSE_DIR"]), Path(os.environ["ETP_HUB_ROOT"])
    targets = {**TARGETS, "course": str(course), "data": str(root / "quiz")}
    with tempfile.TemporaryDirectory() as scratch:
        probe_course(Path(scratch), targets, EXPLANATION)
        shutil.copytree(Path(scratch) / "source" / "m9_probe", course / "source" / "m9_probe")
    grader = pwd.getpwnam(os.environ["ETP_GRADER_USER"])
    for path in [course / "source" / "m9_probe", *(course / "source" / "m9_probe").iterdir()]:
        os.chown(path, grader.pw_uid, grader.pw_gid)
    deployment.prepare_quiz_service(root / "quiz", root / "quiz-source", course, os.environ["ETP_QUIZ_USER"])


@pytest.fixture(scope="module")
def probed_hub():
    running, cleanup = _start_hub(DUMMY_LAYER + PROBE_LAYER, {}, secrets.token_hex(2))
    try:
        yield running
    finally:
        cleanup()


def quiz_processes(root: Path, module: str) -> list[psutil.Process]:
    """The Python processes running ``module`` for the hub at ``root`` (not bwrap, not setpriv)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if (process.info["name"] or "").startswith("python") and module in cmdline \
                and any(str(root) in arg for arg in cmdline):
            found.append(process)
    return found


def test_the_quiz_service_and_a_trainers_setup_cell_run_unprivileged(probed_hub):
    hub = probed_hub
    quiz_uid = pwd.getpwnam(hub.users["quiz"]).pw_uid
    service = quiz_processes(hub.root, "course.trainer.hub.quiz_service")
    assert len(service) == 1 and service[0].uids().real == quiz_uid != 0
    ana = hub.users["ana"]
    hub.login(ana)
    answer = hub.call(ana, "POST", f"/services/{QUIZ}/api/quizzes/m9-probe", json={"response": "a"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["explanation"] == f"uid {quiz_uid} checkout refused course refused data refused"
    workers = quiz_processes(hub.root, "course.trainer.hub.world_worker")
    assert workers and all(p.uids().real == quiz_uid for p in workers)
    data = hub.root / "hub" / "quiz"
    assert data.stat().st_uid == quiz_uid and oct(data.stat().st_mode)[-3:] == "700"
    for folder in (REPO / "course", hub.root / "course", data):
        assert not (folder / "written-by-a-setup-cell").exists()


def test_nothing_of_the_quiz_service_is_left_when_the_hub_stops(probed_hub):
    hub = probed_hub
    assert quiz_processes(hub.root, "course.trainer.hub.world_worker"), "its world workers run"
    os.kill(hub.process.pid, signal.SIGTERM)
    hub.process.wait(HUB_STOP_S)
    left = quiz_processes(hub.root, "course.trainer.hub.quiz_service") + quiz_processes(hub.root, "course.trainer.hub.world_worker")
    gone, alive = psutil.wait_procs(left, timeout=15)
    assert not alive, [(p.pid, p.ppid(), p.cmdline()[:3]) for p in alive]
