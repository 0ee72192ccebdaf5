"""JupyterHub for real, on 127.0.0.1: the course's hub config, configurable-http-proxy, the formgrader
and quiz services, three hub users, Module 2 from release to gradebook.

The hub runs ``deploy/jupyterhub/jupyterhub_config.py`` with a test-only layer on top: folders and
ports of a temporary directory, and DummyAuthenticator with one password instead of the
admin-approved NativeAuthenticator. Every server runs as its own throw-away Unix account
(LocalProcessSpawner, as on a real single-host hub), made with ``useradd`` here and removed at
the end; so the test needs root (CI runs as root). A trainer and two trainees log in through the
hub's API (a token for a user name and password). The trainer releases Module 2 through the
formgrader service; each trainee's server fetches it, answers quizzes through the quiz service
(its kernel, the widget's Submit path), writes code and submits; one trainee forges answers.json
before submitting. The trainer collects and autogrades through the formgrader; the gradebook
then holds both scores, and the forgery earned nothing. A trainee can read neither the other's
submission, nor the formgrader, nor a key or a classmate's answers from the quiz service.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))
from harness import solution_sources  # noqa: E402

from course.data import world  # noqa: E402
from course.reference import quiz_keys  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
COURSE_ID = world.COURSE_ID
MODULE = "m2_sla_severity"
QUIZ = "etp-quiz"
CHP_VERSION = "5.3.0"   # also in the Makefile's `system` target
PASSWORD = secrets.token_urlsafe(12)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _need_proxy() -> str:
    """configurable-http-proxy on the PATH, installed from npm when missing (as root)."""
    if shutil.which("configurable-http-proxy"):
        return ""
    if shutil.which("npm") is None:
        return "configurable-http-proxy and npm are missing (make system installs them)"
    done = subprocess.run(["npm", "install", "-g", f"configurable-http-proxy@{CHP_VERSION}"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not shutil.which("configurable-http-proxy"):
        return f"npm install -g configurable-http-proxy failed: {done.stderr.strip()[-300:]}"
    return ""


class Hub:
    """The running hub: its address, its users, and the calls a browser would make."""

    def __init__(self, root: Path, port: int, users: dict[str, str]):
        self.root, self.url, self.users = root, f"http://127.0.0.1:{port}", users
        self.tokens: dict[str, str] = {}

    # -- the hub's API ---------------------------------------------------------------------------
    def login(self, user: str) -> str:
        """A token for ``user``, asked of the hub with the user's name and password."""
        answer = requests.post(f"{self.url}/hub/api/users/{user}/tokens", timeout=30,
                               json={"auth": {"username": user, "password": PASSWORD},
                                     "note": "live test"})
        assert answer.status_code in (200, 201), answer.text
        self.tokens[user] = answer.json()["token"]
        return self.tokens[user]

    def call(self, user: str | None, method: str, path: str, timeout: float = 300, **kwargs):
        headers = {"Authorization": f"token {self.tokens[user]}"} if user else {}
        kwargs.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)

    def start_server(self, user: str) -> None:
        answer = self.call(user, "POST", f"/hub/api/users/{user}/server")
        assert answer.status_code in (201, 202), answer.text
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            model = self.call(user, "GET", f"/hub/api/users/{user}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return
            time.sleep(0.5)
        raise AssertionError(f"the server of {user} did not start: {self.log_tail()}")

    def formgrader(self, user: str, method: str, path: str, **kwargs):
        return self.call(user, method, f"/services/{COURSE_ID}/formgrader{path}", **kwargs)

    def log_tail(self) -> str:
        return (self.root / "hub.log").read_text(errors="replace")[-4000:]

    # -- a trainee's server ----------------------------------------------------------------------
    def server(self, user: str, method: str, path: str, **kwargs):
        return self.call(user, method, f"/user/{user}{path}", **kwargs)

    def run(self, user: str, kernel_id: str, code: str, timeout: float = 180) -> str:
        """Run ``code`` in a kernel of ``user``'s server (as the Lab does, over its websocket);
        its stdout, or AssertionError with the error it raised."""
        import asyncio

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        async def execute() -> str:
            url = self.url.replace("http", "ws") + f"/user/{user}/api/kernels/{kernel_id}/channels"
            ws = await websocket_connect(HTTPRequest(
                url, headers={"Authorization": f"token {self.tokens[user]}"}))
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": uuid.uuid4().hex,
                           "username": user, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": False,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
            out, error = [], None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
                if raw is None:
                    raise AssertionError("the kernel's websocket closed")
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream" and msg["content"]["name"] == "stdout":
                    out.append(msg["content"]["text"])
                elif kind == "error":
                    error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    ws.close()
                    if error:
                        raise AssertionError(f"{user}'s kernel raised {error}\n{''.join(out)}")
                    return "".join(out)
            raise AssertionError(f"{user}'s kernel did not finish in {timeout} s")

        return asyncio.run(execute())


def _make_users(names: list[str], home_root: Path) -> None:
    for name in names:
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home_root / name),
                        "--shell", "/bin/bash", "--user-group", name], check=True, capture_output=True)
        (home_root / name).chmod(0o700)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def _processes_of(uids: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


def _start_hub(test_layer: str, extra_env: dict, tag: str):
    """A hub on the course's config under a throw-away root: (Hub, cleanup)."""
    if os.geteuid() != 0:
        pytest.skip("the live hub runs each server as its own Unix account: useradd needs root")
    why = _need_proxy()
    if why:
        pytest.skip(why)
    tmp = Path(tempfile.mkdtemp(prefix="etp-hub-"))
    tmp.chmod(0o755)
    users = {"trainer": f"etpt-trainer-{tag}", "ana": f"etpt-ana-{tag}", "ben": f"etpt-ben-{tag}",
             "grader": f"etpt-grader-{tag}"}
    homes = tmp / "home"
    homes.mkdir()
    homes.chmod(0o755)
    _make_users(list(users.values()), homes)
    uids = {pwd.getpwnam(name).pw_uid for name in users.values()}
    port = _free_port()
    env = dict(os.environ, ETP_HUB_ROOT=str(tmp / "hub"), NBGRADER_EXCHANGE=str(tmp / "exchange"),
               ETP_COURSE_DIR=str(tmp / "course"), ETP_GRADER_USER=users["grader"],
               ETP_HUB_TRAINERS=users["trainer"], ETP_HUB_TRAINEES=f"{users['ana']},{users['ben']}",
               ETP_HUB_ADMINS=users["trainer"], ETP_HUB_BIND_URL=f"http://127.0.0.1:{port}",
               ETP_HUB_CREATE_USERS="0", ETP_HUB_HOME_ROOT=str(homes),
               ETP_FORMGRADER_PORT=str(_free_port()), ETP_QUIZ_SERVICE_PORT=str(_free_port()),
               ETP_PROXY_API_PORT=str(_free_port()), ETP_HUB_API_PORT=str(_free_port()),
               PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", **extra_env)
    for name in ("ETP_VARIANTS", "ETP_ACADEMY_DATA", "NBGRADER_DB_URL", "ETP_QUIZ_SERVICE_URL"):
        env.pop(name, None)  # the hub's own settings, not the test session's
    config = tmp / "jupyterhub_test_config.py"
    config.write_text(
        '"""Test layer on the course\'s hub config."""\n'
        f"load_subconfig({str(REPO / 'deploy' / 'jupyterhub' / 'jupyterhub_config.py')!r})\n"
        + test_layer.format(users=users))
    log = open(tmp / "hub.log", "wb")
    process = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(config)], cwd=tmp, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    running = Hub(tmp, port, users)

    def cleanup() -> None:
        proxy_pid = tmp / "hub" / "state" / "jupyterhub-proxy.pid"
        _stop(process.pid)  # the hub stops its servers, its services and its proxy
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
        if proxy_pid.exists() and proxy_pid.read_text().strip().isdigit():
            _stop(int(proxy_pid.read_text()))
        for pid in _processes_of(uids):  # anything a throw-away account still runs, by its id
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log.close()
        for name in users.values():
            subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, f"the hub stopped: {running.log_tail()}"
            try:
                if requests.get(f"{running.url}/hub/api/", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        else:
            raise AssertionError(f"the hub did not answer: {running.log_tail()}")
    except BaseException:
        cleanup()
        raise
    return running, cleanup


DUMMY_LAYER = (
    "c.JupyterHub.authenticator_class = 'dummy'\n"
    f"c.DummyAuthenticator.password = {PASSWORD!r}\n"
    "c.Authenticator.allow_all = False\n"
    "c.Authenticator.allowed_users = {{{users[trainer]!r}, {users[ana]!r}, {users[ben]!r}}}\n")


@pytest.fixture(scope="module")
def hub():
    """The course's hub with one password for every account (DummyAuthenticator)."""
    running, cleanup = _start_hub(DUMMY_LAYER, {}, secrets.token_hex(2))
    try:
        yield running
    finally:
        cleanup()


KERNEL_SETUP = '''
import json, os
from course.quiz import widgets
from course.data import world

def submit(qid, response):
    """What the widget's Submit button sends, handled by the quiz's own kernel-side code."""
    box = widgets._SHOWN[(str(quiz.store.path), qid)]
    box._handle_message(box, {"event": "submit", "response": response}, [])
    return {"verdict": box.verdict, "feedback": box.feedback}
'''


def succeeded(response) -> dict | list:
    """The JSON of a formgrader or server call that must have worked (else what it said)."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[-3000:]}"
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:3000]}") from None
    assert not isinstance(body, dict) or body.get("success", True), json.dumps(body)[-5000:]
    return body


def released_cells(nb) -> dict[str, str]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells
            if c.cell_type == "code"}


def test_a_team_on_the_hub_from_release_to_gradebook(hub):
    users = hub.users
    trainer, ana, ben = users["trainer"], users["ana"], users["ben"]
    for name in (trainer, ana, ben):
        hub.login(name)

    # -- the trainer releases Module 2 through the formgrader service (trainers only) ----------
    page = hub.formgrader(trainer, "GET", "")
    assert page.status_code == 302, page.text[:500]  # to its first page, inside the service
    assert page.headers["Location"].startswith(f"/services/{COURSE_ID}/formgrader")
    page = hub.formgrader(trainer, "GET", "/manage_assignments")
    assert page.status_code == 200 and "Manage Assignments" in page.text, page.text[:500]
    assert "frame-ancestors 'none'" in page.headers.get("Content-Security-Policy", "")
    for step in ("assign", "release"):
        succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/{step}"))
    released = nbformat.read(hub.root / "course" / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    cells = released_cells(released)
    for grade_id in ("m2-ex21-login", "m2-ex21-pdf", "m2-llm-bad-day"):
        for word in ("answer=", "key=", "explanation=", "answer_from="):
            assert word not in cells[grade_id], f"the hub release of {grade_id} holds {word}"

    # -- each trainee: server, fetch, quizzes through the service, code, submit -------------------
    source = nbformat.read(REPO / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    solutions = solution_sources(source)
    verdicts = {}
    for name in (ana, ben):
        hub.start_server(name)
        fetched = hub.server(name, "POST", "/assignments/fetch",
                             json={"course_id": COURSE_ID, "assignment_id": MODULE})
        assert fetched.status_code == 200, fetched.text
        notebook_path = f"/api/contents/{MODULE}/{MODULE}.ipynb"
        model = hub.server(name, "GET", notebook_path).json()
        nb = nbformat.from_dict(model["content"])
        kernel = hub.server(name, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
        with world.using(world.seed_for(name, COURSE_ID)):
            bad_day = quiz_keys.answer("slow_llm_day")  # what this trainee's own data shows
        cells = released_cells(nb)
        code = "\n".join([KERNEL_SETUP, cells["m2-setup"], cells["m2-ex21-login"], cells["m2-ex21-pdf"],
                          cells["m2-llm-bad-day"], "results = {",
                          "  'login': submit('m2-ex21-login', 'P1'),",
                          "  'pdf': submit('m2-ex21-pdf', 'P0'),       # wrong first",
                          "  'pdf2': submit('m2-ex21-pdf', 'P2'),      # then right: practice only",
                          f"  'day': submit('m2-llm-bad-day', {bad_day!r}),",
                          "}",
                          "results['seed'] = world.current().seed",
                          "results['local'] = json.load(open('answers.json'))['questions']",
                          "print(json.dumps(results))"])
        verdicts[name] = json.loads(hub.run(name, kernel["id"], code).strip().splitlines()[-1])
        for cell in nb.cells:  # the trainee writes the exercises' code
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in solutions:
                cell.source = solutions[grade_id]
        saved = hub.server(name, "PUT", notebook_path, json={"type": "notebook", "format": "json",
                                                               "content": json.loads(nbformat.writes(nb))})
        assert saved.status_code == 200, saved.text
        if name == ben:  # the forgery: every first answer right, seals recomputed, in the hand-in
            hub.run(name, kernel["id"], FORGE)
        submitted = hub.server(name, "POST", "/assignments/submit",
                               json={"course_id": COURSE_ID, "assignment_id": MODULE})
        assert submitted.status_code == 200 and "error" not in submitted.text.lower()[:200], submitted.text
    for name in (ana, ben):
        result = verdicts[name]
        assert result["seed"] == world.seed_for(name, COURSE_ID)  # each world from JUPYTERHUB_USER
        assert result["login"]["verdict"] == "right" and result["day"]["verdict"] == "right"
        assert result["pdf"]["verdict"] == "wrong" and result["pdf2"]["verdict"] == "right"
        assert "Not correct" in result["pdf2"]["feedback"]  # the first answer stays the graded one
        assert [a["correct"] for a in result["local"]["m2-ex21-pdf"]] == [False, True]  # local copy

    # -- what a trainee cannot do ------------------------------------------------------------------
    assert hub.formgrader(ben, "GET", "").status_code in (302, 403)
    assert hub.formgrader(ben, "POST", f"/api/assignment/{MODULE}/collect").status_code in (302, 403)
    record = hub.call(ben, "GET", f"/services/{QUIZ}/api/quizzes/m2-ex21-login").json()
    assert set(record) == {"qid", "attempts", "explanation"} and "key" not in json.dumps(record)
    assert hub.call(ben, "GET", f"/services/{QUIZ}/api/answers/{MODULE}?user={ana}").status_code == 403
    kernel = hub.server(ben, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
    probe = hub.run(ben, kernel["id"], PROBE.format(exchange=str(hub.root / "exchange"),
                                                    course=str(hub.root / "course"), other=ana,
                                                    sources=str(REPO / "source")))
    assert json.loads(probe.strip().splitlines()[-1]) == {
        "inbound listing": "PermissionError", "other's submission": "FileNotFoundError",
        "course folder": "FileNotFoundError", "course sources": False,
        "trainer code": "ModuleNotFoundError", "quiz record with my server's token": 403}

    # -- the trainer collects and autogrades through the formgrader ------------------------------
    succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/collect"))
    for name in (ana, ben):
        succeeded(hub.formgrader(trainer, "POST", f"/api/submission/{MODULE}/{name}/autograde"))
    from nbgrader.api import Gradebook

    scores, flagged = {}, {}
    with Gradebook(f"sqlite:///{hub.root / 'course' / 'gradebook.db'}") as gb:
        for name in (ana, ben):
            submission = gb.find_submission_notebook(MODULE, MODULE, name)
            scores[name] = {grade.name: grade.score for grade in submission.grades}
            flagged[name] = (submission.flagged, "\n".join(c.auto_comment or "" for c in submission.comments))
    for name in (ana, ben):
        assert scores[name]["m2-ex21-login"] == 1 and scores[name]["m2-llm-bad-day"] == 1
        assert scores[name]["m2-ex21-pdf"] == 0   # wrong first, right later: no point
        assert scores[name]["m2-ex21-pool"] == 0  # never answered through the service
        assert scores[name]["m2-health-test"] == 2 and scores[name]["m2-slo-test"] == 2
    assert scores[ben] == scores[ana], "the forged answers.json earned something"
    assert sum(scores[ana].values()) > 5
    assert not flagged[ana][0]
    assert flagged[ben][0] and "differs from the quiz service's record" in flagged[ben][1]
    overview = hub.formgrader(trainer, "GET", f"/api/submissions/{MODULE}").json()
    assert {row["student"]: row["score"] for row in overview} == {
        name: sum(scores[name].values()) for name in (ana, ben)}


FORGE = '''
from course.quiz.store import AnswerStore
os.remove("answers.json")
store = AnswerStore("answers.json")
for qid, answer in (("m2-ex21-pdf", "P2"), ("m2-ex21-pool", "P0"), ("m2-ex21-typo", "P3")):
    store.record(qid, answer, answer.lower(), True)
print(len(store.load()))
'''

PROBE = '''
import json, os, urllib.request, urllib.error
found = {{}}
inbound = os.path.join({exchange!r}, "etp-ops-academy", "inbound")
try:
    os.listdir(inbound)
    found["inbound listing"] = "listed"
except OSError as err:
    found["inbound listing"] = type(err).__name__
try:
    os.listdir(os.path.join(inbound, "{other}+m2_sla_severity"))  # its real name has a secret part
    found["other's submission"] = "listed"
except OSError as err:
    found["other's submission"] = type(err).__name__
try:
    os.listdir({course!r})
    found["course folder"] = "listed"
except OSError as err:
    found["course folder"] = type(err).__name__
found["course sources"] = os.path.exists({sources!r})
try:
    import course.reference
    found["trainer code"] = "imported"
except ImportError as err:
    found["trainer code"] = type(err).__name__
request = urllib.request.Request(os.environ["ETP_QUIZ_SERVICE_URL"] + "api/answers/m2_sla_severity?user={other}",
                                 headers={{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}})
try:
    urllib.request.urlopen(request, timeout=30)
    found["quiz record with my server's token"] = 200
except urllib.error.HTTPError as err:
    found["quiz record with my server's token"] = err.code
print(json.dumps(found))
'''


def test_the_default_authenticator_waits_for_the_admins_approval():
    """deploy/jupyterhub as shipped: NativeAuthenticator, sign-ups closed until an admin approves."""
    running, cleanup = _start_hub("", {}, secrets.token_hex(2))
    try:
        admin, trainee = running.users["trainer"], running.users["ana"]
        browser = requests.Session()
        form = browser.get(f"{running.url}/hub/signup", timeout=30)
        assert form.status_code == 200 and "signup_password" in form.text
        password = secrets.token_urlsafe(16)
        for name in (admin, trainee):
            signed = browser.post(f"{running.url}/hub/signup", timeout=30, data={
                "username": name, "signup_password": password,
                "signup_password_confirmation": password, "_xsrf": browser.cookies.get("_xsrf")})
            assert signed.status_code == 200, signed.text[:500]

        def token(name: str) -> requests.Response:
            return requests.post(f"{running.url}/hub/api/users/{name}/tokens", timeout=30,
                                 json={"auth": {"username": name, "password": password}})

        assert token(trainee).status_code == 403  # signed up, not approved: no way in
        pupil = requests.Session()
        pupil.get(f"{running.url}/hub/login", timeout=30)

        def log_in() -> int:
            return pupil.post(f"{running.url}/hub/login", timeout=30, allow_redirects=False, data={
                "username": trainee, "password": password, "_xsrf": pupil.cookies.get("_xsrf")}
            ).status_code

        assert log_in() == 403  # the login page refuses too
        assert token(admin).status_code in (200, 201)  # an admin named in ETP_HUB_ADMINS
        desk = requests.Session()  # the admin's browser: logs in, opens the approval page
        assert "/hub/signup" in desk.get(f"{running.url}/hub/login", timeout=30).text
        logged = desk.post(f"{running.url}/hub/login", timeout=30, allow_redirects=False, data={
            "username": admin, "password": password, "_xsrf": desk.cookies.get("_xsrf")})
        assert logged.status_code == 302, running.log_tail()
        assert trainee in desk.get(f"{running.url}/hub/authorize", timeout=30).text
        approved = desk.get(f"{running.url}/hub/authorize/{trainee}", timeout=30, allow_redirects=False)
        assert approved.status_code == 302
        assert token(trainee).status_code in (200, 201)
        assert log_in() == 302  # approved: in
        trainee_token = token(trainee).json()["token"]
        groups = requests.get(f"{running.url}/hub/api/users/{trainee}", timeout=30,
                              headers={"Authorization": f"token {trainee_token}"}).json()["groups"]
        assert groups == [f"nbgrader-{COURSE_ID}"]  # ETP_HUB_TRAINEES: a trainee of the course
    finally:
        cleanup()
