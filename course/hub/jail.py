"""Each server on a single-host hub in a Bubblewrap jail of its own account.

JupyterHub's LocalProcessSpawner runs a trainee's server as the trainee's Unix account, which then
sees the whole host: the course checkout (``source/``, ``course/reference``), other readable
folders, and it needs read access to every folder above the Python install. ``JailedSpawner``
starts the server instead inside ``bwrap`` (as root, which mounts) and drops to the account with
``setpriv`` before anything of the trainee's runs. Inside, the server sees:

- the system's programs and ``/etc`` (read-only), a private ``/tmp``, its own ``/proc``;
- the Python install and the hub's environment (read-only; the course checkout is not there, so
  the editable install of ``course`` finds nothing and only the trainee runtime's copy imports);
- the trainee runtime (read-only) and the account's own home (read-write); the exchange is
  the ngshare service, reached over HTTP.

Its network is the host's (the hub, the proxy and the quiz service are on 127.0.0.1). Stopping
the server stops the jail: every process inside dies with it (``--die-with-parent``, own PID
namespace). The formgrader service runs in a jail of the grader account the same way.
"""
from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import List, Unicode

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc")


def python_paths() -> list[str]:
    """The Python install and the environment this hub runs (a venv's base install too)."""
    return sorted({str(Path(sys.base_prefix).resolve()), str(Path(sys.prefix).resolve())})


def jail_command(account: str, read_only: list[str], writable: list[str],
                 bwrap: str = "bwrap", chdir: str | None = None, host_proc: bool = False) -> list[str]:
    """``bwrap`` arguments that run the command after them as ``account``, in its jail, in
    ``chdir`` (default: the account's home).

    ``host_proc``: the host's ``/proc`` and PID namespace instead of its own. The grader's jail
    needs it: the grading sandbox (``course.trainer.sandbox``, Bubblewrap again, unprivileged)
    may only mount a fresh ``/proc`` where a fully visible one is mounted, and Bubblewrap's
    own ``/proc`` has read-only parts laid over it."""
    user = pwd.getpwnam(account)
    home = user.pw_dir
    program = shutil.which(bwrap) or bwrap
    args = [program, "--die-with-parent", "--unshare-ipc", "--new-session"]
    if not host_proc:
        args.append("--unshare-pid")
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    args += ["--bind", "/proc", "/proc"] if host_proc else ["--proc", "/proc"]
    args += ["--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
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


class JailedSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose server runs in a Bubblewrap jail of the user's account."""

    read_only = List(Unicode(), help="Host folders the server may read (the Python install is "
                     "always there)").tag(config=True)
    writable = List(Unicode(), help="Host folders the server may write (its home always)"
                    ).tag(config=True)
    bwrap = Unicode("bwrap", help="The Bubblewrap program").tag(config=True)

    def make_preexec_fn(self, name):
        if os.geteuid() != 0:
            return super().make_preexec_fn(name)
        return None  # bwrap mounts as root, then setpriv drops to the account

    async def start(self):
        if os.geteuid() != 0:
            return await super().start()
        original = list(self.cmd)
        self.cmd = jail_command(self.user.name, [*python_paths(), *self.read_only], list(self.writable),
                                self.bwrap) + original
        try:
            return await super().start()
        finally:
            self.cmd = original
