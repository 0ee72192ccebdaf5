"""The trainee's JupyterLab as `make start` prepares it: an nbgrader student folder, a kernel that
holds only the trainee parts of `course`, no trainer tool, and quiz state kept across saves."""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from ipykernel.ipkernel import IPythonKernel

from browser_lab import released_course, trainee_folder, trainee_jupyterlab
from course.quiz import saved_state
from course.trainer.lab import launch, runtime as lab
from harness import ASSIGNMENTS, launch_from_a_copy

MODULE = ASSIGNMENTS[0]
NBGRADER = str(Path(sys.executable).with_name("nbgrader"))


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, data_cache):
    root = tmp_path_factory.mktemp("trainer")
    return root, released_course(root)


@pytest.fixture
def trainee(tmp_path, trainer):
    """(trainee folder, runtime folder), prepared as `make start` prepares them."""
    folder, runtime = tmp_path / "workspace", tmp_path / "runtime"
    trainee_folder(folder, runtime, trainer[1])
    return folder, runtime


KERNEL_PROBE = r"""
import importlib
for name in ["course.trainer.reference", "course.trainer.reference.judge", "course.trainer", "course.quiz", "course.data",
             "course.quiz.widgets", "pandas", "pyarrow", "ipywidgets", "anywidget"]:
    try:
        importlib.import_module(name)
        print(name, "yes")
    except ImportError:
        print(name, "no")
import io, pandas as pd
buffer = io.BytesIO()
pd.DataFrame({"a": [1, 2]}).to_parquet(buffer)
print("parquet rows", len(pd.read_parquet(io.BytesIO(buffer.getvalue()))))
print("help", callable(help))
%matplotlib inline
import matplotlib.pyplot as plt
plt.plot([1, 2, 3]); plt.show()
"""


def run_in_trainee_kernel(runtime: Path, code: str, monkeypatch) -> tuple[str, set]:
    """Start `python3` as the trainee's Lab does (its JUPYTER_PATH); (stdout, display mimetypes)."""
    from jupyter_client.manager import start_new_kernel

    monkeypatch.setenv("JUPYTER_PATH", lab.trainee_lab_env(runtime)["JUPYTER_PATH"])
    manager, client = start_new_kernel(kernel_name="python3")
    printed, shown = [], set()

    def keep(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        if message["msg_type"] in ("display_data", "execute_result"):
            shown.update(content["data"])
        if message["msg_type"] == "error":
            printed.append("\n".join(content["traceback"]))

    try:
        assert manager.kernel_spec.resource_dir.startswith(str(runtime))
        client.execute_interactive(code, output_hook=keep, timeout=120)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return "".join(printed), shown


def test_trainee_kernel_holds_only_the_trainee_parts(trainee, monkeypatch):
    _, runtime = trainee
    printed, shown = run_in_trainee_kernel(runtime, KERNEL_PROBE, monkeypatch)
    for trainer_side in ("course.trainer.reference", "course.trainer.reference.judge", "course.trainer"):
        assert f"{trainer_side} no" in printed, printed
    for available in ("course.quiz", "course.data", "course.quiz.widgets", "pandas", "pyarrow",
                      "ipywidgets", "anywidget"):
        assert f"{available} yes" in printed, printed
    assert "parquet rows 2" in printed and "help True" in printed
    assert "image/png" in shown  # matplotlib inline draws


def test_trainee_course_copy_is_the_trainee_parts(trainee):
    _, runtime = trainee
    copied = sorted(p.name for p in (runtime / "lib" / "course").iterdir())
    import course
    assert copied == [p.name for p in course.trainee_side()] and course.TRAINER_FOLDER not in copied
    assert (runtime / "lib" / "course" / "quiz" / "quiz.js").is_file()


def test_fetch_submit_from_the_folder_and_collect(trainee, trainer):
    root, api = trainer
    folder, _ = trainee
    notebook = next(lab.fetch_assignment(folder, MODULE).glob("*.ipynb"))
    metadata = nbformat.read(notebook, as_version=4).metadata
    assert metadata.language_info == IPythonKernel.language_info  # opening it is not an edit
    assert metadata.kernelspec.name == lab.KERNEL_NAME
    (folder / MODULE / "answers.json").write_text('{"format": "etp-academy-answers/1", "questions": {}}')
    notebook.write_text(notebook.read_text().replace("# YOUR CODE HERE", "# my work"))
    lab.fetch_assignment(folder, MODULE)  # a second fetch keeps the work
    assert "# my work" in notebook.read_text()

    submit = subprocess.run([NBGRADER, "submit", MODULE], cwd=folder, capture_output=True, text=True)
    assert submit.returncode == 0, submit.stderr
    assert api.collect(MODULE)["success"]
    submitted = next((root / "submitted").glob(f"*/{MODULE}"))
    assert "# my work" in (submitted / notebook.name).read_text()
    assert (submitted / "answers.json").read_text() == (folder / MODULE / "answers.json").read_text()


def get(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=30).status
    except urllib.error.HTTPError as err:
        return err.code


def test_trainee_lab_serves_the_folder_and_no_trainer_tool(trainee, tmp_path):
    folder, runtime = trainee
    lab.fetch_assignment(folder, MODULE)
    with trainee_jupyterlab(folder, runtime, tmp_path) as (base, token):
        listing = json.loads(urllib.request.urlopen(f"{base}/api/contents?token={token}").read())
        assert {item["name"] for item in listing["content"]} == {MODULE, "nbgrader_config.py"}
        assert get(f"{base}/api/contents/..?token={token}") in (400, 403, 404)  # nothing above it
        assert get(f"{base}/formgrader?token={token}") == 404
        assignments = json.loads(urllib.request.urlopen(
            f"{base}/assignments?course_id=etp-ops-academy&token={token}").read())
        status = {a["assignment_id"]: a["status"] for a in assignments["value"]}
        assert status == {name: "fetched" if name == MODULE else "released" for name in ASSIGNMENTS}
        page = urllib.request.urlopen(f"{base}/lab?token={token}").read().decode()
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S)[1])
        assert set(lab.TRAINER_LAB_PLUGINS) <= set(config["disabledExtensions"])


def test_lab_settings_save_widget_state(trainee):
    _, runtime = trainee
    settings = runtime / "lab" / "settings"
    assert json.loads((settings / "overrides.json").read_text()) == lab.LAB_OVERRIDES
    disabled = json.loads((settings / "page_config.json").read_text())["disabledExtensions"]
    assert set(disabled) == set(lab.TRAINER_LAB_PLUGINS)


# -- saved quiz state survives a save made before the cells run again ---------------------------

def widget_notebook(shown: list[str], state: dict) -> dict:
    """A notebook whose outputs show the widgets ``shown``, with ``state`` saved in it."""
    cells = [{"cell_type": "code", "source": "", "metadata": {}, "execution_count": None,
              "outputs": [{"output_type": "display_data", "metadata": {},
                           "data": {saved_state.WIDGET_VIEW: {"model_id": model_id}}}]} for model_id in shown]
    return {"cells": cells, "metadata": {"widgets": {saved_state.WIDGET_STATE: {"state": state}}},
            "nbformat": 4, "nbformat_minor": 5}


class FakeContents:
    def __init__(self, root):
        self.root_dir = str(root)


def test_saved_widget_state_is_kept_for_shown_widgets(tmp_path):
    quiz = {"model_name": "AnyModel", "state": {"layout": "IPY_MODEL_layout1", "qid": "q"}}
    on_disk = widget_notebook(["quiz1", "old"], {"quiz1": quiz, "layout1": {"state": {}},
                                                "old": {"state": {}}, "stale": {"state": {}}})
    (tmp_path / "m.ipynb").write_text(json.dumps(on_disk))
    saving = widget_notebook(["quiz1", "live"], {"live": {"state": {}}})  # JupyterLab: live only
    saved_state.keep_saved_widget_state({"type": "notebook", "content": saving}, "m.ipynb", FakeContents(tmp_path))
    state = saving["metadata"]["widgets"][saved_state.WIDGET_STATE]["state"]
    assert set(state) == {"live", "quiz1", "layout1"}  # shown widgets and what they refer to
    assert state["quiz1"] == quiz


def test_notebooks_without_missing_widgets_are_left_alone(tmp_path):
    plain = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    saved_state.keep_saved_widget_state({"type": "notebook", "content": plain}, "x.ipynb", FakeContents(tmp_path))
    assert plain["metadata"] == {}
    saved_state.keep_saved_widget_state({"type": "file", "content": "text"}, "x.txt", FakeContents(tmp_path))


# -- `make start` and `make trainer` --------------------------------------------------------------

def test_make_start_prepares_the_folder_and_opens_it(tmp_path, monkeypatch, capsys):
    launch_from_a_copy(tmp_path, monkeypatch)
    started = []
    monkeypatch.setattr(launch, "open_lab", lambda *how: started.append(how))

    launch.main([])
    [(folder, args, env)] = started
    assert folder == tmp_path / "workspace"
    assert f"--ServerApp.root_dir={folder}" in args
    assert f"--LabApp.default_url=/lab/tree/{MODULE}/{MODULE}.ipynb" in args
    assert env["JUPYTER_PATH"].split(os.pathsep)[0] == str(tmp_path / ".trainee" / "jupyter")
    assert all((folder / name).is_dir() for name in ASSIGNMENTS) and (folder / "nbgrader_config.py").exists()
    assert (folder / "m7_certification" / "m7_certification.ipynb").is_file()  # beside the modules it reads
    assert capsys.readouterr().out.startswith("ETP Express Operations Academy: preparing")

    started.clear()
    launch.main(["--trainer"])
    [(folder, args, env)] = started
    assert folder == tmp_path and f"--ServerApp.root_dir={tmp_path}" in args
    assert not any("app_settings_dir" in arg or "jpserver_extensions" in arg for arg in args)
