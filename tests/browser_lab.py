"""The trainee's side for tests: a released course, a trainee folder, and JupyterLab servers (the
trainee's, as `make start` runs it) for headless Chromium."""
from __future__ import annotations

import json
import secrets
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from course.trainer.lab import runtime as lab
from course.trainer.lab.launch import world_env
from harness import ASSIGNMENTS, build_course

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Render every cell (no virtual scrolling), so the test sees the whole notebook at once. The news
# toast is off by the trainee install's own overrides (course.trainer.lab.runtime), as a trainee's Lab has it.
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}


def released_course(root: Path):
    """A trainer's course at ``root``, every module released to ``root/exchange``: its API."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBGRADER_EXCHANGE", str(root / "exchange"))
        api = build_course(root)
    for name in ASSIGNMENTS:
        assert api.release_assignment(name)["success"]
    return api


def trainee_folder(folder: Path, runtime: Path, api, own_world: bool = False) -> None:
    """A trainee folder for the course of ``api`` and its runtime, as `make start` writes them.
    ``own_world``: the kernel picks the trainee's own world as `make start` sets it up (else it
    inherits the tests' canonical one)."""
    lab.write_student_config(folder, api.coursedir.course_id, Path(api.config.Exchange.root),
                             runtime / "nbgrader_cache")
    lab.prepare_trainee_runtime(runtime, world_env(api.config, api.coursedir.course_id) if own_world else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_settings(folder: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        plugin, file = name.rsplit("/", 1)
        target = folder / plugin / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


@contextmanager
def trainee_jupyterlab(folder: Path, runtime: Path, state: Path):
    """The trainee's JupyterLab on ``folder``, started as `make start` starts it, but on a free
    local port with its own settings in ``state``: yield (base url, token)."""
    port, token = free_port(), secrets.token_hex(16)
    write_settings(state / "settings")
    env = dict(lab.trainee_lab_env(runtime), JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"))
    args = [arg for arg in lab.trainee_lab_args(folder, runtime) if not arg.startswith("--ServerApp.ip=")]
    args += ["--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    log = open(state / "jupyterlab.log", "w")
    server = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/api/status?token={token}", server)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_until_up(url: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("JupyterLab exited during start-up")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("JupyterLab did not answer within a minute")
