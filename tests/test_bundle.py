"""``python -m course bundle``: what a trainee without JupyterHub receives holds the released
modules and the trainee install, nothing of the trainer's; a notebook from it runs on it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import course
from course.data import world
from harness import ASSIGNMENTS, REPO, failure_log

TOP = "etp-ops-academy"
TRAINER_ONLY = ("source/", "course/trainer/reference", "course/trainer", "course/trainer/reference/judge", "course/__main__",
                "gradebook", "submitted/", "autograded/", "feedback/", "exchange", ".grading",
                "nbgrader_config.py", "tests/")
KEY_FILES = (".pem", ".key", "id_rsa", "id_ed25519", "submission_secret", ".env", "quiz_keys")
SECRET_TEXT = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "answer=")
# locked ones open only with a right answer; a data-dependent quiz ships none
PLAIN_EXPLANATION = re.compile(r"explanation=\s*(?![\"']locked:|\"\"|'')")


def make_bundle(root: Path, output: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course", "bundle", "--course", str(root),
                           "--output", str(output), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def bundle(course, tmp_path_factory):
    root, _ = course
    folder = tmp_path_factory.mktemp("bundle")
    done = make_bundle(root, folder / "cohort.zip")
    assert done.returncode == 0, failure_log(done.stderr)
    with zipfile.ZipFile(folder / "cohort.zip") as zf:
        names = zf.namelist()
        zf.extractall(folder / "unpacked")
    return dict(root=root, folder=folder, names=names, top=folder / "unpacked" / TOP)


def test_the_bundle_holds_the_released_modules_and_the_trainee_install(bundle):
    names = set(bundle["names"])
    assert all(name.startswith(TOP + "/") for name in names)
    for module in ASSIGNMENTS:
        released = sorted(p.name for p in (bundle["root"] / "release" / module).glob("*.ipynb"))
        assert released and all(f"{TOP}/{module}/{nb}" in names for nb in released), module
        for nb in released:
            with zipfile.ZipFile(bundle["folder"] / "cohort.zip") as zf:
                assert zf.read(f"{TOP}/{module}/{nb}") == (bundle["root"] / "release" / module / nb).read_bytes()
    parts = {name.split("/")[2] for name in names if name.startswith(f"{TOP}/course/")}
    assert parts == {p.name for p in course.trainee_side()} and course.TRAINER_FOLDER not in parts, parts
    for extra in ("README.md", "requirements.txt", "pyproject.toml", "start-lab.sh"):
        assert f"{TOP}/{extra}" in names
    with zipfile.ZipFile(bundle["folder"] / "cohort.zip") as zf:
        assert (zf.getinfo(f"{TOP}/start-lab.sh").external_attr >> 16) & 0o111, "start-lab.sh is not executable"
    readme = (bundle["top"] / "README.md").read_text()
    assert "pip install -r requirements.txt ." in readme and "Hand in" in readme


def test_installing_the_bundle_brings_every_file_of_the_trainee_parts(bundle, tmp_path):
    """``pip install .`` (the bundle's README) installs what setuptools' build_py collects: the
    widgets' JavaScript and the certification notebook are data files, easy to leave behind."""
    project, built = tmp_path / "project", tmp_path / "built"
    shutil.copytree(bundle["top"], project)
    done = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "--quiet",
                           "build_py", "--build-lib", str(built)],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, failure_log(done.stderr)
    shipped = project / "course"
    expected = {p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()
                and "__pycache__" not in p.parts}
    installed = {p.relative_to(built / "course") for p in (built / "course").rglob("*") if p.is_file()}
    assert {p for p in expected if p.suffix != ".py"}, "no data files to check"
    assert expected <= installed, sorted(map(str, expected - installed))


def test_nothing_of_the_trainer_and_no_key_is_in_the_bundle(bundle):
    for name in bundle["names"]:
        inner = name[len(TOP) + 1:]
        assert not any(part in inner for part in TRAINER_ONLY), name
        assert not any(part in inner.lower() for part in KEY_FILES), name
    for path in bundle["top"].rglob("*.ipynb"):
        text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells)
        assert not [s for s in SECRET_TEXT if s in text], path
        assert not PLAIN_EXPLANATION.search(text), path


def test_a_bundle_for_one_trainee_opens_their_world(bundle, tmp_path):
    done = make_bundle(bundle["root"], tmp_path / "ana.zip", "--student", "ana", "--module", ASSIGNMENTS[0])
    assert done.returncode == 0, failure_log(done.stderr)
    with zipfile.ZipFile(tmp_path / "ana.zip") as zf:
        script = zf.read(f"{TOP}/start-lab.sh").decode()
        modules = {name.split("/")[1] for name in zf.namelist()
                   if name.endswith(".ipynb") and name.count("/") == 2}
    assert f"{world.SEED_ENV}='{world.seed_for('ana', world.COURSE_ID)}'" in script
    assert modules == {ASSIGNMENTS[0]}


def bundle_kernel(jupyter: Path, top: Path) -> str:
    """A kernel whose ``course`` is the bundle's: ``python -S`` (no .pth file, so not the
    checkout's editable install), the bundle first on the path, then the site packages."""
    spec = jupyter / "kernels" / "bundle-python"
    spec.mkdir(parents=True)
    paths = sysconfig.get_paths()
    site = dict.fromkeys([paths["purelib"], paths["platlib"]])
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "env": {"PYTHONPATH": os.pathsep.join([str(top), *site])},
        "display_name": "bundle", "language": "python"}))
    return "bundle-python"


@pytest.mark.slow
def test_a_notebook_from_the_bundle_runs_with_the_bundled_course(bundle, tmp_path, monkeypatch):
    top = bundle["top"]
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    kernel = bundle_kernel(tmp_path / "jupyter", top)
    module = "m5_troubleshooting" if "m5_troubleshooting" in ASSIGNMENTS else ASSIGNMENTS[0]
    [path] = sorted((top / module).glob("*.ipynb"))[:1]
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, new_code_cell(
        "import course, importlib.util\n"
        "def spec(name):\n"
        "    try:\n"
        "        return importlib.util.find_spec(name)\n"
        "    except ModuleNotFoundError:  # its parent is missing\n"
        "        return None\n"
        "print('course from', course.__file__)\n"
        "print('reference', spec('course.trainer.reference'))\n"
        "print('trainer', spec('course.trainer'))"))
    NotebookClient(nb, timeout=180, kernel_name=kernel,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    probe = nb.cells[0].outputs[0].text
    assert f"course from {top / 'course' / '__init__.py'}" in probe, probe
    assert "reference None" in probe and "trainer None" in probe, probe
    errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.ename, o.evalue)
              for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code[-1].execution_count is not None, "Run All did not reach the end"
    assert any("not done yet" in o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert str(REPO) not in "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
                                    if o.output_type == "stream")
