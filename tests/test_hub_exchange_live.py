"""The hub's exchange (ngshare, ``course.trainer.hub.exchange``) against a trainee who attacks it, live.

A hub started from ``deploy/jupyterhub/jupyterhub_config.py`` (``hub_harness``) with a trainer,
alice (``ana``) and mallory, a third trainee, and a small exchange (1 MB per request, 3 MB of
hand-ins per trainee). With nbgrader's file exchange mallory could pre-create the course folder
(every release then failed), drop ``alice+<module>+<later time>`` into the inbound folder (collect
took it: alice's 22 points became 11, flagged "no answers.json") and read alice's feedback page.
Here, before the first release she tries to create the course and the assignments; after alice
hands in she hands in "for alice" through ngshare's API (her hub token, then her server's token
from her kernel, straight to the service) and through any folder her server can reach; she tries
a request past the size limit and hand-ins past her quota, and reads alice's hand-in and feedback.
Each is refused; the trainer's releases work; collect brings alice's own notebook, graded as
hers; alice fetches her feedback.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import sys
from pathlib import Path

import nbformat
import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))
from harness import solution_sources  # noqa: E402

from hub_harness import COURSE_ID, DUMMY_LAYER, KERNEL_SETUP, MODULE, REPO, _start_hub  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NGSHARE = "/services/ngshare"
OTHER_MODULE = "m1_architecture"
MAX_UPLOAD_MB, QUOTA_MB = 1, 3
LAYER = DUMMY_LAYER + "c.Authenticator.allowed_users.add({users[mallory]!r})\n"


@pytest.fixture(scope="module")
def hub():
    running, cleanup = _start_hub(LAYER, {"ETP_EXCHANGE_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
                                          "ETP_EXCHANGE_QUOTA_MB": str(QUOTA_MB)},
                                  secrets.token_hex(2), extra_trainees=("mallory",))
    try:
        yield running
    finally:
        cleanup()


def succeeded(response) -> dict:
    assert response.status_code == 200, f"{response.status_code}: {response.text[-3000:]}"
    body = response.json()
    assert not isinstance(body, dict) or body.get("success", True), json.dumps(body)[-3000:]
    return body


def files_field(files: dict[str, bytes]) -> str:
    """ngshare's ``files`` form field: a JSON list of paths and base64 contents."""
    return json.dumps([{"path": path, "content": base64.b64encode(data).decode()}
                       for path, data in files.items()])


def exchange_url(hub) -> str:
    """The ngshare address the trainees' nbgrader settings name (as their servers reach it)."""
    config = (hub.root / "hub" / "trainee" / "config" / "nbgrader_config.py").read_text()
    return re.search(r"configureExchange\(c, '([^']+)'\)", config).group(1)


def forged_notebook(owner: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"# handed in for {owner}")])
    return nbformat.writes(nb).encode()


def test_only_the_owner_hands_in_and_nobody_blocks_a_release(hub):
    users = hub.users
    trainer, alice, mallory = users["trainer"], users["ana"], users["mallory"]
    for name in (trainer, alice, mallory):
        hub.login(name)

    # -- before the first release: mallory tries to create the course and the assignments -------
    for path in (f"/course/{COURSE_ID}", "/course/mallory-course"):
        assert hub.call(mallory, "POST", NGSHARE + path, data={"instructors": json.dumps([mallory])}
                        ).status_code == 403
    for module in (MODULE, OTHER_MODULE):
        squat = hub.call(mallory, "POST", f"{NGSHARE}/assignment/{COURSE_ID}/{module}",
                         data={"files": files_field({f"{module}.ipynb": forged_notebook(mallory)})})
        assert squat.status_code == 403, squat.text
    assert hub.call(None, "POST", f"{NGSHARE}/assignment/{COURSE_ID}/{MODULE}",
                    data={"files": "[]"}).status_code in (302, 403)  # no token: not in either
    hub.start_server(mallory)
    kernel = hub.server(mallory, "POST", "/api/kernels", json={"name": "python3"}).json()
    reach = json.loads(hub.run(mallory, kernel["id"], REACH.format(
        data=str(hub.root / "hub" / "exchange"), old=str(hub.root / "exchange"))).strip().splitlines()[-1])
    assert reach == {"exchange data": "PermissionError", "shared folder": "PermissionError"}  # not created
    stored = hub.root / "hub" / "exchange"
    assert oct(stored.stat().st_mode)[-3:] == "700" and stored.stat().st_uid != 0
    assert sorted(p.name for p in stored.iterdir()) == ["files", "ngshare.sqlite"]

    # -- the trainer releases Module 2 through the formgrader -----------------------------------
    for step in ("assign", "release"):
        succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/{step}"))
    released = succeeded(hub.call(trainer, "GET", f"{NGSHARE}/assignments/{COURSE_ID}"))
    assert released["assignments"] == [MODULE]
    assert hub.call(mallory, "GET", f"{NGSHARE}/students/{COURSE_ID}").status_code == 403

    # -- alice fetches, answers a quiz, writes her code, hands in --------------------------------
    hub.start_server(alice)
    assert hub.server(alice, "POST", "/assignments/fetch",
                      json={"course_id": COURSE_ID, "assignment_id": MODULE}).status_code == 200
    notebook_path = f"/api/contents/{MODULE}/{MODULE}.ipynb"
    nb = nbformat.from_dict(hub.server(alice, "GET", notebook_path).json()["content"])
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells if c.cell_type == "code"}
    kernel = hub.server(alice, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
    hub.run(alice, kernel["id"], "\n".join([KERNEL_SETUP, cells["m2-setup"], cells["m2-ex21-login"],
                                            "print(submit('m2-ex21-login', 'P1'))"]))
    solutions = solution_sources(nbformat.read(REPO / "source" / MODULE / f"{MODULE}.ipynb", as_version=4))
    mark = f"# alice's own work {secrets.token_hex(4)}"
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in solutions:
            cell.source = f"{mark}\n{solutions[grade_id]}"
    assert hub.server(alice, "PUT", notebook_path, json={
        "type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))}).status_code == 200
    handed = hub.server(alice, "POST", "/assignments/submit", json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert handed.status_code == 200 and '"success": true' in handed.text, handed.text
    alice_times = [s["timestamp"] for s in succeeded(hub.call(
        trainer, "GET", f"{NGSHARE}/submissions/{COURSE_ID}/{MODULE}/{alice}"))["submissions"]]
    assert len(alice_times) == 1

    # -- mallory hands in "for alice", later: her token, her server's token, forged names -------
    forged = files_field({f"{MODULE}.ipynb": forged_notebook(alice)})
    answer = hub.call(mallory, "POST", f"{NGSHARE}/submission/{COURSE_ID}/{MODULE}",
                      data={"user": alice, "student_id": alice, "files": forged})
    assert answer.status_code == 200  # taken, but as hers: the exchange names the sender
    kernel = hub.server(mallory, "POST", "/api/kernels", json={"name": "python3"}).json()
    direct = json.loads(hub.run(mallory, kernel["id"], DIRECT.format(
        url=exchange_url(hub), course=COURSE_ID, module=MODULE, alice=alice, files=forged)
    ).strip().splitlines()[-1])
    assert direct == {"as alice, my server's token": 200, "no token": 403,
                      "alice's hand-in": 403, "alice's feedback upload": 403}
    for theirs in (hub.call(mallory, "GET", f"{NGSHARE}/submission/{COURSE_ID}/{MODULE}/{alice}"),
                   hub.call(mallory, "GET", f"{NGSHARE}/submissions/{COURSE_ID}/{MODULE}/{alice}")):
        assert theirs.status_code == 403 and "files" not in theirs.text
    listed = succeeded(hub.call(trainer, "GET", f"{NGSHARE}/submissions/{COURSE_ID}/{MODULE}"))["submissions"]
    assert [s["timestamp"] for s in listed if s["student_id"] == alice] == alice_times
    assert sum(s["student_id"] == mallory for s in listed) == 2  # her forgeries are hers

    # -- mallory fills the disk: one request past the limit, hand-ins past her quota ------------
    files = stored / "files"

    def stored_bytes() -> int:
        return sum(p.stat().st_size for p in files.iterdir())

    before = stored_bytes()
    try:
        huge = hub.call(mallory, "POST", f"{NGSHARE}/submission/{COURSE_ID}/{MODULE}", timeout=60,
                        data={"files": files_field({"big.bin": secrets.token_bytes(2 * MAX_UPLOAD_MB * 10**6)})})
        assert huge.status_code != 200, huge.text[:300]
        print(f"\na {2 * MAX_UPLOAD_MB} MB hand-in: HTTP {huge.status_code}")
    except requests.ConnectionError as err:  # the service closed the connection on the oversized body
        print(f"\na {2 * MAX_UPLOAD_MB} MB hand-in: connection closed ({err})")
    assert stored_bytes() == before
    statuses = [hub.call(mallory, "POST", f"{NGSHARE}/submission/{COURSE_ID}/{MODULE}",
                         data={"files": files_field({"chunk.bin": secrets.token_bytes(400_000)})}).status_code
                for _ in range(10)]
    assert 200 in statuses and statuses[statuses.index(413):] == [413] * (len(statuses) - statuses.index(413))
    grown = stored_bytes() - before
    assert grown <= QUOTA_MB * 10**6, grown
    print(f"mallory's hand-ins: {statuses}; the exchange grew by {grown / 1e6:.2f} MB "
          f"(quota {QUOTA_MB} MB, request limit {MAX_UPLOAD_MB} MB)")

    # -- the trainer collects: alice's hand-in is hers, intact, graded as hers ------------------
    succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/collect"))
    submitted = hub.root / "course" / "submitted" / alice / MODULE
    collected = nbformat.read(submitted / f"{MODULE}.ipynb", as_version=4)
    assert [c.source for c in collected.cells] == [c.source for c in nb.cells]
    assert mark in nbformat.writes(collected) and "handed in for" not in nbformat.writes(collected)
    assert (submitted / "answers.json").is_file()
    succeeded(hub.formgrader(trainer, "POST", f"/api/submission/{MODULE}/{alice}/autograde"))
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hub.root / 'course' / 'gradebook.db'}") as gb:
        graded = gb.find_submission_notebook(MODULE, MODULE, alice)
        scores = {grade.name: grade.score for grade in graded.grades}
        flagged = graded.flagged
    assert scores["m2-ex21-login"] == 1 and not flagged  # her quiz answer, from the service, hers

    # -- feedback: alice gets hers; mallory cannot read it ---------------------------------------
    for step in ("generate_feedback", "release_feedback"):
        succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/{alice}/{step}"))
    fetched = hub.server(alice, "POST", "/assignments/fetch_feedback",
                         json={"course_id": COURSE_ID, "assignment_id": MODULE})
    assert fetched.status_code == 200 and '"success": true' in fetched.text, fetched.text
    pages = list((hub.root / "home" / alice / MODULE / "feedback").rglob(f"{MODULE}.html"))
    assert len(pages) == 1 and mark.split("work ")[1] in pages[0].read_text()
    stolen = hub.call(mallory, "GET", f"{NGSHARE}/feedback/{COURSE_ID}/{MODULE}/{alice}",
                      params={"timestamp": alice_times[0]})
    assert stolen.status_code == 403 and "files" not in stolen.text

    # -- releases still work after all of it ------------------------------------------------------
    for step in ("assign", "release"):
        succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{OTHER_MODULE}/{step}"))
    assert sorted(succeeded(hub.call(alice, "GET", f"{NGSHARE}/assignments/{COURSE_ID}"))["assignments"]) == \
        sorted([MODULE, OTHER_MODULE])


REACH = '''
import json, os
found = {{}}
for name, folder in (("exchange data", {data!r}), ("shared folder", {old!r})):
    try:
        os.makedirs(os.path.join(folder, "etp-ops-academy", "outbound", "m1_architecture"))
        found[name] = "created"
    except OSError as err:
        found[name] = type(err).__name__
print(json.dumps(found))
'''

DIRECT = '''
import json, os, urllib.parse, urllib.request, urllib.error
base = {url!r}
def call(method, path, token=True, **fields):
    data = urllib.parse.urlencode(fields).encode() if fields else None
    headers = {{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}} if token else {{}}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data=data, headers=headers,
                                                           method=method), timeout=60) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code
found = {{
    "as alice, my server's token": call("POST", "/submission/{course}/{module}", user={alice!r}, files={files!r}),
    "no token": call("POST", "/submission/{course}/{module}", token=False, files={files!r}),
    "alice's hand-in": call("GET", "/submission/{course}/{module}/{alice}"),
    "alice's feedback upload": call("POST", "/feedback/{course}/{module}/{alice}",
                                    timestamp="2030-01-01 00:00:00.000000 UTC", files={files!r}),
}}
print(json.dumps(found))
'''
