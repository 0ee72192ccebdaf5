"""What docs/hub.md's deployment relies on inside the grader's jail: the trainer's terminal
keeps the service's PATH, the grading sandbox starts there every time (root and bwrap), and
`python -m course feedback` releases pages through ngshare."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

from course.trainer.hub import deployment, jail
from course.trainer.cohort import cli

REPO = Path(__file__).resolve().parents[1]

IN_THE_JAIL = '''
import json, os
from course.trainer.grading.sandbox import _probe
probes = [_probe("bwrap") for _ in range(12)]
print(json.dumps({"own pids": int(os.readlink("/proc/self")) == os.getpid(),
                  "failed probes": [reason for usable, reason in probes if not usable]}))
'''


def test_the_formgrader_terminal_is_not_a_login_shell(tmp_path):
    """A login shell reads /etc/profile, whose PATH has no `python` of the course's venv."""
    folder = deployment.prepare_formgrader_config(tmp_path, frame_self=False)
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(folder)).load_config()
    shell = config.ServerApp.terminado_settings["shell_command"]
    assert shell == ["/bin/bash"] and "-l" not in shell and "--login" not in shell


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bwrap")
def test_the_grading_sandbox_starts_in_the_graders_jail():
    """Bubblewrap reads /proc/<pid> of each sandbox it starts by the jail's pid: with the host's
    /proc on /proc, the sandbox failed whenever the host had no process of that number."""
    args = jail.jail_command("nobody", [*jail.python_paths(), str(REPO)], [], chdir="/",
                             host_proc=True, die_with_parent=False)
    done = subprocess.run([*args, "env", f"PYTHONPATH={REPO}", sys.executable, "-c", IN_THE_JAIL],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"own pids": True, "failed probes": []}


def test_feedback_through_ngshare_needs_no_submission_secret(tmp_path, monkeypatch):
    """ngshare files a page under the trainee and the hand-in's time; its hand-ins carry no
    submission_secret.txt (the folder exchange's key), and the page is released all the same."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    monkeypatch.setenv("USER", "grader")  # ngshare-exchange reads it at import
    from ngshare_exchange.release_feedback import ExchangeReleaseFeedback

    released = []

    class HubCourse:  # what open_course gives in the formgrader, with ngshare configured
        config = Config({"ExchangeFactory": {"release_feedback": ExchangeReleaseFeedback}})
        coursedir = CourseDirectory(root=str(tmp_path))

        def get_autograded_students(self, module):
            return ["bea"]

        def generate_feedback(self, module, student):
            return {"success": True}

        def release_feedback(self, module, student):
            released.append((module, student))
            return {"success": True}

    (tmp_path / "nbgrader_config.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(cli, "open_course", lambda root, overrides=None: HubCourse())
    monkeypatch.setattr(cli, "modules_of", lambda root, wanted: ["m2_sla_severity"])
    args = argparse.Namespace(course=str(tmp_path), module=None, student=None, allow_ungraded=False)
    assert cli.cmd_feedback(args) == 0
    assert released == [("m2_sla_severity", "bea")]
    page = tmp_path / "feedback" / "bea" / "m2_sla_severity" / "m2_sla_severity.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>", encoding="utf-8")
    assert cli.feedback_state(HubCourse(), "m2_sla_severity", "bea") == (True, None)  # status: "?"
