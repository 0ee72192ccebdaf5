"""A graded kernel's view of the machine, asked from inside the sandbox."""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from course.data.cache import data_dir, materialise
from course.trainer.grading.sandbox import Sandbox, SandboxedKernelManager
from harness import REPO

PROBE = r'''
import importlib.util, json, os, pathlib, socket
from course.data import cache
def attempt(action):
    try:
        action()
        return "allowed"
    except Exception as err:
        return type(err).__name__
def findable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False
facts = {
    "uid": os.getuid(),
    "course_files": [p for p in ["source", "release", "nbgrader_config.py", "course/trainer/reference", "course/trainer"]
                     if os.path.exists(os.path.join(REPO, p))],
    # the trainer's home holds at most the parents of the Python install and the data cache
    "home_files": [p for p in os.listdir(TRAINER_HOME) if p not in (".pyenv", ".cache")]
                  if os.path.isdir(TRAINER_HOME) else [],
    "reference": findable("course.trainer.reference"),
    "trainer": findable("course.trainer"),
    "quiz": importlib.util.find_spec("course.quiz") is not None,
    "data_readable": pathlib.Path(DATA_FILE).read_text() == "shared",
    "data_write": attempt(lambda: open(DATA_FILE, "w").write("poison")),
    "own_write": attempt(lambda: open("mine.txt", "w").write("ok")),
    "network": attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
    "db_url": "NBGRADER_DB_URL" in os.environ,
}
# matplotlib's font list is the one the grader wrote: read, not built again by scanning the fonts
font_lists = list(pathlib.Path(os.environ["MPLCONFIGDIR"]).glob("fontlist-*.json"))
written = [p.stat().st_mtime_ns for p in font_lists]
from matplotlib import font_manager
facts["font_list"] = [len(font_lists), [p.stat().st_mtime_ns for p in font_lists] == written,
                      len(font_manager.fontManager.ttflist) > 0, os.access(os.environ["MPLCONFIGDIR"], os.W_OK)]
print(json.dumps(facts))
'''


async def probe(tmp_path: Path) -> dict:
    work, run = tmp_path / "m2", tmp_path / "run"
    work.mkdir(), run.mkdir()
    shared = materialise("sandbox-probe.txt", lambda fh: fh.write("shared"))
    km = SandboxedKernelManager(kernel_name="python3")
    km.transport, km.ip, km.connection_file = "ipc", str(run / "kernel"), str(run / "kernel.json")
    km.sandbox, km.workdir, km.rundir = Sandbox(), work, run
    await km.start_kernel(cwd=str(work))
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        code = f"REPO = {str(REPO)!r}\nDATA_FILE = {str(shared)!r}\nTRAINER_HOME = {str(Path.home())!r}\n" + PROBE
        printed = []
        await kc.execute_interactive(code, timeout=60, output_hook=lambda m: printed.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
        return json.loads("".join(printed))
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def test_graded_kernel_sees_only_its_copy_and_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_DB_URL", "postgresql://grader:secret@db/gradebook")
    facts = asyncio.run(probe(tmp_path))
    assert facts["quiz"] and facts["data_readable"] and facts["own_write"] == "allowed"
    assert not facts["reference"] and not facts["trainer"]
    assert facts["course_files"] == [] and facts["home_files"] == [] and not facts["db_url"]
    assert facts["data_write"] != "allowed" and facts["network"] != "allowed"
    assert facts["font_list"] == [1, True, True, True]
    if os.geteuid() == 0:
        assert facts["uid"] == Sandbox().uid
    assert (tmp_path / "m2" / "mine.txt").read_text() == "ok"  # the private copy is the one written
    assert (data_dir() / "sandbox-probe.txt").read_text() == "shared"
