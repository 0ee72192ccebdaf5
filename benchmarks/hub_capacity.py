"""How many trainees a hub holds: a trainee server's memory per module, trainees per node, and the
quiz service's commit latency and throughput under a cohort committing at once.

    python benchmarks/hub_capacity.py [--node-gib 16 --node-cpus 4] [--trainees 100 --commits 20]

1. Memory: a trainee's Jupyter server (JupyterLab, the trainee runtime of course.trainer.hub.deployment)
   is started, then each module's released notebook, with the model solutions in its exercise
   cells, runs top to bottom in the trainee kernel (``python -S`` on the trainee parts). The
   kernel's resident memory is sampled every 0.1 s: its peak, and what it holds at the end.
2. Trainees per node: from the largest peak, with the memory a node keeps for the system.
3. Quiz service: its app on 127.0.0.1 in a process of its own (hub tokens stood in for by a
   table: a real hub's HubAuth asks the hub once per token and caches the answer for 5 minutes),
   N trainees each commit answers to Module 2's quizzes as fast as the service answers (keys in
   the notebook's source: static). Then N new trainees' worlds are made by the service's
   sandboxed world workers from their servers' start, and all commit their first answer to a quiz
   keyed by their own data at once, through the widget's client: p50/p95, and how many were told
   their answer was not recorded.

Prints figures; it asserts nothing (a noisy machine should not fail a build).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from harness import ASSIGNMENTS, solution_sources  # noqa: E402

from course.data import world  # noqa: E402
from course.trainer.hub import deployment  # noqa: E402

MIB = 1 << 20


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


class Sampler(threading.Thread):
    """Peak resident memory of the newest kernel process started under ``parent``."""

    def __init__(self, parent: psutil.Process):
        super().__init__(daemon=True)
        self.parent, self.peak, self.last, self.stop = parent, 0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            kernels = []
            for proc in self.parent.children(recursive=True):
                try:
                    if "ipykernel" in " ".join(proc.cmdline()):
                        kernels.append(proc)
                except psutil.Error:  # gone, or a zombie, between the listing and the look
                    pass
            if kernels:
                self.last = sum(_tree_rss(k) for k in kernels)
                self.peak = max(self.peak, self.last)
            time.sleep(0.1)


def solved_release(assignment: str) -> dict[str, nbformat.NotebookNode]:
    """The released notebooks with the model solutions typed into the exercise cells."""
    found = {}
    for path in sorted((REPO / "release" / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        solutions = solution_sources(nbformat.read(REPO / "source" / assignment / path.name, as_version=4))
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in solutions and cell.cell_type == "code":
                cell.source = solutions[grade_id]
        found[path.name] = nb
    return found


def server_memory(root: Path) -> tuple[int, dict[str, tuple[int, int, float]]]:
    """(the Lab server's RSS, {module: (kernel peak, kernel at the end, seconds)})."""
    runtime = deployment.prepare_trainee_runtime(root / "runtime", world.COURSE_ID, root / "exchange", True)
    home = root / "home"
    home.mkdir()
    env = dict(os.environ, **deployment.trainee_environment(runtime, world.COURSE_ID, True, ""),
               HOME=str(home), ETP_ACADEMY_DATA=str(root / "data"), JUPYTERHUB_USER="bench-trainee")
    env.pop("ETP_QUIZ_SERVICE_URL")
    env.pop("ETP_VARIANTS", None)
    env["ETP_VARIANTS"] = "on"
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--ServerApp.root_dir={home}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={_free_port()}", "--IdentityProvider.token=bench",
            *deployment.trainee_server_args(runtime)]
    if os.geteuid() == 0:
        args.append("--allow-root")
    server = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(8)  # loaded and idle
        lab_rss = psutil.Process(server.pid).memory_info().rss
        me = psutil.Process()
        results = {}
        saved = dict(os.environ)
        os.environ.update(env)  # the kernel nbclient starts is the trainee kernel of the runtime
        try:
            for assignment in ASSIGNMENTS:
                for name, nb in solved_release(assignment).items():
                    folder = home / assignment
                    folder.mkdir(exist_ok=True)
                    sampler = Sampler(me)
                    sampler.start()
                    started = time.perf_counter()
                    try:
                        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                       resources={"metadata": {"path": str(folder)}}).execute()
                    finally:
                        seconds = time.perf_counter() - started
                        sampler.stop.set()
                        sampler.join()
                    results[assignment] = (sampler.peak, sampler.last, seconds)
                    print(f"  {assignment:24s} kernel peak {sampler.peak / MIB:6.0f} MiB, at the end "
                          f"{sampler.last / MIB:6.0f} MiB, {seconds:5.1f} s", flush=True)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return lab_rss, results
    finally:
        server.terminate()
        server.wait(30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the quiz service under load ---------------------------------------------------------------------
def _serve(port: int, data: str, ready) -> None:
    """The quiz service's app, tokens 'tok-<name>' standing in for hub tokens."""
    from tornado.httpserver import HTTPServer

    from course.trainer.hub.keyring import Keyring
    from course.trainer.hub.ledger import Ledger, prepare
    from course.trainer.hub.quiz_service import QuizService, make_app

    async def identify(handler):
        header = handler.request.headers.get("Authorization", "")
        return {"kind": "user", "name": header[10:], "scopes": []} if header.startswith("token tok-") else None

    async def main():
        from course.trainer.hub.worlds import WorldPool

        keyring = Keyring(REPO, world.COURSE_ID, True)
        # the service's own sandboxed world workers, a cold data cache as on a new hub
        workers = WorldPool(keyring.root, Path(data) / "world-cache")
        service = QuizService(keyring, Ledger(prepare(Path(data))), workers)
        workers.start()
        HTTPServer(make_app(service, identify, "/services/etp-quiz/")).listen(port, "127.0.0.1")
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def quiz_load(trainees: int, commits: int) -> None:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    from course.trainer.hub.keyring import Keyring

    keyring = Keyring(REPO, world.COURSE_ID, True)
    plain = [(qid, e.question) for qid, e in keyring.entries.items()
             if e.assignment == "m2_sla_severity" and not e.needs_world]
    answers = [(qid, q.accepted_responses()[0]) for qid, q in plain]
    port = _free_port()
    data = tempfile.mkdtemp(prefix="etp-quiz-bench-")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=_serve, args=(port, data, ready))  # not daemonic: it starts a worker
    server.start()
    ready.wait(60)
    base = f"http://127.0.0.1:{port}/services/etp-quiz/api/quizzes/"
    latencies: list[float] = []

    async def trainee(client, n: int) -> None:
        for i in range(commits):
            qid, answer = answers[(n + i) % len(answers)]
            started = time.perf_counter()
            response = await client.fetch(HTTPRequest(base + qid, method="POST", body=json.dumps({"response": answer}),
                                                      headers={"Authorization": f"token tok-t{n:03d}"}),
                                          raise_error=False)
            latencies.append(time.perf_counter() - started)
            assert response.code == 200, response.body

    async def run() -> float:
        AsyncHTTPClient.configure(None, max_clients=trainees)
        client = AsyncHTTPClient()
        started = time.perf_counter()
        await asyncio.gather(*(trainee(client, n) for n in range(trainees)))
        return time.perf_counter() - started

    try:
        elapsed = asyncio.run(run())
        ms = sorted(x * 1000 for x in latencies)
        q = statistics.quantiles(ms, n=100)
        print(f"quiz service, {trainees} trainees committing at once, {len(ms)} commits: "
              f"{len(ms) / elapsed:.0f} commits/s; latency p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
              f"p99 {q[98]:.1f} ms, max {ms[-1]:.1f} ms", flush=True)
        first_commits(base, trainees)
    finally:
        for child in psutil.Process(server.pid).children(recursive=True):
            child.terminate()  # the service's world worker, by its id
        server.terminate()
        server.join(10)
        shutil.rmtree(data, ignore_errors=True)


def first_commits(base: str, trainees: int) -> None:
    """``trainees`` new trainees: their servers start (each asks the service to make its worlds,
    as a server does at start and the service does for the trainee group), then all commit their
    first answer to Module 2's bad-day quiz at once, keyed by their own data, through the
    widget's own client (a thread per trainee, as each kernel is its own process)."""
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    from course.trainer.hub.keyring import Keyring
    from course.quiz import widgets
    from course.quiz.service_client import SERVICE_KEY, QuizService as Client
    from course.quiz.store import AnswerStore
    from course.trainer.reference import quiz_keys

    names = [f"t-new{n:03d}" for n in range(trainees)]
    clients = {name: Client(base.rsplit("api/", 1)[0], f"tok-{name}") for name in names}
    started = time.perf_counter()
    for client in clients.values():
        client.warm()
    while sum(done["ready"] == done["worlds"] for done in (c.warm() for c in clients.values())) < trainees:
        time.sleep(2)
    warmed = time.perf_counter() - started
    worlds = next(iter(clients.values())).warm()["worlds"]
    print(f"worlds of {trainees} new trainees ({worlds} modules each) made ahead in {warmed:.0f} s "
          f"({trainees * worlds / warmed:.1f} worlds/s), from their servers' start", flush=True)

    released = Keyring(REPO, world.COURSE_ID, True).entry("m2-llm-bad-day").question
    released = dataclasses.replace(released, answer=None, answer_from=SERVICE_KEY)
    answers = {}
    for name in names:
        with world.using(world.seed_for(name, world.COURSE_ID)):
            answers[name] = quiz_keys.answer("slow_llm_day")
    folder = Path(tempfile.mkdtemp(prefix="etp-quiz-widgets-"))
    go = threading.Barrier(trainees)

    def commit(name: str) -> tuple[float, str, bool]:
        view = widgets.view_for(released, AnswerStore(folder / f"{name}.json"), clients[name])
        go.wait()
        began = time.perf_counter()
        attempt = view.submit(answers[name])
        return time.perf_counter() - began, view.box.feedback, attempt is not None and attempt.correct

    try:
        with ThreadPoolExecutor(max_workers=trainees) as pool:
            results = list(pool.map(commit, names))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ms = sorted(r[0] * 1000 for r in results)
    q = statistics.quantiles(ms, n=100)
    lost = sum("not recorded" in r[1] for r in results)
    unconfirmed = sum("not confirmed" in r[1] for r in results)
    print(f"first answers keyed by each trainee's own data (Module 2's bad day), {trainees} new "
          f"trainees committing at once through the widget's client: p50 {q[49]:.0f} ms, "
          f"p95 {q[94]:.0f} ms, max {ms[-1]:.0f} ms; {sum(r[2] for r in results)} right; "
          f"told \"not recorded\": {lost}; \"not confirmed yet\": {unconfirmed}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-gib", type=float, default=16.0, help="node memory (GiB)")
    parser.add_argument("--node-cpus", type=float, default=4.0, help="node CPUs")
    parser.add_argument("--system-gib", type=float, default=1.5, help="kept for the node's system pods")
    parser.add_argument("--trainees", type=int, default=100, help="trainees committing at once")
    parser.add_argument("--commits", type=int, default=20, help="commits per trainee")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()

    if not args.skip_memory:
        root = Path(tempfile.mkdtemp(prefix="etp-hub-bench-"))
        try:
            print("memory of one trainee's server, each module run top to bottom (model solutions):")
            lab, modules = server_memory(root)
            print(f"  the JupyterLab server itself, loaded and idle: {lab / MIB:.0f} MiB")
            peak = max(p for p, _, _ in modules.values())
            need = lab + peak
            print(f"one trainee's server at its peak (server + one module's kernel): {need / MIB:.0f} MiB")
            usable = (args.node_gib - args.system_gib) * 1024 * MIB
            by_memory = int(usable // need)
            by_guarantee = int(usable // (1024 * MIB))
            print(f"a node of {args.node_gib:g} GiB and {args.node_cpus:g} CPUs ({args.system_gib:g} GiB "
                  f"kept for the system): {by_memory} trainees all at their peak at once; "
                  f"{by_guarantee} with the chart's 1 GiB guarantee; "
                  f"{int(args.node_cpus / 0.2)} by the 0.2 CPU guarantee")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    quiz_load(args.trainees, args.commits)


if __name__ == "__main__":
    main()
