"""What ``deploy/jupyterhub/jupyterhub_config.py`` is made of, as functions that can be tested.

Names follow nbgrader's JupyterHub setup: trainees are the hub group ``nbgrader-<course_id>``,
trainers ``formgrade-<course_id>``, and the formgrader is a hub service named after the course,
running ``jupyterhub-singleuser`` as the grader account in the course folder. The quiz service
(``course.trainer.hub.quiz_service``) is a second hub service, ``etp-quiz``.

Every trainee's server runs the trainee install: a runtime folder rebuilt at hub start from this
checkout (``course.trainer.lab.runtime``: the ``python3`` kernelspec running ``python -S`` on a copy of
the package's trainee side), read-only for trainees. The kernel's environment names the course id
and the variants switch, so each trainee's world derives from ``JUPYTERHUB_USER``.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import course
from course.trainer.lab import runtime as lab
from course.data import world
from course.trainer.hub.exchange import SERVICE_NAME as EXCHANGE_SERVICE
from course.trainer.hub.quiz_service import READ_ANSWERS_SCOPE, SERVICE_NAME as QUIZ_SERVICE

REPO = Path(__file__).resolve().parents[3]
USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"  # hub names that are also valid system accounts
SERVER_EXTENSIONS_OFF = lab.TRAINER_SERVER_EXTENSIONS  # formgrader and course list: trainers only


def trainee_group(course_id: str) -> str:
    return f"nbgrader-{course_id}"


def trainer_group(course_id: str) -> str:
    return f"formgrade-{course_id}"


def formgrader_service(course_id: str) -> str:
    """nbgrader's rule: the formgrader service is named after the course."""
    return course_id


def names(text: str | None) -> list[str]:
    """A comma- or space-separated list of hub names, each checked against USERNAME_PATTERN."""
    found = [name for name in re.split(r"[\s,]+", text or "") if name]
    for name in found:
        if not re.match(USERNAME_PATTERN, name):
            raise ValueError(f"{name!r} is not a valid trainee or trainer name ({USERNAME_PATTERN})")
    return found


# -- groups, roles, scopes ----------------------------------------------------------------------
def groups(course_id: str, trainees: list[str], trainers: list[str], grader: str) -> dict:
    """The hub groups nbgrader expects (loaded at start; the admin page adds more members)."""
    return {trainee_group(course_id): {"users": sorted(set(trainees))},
            trainer_group(course_id): {"users": sorted({*trainers, grader})}}


def custom_scopes() -> dict:
    return {READ_ANSWERS_SCOPE: {"description": "Read every trainee's committed quiz answers "
                                                "(grading and review)."}}


def roles(course_id: str) -> list[dict]:
    formgrader = formgrader_service(course_id)
    return [
        {"name": "etp-trainee", "description": "Trainees: answer quizzes through the quiz service",
         "groups": [trainee_group(course_id)],
         "scopes": [f"access:services!service={QUIZ_SERVICE}"]},
        {"name": "etp-trainer", "description": "Trainers: the formgrader, and the quiz record",
         "groups": [trainer_group(course_id)],
         "scopes": [f"access:services!service={formgrader}", f"access:services!service={QUIZ_SERVICE}",
                    READ_ANSWERS_SCOPE, "list:users", "read:users:name", "read:users:groups"]},
        {"name": "etp-formgrader", "description": "The formgrader service reads the quiz record",
         "services": [formgrader],
         "scopes": [f"access:services!service={QUIZ_SERVICE}", READ_ANSWERS_SCOPE]},
        {"name": "etp-ngshare-users", "description": "Trainees and trainers reach the exchange service",
         "groups": [trainee_group(course_id), trainer_group(course_id)], "services": [formgrader],
         "scopes": [f"access:services!service={EXCHANGE_SERVICE}"]},
        {"name": "etp-exchange", "description": "The exchange reads the course's groups (its roster)",
         "services": [EXCHANGE_SERVICE],
         "scopes": [f"read:groups!group={trainee_group(course_id)}",
                    f"read:groups!group={trainer_group(course_id)}"]},
        {"name": "etp-quiz-service", "description": "The quiz service makes trainees' worlds ahead",
         "services": [QUIZ_SERVICE],
         "scopes": [f"read:groups!group={trainee_group(course_id)}"]},
    ]


def server_token_scopes() -> list[str]:
    """What a server's own token ($JUPYTERHUB_API_TOKEN, which its kernels see) may do: post
    activity, reach its server, commit quizzes, and read its owner's groups (nbgrader's
    JupyterHubAuthPlugin). The hub gives each server only those its owner holds."""
    return ["users:activity!user", "access:servers!server",
            f"access:services!service={QUIZ_SERVICE}", f"access:services!service={EXCHANGE_SERVICE}",
            "read:users:name!user",
            "read:users:groups!user"]


# -- services -------------------------------------------------------------------------------------
def services(*, course_id: str, course_dir: Path, grader: str | None, formgrader_port: int,
             quiz_port: int, quiz_data: Path, quiz_url: str, exchange_url: str,
             variants: bool, db_url: str | None, python: str = sys.executable,
             formgrader_config: Path, quiz_user: str | None = None, jail: bool = False,
             quiz_source: Path | None = None) -> list[dict]:
    """The formgrader (as the grader account, in its jail when ``jail``) and the quiz service
    (as ``quiz_user``, in its jail when ``jail``, keys from ``quiz_source``)."""
    bin_dir = Path(python).parent
    formgrader_env = {
        "JUPYTERHUB_DEFAULT_URL": "/formgrader",  # the formgrader as a page of its own (no iframe)
        "ETP_NGSHARE_URL": exchange_url,  # the course's nbgrader_config.py: ngshare's exchange
        "ETP_QUIZ_SERVICE_URL": quiz_url,  # hub mode: keyless releases, answers from the service
        world.COURSE_ENV: course_id, world.VARIANTS_ENV: "on" if variants else "off",
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": str(REPO),  # this checkout's course, for its kernels and `python -m course`
    }
    if db_url:
        formgrader_env["NBGRADER_DB_URL"] = db_url
    formgrader_env["JUPYTER_CONFIG_PATH"] = str(formgrader_config)
    args = [f"--ServerApp.root_dir={course_dir}"]
    command = [str(bin_dir / "jupyterhub-singleuser"), *args]
    if jail and grader:  # runs as root only to mount; the server itself runs as the grader
        from course.trainer.hub.jail import KERNEL_ARGS, KERNEL_ENV, jail_command, python_paths

        command = jail_command(grader, [*python_paths(), str(REPO), str(formgrader_config)],
                               [str(course_dir)], chdir=str(course_dir),
                               host_proc=True) + command + KERNEL_ARGS
        formgrader_env["HOME"] = pwd.getpwnam(grader).pw_dir
        formgrader_env.update(KERNEL_ENV)
    formgrader = {
        "name": formgrader_service(course_id),
        "url": f"http://127.0.0.1:{formgrader_port}",
        "command": command,
        "cwd": str(course_dir),
        "environment": formgrader_env,
        "oauth_no_confirm": True,
        "display": True,
    }
    if grader and not jail:
        formgrader["user"] = grader
    quiz_command = [python, "-m", "course.trainer.hub.quiz_service", "--course-root", str(quiz_source or course_dir),
                    "--data", str(quiz_data), "--course-id", course_id,
                    "--variants", "on" if variants else "off",
                    "--trainee-group", trainee_group(course_id)]
    quiz_env = {"PYTHONPATH": str(REPO), "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}
    if quiz_user and jail:  # as its own account, the checkout and source read-only; worlds in the sandbox
        from course.trainer.hub.jail import jail_command, python_paths

        quiz_command = jail_command(quiz_user, [*python_paths(), str(REPO), str(quiz_source or course_dir)],
                                    [str(quiz_data)], chdir=str(quiz_data), host_proc=True) + quiz_command
        quiz_env["HOME"] = str(quiz_data)
    quiz = {
        "name": QUIZ_SERVICE,
        "url": f"http://127.0.0.1:{quiz_port}",
        "command": quiz_command,
        "environment": quiz_env,
        "display": False,
    }
    if quiz_user and not jail:
        quiz["user"] = quiz_user
    return [formgrader, quiz]


def exchange_service(*, course_id: str, port: int, data: Path, account: str | None,
                     max_upload_mb: float, quota_mb: float, python: str = sys.executable,
                     jail: bool = False) -> dict:
    """ngshare (``course.trainer.hub.exchange``) as its own account, in its jail when ``jail`` (which
    sees the Python install, this checkout read-only and its data folder)."""
    command = [python, "-m", "course.trainer.hub.exchange", "--data", str(data), "--course-id", course_id,
               "--trainer-group", trainer_group(course_id), "--trainee-group", trainee_group(course_id),
               "--formgrader", formgrader_service(course_id),
               "--max-upload-mb", str(max_upload_mb), "--quota-mb", str(quota_mb)]
    if jail and account:  # runs as root only to mount, then as the account
        from course.trainer.hub.jail import jail_command, python_paths

        command = jail_command(account, [*python_paths(), str(REPO)], [str(data)], chdir=str(data)) + command
    service = {"name": EXCHANGE_SERVICE, "url": f"http://127.0.0.1:{port}", "command": command,
               "cwd": str(data), "environment": {"PYTHONPATH": str(REPO)}, "display": False}
    if account and not jail:
        service["user"] = account
    return service


def prepare_quiz_service(data: Path, source_copy: Path, course_dir: Path, account: str | None) -> Path:
    """The quiz service's folders: its data (answers, worlds) owned by its account, 0700; and a
    copy of the course's source notebooks it may read (the course folder is the grader's alone),
    refreshed from the course folder at every hub start. Returns the copy's course root."""
    info = pwd.getpwnam(account) if account and os.geteuid() == 0 else None
    data.mkdir(parents=True, exist_ok=True)
    own_privately(data, account)  # answers recorded when the service ran as root are its own now
    if source_copy.exists():
        shutil.rmtree(source_copy)
    (source_copy / "source").mkdir(parents=True)
    for notebook in sorted((course_dir / "source").glob("*/*.ipynb")):
        target = source_copy / "source" / notebook.parent.name / notebook.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy2(notebook, target)
    for path in [source_copy, *source_copy.rglob("*")]:  # root's; the service's group reads it
        if info is not None:
            os.chown(path, 0, info.pw_gid, follow_symlinks=False)
        path.chmod(0o750 if path.is_dir() else 0o640)
    return source_copy


# -- the folders the hub prepares at start ---------------------------------------------------------
def prepare_exchange_data(folder: Path, account: str | None) -> Path:
    """The exchange's database and files: its account's alone (0700). No trainee writes there:
    everything goes through the ngshare service, which knows who sends it."""
    folder.mkdir(parents=True, exist_ok=True)
    return own_privately(folder, account)


def own_privately(folder: Path, account: str | None) -> Path:
    """``folder`` and everything in it owned by ``account`` (when run as root), the folder 0700."""
    if account and os.geteuid() == 0:
        info = pwd.getpwnam(account)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, info.pw_uid, info.pw_gid, follow_symlinks=False)
    folder.chmod(0o700)
    return folder


def prepare_course_dir(course_dir: Path, grader: str | None, repo: Path = REPO) -> Path:
    """The trainer's course folder (source/, gradebook, submissions), private to the grader
    account. Modules missing there are copied from the checkout; the trainer's edits are kept.
    The course's nbgrader_config.py is refreshed from the checkout at every start."""
    course_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo / "nbgrader_config.py", course_dir / "nbgrader_config.py")
    for module in sorted((repo / "source").iterdir()):
        target = course_dir / "source" / module.name
        if module.is_dir() and not target.exists():
            shutil.copytree(module, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return own_privately(course_dir, grader)


def prepare_formgrader_config(folder: Path, frame_self: bool) -> Path:
    """The formgrader service's Jupyter settings (on its JUPYTER_CONFIG_PATH).

    Since JupyterHub 4.1 every server sends ``Content-Security-Policy: frame-ancestors 'none'``,
    so the formgrader panel nbgrader draws in an iframe inside Lab stays blank (nbgrader #1870).
    Without subdomains every server shares one origin, and allowing ``'self'`` would let any
    trainee's page frame the trainers' formgrader; so by default the header stays and trainers
    open the formgrader as a page of its own (the service's default URL is ``/formgrader``). With
    per-user subdomains (``frame_self``), ``'self'`` is the service alone, and the panel works.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = ['"""Jupyter server settings of the formgrader service (written at hub start)."""',
             "c = get_config()  # noqa: F821",
             "# the trainer's terminal keeps the service's PATH (python -m course): a login shell",
             "# would take /etc/profile's",
             "c.ServerApp.terminado_settings = {\"shell_command\": [\"/bin/bash\"]}"]
    if frame_self:
        lines += ["c.ServerApp.tornado_settings = {",
                  "    \"headers\": {\"Content-Security-Policy\": \"frame-ancestors 'self'\"}}"]
    (folder / "jupyter_server_config.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for path in (folder, folder / "jupyter_server_config.py"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def student_config(course_id: str, exchange_url: str) -> str:
    """The trainees' global nbgrader_config.py: the course, ngshare as the exchange, hub groups
    as the roster."""
    return ('"""nbgrader settings of every trainee server on the hub (written at hub start)."""\n'
            "from nbgrader.auth import JupyterHubAuthPlugin\n"
            "from ngshare_exchange import configureExchange\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {course_id!r}\n"
            f"configureExchange(c, {exchange_url!r})\n"
            "c.Authenticator.plugin_class = JupyterHubAuthPlugin\n")


def prepare_trainee_runtime(runtime: Path, course_id: str, exchange_url: str, variants: bool) -> Path:
    """What every trainee's server runs on, rebuilt from this checkout at hub start (world-readable,
    writable by the hub's account alone):

    - ``jupyter/kernels/python3`` and ``lib/course``: the trainee kernel of ``course.trainer.lab.runtime``
      (``python -S``, trainee parts only, the course id and variants switch in its environment;
      without Lab's debugger, whose debugpy listens on a TCP port any user could reach);
    - ``server/course``: the trainee side for the server process (its pre-save hook,
      ``course.quiz.saved_state``), first on the server's ``PYTHONPATH``;
    - ``lab/settings``: the trainee Lab's settings (formgrader and Create Assignment left out);
    - ``config/nbgrader_config.py``: the course id, the ngshare exchange, the hub groups as the roster.
    """
    world_env = {world.COURSE_ENV: course_id, world.VARIANTS_ENV: "on" if variants else "off"}
    lab.prepare_trainee_runtime(runtime, world_env)
    spec_file = runtime / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec = json.loads(spec_file.read_text(encoding="utf-8"))
    spec.setdefault("metadata", {})["debugger"] = False  # its debugpy would listen on a TCP port
    spec_file.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    lab.copy_trainee_course(runtime / "server")
    config = runtime / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "nbgrader_config.py").write_text(student_config(course_id, exchange_url), encoding="utf-8")
    for path in [runtime, *runtime.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return runtime


def trainee_environment(runtime: Path, course_id: str, variants: bool, quiz_url: str,
                        python: str = sys.executable) -> dict:
    """The environment of every trainee's server (its kernels inherit it). ``PATH`` is set, not
    inherited from the hub (whose own may name folders in root's home)."""
    return {
        "PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin",
        "JUPYTER_PATH": str(runtime / "jupyter"),          # the trainee kernelspec first
        "JUPYTER_CONFIG_PATH": str(runtime / "config"),    # the trainees' nbgrader_config.py
        "PYTHONPATH": str(runtime / "server"),             # the trainee side, not the checkout
        world.COURSE_ENV: course_id,
        world.VARIANTS_ENV: "on" if variants else "off",
        "ETP_QUIZ_SERVICE_URL": quiz_url,
    }


def trainee_server_args(runtime: Path) -> list[str]:
    """JupyterLab's options for a trainee (as ``course.trainer.lab.runtime.trainee_lab_args``, on the hub)."""
    return [f"--LabApp.app_settings_dir={runtime / 'lab' / 'settings'}",
            "--ContentsManager.pre_save_hook=course.quiz.saved_state.keep_saved_widget_state",
            *[f"--ServerApp.jpserver_extensions={name}=False" for name in SERVER_EXTENSIONS_OFF]]


# -- system accounts --------------------------------------------------------------------------------
def ensure_system_user(name: str, home_root: str = "/home", system: bool = False) -> None:
    """A Unix account for a hub name (LocalProcessSpawner runs each server as its owner)."""
    if not re.match(USERNAME_PATTERN, name):
        raise ValueError(f"{name!r} cannot be a system account")
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    command = ["useradd", "--create-home", "--home-dir", f"{home_root}/{name}", "--shell", "/bin/bash",
               "--user-group"]
    if system:
        command.append("--system")
    subprocess.run([*command, name], check=True, capture_output=True)
    Path(home_root, name).chmod(0o700)


def join_group(group: str, accounts: list[str]) -> None:
    """Each existing account of ``accounts`` also in ``group`` (the checkout's group, docs/hub.md)."""
    import grp

    try:
        members = set(grp.getgrnam(group).gr_mem)
    except KeyError:
        return  # no such group: nothing to share
    for account in accounts:
        try:
            pwd.getpwnam(account)
        except KeyError:
            continue
        if account not in members:
            subprocess.run(["usermod", "--append", "--groups", group, account], check=True,
                           capture_output=True)


def pre_spawn_hook(create_users: bool, home_root: str = "/home"):
    def hook(spawner) -> None:
        if create_users:
            ensure_system_user(spawner.user.name, home_root)
    return hook


def runtime_course_copy_ok(runtime: Path) -> bool:
    """The trainee copy holds the trainee parts and nothing of the trainer's side."""
    copy = runtime / "lib" / "course"
    return (sorted(p.name for p in copy.iterdir()) == [p.name for p in course.trainee_side()]
            and not (copy / course.TRAINER_FOLDER).exists())
