"""The sandbox every graded kernel runs in (Bubblewrap), and the kernel manager that starts it.

Inside, a kernel sees the system's programs, the Python install, the trainee parts of the course
package, the module's data (read-only) and a private copy of its own submission. It does not see
``source/``, the gradebook, the exchange, other trainees, feedback or the trainer's home; it has
no network, and runs as an unprivileged user with limits on memory, processes and file size.
Kernels talk to the trainer over ``ipc`` sockets in a run folder bound into the sandbox.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

import course
from course.data.cache import data_dir

OPT_OUT_VAR = "ETP_GRADE_WITHOUT_SANDBOX"
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_FILES = ("/etc/alternatives", "/etc/localtime", "/etc/ld.so.cache", "/etc/fonts")
PASSED_VARS = ("NBGRADER_EXECUTION", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
               "TZ")
TRAINEE_HOME = "/home/trainee"
# What a kernel writes that never explains its death: font and plot-cache warnings.
KERNEL_NOISE = re.compile(r"Fontconfig|font ?cache|Matplotlib (created|is building)|MPLCONFIGDIR|"
                          r"is not a writable directory|^\s*warnings\.warn\(", re.IGNORECASE)
OUT_OF_MEMORY = re.compile(r"MemoryError|Cannot allocate memory|out of memory|bad_alloc", re.IGNORECASE)


class SandboxUnavailable(RuntimeError):
    """No sandbox can start here, and grading without one was not allowed (one-line reason)."""


class Sandbox(LoggingConfigurable):
    """Limits and switches of the graded kernels' sandbox (``c.Sandbox.<name>`` in nbgrader_config.py)."""

    required = Bool(True, help=(
        "Refuse to autograde when no sandbox can start. Setting the environment variable "
        f"{OPT_OUT_VAR}=1 turns this off: trainee code then runs with the trainer's rights."
    )).tag(config=True)
    bwrap = Unicode("bwrap", help="The Bubblewrap program").tag(config=True)
    memory_mb = Integer(4096, help="Address space of a graded kernel, in MiB").tag(config=True)
    max_processes = Integer(256, help="Processes and threads of the sandbox user").tag(config=True)
    max_file_mb = Integer(512, help="Largest file a graded kernel may write, in MiB").tag(config=True)
    tmp_mb = Integer(1024, help="Size of the sandbox's /tmp, in MiB").tag(config=True)
    uid = Integer(65534, help="User a graded kernel runs as, when grading runs as root").tag(config=True)
    kernel_env: dict[str, str] = {}
    extra_read_only = List(Unicode(), help="More host paths a graded kernel may read").tag(config=True)

    @property
    def opted_out(self) -> bool:
        return os.environ.get(OPT_OUT_VAR, "") not in ("", "0")

    def status(self) -> tuple[bool, str]:
        """(usable, reason): whether a sandbox starts here, and why not."""
        if self.opted_out:
            return False, f"{OPT_OUT_VAR} is set"
        return _probe(self.bwrap)

    def ensure(self) -> bool:
        """True when kernels will be sandboxed; raise SandboxUnavailable when they must be and cannot."""
        usable, reason = self.status()
        if usable:
            return True
        if self.required and not self.opted_out:
            raise SandboxUnavailable(
                f"autograde refused: no sandbox for trainee code ({reason}). Install bubblewrap "
                f"(apt-get install bubblewrap), or set {OPT_OUT_VAR}=1 to grade without one.")
        self.log.warning("Grading WITHOUT a sandbox (%s): trainee code runs with your rights.", reason)
        return False

    # -- the command ---------------------------------------------------------------------------
    def wrap(self, kernel_cmd: list[str], workdir: Path, rundir: Path) -> list[str]:
        """``kernel_cmd`` run inside the sandbox, with ``workdir`` as its private, writable cwd."""
        home = f"{TRAINEE_HOME}/{workdir.name}"
        as_root = os.geteuid() == 0
        args = [self.bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--clearenv"]
        if not as_root:
            args.append("--unshare-user")
        args += _system_mounts()
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(self.tmp_mb << 20), "--tmpfs", "/tmp"]
        read_only = [Path(sys.base_prefix), Path(sys.prefix), data_dir(),
                     *map(Path, self.extra_read_only)]
        args += _mount_tree(read_only, [rundir], home)
        args += _course_mounts(read_only)
        args += ["--bind", str(workdir), home, "--chdir", home]
        for name, value in self._environment(home, rundir).items():
            args += ["--setenv", name, value]
        limits = ["prlimit", f"--as={self.memory_mb << 20}", f"--fsize={self.max_file_mb << 20}",
                  "--nofile=1024", "--core=0"]
        if as_root:
            limits.insert(1, f"--nproc={self.max_processes}")
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                    "--no-new-privs"]
        else:
            drop = []
        return args + ["--"] + drop + limits + ["--"] + kernel_cmd

    def _environment(self, home: str, rundir: Path) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASSED_VARS if k in os.environ}
        env.update(self.kernel_env)  # set per submission: its world seed
        env.update(HOME=home, USER="trainee", LOGNAME="trainee", LANG="C.UTF-8",
                   PATH=f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
                   IPYTHONDIR="/tmp/.ipython", MPLCONFIGDIR=str(rundir / "matplotlib"),
                   XDG_CACHE_HOME="/tmp/.cache", PYTHONDONTWRITEBYTECODE="1",
                   ETP_ACADEMY_DATA=str(data_dir()),
                   # the trainee parts bound below, whatever copy the install's .pth names
                   PYTHONPATH=str(Path(course.__file__).resolve().parents[1]))
        return env

    def share_data(self) -> None:
        """The data cache is the same public data for every trainee: let the sandbox user read it."""
        folder = data_dir()
        folder.chmod(folder.stat().st_mode | 0o555)
        for path in folder.iterdir():
            if path.is_file() and not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o444)

    def hand_to_sandbox_user(self, *paths: Path) -> None:
        """Let the sandbox user write its private copy and its run folder (grading as root)."""
        if os.geteuid() != 0:
            return
        for top in paths:
            for path in [top, *top.rglob("*")]:
                os.chown(path, self.uid, self.uid, follow_symlinks=False)


def _system_mounts() -> list[str]:
    args = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _mount_tree(read_only: list[Path], writable: list[Path], home: str) -> list[str]:
    """Parent folders (world-readable, unlike bwrap's default) and then the binds, outer first."""
    binds = {p.resolve(): "--ro-bind" for p in read_only if p.exists()}
    binds.update({p.resolve(): "--bind" for p in writable})
    parents = {str(a) for p in binds for a in p.parents if str(a) != "/"}
    parents |= {"/home", TRAINEE_HOME}
    args = []
    for folder in sorted(parents, key=lambda s: s.count("/")):
        if not any(folder == s or folder.startswith(s + "/") for s in SYSTEM_PATHS):
            args += ["--perms", "0755", "--dir", folder]
    for path in sorted(binds, key=lambda p: len(p.parts)):
        args += [binds[path], str(path), str(path)]
    return args


def _course_mounts(read_only: list[Path]) -> list[str]:
    """The course package's trainee side alone: ``course/trainer`` does not exist in the sandbox."""
    package = course.PACKAGE
    inside_bound = any(r.resolve() in package.parents for r in read_only if r.exists())
    args = ["--tmpfs", str(package)] if inside_bound else ["--perms", "0755", "--dir", str(package)]
    for part in course.trainee_side():
        args += ["--ro-bind", str(part), str(part)]
    return args


@functools.lru_cache(maxsize=1)
def _font_list() -> tuple[str, str]:
    """(file name, JSON) of matplotlib's font list as this process has it, made once per process."""
    import tempfile

    from matplotlib import font_manager

    name = f"fontlist-v{font_manager.FontManager.__version__}.json"
    with tempfile.TemporaryDirectory(prefix="etp-fonts-") as folder:
        font_manager.json_dump(font_manager.fontManager, Path(folder) / name)
        return name, (Path(folder) / name).read_text(encoding="utf-8")


def font_cache(folder: Path) -> None:
    """A kernel's matplotlib folder, holding the font list: importing matplotlib reads it instead
    of scanning the system's fonts again, which costs a fresh kernel about 0.4 s of CPU."""
    name, text = _font_list()
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _probe(bwrap: str) -> tuple[bool, str]:
    """Start one sandbox running /bin/true, once per process."""
    program = shutil.which(bwrap)
    if program is None:
        return False, f"{bwrap} is not installed"
    command = [program, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--die-with-parent",
               *(["--unshare-user"] if os.geteuid() != 0 else []), *_system_mounts(),
               "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"{bwrap} did not start ({type(err).__name__})"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return False, f"{bwrap} failed: {last}"
    return True, "ok"


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs inside ``sandbox`` (or plainly when it is None)."""

    sandbox: Sandbox | None = None
    workdir: Path | None = None
    rundir: Path | None = None
    kernel_env: dict[str, str] = {}  # e.g. the submission's world seed
    _process = None
    LOG_NAME = "kernel.log"

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        kw["env"] = {**kw.get("env", os.environ), **self.kernel_env}
        # What the kernel writes to its own stdout and stderr goes to a file, not the trainer's
        # terminal: trainee code can write there directly, past every output cap.
        if self.rundir is not None:
            with open(self.rundir / self.LOG_NAME, "ab") as log:
                kw.update(stdout=log, stderr=log)
                return await self._launch_and_keep(kernel_cmd, **kw)
        return await self._launch_and_keep(kernel_cmd, **kw)

    async def _launch_and_keep(self, kernel_cmd, **kw):
        # The process, kept past the provisioner's cleanup: its exit status tells how it died.
        info = await super()._async_launch_kernel(kernel_cmd, **kw)
        self._process = getattr(self.provisioner, "process", None)
        return info

    def last_words(self) -> str:
        """Why the kernel died: how it ended (a signal, out of memory) and its last line that
        says something (not a font or cache warning)."""
        lines = self._log_tail()
        said = [line for line in lines if line.strip() and not KERNEL_NOISE.search(line)]
        last = "".join(ch if ch.isprintable() else "?" for ch in said[-1][:200]) if said else ""
        how = self.how_it_ended(any(OUT_OF_MEMORY.search(line) for line in lines))
        return "; ".join(part for part in (how, last) if part)  # trainee-written text made printable

    def how_it_ended(self, memory_said: bool = False) -> str:
        """The kernel's end in words: out of memory, the signal that stopped it, or its exit code."""
        code = self._process.poll() if self._process is not None else None
        # bwrap exits with 128 + the signal that stopped the kernel inside it
        signum = -code if code is not None and code < 0 else (
            code - 128 if code is not None and code > 128 and self.sandbox is not None else None)
        memory = self.sandbox.memory_mb if self.sandbox is not None else None
        if memory_said:
            return "out of memory" + (f" (a graded kernel may use {memory} MiB)" if memory else "")
        if signum == signal.SIGKILL:
            return "killed (SIGKILL): most likely out of memory, or stopped from outside"
        if signum == signal.SIGXFSZ:
            limit = f" of {self.sandbox.max_file_mb} MiB" if self.sandbox is not None else ""
            return f"stopped for writing a file over the limit{limit} (SIGXFSZ)"
        if signum == signal.SIGXCPU:
            return "stopped for using too much CPU time (SIGXCPU)"
        if signum:
            try:
                return f"stopped by signal {signal.Signals(signum).name}"
            except ValueError:
                return f"stopped by signal {signum}"
        return f"exited with code {code}" if code else ""

    def _log_tail(self) -> list[str]:
        path = self.rundir / self.LOG_NAME if self.rundir else None
        if path is None or not path.is_file():
            return []
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4000))
            return fh.read().decode("utf-8", "replace").splitlines()

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.sandbox is None:
            return cmd
        # A signal to the process group would stop bwrap itself: interrupt by message instead.
        self.kernel_spec.interrupt_mode = "message"
        font_cache(self.rundir / "matplotlib")
        self.sandbox.hand_to_sandbox_user(self.rundir, self.workdir)
        self.sandbox.share_data()
        return self.sandbox.wrap(cmd, self.workdir, self.rundir)
