"""A live JupyterHub on 127.0.0.1 for tests: the course's hub config under a throw-away root,
throw-away Unix accounts, and the calls a browser or a kernel would make (``Hub``)."""
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

import pytest
import requests


from course.data import world  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
COURSE_ID = world.COURSE_ID
# JupyterHub stops its services one after another, each given SIGINT, SIGTERM and SIGKILL in turn
# (10 + 5 + 5 s by default): three services may take a minute, and a loaded machine adds to it.
HUB_STOP_S = 120
MODULE = "m2_sla_severity"
QUIZ = "etp-quiz"
CHP_VERSION = "5.3.0"   # also in the Makefile's `system` target
PASSWORD = secrets.token_urlsafe(12)

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
        self.process: subprocess.Popen | None = None
        self.launch = None  # starts the hub's process

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the hub stopped: {self.log_tail()}"
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the hub did not answer: {self.log_tail()}")

    def stop_hub(self) -> None:
        """Stop the hub's process as an admin would (SIGTERM), and wait for it."""
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(HUB_STOP_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the hub did not stop in {HUB_STOP_S} s: {self.log_tail()}") from None

    def restart(self) -> None:
        self.stop_hub()
        self.process = self.launch()
        self.wait_until_up()

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

    def run(self, user: str, kernel_id: str, code: str, timeout: float = 180,
            server: str | None = None) -> str:
        """Run ``code`` in a kernel of ``user``'s server (or of the server at ``server``, e.g.
        ``/services/<name>``), as the Lab does, over its websocket; its stdout, or AssertionError
        with the error it raised."""
        import asyncio

        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        async def execute() -> str:
            url = self.url.replace("http", "ws") + f"{server or '/user/' + user}/api/kernels/{kernel_id}/channels"
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


def _start_hub(test_layer: str, extra_env: dict, tag: str, extra_trainees: tuple[str, ...] = ()):
    """A hub on the course's config under a throw-away root: (Hub, cleanup). ``extra_trainees``:
    more trainees beside ana and ben, by role name (``users[name]`` holds their account)."""
    if os.geteuid() != 0:
        pytest.skip("the live hub runs each server as its own Unix account: useradd needs root")
    why = _need_proxy()
    if why:
        pytest.skip(why)
    tmp = Path(tempfile.mkdtemp(prefix="etp-hub-"))
    tmp.chmod(0o755)
    users = {"trainer": f"etpt-trainer-{tag}", "ana": f"etpt-ana-{tag}", "ben": f"etpt-ben-{tag}",
             "grader": f"etpt-grader-{tag}", "exchange": f"etpt-xchg-{tag}", "quiz": f"etpt-quiz-{tag}",
             **{name: f"etpt-{name}-{tag}" for name in extra_trainees}}
    trainees = [users[name] for name in ("ana", "ben", *extra_trainees)]
    homes = tmp / "home"
    homes.mkdir()
    homes.chmod(0o755)
    _make_users(list(users.values()), homes)
    uids = {pwd.getpwnam(name).pw_uid for name in users.values()}
    port = _free_port()
    env = dict(os.environ, ETP_HUB_ROOT=str(tmp / "hub"), NBGRADER_EXCHANGE=str(tmp / "exchange"),
               ETP_COURSE_DIR=str(tmp / "course"), ETP_GRADER_USER=users["grader"],
               ETP_EXCHANGE_USER=users["exchange"], ETP_EXCHANGE_PORT=str(_free_port()),
               ETP_QUIZ_USER=users["quiz"],
               ETP_HUB_TRAINERS=users["trainer"], ETP_HUB_TRAINEES=",".join(trainees),
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
    running = Hub(tmp, port, users)
    running.launch = lambda: subprocess.Popen(
        [str(VENV_BIN / "jupyterhub"), "-f", str(config)], cwd=tmp, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    running.process = running.launch()

    def cleanup() -> None:
        process = running.process
        proxy_pid = tmp / "hub" / "state" / "jupyterhub-proxy.pid"
        _stop(process.pid)  # the hub stops its services and its proxy (servers: by uid below)
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
        running.wait_until_up()
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


