"""Grading Module 6's simulation on a hub: a saved drill counts only if the quiz service saw it played.

On a hub each call of a trainee's ``IncidentSim`` reaches the quiz service, which keeps every run
(``course.quiz.sim_recorder``). ``ServiceSimRuns`` runs after the notebook is executed: each saved
drill the checks graded (``drill_record``, noted by ``reference.incident_sim.own_drill``) must be
the calls of one of that trainee's recorded runs of its scenario and world, in the same order, up to
when it was saved. A drill the service never saw played (edited, forged, a classmate's, played
off the hub) is flagged for the trainer with the reason; its score is left to the trainer.
"""
from __future__ import annotations

import json
from typing import Any

from course.trainer.grading.hub_grading import QuizServiceUnavailable, ServiceAnswers, service_get, service_ledger
from course.trainer.grading.problems import note_problem

FLAG = "drill_record was never played on the hub"


class ServiceSimRuns(ServiceAnswers):
    """Flag a graded drill that is none of the runs the quiz service recorded for the trainee
    (configured as ``ServiceAnswers``: the service's URL and token, or its database)."""

    def preprocess(self, nb, resources):
        drills = resources.get("etp_drills") or []
        if drills:
            runs = self.fetch_runs(resources["nbgrader"]["student"])
            for saved in drills:
                reason = unplayed(saved, runs)
                if reason:
                    note_problem(resources, f"{FLAG}: {reason}")
        return nb, resources

    def fetch_runs(self, student: str) -> list[dict]:
        return self.read_service(lambda path: service_ledger(path).sim_runs(student),
                                 lambda url, token: read_runs(url, token, student, self.timeout))


def read_runs(url: str, token: str, student: str, timeout: float = 60.0) -> list[dict]:
    runs = service_get(url, token, "api/sims", student, "simulation runs", timeout).get("runs")
    if not isinstance(runs, list):
        raise QuizServiceUnavailable("the quiz service sent a damaged record")
    return runs


def unplayed(saved: Any, runs: list[dict]) -> str:
    """Why ``saved`` (``IncidentSim.to_json()``'s text) is none of ``runs``; '' when it is one
    of them (its calls are the run's first calls, in order)."""
    try:
        data = json.loads(saved) if isinstance(saved, str) else saved
        scenario, seed, script = data["scenario"], int(data["seed"]), _plain(data["script"])
    except (TypeError, ValueError, KeyError):
        return "it is not a saved drill (IncidentSim.to_json())"
    if not isinstance(script, list):
        return "it is not a saved drill (IncidentSim.to_json())"
    mine = [run for run in runs if run.get("scenario") == scenario and run.get("seed") == seed]
    if not mine:
        return f"the quiz service recorded no run of {scenario} in this world for the trainee"
    played = [_plain([call["call"] for call in run.get("calls", [])]) for run in mine]
    if any(calls[:len(script)] == script for calls in played):
        return ""
    closest = max(played, key=lambda calls: _common(calls, script))
    k = _common(closest, script)
    differs = (f"from call {k + 1} on it differs from the closest run" if k < len(closest)
               else f"the closest run has only its first {k} calls")
    return (f"its {len(script)} calls are none of the {len(mine)} runs of {scenario} the quiz service "
            f"recorded for the trainee ({differs}): edited, copied or played elsewhere")


def _plain(value: Any) -> Any:
    """JSON's view of a value: what the service stored compares equal to what the drill saved."""
    return json.loads(json.dumps(value))


def _common(calls: list, script: list) -> int:
    k = 0
    while k < min(len(calls), len(script)) and calls[k] == script[k]:
        k += 1
    return k
