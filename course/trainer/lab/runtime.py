"""The trainee's JupyterLab and the trainer's: folders, the trainee kernel, Lab settings.

The trainee's Lab serves the trainee folder, an nbgrader student folder: its ``nbgrader_config.py``
names the course and the exchange, so the Assignments tab (Fetch, Submit) and
``nbgrader submit <module>`` run there work as nbgrader intends. Nothing above that folder
(``source/``, the gradebook, the exchange) can be browsed, and the formgrader, Course List and
Create Assignment are switched off.

The trainee's kernel is the ``python3`` kernelspec of the trainee runtime folder, first on
``JUPYTER_PATH``. It runs the course's Python with ``-S``: site-packages come from ``PYTHONPATH``
without their ``.pth`` files, so the repository's editable install is invisible and ``course`` is a
copy of the package's trainee side alone (``course/`` without ``course/trainer``).

The trainer's Lab serves the repository with every nbgrader extension on.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path

import course
from course.quiz import saved_state

ROOT = Path(__file__).resolve().parents[3]
KERNEL_NAME = "python3"  # the name every released notebook asks for
KERNEL_DISPLAY_NAME = "Python 3 (ipykernel)"
# Trainer-only parts of nbgrader, in the browser and on the server.
TRAINER_LAB_PLUGINS = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                       "@jupyter/nbgrader:course-list"]
TRAINER_SERVER_EXTENSIONS = ["nbgrader.server_extensions.formgrader",
                             "nbgrader.server_extensions.course_list"]
# Quiz widgets are saved in the notebook, so a reopened notebook shows them without its kernel;
# JupyterLab's news toast stays away (it would cover the first lines of every page).
LAB_OVERRIDES = {"@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
                 "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                                 "checkForUpdates": False}}
# The trainee Lab's own extension, prebuilt (course/trainer/lab/extension/README.md): Submit in the
# Assignment List saves the assignment's open notebooks first; opening a notebook is not an edit.
LAB_EXTENSION = Path(__file__).resolve().parent / "extension"


# -- the trainee folder ---------------------------------------------------------------------------

def write_student_config(folder: Path, course_id: str, exchange: Path, cache: Path) -> Path:
    """The trainee folder's ``nbgrader_config.py``, rewritten at every start."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nbgrader_config.py"
    config.write_text(
        '"""nbgrader settings of this trainee folder (rewritten by `make start`)."""\n'
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.CourseDirectory.root = {str(folder)!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.Exchange.cache = {str(cache)!r}\n"
        f"c.Exchange.assignment_dir = {str(folder)!r}\n", encoding="utf-8")
    return config


def student_config(folder: Path):
    """The configuration ``nbgrader`` run in ``folder`` reads."""
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()


def fetch_assignment(folder: Path, name: str) -> Path:
    """``nbgrader fetch_assignment <name>`` in the trainee folder, unless a copy is there."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    target = folder / name
    if target.exists():
        return target  # the trainee's work: never overwritten
    config = student_config(folder)
    config.CourseDirectory.assignment_id = name
    coursedir = CourseDirectory(config=config)
    ExchangeFactory(config=config).FetchAssignment(
        coursedir=coursedir, authenticator=Authenticator(config=config), config=config).start()
    for notebook in target.glob("*.ipynb"):
        match_kernel_metadata(notebook)
    return target


def match_kernel_metadata(notebook: Path) -> None:
    """Write the kernel's own language and kernelspec into a fresh copy, so that opening it and
    starting its kernel is not an edit (JupyterLab would fill them in and mark it modified)."""
    import nbformat
    from ipykernel.ipkernel import IPythonKernel

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata["language_info"] = dict(IPythonKernel.language_info)
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME,
                                 "language": "python"}
    nbformat.write(nb, notebook)


# -- the trainee runtime: kernel, course copy, Lab settings ---------------------------------------

def prepare_trainee_runtime(runtime: Path, world_env: dict[str, str] | None = None) -> None:
    """Everything the trainee's Lab runs on, rebuilt at every start from this checkout.

    ``world_env`` tells the trainee's kernel which world to generate (course id, variants on
    or off; see ``course.data.world.current``)."""
    copy_trainee_course(runtime / "lib")
    write_kernelspec(runtime, world_env or {})
    write_lab_settings(runtime / "lab" / "settings")
    install_lab_extension(runtime / "jupyter" / "labextensions")


def copy_trainee_course(lib: Path) -> Path:
    """``course`` as a trainee's install holds it: its trainee side, without ``course/trainer``."""
    target = lib / "course"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in course.trainee_side():
        if part.is_dir():
            shutil.copytree(part, target / part.name, ignore=skip)
        else:
            shutil.copy2(part, target / part.name)
    return target


def kernel_pythonpath(runtime: Path) -> str:
    """The trainee course copy first, then the environment's site-packages (read without .pth)."""
    paths = sysconfig.get_paths()
    site_dirs = dict.fromkeys([paths["purelib"], paths["platlib"]])  # one entry when they agree
    return os.pathsep.join([str(runtime / "lib"), *site_dirs])


def write_kernelspec(runtime: Path, world_env: dict[str, str] | None = None) -> Path:
    spec_dir = runtime / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        # -S: no site module, so no .pth file (the editable install) reaches the kernel;
        # sethelper() brings back help(), the one site feature a trainee uses.
        "argv": [sys.executable, "-S", "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=import site; site.sethelper(); del site"],
        "env": {"PYTHONPATH": kernel_pythonpath(runtime), **(world_env or {})},
        "display_name": KERNEL_DISPLAY_NAME,
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return spec_dir


def install_lab_extension(labextensions: Path) -> Path:
    """The prebuilt extension where the trainee's Lab finds it (on ``JUPYTER_PATH``)."""
    name = json.loads((LAB_EXTENSION / "package.json").read_text(encoding="utf-8"))["name"]
    target = labextensions / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(LAB_EXTENSION / "build", target)
    return target


def write_lab_settings(settings: Path) -> None:
    """The trainee Lab's app settings: default overrides and the plugins it leaves out."""
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=1), encoding="utf-8")
    page_config = {"disabledExtensions": TRAINER_LAB_PLUGINS}
    (settings / "page_config.json").write_text(json.dumps(page_config, indent=1), encoding="utf-8")


# -- starting JupyterLab --------------------------------------------------------------------------

def trainee_lab_env(runtime: Path, base: dict | None = None) -> dict:
    """The environment of the trainee's Lab: its kernelspec first on JUPYTER_PATH."""
    env = dict(os.environ if base is None else base)
    jupyter_path = [str(runtime / "jupyter"), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(jupyter_path)
    return env


def trainee_lab_args(folder: Path, runtime: Path, open_path: str | None = None) -> list[str]:
    """JupyterLab's command line for the trainee folder."""
    args = lab_command(folder, open_path)
    args.append(f"--LabApp.app_settings_dir={runtime / 'lab' / 'settings'}")
    args.append(f"--ContentsManager.pre_save_hook={saved_state.__name__}.keep_saved_widget_state")
    args += [f"--ServerApp.jpserver_extensions={name}=False" for name in TRAINER_SERVER_EXTENSIONS]
    return args


def trainer_lab_args(root: Path = ROOT) -> list[str]:
    """JupyterLab's command line for the trainer: the course folder, formgrader included."""
    return lab_command(root, None)


def lab_command(root: Path, open_path: str | None) -> list[str]:
    args = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}",
            "--ServerApp.ip=127.0.0.1"]
    if open_path:
        args.append(f"--LabApp.default_url=/lab/tree/{open_path}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines run as root
    return args
