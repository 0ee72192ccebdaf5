"""JupyterHub for real, on 127.0.0.1: the course's hub config, configurable-http-proxy, the formgrader
and quiz services, three hub users, Module 2 from release to gradebook.

The hub runs ``deploy/jupyterhub/jupyterhub_config.py`` with a test-only layer on top: folders and
ports of a temporary directory, and DummyAuthenticator with one password instead of the
admin-approved NativeAuthenticator. Every server runs as its own throw-away Unix account
(LocalProcessSpawner, as on a real single-host hub), made with ``useradd`` here and removed at
the end; so the test needs root (CI runs as root). A trainer and two trainees log in through the
hub's API (a token for a user name and password). The trainer releases Module 2 through the
formgrader service; each trainee's server fetches it, answers quizzes through the quiz service
(its kernel, the widget's Submit path), writes code and submits; one trainee forges answers.json
before submitting. The trainer collects and autogrades through the formgrader; the gradebook
then holds both scores, and the forgery earned nothing. A trainee can read neither the other's
submission, nor the formgrader, nor a key or a classmate's answers from the quiz service.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import requests

sys.path.insert(0, str(Path(__file__).parent))
from harness import solution_sources  # noqa: E402

from course.data import world  # noqa: E402
from course.trainer.reference import quiz_keys  # noqa: E402

from hub_harness import (  # noqa: E402
    COURSE_ID, KERNEL_SETUP, MODULE, QUIZ, REPO, _start_hub, hub)  # noqa: F401 (hub: a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def succeeded(response) -> dict | list:
    """The JSON of a formgrader or server call that must have worked (else what it said)."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[-3000:]}"
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"not JSON: {response.text[:3000]}") from None
    assert not isinstance(body, dict) or body.get("success", True), json.dumps(body)[-5000:]
    return body


def released_cells(nb) -> dict[str, str]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells
            if c.cell_type == "code"}


def test_a_team_on_the_hub_from_release_to_gradebook(hub):
    users = hub.users
    trainer, ana, ben = users["trainer"], users["ana"], users["ben"]
    for name in (trainer, ana, ben):
        hub.login(name)

    # -- the trainer releases Module 2 through the formgrader service (trainers only) ----------
    page = hub.formgrader(trainer, "GET", "")
    assert page.status_code == 302, page.text[:500]  # to its first page, inside the service
    assert page.headers["Location"].startswith(f"/services/{COURSE_ID}/formgrader")
    page = hub.formgrader(trainer, "GET", "/manage_assignments")
    assert page.status_code == 200 and "Manage Assignments" in page.text, page.text[:500]
    assert "frame-ancestors 'none'" in page.headers.get("Content-Security-Policy", "")
    for step in ("assign", "release"):
        succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/{step}"))
    released = nbformat.read(hub.root / "course" / "release" / MODULE / f"{MODULE}.ipynb", as_version=4)
    cells = released_cells(released)
    for grade_id in ("m2-ex21-login", "m2-ex21-pdf", "m2-llm-bad-day"):
        for word in ("answer=", "key=", "explanation=", "answer_from="):
            assert word not in cells[grade_id], f"the hub release of {grade_id} holds {word}"

    # -- each trainee: server, fetch, quizzes through the service, code, submit -------------------
    source = nbformat.read(REPO / "source" / MODULE / f"{MODULE}.ipynb", as_version=4)
    solutions = solution_sources(source)
    verdicts = {}
    for name in (ana, ben):
        hub.start_server(name)
        fetched = hub.server(name, "POST", "/assignments/fetch",
                             json={"course_id": COURSE_ID, "assignment_id": MODULE})
        assert fetched.status_code == 200, fetched.text
        notebook_path = f"/api/contents/{MODULE}/{MODULE}.ipynb"
        model = hub.server(name, "GET", notebook_path).json()
        nb = nbformat.from_dict(model["content"])
        kernel = hub.server(name, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
        with world.using(world.seed_for(name, COURSE_ID)):
            bad_day = quiz_keys.answer("slow_llm_day")  # what this trainee's own data shows
        cells = released_cells(nb)
        code = "\n".join([KERNEL_SETUP, cells["m2-setup"], cells["m2-ex21-login"], cells["m2-ex21-pdf"],
                          cells["m2-llm-bad-day"], "results = {",
                          "  'login': submit('m2-ex21-login', 'P1'),",
                          "  'pdf': submit('m2-ex21-pdf', 'P0'),       # wrong first",
                          "  'pdf2': submit('m2-ex21-pdf', 'P2'),      # then right: practice only",
                          f"  'day': submit('m2-llm-bad-day', {bad_day!r}),",
                          "}",
                          "results['seed'] = world.current().seed",
                          "results['local'] = json.load(open('answers.json'))['questions']",
                          "print(json.dumps(results))"])
        verdicts[name] = json.loads(hub.run(name, kernel["id"], code).strip().splitlines()[-1])
        for cell in nb.cells:  # the trainee writes the exercises' code
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.cell_type == "code" and grade_id in solutions:
                cell.source = solutions[grade_id]
        saved = hub.server(name, "PUT", notebook_path, json={"type": "notebook", "format": "json",
                                                               "content": json.loads(nbformat.writes(nb))})
        assert saved.status_code == 200, saved.text
        if name == ben:  # the forgery: every first answer right, seals recomputed, in the hand-in
            hub.run(name, kernel["id"], FORGE)
        submitted = hub.server(name, "POST", "/assignments/submit",
                               json={"course_id": COURSE_ID, "assignment_id": MODULE})
        assert submitted.status_code == 200 and "error" not in submitted.text.lower()[:200], submitted.text
    for name in (ana, ben):
        result = verdicts[name]
        assert result["seed"] == world.seed_for(name, COURSE_ID)  # each world from JUPYTERHUB_USER
        assert result["login"]["verdict"] == "right" and result["day"]["verdict"] == "right"
        assert result["pdf"]["verdict"] == "wrong" and result["pdf2"]["verdict"] == "right"
        assert "Not correct" in result["pdf2"]["feedback"]  # the first answer stays the graded one
        assert [a["correct"] for a in result["local"]["m2-ex21-pdf"]] == [False, True]  # local copy

    # -- what a trainee cannot do ------------------------------------------------------------------
    assert hub.formgrader(ben, "GET", "").status_code in (302, 403)
    assert hub.formgrader(ben, "POST", f"/api/assignment/{MODULE}/collect").status_code in (302, 403)
    record = hub.call(ben, "GET", f"/services/{QUIZ}/api/quizzes/m2-ex21-login").json()
    assert set(record) == {"qid", "attempts", "explanation"} and "key" not in json.dumps(record)
    assert hub.call(ben, "GET", f"/services/{QUIZ}/api/answers/{MODULE}?user={ana}").status_code == 403
    kernel = hub.server(ben, "POST", "/api/kernels", json={"name": "python3", "path": MODULE}).json()
    probe = hub.run(ben, kernel["id"], PROBE.format(exchange=str(hub.root / "hub" / "exchange"),
                                                    course=str(hub.root / "course"), other=ana,
                                                    sources=str(REPO / "source")))
    assert json.loads(probe.strip().splitlines()[-1]) == {
        "inbound listing": "FileNotFoundError", "other's submission": "FileNotFoundError",
        "course folder": "FileNotFoundError", "course sources": False,
        "trainer code": "ModuleNotFoundError", "quiz record with my server's token": 403}

    # -- the trainer collects and autogrades through the formgrader ------------------------------
    succeeded(hub.formgrader(trainer, "POST", f"/api/assignment/{MODULE}/collect"))
    for name in (ana, ben):
        succeeded(hub.formgrader(trainer, "POST", f"/api/submission/{MODULE}/{name}/autograde"))
    from nbgrader.api import Gradebook

    scores, flagged = {}, {}
    with Gradebook(f"sqlite:///{hub.root / 'course' / 'gradebook.db'}") as gb:
        for name in (ana, ben):
            submission = gb.find_submission_notebook(MODULE, MODULE, name)
            scores[name] = {grade.name: grade.score for grade in submission.grades}
            flagged[name] = (submission.flagged, "\n".join(c.auto_comment or "" for c in submission.comments))
    for name in (ana, ben):
        assert scores[name]["m2-ex21-login"] == 1 and scores[name]["m2-llm-bad-day"] == 1
        assert scores[name]["m2-ex21-pdf"] == 0   # wrong first, right later: no point
        assert scores[name]["m2-ex21-pool"] == 0  # never answered through the service
        assert scores[name]["m2-health-test"] == 2 and scores[name]["m2-slo-test"] == 2
    assert scores[ben] == scores[ana], "the forged answers.json earned something"
    assert sum(scores[ana].values()) > 5
    assert not flagged[ana][0]
    assert flagged[ben][0] and "differs from the quiz service's record" in flagged[ben][1]
    overview = hub.formgrader(trainer, "GET", f"/api/submissions/{MODULE}").json()
    assert {row["student"]: row["score"] for row in overview} == {
        name: sum(scores[name].values()) for name in (ana, ben)}


FORGE = '''
from course.quiz.store import AnswerStore
os.remove("answers.json")
store = AnswerStore("answers.json")
for qid, answer in (("m2-ex21-pdf", "P2"), ("m2-ex21-pool", "P0"), ("m2-ex21-typo", "P3")):
    store.record(qid, answer, answer.lower(), True)
print(len(store.load()))
'''

PROBE = '''
import json, os, urllib.request, urllib.error
found = {{}}
inbound = os.path.join({exchange!r}, "etp-ops-academy", "inbound")
try:
    os.listdir(inbound)
    found["inbound listing"] = "listed"
except OSError as err:
    found["inbound listing"] = type(err).__name__
try:
    os.listdir(os.path.join(inbound, "{other}+m2_sla_severity"))  # its real name has a secret part
    found["other's submission"] = "listed"
except OSError as err:
    found["other's submission"] = type(err).__name__
try:
    os.listdir({course!r})
    found["course folder"] = "listed"
except OSError as err:
    found["course folder"] = type(err).__name__
found["course sources"] = os.path.exists({sources!r})
try:
    import course.trainer.reference
    found["trainer code"] = "imported"
except ImportError as err:
    found["trainer code"] = type(err).__name__
request = urllib.request.Request(os.environ["ETP_QUIZ_SERVICE_URL"] + "api/answers/m2_sla_severity?user={other}",
                                 headers={{"Authorization": "token " + os.environ["JUPYTERHUB_API_TOKEN"]}})
try:
    urllib.request.urlopen(request, timeout=30)
    found["quiz record with my server's token"] = 200
except urllib.error.HTTPError as err:
    found["quiz record with my server's token"] = err.code
print(json.dumps(found))
'''


def test_the_default_authenticator_waits_for_the_admins_approval():
    """deploy/jupyterhub as shipped: NativeAuthenticator, sign-ups closed until an admin approves."""
    running, cleanup = _start_hub("", {}, secrets.token_hex(2))
    try:
        admin, trainee = running.users["trainer"], running.users["ana"]
        password = secrets.token_urlsafe(16)
        made = subprocess.run([sys.executable, "-m", "course", "hub-admin", admin, "--password-stdin",
                               "--hub-root", str(running.root / "hub")], input=password + "\n",
                              capture_output=True, text=True, cwd=REPO)  # the deployer's step
        assert made.returncode == 0, made.stderr
        browser = requests.Session()
        form = browser.get(f"{running.url}/hub/signup", timeout=30)
        assert form.status_code == 200 and "signup_password" in form.text
        squatter = secrets.token_urlsafe(16)
        newcomer = f"{trainee}-new"  # in no group yet, never logged in
        for name, secret in ((admin, squatter), ("root", squatter), (running.users["grader"], squatter),
                             (trainee, password), (newcomer, password)):
            signed = browser.post(f"{running.url}/hub/signup", timeout=30, data={
                "username": name, "signup_password": secret,
                "signup_password_confirmation": secret, "_xsrf": browser.cookies.get("_xsrf")})
            assert signed.status_code == 200, signed.text[:500]
            assert ("Something went wrong" in signed.text) == (name not in (trainee, newcomer)), name

        def token(name: str, secret: str = password) -> requests.Response:
            return requests.post(f"{running.url}/hub/api/users/{name}/tokens", timeout=30,
                                 json={"auth": {"username": name, "password": secret}})

        assert token(admin, squatter).status_code == 403  # the admin's name was not taken
        assert token("root", squatter).status_code == 403

        assert token(trainee).status_code == 403  # signed up, not approved: no way in
        pupil = requests.Session()
        pupil.get(f"{running.url}/hub/login", timeout=30)

        def log_in() -> int:
            return pupil.post(f"{running.url}/hub/login", timeout=30, allow_redirects=False, data={
                "username": trainee, "password": password, "_xsrf": pupil.cookies.get("_xsrf")}
            ).status_code

        assert log_in() == 403  # the login page refuses too
        assert token(admin).status_code in (200, 201)  # an admin named in ETP_HUB_ADMINS
        desk = requests.Session()  # the admin's browser: logs in, opens the approval page
        assert "/hub/signup" in desk.get(f"{running.url}/hub/login", timeout=30).text
        logged = desk.post(f"{running.url}/hub/login", timeout=30, allow_redirects=False, data={
            "username": admin, "password": password, "_xsrf": desk.cookies.get("_xsrf")})
        assert logged.status_code == 302, running.log_tail()
        assert trainee in desk.get(f"{running.url}/hub/authorize", timeout=30).text
        for name in (trainee, newcomer):
            approved = desk.get(f"{running.url}/hub/authorize/{name}", timeout=30, allow_redirects=False)
            assert approved.status_code == 302
        admin_token = token(admin).json()["token"]  # approved: a hub user, a group can name them
        group = f"/hub/api/groups/nbgrader-{COURSE_ID}/users"
        added = requests.post(f"{running.url}{group}", timeout=30, json={"users": [newcomer]},
                              headers={"Authorization": f"token {admin_token}"})
        assert added.status_code == 200, added.text
        assert token(trainee).status_code in (200, 201)
        assert log_in() == 302  # approved: in
        trainee_token = token(trainee).json()["token"]
        groups = requests.get(f"{running.url}/hub/api/users/{trainee}", timeout=30,
                              headers={"Authorization": f"token {trainee_token}"}).json()["groups"]
        assert groups == [f"nbgrader-{COURSE_ID}"]  # ETP_HUB_TRAINEES: a trainee of the course
    finally:
        cleanup()
