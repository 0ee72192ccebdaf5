"""Each server on a single-host hub in a Bubblewrap jail of its own account.

JupyterHub's LocalProcessSpawner runs a trainee's server as the trainee's Unix account, which then
sees the whole host: the course checkout (``source/``, ``course/trainer/reference``), other readable
folders, and it needs read access to every folder above the Python install. ``JailedSpawner``
starts the server instead inside ``bwrap`` (as root, which mounts) and drops to the account with
``setpriv`` before anything of the trainee's runs. Inside, the server sees:

- the system's programs and ``/etc`` (read-only), a private ``/tmp``, its own ``/proc``;
- the Python install and the hub's environment (read-only; the course checkout is not there, so
  the editable install of ``course`` finds nothing and only the trainee runtime's copy imports);
- the trainee runtime (read-only) and the account's own home (read-write); the exchange is
  the ngshare service, reached over HTTP.

Its network is the host's (the hub, the proxy and the quiz service are on 127.0.0.1), so its
kernels' channels listen on no port: they use ``ipc`` sockets in the jail's private ``/tmp``
(``KERNEL_ARGS``, ``KERNEL_ENV``), which no other account can reach, where TCP ports on 127.0.0.1
would let any user subscribe to another's kernel (ipykernel's one TCP port left is a write-only
pipe for forked subprocesses' output, checked against a random key). Each jail has its own PID namespace: stopping
the server kills the namespace's first process, and every process inside dies with it. A trainee's
jail does not die with the hub (``JupyterHub.cleanup_servers = False``: a hub restart keeps
servers and kernels running); the formgrader's does (``--die-with-parent``), as the hub restarts
its services. The formgrader service runs in a jail of the grader account the same way.
"""
from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import List, Unicode

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")
RUNTIME_DIR = "/tmp/jupyter-runtime"  # in the jail's private /tmp: connection files, ipc sockets
KERNEL_ARGS = ["--ServerKernelManager.transport=ipc"]  # the server's kernels (not grading ones)
KERNEL_ENV = {"JUPYTER_RUNTIME_DIR": RUNTIME_DIR}
HOST_PROC = "/run/host-proc"  # the grader's jail: a fully visible /proc for the grading sandbox


def python_paths() -> list[str]:
    """The Python install and the environment this hub runs (a venv's base install too)."""
    return sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())})


def jail_command(account: str, read_only: list[str], writable: list[str],
                 bwrap: str = "bwrap", chdir: str | None = None, host_proc: bool = False,
                 die_with_parent: bool = True) -> list[str]:
    """``bwrap`` arguments that run the command after them as ``account``, in its jail, in
    ``chdir`` (default: the account's home).

    ``host_proc``: the host's ``/proc`` mounted too, at ``HOST_PROC``. The grader's jail needs
    it: the grading sandbox (``course.trainer.grading.sandbox``, Bubblewrap again, unprivileged) may only
    mount a fresh ``/proc`` where a fully visible one is mounted, and Bubblewrap's own ``/proc``
    has read-only parts laid over it. ``/proc`` itself stays the jail's: Bubblewrap reads
    ``/proc/<pid>`` of the sandbox it starts by the pid of the jail's namespace, which the host's
    ``/proc`` does not know (the grading sandbox then failed to start now and then).
    ``die_with_parent``: the jail dies with the process that started it (the hub)."""
    user = pwd.getpwnam(account)
    home = user.pw_dir
    program = shutil.which(bwrap) or bwrap
    args = [program, *(["--die-with-parent"] if die_with_parent else []), "--unshare-ipc",
            "--unshare-pid", "--new-session"]
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc"] + (["--bind", "/proc", HOST_PROC] if host_proc else [])
    # a private /dev/shm too: Bubblewrap's is root's 0755, and multiprocessing's locks live there
    args += ["--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm", "--perms", "1777", "--tmpfs", "/tmp"]
    binds = {str(Path(p).resolve()): "--ro-bind" for p in read_only if Path(p).exists()}
    binds.update({str(Path(p).resolve()): "--bind" for p in [*writable, home] if Path(p).exists()})
    parents = {str(parent) for path in binds for parent in Path(path).parents if str(parent) != "/"}
    for folder in sorted(parents, key=lambda s: s.count("/")):
        if not any(folder == s or folder.startswith(s + "/") for s in SYSTEM_PATHS):
            args += ["--perms", "0755", "--dir", folder]
    for path in sorted(binds, key=lambda p: p.count("/")):
        args += [binds[path], path, path]
    args += ["--chdir", chdir or home, "--setenv", "HOME", home, "--setenv", "USER", account,
             "--setenv", "LOGNAME", account]
    return args + ["--", "setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                   "--init-groups", "--no-new-privs", "--"]


def _state_and_parent(pid: int) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    found = _state_and_parent(pid)
    return found is not None and found[0] != "Z"


def child_of(pid: int) -> int | None:
    """The first living child of ``pid`` (Bubblewrap's one child: the jail's first process)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _state_and_parent(int(entry.name))
            if found and found[1] == pid and found[0] != "Z":
                return int(entry.name)
    return None


def is_bwrap(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap"
    except OSError:
        return False


class JailedSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose server runs in a Bubblewrap jail of the user's account.

    The jail outlives the hub, and the hub finds it again by its pid (the state of
    LocalProcessSpawner). Stopping it asks the server to stop, then kills the jail's first
    process, which ends every process in it."""

    read_only = List(Unicode(), help="Host folders the server may read (the Python install is "
                     "always there)").tag(config=True)
    writable = List(Unicode(), help="Host folders the server may write (its home always)"
                    ).tag(config=True)
    bwrap = Unicode("bwrap", help="The Bubblewrap program").tag(config=True)

    def make_preexec_fn(self, name):
        if os.geteuid() != 0:
            return super().make_preexec_fn(name)
        return None  # bwrap mounts as root, then setpriv drops to the account

    def get_args(self):
        return super().get_args() + (KERNEL_ARGS if os.geteuid() == 0 else [])

    def get_env(self):
        return {**super().get_env(), **(KERNEL_ENV if os.geteuid() == 0 else {})}

    async def start(self):
        if os.geteuid() != 0:
            return await super().start()
        original = list(self.cmd)
        self.cmd = jail_command(self.user.name, [*python_paths(), *self.read_only], list(self.writable),
                                self.bwrap, die_with_parent=False) + original
        try:
            return await super().start()
        finally:
            self.cmd = original

    async def _signal(self, sig):
        if not running(self.pid):  # gone, or a zombie whose new parent (init) has not reaped it
            return False
        return await super()._signal(sig)

    async def stop(self, now=False):
        jail_init = child_of(self.pid) if self.pid and is_bwrap(self.pid) else None
        if jail_init:
            server = child_of(jail_init)
            if server and not now:
                os.kill(server, signal.SIGTERM)  # the server stops its kernels
                for _ in range(int(self.term_timeout * 10)):
                    if not running(jail_init):
                        break
                    await asyncio.sleep(0.1)
            if running(jail_init):
                os.kill(jail_init, signal.SIGKILL)  # and with it every process in the jail
        await super().stop(now=now)
