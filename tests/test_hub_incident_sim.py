"""Module 6's simulation on a hub: each call of a trainee's ``IncidentSim`` recorded by the quiz
service (per run, per trainee from the hub token, with the service's times), and grading that
accepts a saved drill only when the service saw it played. The service runs in-process, hub tokens
stood in for by a table, as in test_quiz_service."""
import json
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_incident_sim import best_path  # noqa: E402

from course.data import world  # noqa: E402
from course.data.incident_sim import IncidentSim  # noqa: E402
from course.quiz import sim_recorder  # noqa: E402
from course.trainer.grading import hub_grading, hub_sim  # noqa: E402
from course.trainer.grading.verdicts import Verdicts  # noqa: E402
from course.trainer.hub import ledger as ledger_module  # noqa: E402
from course.trainer.hub.ledger import Ledger, prepare  # noqa: E402
from course.trainer.hub.quiz_service import READ_ANSWERS_SCOPE, QuizService, make_app  # noqa: E402
from course.trainer.reference import incident_sim as reference  # noqa: E402
from service_thread import call, serving  # noqa: E402

PREFIX = "/services/etp-quiz/"
ACCESS = "access:services!service=etp-quiz"
TOKENS = {"tok-alice": {"kind": "user", "name": "alice", "scopes": [ACCESS]},
          "tok-bob": {"kind": "user", "name": "bob", "scopes": [ACCESS]},
          "tok-trainer": {"kind": "user", "name": "trainer", "scopes": [ACCESS, READ_ANSWERS_SCOPE]}}
ALICE, BOB = world.seed_for("alice", world.COURSE_ID), world.seed_for("bob", world.COURSE_ID)


async def table_identity(handler):
    header = handler.request.headers.get("Authorization", "")
    return dict(TOKENS[header[6:]]) if header.startswith("token ") and header[6:] in TOKENS else None


@pytest.fixture()
def server(tmp_path):
    """The service's app on a loopback port, in a thread of its own: (base URL, its ledger)."""
    ledger = Ledger(prepare(tmp_path / "data"))
    service = QuizService(None, ledger, None)  # the simulation's calls need no keys
    with serving(lambda: make_app(service, table_identity, PREFIX)) as port:
        yield f"http://127.0.0.1:{port}{PREFIX}", ledger


@pytest.fixture()
def on_hub(server, monkeypatch):
    """This process as a trainee's kernel on the hub: play(token, scenario, seed) starts a simulation."""
    url, _ = server
    monkeypatch.setenv("ETP_QUIZ_SERVICE_URL", url)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)

    def play(token: str, scenario: str = "login-500", seed: int = ALICE) -> IncidentSim:
        monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
        return IncidentSim(scenario, seed)

    return play


def graded(url, student, *drills):
    """The problems grading on a hub notes for ``student``'s graded drills (the trainer's token)."""
    resources = {"nbgrader": {"student": student, "assignment": "m6_incident_response",
                              "notebook": "m6_incident_response"}, "etp_drills": list(drills)}
    hub_sim.ServiceSimRuns(url=url, token="tok-trainer").preprocess(nbformat.v4.new_notebook(), resources)
    return resources.get("etp_problems", [])


# -- recording ----------------------------------------------------------------------------------
def test_an_honest_run_is_recorded_call_by_call_and_grades_unflagged(server, on_hub):
    url, ledger = server
    sim = best_path(on_hub("tok-alice"))
    [run] = ledger.sim_runs("alice")
    assert (run["scenario"], run["seed"]) == ("login-500", ALICE)
    assert [c["call"] for c in run["calls"]] == json.loads(sim.to_json())["script"]
    # each call at its simulated minute (as the drill's record has it), stamped by the service's clock
    assert [c["minute"] for c in run["calls"]][:3] == [0.0, 0.5, 1.5]
    assert run["calls"][-1]["minute"] == sim.record["minute"].iloc[-1] - 2.0  # the post's two minutes
    assert all(c["time"].startswith("20") and c["time"] >= run["started"] for c in run["calls"])
    assert ledger.sim_runs("bob") == []
    assert graded(url, "alice", sim.to_json()) == []
    # the service's database read directly gives the grader the same runs as its API
    assert hub_sim.ServiceSimRuns(database=str(ledger.path)).fetch_runs("alice") == [run]
    assert ledger.sim_runs("alice", run=run["run"]) == [run] and ledger.sim_runs("alice", run="other") == []


def test_starting_again_opens_a_new_run_and_keeps_the_old_one(server, on_hub):
    url, ledger = server
    first = on_hub("tok-alice")
    first.acknowledge()
    first.logs()
    second = best_path(on_hub("tok-alice"))
    runs = ledger.sim_runs("alice")
    assert [len(r["calls"]) for r in runs] == [2, len(second.script)]
    assert graded(url, "alice", first.to_json(), second.to_json()) == []
    status, mine = call(url + "api/sims", "tok-alice")
    assert status == 200 and [r["run"] for r in mine["runs"]] == [first.recorder.run, second.recorder.run]


def test_a_drill_saved_before_its_last_moves_is_one_of_the_runs(server, on_hub):
    url, _ = server
    sim = on_hub("tok-alice")
    sim.acknowledge()
    sim.health()
    saved = sim.to_json()     # the save cell ran here; the trainee went on playing after it
    sim.metrics()
    assert graded(url, "alice", saved) == []


# -- what grading flags -----------------------------------------------------------------------------
def test_an_edited_record_is_flagged(server, on_hub):
    url, _ = server
    data = json.loads(best_path(on_hub("tok-alice")).to_json())
    data["script"][5] = ["post", data["script"][5][1].replace("P0", "P1")]  # the severity changed afterwards
    problems = graded(url, "alice", json.dumps(data))
    assert len(problems) == 1 and hub_sim.FLAG in problems[0]
    assert "none of the 1 runs of login-500" in problems[0] and "from call 6 on" in problems[0]


def test_another_trainees_record_is_flagged(server, on_hub):
    url, _ = server
    best_path(on_hub("tok-alice"))
    bobs = best_path(on_hub("tok-bob", seed=BOB)).to_json()
    [problem] = graded(url, "alice", bobs)
    assert "recorded no run of login-500 in this world" in problem
    # bob plays in alice's world and hands his record to her: the run is his (the token's), not hers
    for_alice = on_hub("tok-bob", seed=ALICE)
    for_alice.acknowledge()
    for_alice.sentry()
    [problem] = graded(url, "alice", for_alice.to_json())
    assert "none of the 1 runs" in problem
    assert graded(url, "bob", for_alice.to_json()) == []


def test_a_record_never_sent_is_flagged(server, monkeypatch):
    url, _ = server
    monkeypatch.delenv("ETP_QUIZ_SERVICE_URL", raising=False)
    offline = best_path(IncidentSim("login-500", ALICE))  # played off the hub
    assert offline.recorder is None
    [problem] = graded(url, "alice", offline.to_json())
    assert hub_sim.FLAG in problem and "recorded no run" in problem
    [problem] = graded(url, "alice", "not a drill")
    assert "not a saved drill" in problem


def test_grading_notes_the_drills_its_checks_graded(server, on_hub, tmp_path):
    """The checks run in the trainer's process: the drill ``own_drill`` graded reaches the hub's step."""
    url, _ = server
    saved = best_path(on_hub("tok-alice")).to_json()
    verdicts = Verdicts([], tmp_path / "answers.json", ALICE)

    class Bridge:
        def fetch(self, names):
            return {"drill_record": saved}

    check = "from course.trainer.reference import incident_sim as reference\nreference.own_drill(drill_record)\n"
    assert verdicts.judge("m6-sim-drill-test", check, Bridge()) == []
    assert verdicts.evidence.drills == [saved]
    steps = hub_grading.hub_autograde_preprocessors()
    assert steps.index(hub_sim.ServiceSimRuns) == steps.index(hub_grading.SandboxedExecute) + 1
    assert graded(url, "alice", *verdicts.evidence.drills) == []


# -- the trainee's side -----------------------------------------------------------------------------
def test_off_a_hub_and_while_grading_nothing_is_sent(server, on_hub, monkeypatch):
    _, ledger = server
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert on_hub("tok-alice").recorder is None
    monkeypatch.delenv("NBGRADER_EXECUTION")
    played = best_path(on_hub("tok-alice"))
    assert IncidentSim.replay(played.to_json()).recorder is None
    assert reference.best_path("login-500", ALICE).recorder is None
    assert len(ledger.sim_runs("alice")) == 1
    assert sim_recorder.for_hub("login-500", ALICE, {}) is None


def test_an_unconfirmed_call_says_so_once_and_loses_nothing(server, on_hub, capsys):
    url, ledger = server
    sim = on_hub("tok-alice")
    sim.recorder.service.url = "http://127.0.0.1:9/services/etp-quiz/"  # the service is down
    sim.acknowledge()
    sim.health()
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and "did not record your move 'acknowledge'" in said[0]
    assert sim.script == [["acknowledge"], ["health"]] and ledger.sim_runs("alice") == []
    sim.recorder.service.url = url  # back: the save sends what was missing, in order
    saved = sim.to_json()
    assert "every move of this run" in capsys.readouterr().out
    [run] = ledger.sim_runs("alice")
    assert [c["call"] for c in run["calls"]] == [["acknowledge"], ["health"]]
    assert graded(url, "alice", saved) == []


# -- the service's rules ----------------------------------------------------------------------------
BODY = {"scenario": "login-500", "seed": ALICE, "n": 0, "call": ["acknowledge"], "minute": 0.0}


def test_another_users_token_reads_and_writes_nothing_of_the_trainees_runs(server, on_hub):
    url, ledger = server
    sim = best_path(on_hub("tok-alice"))
    run = sim.recorder.run
    assert call(url + f"api/sims/{run}", "tok-alice")[0] == 200
    assert call(url + f"api/sims/{run}", "tok-bob")[0] == 404
    assert call(url + "api/sims", "tok-bob") == (200, {"user": "bob", "runs": []})
    assert call(url + "api/sims?user=alice", "tok-bob")[0] == 403
    assert call(url + "api/sims?user=alice", None)[0] == 403
    status, read = call(url + "api/sims?user=alice", "tok-trainer")
    assert status == 200 and len(read["runs"][0]["calls"]) == len(sim.script)
    # bob writing to alice's run id writes a run of his own; hers is unchanged
    assert call(url + f"api/sims/{run}", "tok-bob", {**BODY, "call": ["post", "[RESOLVED] forged"]})[0] == 200
    assert [c["call"] for c in ledger.sim_runs("alice")[0]["calls"]] == sim.script
    assert ledger.sim_runs("bob")[0]["calls"][0]["call"] == ["post", "[RESOLVED] forged"]


def test_the_service_refuses_what_is_not_a_call_in_order(server, monkeypatch):
    url, ledger = server
    run = url + "api/sims/r" + "1" * 20
    assert call(run, None, BODY)[0] == 403
    assert call(run, "tok-alice", b"not json")[0] == 400
    assert call(run, "tok-alice", {**BODY, "call": ["__init__"]})[0] == 400
    assert call(run, "tok-alice", {**BODY, "call": ["post", {"x": 1}]})[0] == 400
    assert call(run, "tok-alice", {**BODY, "scenario": "nope"})[0] == 400
    assert call(run, "tok-alice", {**BODY, "minute": float("nan")})[0] == 400
    assert call(run, "tok-alice", {**BODY, "extra": 1})[0] == 400
    assert call(url + "api/sims/bad%21id", "tok-alice", BODY)[0] == 400   # a run id is like a commit id
    assert call(run, "tok-alice", {**BODY, "call": ["post", "x" * 20_000]})[0] == 413
    assert call(run, "tok-alice", {**BODY, "n": 1})[0] == 409          # call 0 was never sent
    assert call(run, "tok-alice", BODY)[0] == 200
    assert call(run, "tok-alice", BODY)[0] == 200                      # a retry adds nothing
    assert call(run, "tok-alice", {**BODY, "call": ["health"]})[0] == 409   # call 0 is another call
    assert call(run, "tok-alice", {**BODY, "n": 1, "seed": BOB})[0] == 409  # the run's world is fixed
    monkeypatch.setattr(ledger_module, "MAX_SIM_CALLS", 2)
    assert call(run, "tok-alice", {**BODY, "n": 1, "call": ["health"], "minute": 0.5})[0] == 200
    status, full = call(run, "tok-alice", {**BODY, "n": 2, "call": ["logs"], "minute": 1.5})
    assert status == 429 and "at most 2 calls" in full["error"]
    assert [c["call"] for c in ledger.sim_runs("alice")[0]["calls"]] == [["acknowledge"], ["health"]]
