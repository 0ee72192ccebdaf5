"""The incident channel on the simulated clock: the usual ways of writing an ETA or a status pass,
wrong ones do not, and a drill's messages and calls are checked against its own record."""
import json

import pytest

from course import incident_comms as comms
from course import incident_template as template
from course.data import world
from course.data.incident_sim import IncidentSim
from test_incident_sim import best_path, poor_path

OPENING = """[INCIDENT] Authentication system unavailable
Severity: P0
Status: Investigating
Impact: All users unable to login
ETA: Assessing"""


@pytest.mark.parametrize("eta", ["30-60 min", "30–60 minutes", "1-2 hours", "1 to 2 hours", "within the hour",
                                 "TBD", "TBD, next update at 10:30", "< 1 h", "in 45 min", "Assessing", "01:30 BRT"])
def test_the_usual_etas_pass(eta):
    assert template.check_incident(OPENING.replace("Assessing", eta)).ok, eta


@pytest.mark.parametrize("eta", ["soon", "later today", "P0", "1-2", "TBD TBD lorem", "<estimated resolution time>"])
def test_wrong_etas_are_still_rejected(eta):
    report = template.check_incident(OPENING.replace("Assessing", eta))
    assert not report.ok and "ETA" in report.problems[0], eta


@pytest.mark.parametrize("status, ok", [("Mitigating", True), ("Mitigation in progress", True), ("Monitoring", True),
                                        ("Identified - pool exhausted", True), ("Fix in progress", True),
                                        ("Resolved", False), ("Sleeping", False), ("TBD", False)])
def test_statuses(status, ok):
    assert template.check_incident(OPENING.replace("Investigating", status)).ok is ok


def test_tbd_is_an_eta_not_an_impact():
    report = template.check_incident(OPENING.replace("All users unable to login", "TBD"))
    assert report.problems == ["Impact still holds the template's placeholder 'TBD': write the real value"]


@pytest.mark.parametrize("text, minutes", [("25 minutes", 25), ("1 h 48 min", 108), ("1h48m", 108),
                                           ("about 2 hours", 120), ("until morning", None)])
def test_durations_are_read(text, minutes):
    assert template.duration_minutes(text) == minutes


def findings(sim):
    return {finding.rule: finding for finding in comms.check_comms(sim)}


@pytest.mark.parametrize("trainee", ["alice", "bob"])
def test_the_best_path_keeps_every_rule(trainee):
    sim = best_path(IncidentSim("login-500", world.seed_for(trainee)))
    found = findings(sim)
    assert all(f.ok for f in found.values()), [str(f) for f in found.values() if not f.ok]
    assert comms.declared_severity(sim) == "P0" and found["severity by the course's rule"].ok
    assert {"escalate when most users are hit", "Incident Commander for a P0"} <= set(found)


def test_the_poor_path_breaks_the_rules_it_breaks():
    sim = poor_path(IncidentSim("login-500", world.seed_for("alice")))
    found = findings(sim)
    assert comms.declared_severity(sim) == "P1"
    assert not found["severity by the course's rule"].ok and "P1 is not" in found["severity by the course's rule"].detail
    assert found["first [INCIDENT] message"].ok, "a P1's hour is not over: the declared severity sets the clock"
    assert not found["escalate when most users are hit"].ok
    assert "never escalated" in found["escalate when most users are hit"].detail
    assert "Incident Commander for a P0" not in found
    assert found["[RESOLVED] message"].ok, "its messages are honest; its moves are what cost it"


def test_a_p0_message_after_fifteen_minutes_is_late_and_updates_fall_due():
    sim = IncidentSim("login-500", world.seed_for("bob"))
    sim.logs(); sim.wait(20)
    sim.post(OPENING)
    sim.escalate("Tech Lead"); sim.page_ic()
    sim.wait(40)
    found = findings(sim)
    assert not found["first [INCIDENT] message"].ok and "within 15 min" in found["first [INCIDENT] message"].detail
    assert not found["updates when due"].ok and "every 30 min" in found["updates when due"].detail
    assert not found["Tech Lead per the escalation matrix"].ok
    assert not found["[RESOLVED] message"].ok
    assert sim.chat()["text"].str.contains("still nothing in #incidents").any(), "the world says the channel is silent"


def test_resolved_while_still_failing_is_caught():
    sim = IncidentSim("login-500", world.seed_for("bob"))
    sim.post(OPENING); sim.escalate(); sim.page_ic()
    sim.post("[RESOLVED] Authentication system unavailable\nDuration: 8 minutes\nRoot Cause: Database connection "
             "pool exhausted\nResolution: Nothing yet\nFollow-up: GitHub issue #9 for post-mortem")
    assert "while the platform still failed" in findings(sim)["[RESOLVED] message"].detail


def test_a_saved_drill_replays_and_a_doctored_one_does_not():
    sim = best_path(IncidentSim("login-500", world.seed_for("alice")))
    again = IncidentSim.replay(sim.to_json())
    assert again.to_json() == sim.to_json()
    doctored = json.loads(sim.to_json())
    doctored["entries"][5]["minute"] = 1.0
    with pytest.raises(ValueError, match="does not match"):
        IncidentSim.replay(doctored)
    forged = json.loads(sim.to_json())
    forged["script"].insert(0, ["__class__"])
    with pytest.raises(ValueError, match="cannot call"):
        IncidentSim.replay(forged)
    with pytest.raises(ValueError, match="not a saved drill"):
        IncidentSim.replay("[]")


def test_a_duration_the_clock_does_not_bear_out_is_caught():
    sim = IncidentSim("login-500", world.seed_for("alice"))
    best_path(sim)
    text = sim.posts[-1][1].replace("Duration: 20 minutes", "Duration: 2 hours")
    sim.closed, sim.posts[-1] = True, (sim.posts[-1][0], text)
    assert "Duration says 120 min" in findings(sim)["[RESOLVED] message"].detail


def test_the_trainee_side_holds_sealed_severities_only():
    from course.data import incident_scenarios
    from course.quiz.keys import digest

    for name, cls in incident_scenarios.SCENARIOS.items():
        assert not {"severity", "root_cause"} & set(vars(cls)), name
        sealed = comms.SEVERITY_SEALS[name]
        assert sum(digest(f"{name}-severity", level) == sealed for level in ("P0", "P1", "P2", "P3")) == 1
