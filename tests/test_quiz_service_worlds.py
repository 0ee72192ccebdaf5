"""The quiz service's commits that survive a lost reply, and its world workers: made ahead of
time, sandboxed as an unprivileged account, gone when the service stops. Hub tokens are stood in
for by the table of test_quiz_service (the live hub tests use real ones)."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Executor, Future
from pathlib import Path

import nbformat
import psutil
import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from course.data import world
from course.trainer.hub.keyring import Keyring
from course.trainer.hub.ledger import Ledger, prepare
from course.trainer.hub.quiz_service import QuizService, make_app
from course.trainer.hub.worlds import WorldPool
from course.quiz import widgets
from course.quiz.service_client import QuizService as Client
from course.quiz.store import AnswerStore
from course.trainer.reference import quiz_keys
from test_quiz_service import PREFIX, call, table_identity

REPO = Path(__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(not WorldPool(REPO, Path("/nonexistent")).sandboxed,
                                 reason="Bubblewrap cannot start here")


class Serving:
    """A QuizService's app on a loopback port, in a thread with its own event loop."""

    def __init__(self, service: QuizService):
        self.service = service
        sockets = bind_sockets(0, "127.0.0.1")
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}{PREFIX}"
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            HTTPServer(make_app(service, table_identity, PREFIX)).add_sockets(sockets)
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    def run(self, coroutine, timeout=300):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self):
        if isinstance(self.service.worlds, WorldPool):
            self.run(self.service.worlds.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class SlowWorlds(Executor):
    """Worlds that take ``delay`` seconds (a busy service), computed in this process."""

    def __init__(self, delay: float):
        self.delay = delay

    def submit(self, fn, *args):
        future = Future()

        def work():
            time.sleep(self.delay)
            try:
                future.set_result(fn(*args))
            except Exception as err:  # noqa: BLE001
                future.set_exception(err)

        threading.Thread(target=work, daemon=True).start()
        return future


# -- commits that are recorded once, whatever happens to the reply ----------------------------
@pytest.fixture()
def slow(tmp_path):
    serving = Serving(QuizService(Keyring(REPO), Ledger(prepare(tmp_path / "data")), SlowWorlds(3.0)))
    yield serving
    serving.close()


def test_a_commit_id_sent_again_returns_the_recorded_attempt_and_adds_none(slow):
    quiz = slow.url + "api/quizzes/m2-ex21-pdf"
    status, first = call(quiz, "tok-alice", {"response": "P0", "commit": "c0mmit-one"})
    assert status == 200 and first["committed"] == 1
    status, again = call(quiz, "tok-alice", {"response": "P2", "commit": "c0mmit-one"})
    assert status == 200 and again["committed"] == 1 and len(again["attempts"]) == 1
    assert again["attempts"][0]["answer"] == "P0"
    assert call(quiz + "?commit=c0mmit-one", "tok-alice")[1]["committed"] == 1
    assert call(quiz + "?commit=never-sent", "tok-alice")[1]["committed"] is None
    assert call(quiz + "?commit=c0mmit-one", "tok-bob")[1]["committed"] is None  # ids are per trainee
    status, bob = call(quiz, "tok-bob", {"response": "P2", "commit": "c0mmit-one"})
    assert status == 200 and bob["committed"] == 1 and bob["attempts"][0]["answer"] == "P2"
    assert call(quiz, "tok-alice", {"response": "P0", "commit": "bad id!"})[0] == 400
    assert [a.n for a in slow.service.ledger.attempts("alice", "m2-ex21-pdf")] == [1]


def test_a_reply_lost_to_a_timeout_is_never_reported_as_not_recorded(slow):
    """The world takes 3 s, the client waits 1 s: the widget says 'not confirmed yet', and the
    same answer pressed again is the one attempt, recorded once."""
    with world.using(world.seed_for("dave", world.COURSE_ID)):
        day = quiz_keys.answer("slow_llm_day")
    client = Client(slow.url, "tok-dave", timeout=1.0)
    question = Keyring(REPO).entry("m2-llm-bad-day").question
    view = widgets.view_for(question, AnswerStore(Path(slow.service.ledger.path).parent / "d.json"), client)
    assert view.submit(day) is None
    assert "not confirmed" in view.box.feedback and "not recorded" not in view.box.feedback
    deadline = time.time() + 30
    while not slow.service.ledger.attempts("dave", "m2-llm-bad-day") and time.time() < deadline:
        time.sleep(0.2)
    attempt = view.submit(day)  # Submit again: the service answers with the attempt it holds
    assert attempt is not None and attempt.correct
    assert [a.n for a in slow.service.ledger.attempts("dave", "m2-llm-bad-day")] == [1]
    assert "Correct" in view.box.feedback


def test_the_client_asks_about_its_commit_when_the_reply_is_lost(slow):
    """A reply lost after the service recorded the answer: the client's question finds it."""
    client = Client(slow.url, "tok-bob", timeout=30)
    slow.service.ledger.record("bob", "m2_sla_severity", "m2-ex21-pdf", "P2", "p2", True, 1, "lost-reply-1")
    real_call = client._call

    def post_lost(method, path, body=None):
        if method == "POST":
            from course.quiz.service_client import Unconfirmed
            raise Unconfirmed("the quiz service cannot be reached (timed out)")
        return real_call(method, path, body)

    client._call = post_lost
    record = client.commit("m2-ex21-pdf", "P2", "lost-reply-1")
    assert record.committed == 1 and record.attempts[0]["answer"] == "P2"


# -- the drill's clock, recorded by the service ---------------------------------------------
def test_a_drills_clock_stamps_are_recorded_and_nothing_else_is(slow):
    clock = slow.url + "api/quizzes/m6-ex61-clock"
    stamp = {"step": "acknowledge", "qid": "m6-ex61-acknowledge", "inject_at": "2025-10-08T03:12:00Z",
             "decided_at": "2025-10-08T00:14:30-03:00", "real_seconds": 30.0, "try": 1}
    status, body = call(clock, "tok-alice", {"response": stamp, "commit": "stamp-0001"})
    assert status == 200 and body["attempts"][0]["canonical"] == "acknowledge 2025-10-08T00:14:30-03:00"
    assert not body["attempts"][0]["correct"]
    for forged in ({**stamp, "step": "no-such-step"}, {**stamp, "extra": 1}, "acknowledge",
                   {**stamp, "decided_at": "x" * 100}):
        assert call(clock, "tok-alice", {"response": forged})[0] == 400
    assert call(slow.url + "api/quizzes/m2-ex21-clock", "tok-alice", {"response": stamp})[0] == 404
    answers = slow.service.answers("m6_incident_response", "alice")
    assert list(answers["questions"]) == ["m6-ex61-clock"]


# -- world workers --------------------------------------------------------------------------
@needs_bwrap
def test_warm_up_makes_a_trainees_worlds_before_their_first_commit(tmp_path):
    keyring = Keyring(REPO)
    serving = Serving(QuizService(keyring, Ledger(prepare(tmp_path / "data")),
                                  WorldPool(keyring.root, tmp_path / "world-cache", size=2)))
    try:
        status, body = call(serving.url + "api/warm", "tok-alice", {})
        assert status == 200 and body["worlds"] == len(keyring.world_assignments) >= 5
        seed = keyring.seed_for("alice")
        deadline = time.time() + 240
        while time.time() < deadline and call(serving.url + "api/warm", "tok-alice", {})[1]["ready"] < body["worlds"]:
            time.sleep(1)
        views = {a: serving.service.ledger.world_view(a, seed) for a in keyring.world_assignments}
        assert all(views.values()), "every world of alice was made before she answered"
        with world.using(seed):
            day = quiz_keys.answer("slow_llm_day")
        assert views["m2_sla_severity"]["keys"]["m2-llm-bad-day"] == day  # her world, not another
        status, first = call(serving.url + "api/quizzes/m2-llm-bad-day", "tok-alice", {"response": day})
        assert status == 200 and first["attempts"][0]["correct"]
    finally:
        serving.close()


PROBE_SETUP = '''import os
from course.quiz import Quiz
probe = {"uid": os.getuid(), "euid": os.geteuid()}
for name, target in TARGETS.items():
    try:
        with open(os.path.join(target, "written-by-a-setup-cell"), "w") as fh:
            fh.write("x")
        probe[name] = "written"
    except OSError as err:
        probe[name] = "refused"
quiz = Quiz(facts=probe)
'''


def probe_course(root: Path, targets: dict[str, str], explanation: str = "uid {uid}") -> Path:
    """A course whose one source notebook's setup cell reports its account and tries to write."""
    nb = nbformat.v4.new_notebook()
    setup = nbformat.v4.new_code_cell(f"TARGETS = {targets!r}\n" + PROBE_SETUP)
    setup.metadata["nbgrader"] = {"locked": True, "grade_id": "m9-setup", "grade": False, "solution": False}
    ask = nbformat.v4.new_code_cell('quiz.single_choice("m9-probe", "Who ran the setup?", '
                                    f'options=["a", "b"], answer="a", explanation={explanation!r})')
    nb.cells = [setup, ask]
    (root / "source" / "m9_probe").mkdir(parents=True)
    nbformat.write(nb, root / "source" / "m9_probe" / "m9_probe.ipynb")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


@needs_bwrap
def test_a_setup_cell_edited_by_the_trainer_runs_unprivileged_and_writes_only_its_cache(tmp_path):
    data = tmp_path / "data"
    cache = tmp_path / "world-cache"
    targets = {"checkout": str(REPO / "course"), "service data": str(data), "etc": "/etc",
               "cache": str(cache), "tmp": "/tmp"}
    root = probe_course(tmp_path / "course", targets)
    tmp_path.chmod(0o755)
    keyring = Keyring(root)
    assert keyring.entry("m9-probe").needs_world
    serving = Serving(QuizService(keyring, Ledger(prepare(data)), WorldPool(keyring.root, cache, size=1)))
    try:
        status, body = call(serving.url + "api/quizzes/m9-probe", "tok-alice", {"response": "a"})
        assert status == 200, body
        facts = serving.service.ledger.world_view("m9_probe", keyring.seed_for("alice"))["facts"]
    finally:
        serving.close()
    assert facts["uid"] != "0" and facts["euid"] != "0", facts
    assert body["explanation"] == f"uid {facts['uid']}"
    assert {k: facts[k] for k in targets} == {"checkout": "refused", "service data": "refused",
                                              "etc": "refused", "cache": "written", "tmp": "written"}
    assert not (REPO / "course" / "written-by-a-setup-cell").exists()
    assert not (data / "written-by-a-setup-cell").exists()


def _service_process(tmp_path: Path) -> tuple[subprocess.Popen, list[psutil.Process]]:
    """The service as the hub starts it (its own process), once its world workers are up."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "JUPYTERHUB_API_TOKEN": "unused",
           "JUPYTERHUB_API_URL": "http://127.0.0.1:9/hub/api",
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{bind_free_port()}"}
    service = subprocess.Popen([sys.executable, "-m", "course.trainer.hub.quiz_service", "--course-root",
                                str(REPO), "--data", str(tmp_path / "data"), "--workers", "2"], env=env)
    deadline = time.time() + 120
    workers: list[psutil.Process] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = [p for p in psutil.Process(service.pid).children(recursive=True)
                   if p.name().startswith("python") and "course.trainer.hub.world_worker" in p.cmdline()]
    assert len(workers) == 2, "the service started its world workers"
    return service, psutil.Process(service.pid).children(recursive=True)


def bind_free_port() -> int:
    sockets = bind_sockets(0, "127.0.0.1")
    port = sockets[0].getsockname()[1]
    for sock in sockets:
        sock.close()
    return port


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_no_world_worker_outlives_the_service(tmp_path, stop):
    service, children = _service_process(tmp_path)
    service.send_signal(stop)
    service.wait(30)
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, [p.cmdline() for p in alive]


# -- Module 6's drill on a hub ---------------------------------------------------------------
def test_an_honest_drill_on_the_hub_is_not_flagged_and_its_debrief_shows_the_verdicts(slow, tmp_path, monkeypatch):
    import course.quiz.drill as drill_module
    from course.data import scenario
    from course.quiz import Drill
    from course.quiz.questions import SingleChoice
    from course.trainer.grading import hub_grading

    keyring = Keyring(REPO)
    shown = {}
    monkeypatch.setattr(drill_module, "display", lambda box: shown.setdefault(box.view.question.qid, box))
    with world.using(keyring.seed_for("bob")):
        drill = Drill(scenario.redis_drill(), prefix="m6-ex61-", speed=5, answer_file=tmp_path / "answers.json")
    drill.service = Client(slow.url, "tok-bob")
    for step in drill.order:
        qid = drill.qid_of(step)
        question = keyring.entry(qid).question
        if isinstance(question, SingleChoice):
            drill.ask("single_choice", qid, question.prompt, options=question.options)
            response = question.accepted_responses()[0]
        else:
            drill.ask("short_text", qid, question.prompt)
            response = "00:42"
        shown[qid].panel._handle_message(shown[qid].panel, {"event": "seen"}, [])  # its card in view
        assert shown[qid].view.commit(response) is not None
    record = slow.service.answers("m6_incident_response", "bob")
    assert len(record["questions"]["m6-ex61-clock"]) == len(drill.order)
    assert hub_grading.handed_in_differs(tmp_path / "answers.json", record) == ""
    debrief = drill.debrief()
    verdicts = debrief["playbook"].tolist()
    assert verdicts and all(v in ("correct", "not correct") for v in verdicts), verdicts
    assert "checked when graded" not in " ".join(debrief["your decision"].tolist() + verdicts)


# -- the audit on a hub ----------------------------------------------------------------------
def test_the_audit_on_a_hub_compares_each_answer_file_with_the_services_record(slow, tmp_path, monkeypatch, capsys):
    from course.trainer.cohort import audit

    for user, response in (("alice", "P0"), ("bob", "P0"), ("dave", "P2")):
        call(slow.url + "api/quizzes/m2-ex21-pdf", f"tok-{user}", {"response": response})
    submitted = tmp_path / "course" / "submitted"
    honest = AnswerStore(submitted / "alice" / "m2_sla_severity" / "answers.json")
    honest.record("m2-ex21-pdf", "P0", "p0", False)  # what her widget's local copy holds
    forged = AnswerStore(submitted / "bob" / "m2_sla_severity" / "answers.json")
    forged.record("m2-ex21-pdf", "P2", "p2", True)  # consistent seals: the local audit finds nothing
    (submitted / "dave" / "m2_sla_severity").mkdir(parents=True)  # handed in without a file

    monkeypatch.delenv("ETP_QUIZ_SERVICE_DB", raising=False)
    monkeypatch.delenv("ETP_QUIZ_SERVICE_URL", raising=False)
    assert audit.main([str(tmp_path / "course")]) == 1  # without the service: only dave's gap
    out = capsys.readouterr().out
    assert {line.split("\t")[0] for line in out.splitlines() if "\t" in line} == {"dave"}
    monkeypatch.setenv("ETP_QUIZ_SERVICE_URL", slow.url)
    monkeypatch.setenv("ETP_QUIZ_SERVICE_TOKEN", "tok-trainer")
    assert audit.main([str(tmp_path / "course")]) == 1
    out = capsys.readouterr().out
    lines = {line.split("\t")[0]: line for line in out.splitlines() if "\t" in line}
    assert set(lines) == {"bob", "dave"}
    assert "m2-ex21-pdf" in lines["bob"] and "quiz service's record" in lines["bob"]
    assert "no answers.json" in lines["dave"]
    assert "1 of 3 answer file(s) fine" in out and "compared with the quiz service's record" in out
