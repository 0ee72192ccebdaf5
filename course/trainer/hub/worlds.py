"""The quiz service's world workers: a bounded pool of processes that compute trainees' worlds.

A world runs the course's own notebook code (a module's setup cell, then the reference keys):
code the trainer edits, which the service must not run with its own rights. So each worker runs
``course.trainer.hub.world_worker`` in a Bubblewrap sandbox: the system, the Python install, the checkout
and the course's source notebooks read-only, a data cache of its own as the one writable folder,
a private ``/tmp``, no network, limited memory, as an unprivileged account (the service's own
account; ``nobody`` when the service runs as root). Without Bubblewrap the worker still runs as
that account, and the service says so at start.

Workers are started once and reused: a world takes about 2 s, starting Python with pandas 1 s.
They are at most one per core and one per GiB of available memory (a worker holds up to ~900 MiB
of a world's data). Jobs are taken by priority: a trainee waiting on a commit goes before a
world made ahead of time. A worker ends when the service closes its stdin, and with the service
itself (``--die-with-parent``), so none is left when the service stops.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import pwd
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
WORKER_MIB = 1024       # memory one worker may come to hold, for the pool's size
WORKER_LIMIT_MIB = 4096  # address space of one worker (as a graded kernel's)
URGENT, AHEAD = 0, 1     # priorities: someone waits on it; made before it is needed
log = logging.getLogger("etp-quiz")


class WorldError(RuntimeError):
    """A world could not be computed (the course's code failed, or its worker died)."""


def default_size() -> int:
    """Workers this host can run at once: one per core, one per GiB of available memory."""
    cores = len(os.sched_getaffinity(0))
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            info = dict(line.split(":", 1) for line in fh)
        available_mib = int(info["MemAvailable"].split()[0]) // 1024
    except (OSError, KeyError, ValueError):
        return max(1, cores)
    return max(1, min(cores, available_mib // WORKER_MIB))


class WorldPool:
    """``size`` workers computing ``(assignment, seed)`` world views of the course at ``root``."""

    def __init__(self, root: str, cache: Path, size: int | None = None, sandbox: bool | None = None,
                 bwrap: str = "bwrap", drop_to: str = "nobody"):
        from course.trainer.grading.sandbox import _probe

        self.root, self.cache = str(root), Path(cache)
        self.size = size or default_size()
        self.bwrap = bwrap
        self.sandboxed = _probe(bwrap)[0] if sandbox is None else sandbox
        self.drop_to = pwd.getpwnam(drop_to) if os.geteuid() == 0 else None
        self.jobs: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self._order = itertools.count()
        self._running: set[tuple[str, int]] = set()
        self._workers: list[asyncio.Task] = []
        self._processes: set[asyncio.subprocess.Process] = set()

    # -- the pool -------------------------------------------------------------------------------
    def start(self) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        self.cache.chmod(0o700)
        if self.drop_to is not None:  # the unprivileged worker writes its cache
            os.chown(self.cache, self.drop_to.pw_uid, self.drop_to.pw_gid)
        self._workers = [asyncio.ensure_future(self._work()) for _ in range(self.size)]
        log.info("%d world worker(s), %s", self.size,
                 "each in the sandbox" if self.sandboxed else "WITHOUT a sandbox (no bwrap)")

    def submit(self, assignment: str, seed: int, future: asyncio.Future, priority: int) -> None:
        """Queue one world; ``future`` gets its view (the same future may be queued twice, at
        a higher priority when someone starts waiting on it)."""
        if not self._workers:
            self.start()
        self.jobs.put_nowait((priority, next(self._order), assignment, seed, future))

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.returncode is None]

    async def close(self) -> None:
        """Stop every worker: its stdin closes, then it is killed if it did not end."""
        for task in self._workers:
            task.cancel()
        for process in list(self._processes):
            await _stop(process)
        self._workers, self._processes = [], set()

    # -- one worker -----------------------------------------------------------------------------
    async def _work(self) -> None:
        process = None
        try:
            try:  # ready (Python and pandas loaded) before the first job
                process = await self._spawn()
            except OSError as err:
                log.warning("a world worker did not start: %s", err)
            while True:
                _, _, assignment, seed, future = await self.jobs.get()
                key = (assignment, seed)
                if future.done() or key in self._running:
                    continue  # queued twice: the other entry has it
                self._running.add(key)
                try:
                    if process is None or process.returncode is not None:
                        process = await self._spawn()
                    view = await self._ask(process, assignment, seed)
                    if not future.done():
                        future.set_result(view)
                except Exception as err:  # noqa: BLE001 - the waiting request reports it
                    if not future.done():
                        future.set_exception(err if isinstance(err, WorldError) else WorldError(str(err)))
                finally:
                    self._running.discard(key)
        finally:
            if process is not None:
                await _stop(process)

    async def _ask(self, process, assignment: str, seed: int) -> dict:
        try:
            process.stdin.write((json.dumps({"assignment": assignment, "seed": seed}) + "\n").encode())
            await process.stdin.drain()
            line = await process.stdout.readline()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as err:
            line = b""
            log.warning("world worker %s: %s", process.pid, err)
        if not line:
            await _stop(process)
            raise WorldError(f"the world worker stopped while computing {assignment} "
                             "(out of memory?)")
        reply = json.loads(line)
        if "error" in reply:
            raise WorldError(f"{assignment} in world {seed}: {reply['error']}")
        return reply["view"]

    async def _spawn(self) -> asyncio.subprocess.Process:
        command, env = self.command()
        process = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
            limit=16 << 20, start_new_session=True)
        self._processes.add(process)
        return process

    # -- how a worker is started -------------------------------------------------------------
    def command(self) -> tuple[list[str], dict[str, str]]:
        """The worker's command line and environment (inside the sandbox when there is one)."""
        env = {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
               "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONPATH": str(REPO),
               "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": "/tmp/.matplotlib",
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "ETP_ACADEMY_DATA": str(self.cache)}
        worker = [sys.executable, "-m", "course.trainer.hub.world_worker", "--root", self.root]
        limits = ["prlimit", f"--as={WORKER_LIMIT_MIB << 20}", "--core=0", "--"]
        drop = []
        if self.drop_to is not None:
            drop = ["setpriv", f"--reuid={self.drop_to.pw_uid}", f"--regid={self.drop_to.pw_gid}",
                    "--clear-groups", "--no-new-privs", "--"]
        if not self.sandboxed:
            return drop + limits + worker, env
        return self._sandbox(env) + drop + limits + worker, {}

    def _sandbox(self, env: dict[str, str]) -> list[str]:
        from course.trainer.grading.sandbox import _system_mounts

        args = [shutil.which(self.bwrap) or self.bwrap, "--unshare-ipc", "--unshare-pid",
                "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent",
                "--new-session", "--clearenv"]
        if os.geteuid() != 0:
            args.append("--unshare-user")
        args += _system_mounts()
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
        read_only = {str(Path(p).resolve()) for p in (sys.base_prefix, sys.prefix, REPO, self.root)}
        binds = {path: "--ro-bind" for path in read_only}
        binds[str(self.cache.resolve())] = "--bind"
        parents = {str(a) for p in binds for a in Path(p).parents if str(a) != "/"}
        for folder in sorted(parents, key=lambda s: s.count("/")):  # read-only: only the cache is written
            if not any(folder == s or folder.startswith(s + "/") for s in ("/usr", "/bin", "/lib")):
                args += ["--perms", "0555", "--dir", folder]
        for path in sorted(binds, key=lambda p: p.count("/")):
            args += [binds[path], path, path]
        for name, value in env.items():
            args += ["--setenv", name, value]
        return args + ["--chdir", "/tmp", "--"]


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    try:
        if process.stdin is not None:
            process.stdin.close()
        await asyncio.wait_for(process.wait(), 5)
    except (asyncio.TimeoutError, ProcessLookupError, ConnectionError):
        try:
            process.kill()
        except ProcessLookupError:
            return
        await process.wait()
