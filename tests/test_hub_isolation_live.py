"""The hub keeps users apart and stops cleanly, tested live (as root, ``tests/hub_harness.py``).

- A trainee's kernel looks for every kernel socket of the host (TCP ports in ``/proc/net/tcp``,
  Unix sockets in ``/proc/net/unix``), subscribes to each with pyzmq while another trainee's
  kernel and a kernel of the trainer's formgrader print, and reads nothing; no kernel listens on
  a TCP port. The trainee's own kernel still runs quizzes.
- The trainer's ``python -m course autograde`` runs in a kernel of the formgrader service (its
  jail, as in its terminal) on a submitted notebook, with the checkout ``chmod 750`` and owned by
  the grader's group, as docs/hub.md says.
- A hub restart keeps a trainee's kernel (same process, same variables) and brings the formgrader
  back; stopping servers and then the hub leaves no process and no listening port behind.
"""
from __future__ import annotations

import json
import os
import pwd
import secrets
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from hub_harness import (  # noqa: E402
    COURSE_ID, KERNEL_SETUP, MODULE, REPO, VENV_BIN, _processes_of, hub)  # noqa: F401 (hub: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

FORMGRADER = f"/services/{COURSE_ID}"

PROBE = '''
import json, socket, time, zmq
mine = {mine!r}
others = {others!r}  # the hub's other accounts: whose kernels the attack is after
found = {{"tcp": [], "unix": {{}}, "messages": []}}
context = zmq.Context()
subscribers = []

def subscribe(url):
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(url)
    subscribers.append(sub)

for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).read().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # listening
            port = int(fields[1].rsplit(":", 1)[1], 16)
            found["tcp"].append(port)
            if int(fields[7]) in others:  # (not other programs of the host, e.g. a test's kernels)
                subscribe(f"tcp://127.0.0.1:{{port}}")
for line in open("/proc/net/unix").read().splitlines()[1:]:
    fields = line.split()
    if len(fields) >= 8 and fields[7].startswith("/") and mine not in fields[7]:
        path = fields[7]
        try:
            with socket.socket(socket.AF_UNIX) as raw:
                raw.settimeout(2)
                raw.connect(path)
            found["unix"][path] = "connected"
        except OSError as err:
            found["unix"][path] = type(err).__name__
        subscribe("ipc://" + path)
poller = zmq.Poller()
for sub in subscribers:
    poller.register(sub, zmq.POLLIN)
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    for sub, _ in poller.poll(200):
        frames = sub.recv_multipart()
        found["messages"].append(repr(b"|".join(frames))[:300])
print(json.dumps(found))
'''

CHATTER = '''
import time
for i in range(60):
    print("{marker}", i, flush=True)
    time.sleep(0.25)
'''

AUTOGRADE = '''
import json, subprocess, sys
done = subprocess.run([sys.executable, "-m", "course", "autograde", "--module", {module!r},
                       "--workers", "1", "--no-progress"], capture_output=True, text=True)
print(json.dumps({{"rc": done.returncode, "out": done.stdout[-3000:], "err": done.stderr[-3000:]}}))
'''




def kernel_pids(uid: int) -> list[int]:
    return [pid for pid in _processes_of({uid}) if b"ipykernel" in _cmdline(pid)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def listening() -> dict[int, int]:
    """Listening TCP sockets of the host: {inode: port}."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                found[int(fields[9])] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def ports_of(pid: int, sockets: dict[int, int]) -> set[int]:
    ports = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inode = int(target[8:-1])
                if inode in sockets:
                    ports.add(sockets[inode])
    except OSError:
        pass
    return ports


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def wait_for(check, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def new_kernel(hub, user: str, server: str | None = None) -> str:
    prefix = server or f"/user/{user}"
    answer = hub.call(user, "POST", f"{prefix}/api/kernels", json={"name": "python3"})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_kernels_are_private_autograde_runs_in_the_formgrader_and_the_hub_stops_clean(hub):
    users = hub.users
    trainer, ana, ben, grader = users["trainer"], users["ana"], users["ben"], users["grader"]
    for name in (trainer, ana, ben):
        hub.login(name)
    mode = REPO.stat()
    os.chown(REPO, 0, pwd.getpwnam(grader).pw_gid)  # docs/hub.md's step: the grader's group, 750
    REPO.chmod(0o750)
    try:
        check_isolation_and_autograde(hub, trainer, ana, ben, grader)
    finally:
        os.chown(REPO, mode.st_uid, mode.st_gid)
        REPO.chmod(mode.st_mode & 0o7777)
    check_restart_and_stop(hub, trainer, ana, ben, grader)


def check_isolation_and_autograde(hub, trainer, ana, ben, grader):
    # -- the trainer releases Module 2; ana answers a quiz in her (ipc) kernel, and submits ------
    for step in ("assign", "release"):
        answer = hub.call(trainer, "POST", f"{FORMGRADER}/formgrader/api/assignment/{MODULE}/{step}")
        assert answer.status_code == 200 and answer.json().get("success", True), answer.text[-2000:]
    for name in (ana, ben):
        hub.start_server(name)
    fetched = hub.server(ana, "POST", "/assignments/fetch", json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert fetched.status_code == 200, fetched.text
    ana_kernel = hub.server(ana, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()["id"]
    notebook = hub.server(ana, "GET", f"/api/contents/{MODULE}/{MODULE}.ipynb").json()["content"]
    cells = {c["metadata"].get("nbgrader", {}).get("grade_id"): c["source"] for c in notebook["cells"]}
    quiz = "\n".join([KERNEL_SETUP, cells["m2-setup"], cells["m2-ex21-login"],
                      "import multiprocessing, sys",
                      "multiprocessing.Lock()  # needs a writable /dev/shm",
                      "print(json.dumps({'login': submit('m2-ex21-login', 'P1')['verdict'],",
                      "                  'path': os.environ['PATH'], 'python': sys.executable}))"])
    result = json.loads(hub.run(ana, ana_kernel, quiz).strip().splitlines()[-1])
    assert result["login"] == "right"  # a quiz through the quiz service, from a kernel on ipc
    assert result["path"] == f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", result["path"]  # not the hub's
    submitted = hub.server(ana, "POST", "/assignments/submit", json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert submitted.status_code == 200 and "error" not in submitted.text.lower()[:200], submitted.text

    # -- ben's kernel snoops while ana's kernel and a formgrader kernel print ------------------
    grader_kernel = new_kernel(hub, trainer, FORMGRADER)
    ben_kernel = new_kernel(hub, ben)
    chatter = [threading.Thread(target=hub.run, args=(ana, ana_kernel, CHATTER.format(marker="ANA-SECRET"))),
               threading.Thread(target=hub.run, args=(trainer, grader_kernel, CHATTER.format(marker="GRADER-SECRET")),
                                kwargs={"server": FORMGRADER})]
    for thread in chatter:
        thread.start()
    time.sleep(2)
    sockets = listening()
    kernels = [*kernel_pids(pwd.getpwnam(ana).pw_uid), *kernel_pids(pwd.getpwnam(grader).pw_uid),
               *kernel_pids(pwd.getpwnam(ben).pw_uid)]
    assert len(kernels) >= 3, kernels
    # ipykernel's one TCP port is the IOPub pipe of forked subprocesses (ZMQ PULL: nothing to
    # read; a message without the kernel's random 16-byte id is dropped); on TCP transport
    # its five channels would listen too
    on_tcp = {pid: ports_of(pid, sockets) for pid in kernels}
    assert all(len(ports) <= 1 for ports in on_tcp.values()), f"kernels listening on TCP: {on_tcp}"
    probe = json.loads(hub.run(ben, ben_kernel, PROBE.format(
        mine=ben_kernel, others=sorted({pwd.getpwnam(name).pw_uid for name in hub.users.values()} - {
            pwd.getpwnam(ben).pw_uid}))).strip().splitlines()[-1])
    for thread in chatter:
        thread.join(60)
    assert probe["messages"] == [], probe["messages"][:5]
    assert probe["tcp"], "the probe found no TCP port at all (the hub's own listen)"
    for victim in (ana_kernel, grader_kernel):  # it saw their sockets, and could not reach them
        tried = {path: how for path, how in probe["unix"].items() if victim in path}
        assert tried, f"the probe did not see kernel {victim}'s sockets: {sorted(probe['unix'])[:20]}"
        assert "connected" not in tried.values(), tried

    # -- the trainer collects, then runs docs/trainer.md's autograde in the formgrader's jail --------
    collected = hub.call(trainer, "POST", f"{FORMGRADER}/formgrader/api/assignment/{MODULE}/collect")
    assert collected.status_code == 200 and collected.json().get("success", True), collected.text[-2000:]
    graded = json.loads(hub.run(trainer, grader_kernel, AUTOGRADE.format(module=MODULE), timeout=600,
                                server=FORMGRADER).strip().splitlines()[-1])
    assert graded["rc"] == 0, graded
    with sqlite3.connect(hub.root / "course" / "gradebook.db") as db:
        rows = db.execute("SELECT student.id, COUNT(grade.id) FROM submitted_assignment "
                          "JOIN student ON student.id = submitted_assignment.student_id "
                          "JOIN submitted_notebook ON submitted_notebook.assignment_id = submitted_assignment.id "
                          "JOIN grade ON grade.notebook_id = submitted_notebook.id "
                          "GROUP BY student.id").fetchall()
    assert dict(rows).get(ana, 0) > 0, (rows, graded["out"])


def check_restart_and_stop(hub, trainer, ana, ben, grader):
    ana_uid = pwd.getpwnam(ana).pw_uid
    kernel = new_kernel(hub, ana)
    kept = secrets.token_hex(8)
    hub.run(ana, kernel, f"kept = {kept!r}")
    before = set(kernel_pids(ana_uid))

    # -- a hub restart: ana's kernel is the same process, with its variables -------------------
    hub.restart()
    assert hub.run(ana, kernel, "print(kept)").strip() == kept
    assert before <= set(kernel_pids(ana_uid))
    page = hub.call(trainer, "GET", f"{FORMGRADER}/formgrader/manage_assignments")
    assert page.status_code == 200, page.text[:500]  # the formgrader came back on its port

    # -- stopping the servers leaves nothing of theirs -----------------------------------------
    for name in (ana, ben):
        answer = hub.call(name, "DELETE", f"/hub/api/users/{name}/server")
        assert answer.status_code in (202, 204), answer.text
    uids = {pwd.getpwnam(name).pw_uid for name in (ana, ben)}
    assert wait_for(lambda: not [p for p in _processes_of(uids) if _alive(p)]), \
        [(_cmdline(p)[:200], p) for p in _processes_of(uids)]

    # -- stopping the hub leaves no process of its services and no listening port --------------
    services = descendants(hub.process.pid)
    sockets = listening()
    ports = {port for pid in services | {hub.process.pid} for port in ports_of(pid, sockets)}
    assert len(ports) >= 4, ports  # the hub, the proxy, the formgrader, the quiz service
    quiz = {pid for pid in services if b"quiz_service" in _cmdline(pid)}
    quiz |= {child for pid in quiz for child in descendants(pid)}
    hub.stop_hub()
    grader_uid = pwd.getpwnam(grader).pw_uid
    assert wait_for(lambda: not [p for p in services - quiz if _alive(p)], 20), \
        [(pid, _cmdline(pid)[:200]) for pid in services - quiz if _alive(pid)]
    assert not [p for p in _processes_of({grader_uid}) if _alive(p)]
    assert wait_for(lambda: not ports & set(listening().values()), 20), ports & set(listening().values())
    # the quiz service's own processes (its world worker) are the quiz service's to stop
    left = [(pid, _cmdline(pid)[:200]) for pid in quiz if _alive(pid)]
    assert not left, f"the quiz service left processes after the hub stopped: {left}"
