"""Module 6's simulation on a hub: each call of an ``IncidentSim`` sent to the quiz service.

The service records the call for the trainee its hub token names, with the call's simulated minute
and the service's own time, in one run per ``IncidentSim`` (starting the simulation again opens a
new run). Grading accepts a saved drill only when the service saw it played. A call the service
does not confirm stays queued here and is sent again, in order, with the next call or when the
drill is saved (``to_json``); the trainee reads one line about it, and the local record keeps it.
Off a hub, and while a notebook is being graded, nothing is sent.
"""
from __future__ import annotations

import os

from course.quiz.service_client import QuizService, ServiceError, from_environment, new_commit_id

TIMEOUT_S = 5.0   # a move waits at most this long for the service (the service answers in ms)


class SimRecorder:
    """The calls of one run, and how many of them the service has confirmed."""

    def __init__(self, service: QuizService, scenario: str, seed: int):
        self.service, self.scenario, self.seed = service, scenario, int(seed)
        self.run = new_commit_id()
        self.calls: list[tuple[list, float]] = []
        self.sent = 0
        self.failing = False   # the trainee has been told; told again only once it works again

    def add(self, call: list, minute: float) -> None:
        self.calls.append((list(call), float(minute)))
        self.flush()

    def flush(self) -> bool:
        """Send every call not confirmed yet, in order; False when one was not confirmed."""
        while self.sent < len(self.calls):
            call, minute = self.calls[self.sent]
            try:
                self.service.sim_call(self.run, {"scenario": self.scenario, "seed": self.seed, "n": self.sent,
                                                 "call": call, "minute": minute})
            except ServiceError as err:
                if not self.failing:
                    print(f"The quiz service did not record your move {call[0]!r} ({err}); it is kept here and "
                          "sent again with your next move or when you save the drill.")
                self.failing = True
                return False
            self.sent += 1
        if self.failing:
            print(f"The quiz service has every move of this run now ({self.sent}).")
            self.failing = False
        return True


def for_hub(scenario: str, seed: int, environ: dict | None = None) -> SimRecorder | None:
    """A recorder when this kernel runs on a hub with the quiz service; None off a hub or while
    nbgrader executes the notebook (grading replays a drill, it never plays one)."""
    env = os.environ if environ is None else environ
    if env.get("NBGRADER_EXECUTION"):
        return None
    service = from_environment(env)
    if service is None:
        return None
    service.timeout = TIMEOUT_S
    return SimRecorder(service, scenario, seed)
