"""Module 6's incident simulation: the platform on a simulated clock, queried and acted on.

    sim = IncidentSim("login-500")        # the trainee's own world; the pager just went off
    sim.acknowledge()
    sim.health(); sim.logs(); sim.metrics(); sim.sentry(); sim.chat()   # DataFrames up to now
    sim.post("[INCIDENT] Authentication system unavailable\\nSeverity: P0\\n...")
    sim.raise_pool(40); sim.wait(3); sim.post("[RESOLVED] ...")

The clock starts at the page and moves only with what the responder does: looking takes a minute,
a message two, a restart two, a pool change (a redeploy) three, a rollback five (§4.1). Every query
shows the world up to the simulated now and nothing after it. Every call is kept in ``record`` with
its simulated time and what the platform showed then, so the checks and the debrief can say what
the responder knew when they decided. The same world and the same calls give the same record.

On a hub each call is also sent to the quiz service, which keeps every run with its own times
(``course.quiz.sim_recorder``); grading there accepts only a drill the service saw played.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

from course import incident_template as template
from course.data import incident_scenarios, world
from course.data.incident_scenarios import Move

LOOK_MINUTES, MESSAGE_MINUTES, CALL_MINUTES, ACK_MINUTES = 1.0, 2.0, 1.0, 0.5
LOOKBACK_MIN = 30        # the views start half an hour before the page
HORIZON_MIN = 480        # how far ahead the outcome is worked out
BRT = "America/Sao_Paulo"
SOURCES = ("logs", "health", "metrics", "sentry", "chat")
ESCALATION_CONTACTS = ("Tech Lead", "CTO", "Escalation Engineer")
SUPPORT_PATIENCE_MIN = 15   # course value: support asks the channel again after this long without news
_ON_HUB = object()          # the default recorder: the hub's quiz service when this kernel has one


class IncidentClosed(RuntimeError):
    """The incident has its [RESOLVED] message: the drill is over (its views stay readable)."""


class IncidentSim:
    """One incident of the trainee's world, played from the page to the [RESOLVED] message."""

    def __init__(self, scenario: str = "login-500", variant: world.Variant | int | None = None,
                 recorder=_ON_HUB):
        self.variant = world.resolve(variant)
        self.scenario = incident_scenarios.scenario(scenario, self.variant)
        self.recorder = _hub_recorder(self.scenario.name, self.variant.seed) if recorder is _ON_HUB else recorder
        self.page = self.scenario.page_time()
        self.minutes = 0.0
        self.moves: list[Move] = []
        self.entries: list[dict] = []
        self.posts: list[tuple[float, str]] = []
        self.calls: list[tuple[float, str]] = []   # escalations and pages: (minute, who)
        self.looked: set[str] = set()
        self.acknowledged: float | None = None
        self.closed = False
        self.script: list[list] = []   # every public call and its arguments, in order (what ``replay`` runs)

    # -- the clock ---------------------------------------------------------------------------
    @property
    def now(self) -> pd.Timestamp:
        """The simulated time (UTC)."""
        return self.page + pd.Timedelta(minutes=self.minutes)

    def _at(self, minutes: float) -> pd.Timestamp:
        return self.page + pd.Timedelta(minutes=minutes)

    def _spend(self, minutes: float) -> None:
        self.minutes = round(self.minutes + minutes, 4)

    def _call(self, name: str, *args) -> None:
        self._open()
        self.script.append([name, *args])
        if self.recorder is not None:
            self.recorder.add([name, *args], self.minutes)

    def _open(self) -> None:
        if self.closed:
            raise IncidentClosed("the incident is closed ([RESOLVED] was posted): nothing more happens in it")
        if self.acknowledged is None:  # whatever the responder does first, they have picked up the page
            self.acknowledged = self.minutes
            self._note("ack", "acknowledge", "")

    def _note(self, kind: str, name: str, detail: str) -> None:
        self.entries.append({"time": self.now, "minute": self.minutes, "kind": kind, "name": name,
                             "detail": detail, **self.visible()})

    def visible(self) -> dict:
        """What the platform showed at the simulated now: the last minute's figures, and which
        views the responder had looked at so far."""
        last = self.scenario.minute(np.floor(self.minutes - 1e-9) if self.minutes else -1, self.moves)
        return {"seen_failing": not last.healthy, "seen_error_rate": _rate(last),
                "seen_pool": f"{last.pool_in_use}/{last.pool_max}", "looked": ",".join(sorted(self.looked))}

    # -- moves ------------------------------------------------------------------------------
    def acknowledge(self) -> None:
        """Acknowledge the page (the responder's first act; MTTA ends here)."""
        if self.acknowledged is not None:
            return
        self._call("acknowledge")
        self._spend(ACK_MINUTES)

    def wait(self, minutes: float) -> None:
        """Let ``minutes`` of simulated time pass (watching, verifying)."""
        minutes = float(minutes)
        if not 0 < minutes <= 120:
            raise ValueError(f"wait between a moment and 120 minutes, not {minutes}")
        self._call("wait", minutes)
        self._note("move", "wait", f"{minutes:g} min")
        self._spend(minutes)

    def restart(self, service: str = "backend") -> None:
        """Restart a Railway service: ``"backend"`` (both replicas) or ``"redis"``."""
        kinds = {"backend": "restart_backend", world.BACKEND: "restart_backend", "redis": "restart_redis",
                 world.REDIS.lower(): "restart_redis"}
        if str(service).lower() not in kinds:
            raise ValueError(f"restart 'backend' or 'redis', not {service!r}")
        self._call("restart", str(service))
        self._move(Move(kinds[str(service).lower()], self.minutes), f"restart {service}")

    def raise_pool(self, to: int) -> None:
        """Set DB_POOL_MAX to ``to`` connections per backend replica (Railway redeploys the backend)."""
        current = self.scenario.minute(self.minutes, self.moves).pool_max
        limit = getattr(self.scenario, "pool_limit", (incident_scenarios.PG_MAX_CONNECTIONS
                                                      - incident_scenarios.PG_RESERVED) // 2)
        if isinstance(to, bool) or not isinstance(to, (int, np.integer)):
            raise TypeError(f"the pool size is a whole number of connections, not {to!r}")
        if to <= current:
            raise ValueError(f"DB_POOL_MAX is {current} already: raise it above that")
        if to > limit:
            raise ValueError(f"{to} per replica x {world.REPLICAS[world.BACKEND]} replicas is more than PostgreSQL "
                             f"serves (max_connections {incident_scenarios.PG_MAX_CONNECTIONS}, "
                             f"{incident_scenarios.PG_RESERVED} reserved): at most {limit}")
        self._call("raise_pool", int(to))
        self._move(Move("raise_pool", self.minutes, int(to)), f"DB_POOL_MAX {current} -> {int(to)}")

    def rollback(self) -> None:
        """Roll the backend back to its previous deployment."""
        self._call("rollback")
        self._move(Move("rollback", self.minutes), "backend to its previous deployment")

    def _move(self, move: Move, detail: str) -> None:
        self._note("move", move.kind, detail)
        self.moves.append(move)
        self._spend(incident_scenarios.MOVE_MINUTES[move.kind])

    def escalate(self, to: str = "Tech Lead") -> None:
        """Call in the next level of the escalation matrix (``"Tech Lead"``, ``"CTO"``, ...)."""
        if to not in ESCALATION_CONTACTS:
            raise ValueError(f"escalate to one of {', '.join(ESCALATION_CONTACTS)}, not {to!r}")
        self._call("escalate", to)
        self._note("call", "escalate", to)
        self.calls.append((self.minutes, to))
        self._spend(CALL_MINUTES)

    def page_ic(self) -> None:
        """Page the Incident Commander (the guide: active for P0)."""
        self._call("page_ic")
        self._note("call", "page_ic", "Incident Commander")
        self.calls.append((self.minutes, "Incident Commander"))
        self._spend(CALL_MINUTES)

    def post(self, text: str) -> None:
        """Post ``text`` to #incidents; a ``[RESOLVED]`` message closes the incident."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("post the message's text (a non-empty str)")
        self._call("post", text)
        self._spend(MESSAGE_MINUTES)  # written first, stamped when sent
        self._note("message", text.strip().split()[0], text.strip())
        self.posts.append((self.minutes, text.strip()))
        if text.lstrip().upper().startswith("[RESOLVED]"):
            self.closed = True

    # -- views ------------------------------------------------------------------------------
    def _look(self, source: str, frame: pd.DataFrame) -> pd.DataFrame:
        if self.closed:  # the morning after: the data stays readable, the clock has stopped
            return frame
        self._call(source)
        self.looked.add(source)
        self._note("look", source, f"{len(frame)} rows")
        self._spend(LOOK_MINUTES)
        return frame

    def _minutes_so_far(self) -> list[tuple[pd.Timestamp, float]]:
        first = (self.page - pd.Timedelta(minutes=LOOKBACK_MIN)).floor("min")
        clock = pd.date_range(first, self.now.floor("min"), freq="min")
        return [(t, (t - self.page).total_seconds() / 60) for t in clock]

    def metrics(self) -> pd.DataFrame:
        """Railway's and ``/api/metrics``' figures, one row a minute (pool figures per replica)."""
        return self._look("metrics", self._metrics())

    def _metrics(self, until: float | None = None) -> pd.DataFrame:
        rows = []
        for t, m in self._minutes_so_far():
            if until is not None and m > until:
                break
            s = self.scenario.minute(m, self.moves)
            replicas = world.REPLICAS[world.BACKEND]
            rows.append({"time": t, "requests": s.requests * replicas, "errors_5xx": s.failed * replicas,
                         "error_rate_percent": _rate(s), "p95_ms": s.p95_ms, "pool_max": s.pool_max,
                         "pool_in_use": s.pool_in_use, "pool_waiting": s.pool_waiting,
                         "db_connections": s.pool_in_use * replicas})
        return pd.DataFrame(rows)

    def health(self) -> pd.DataFrame:
        """The uptime monitor's probes of ``/api/health``, every 30 s (5 s timeout)."""
        rows = []
        start = (self.page - pd.Timedelta(minutes=LOOKBACK_MIN)).ceil("30s")
        for t in pd.date_range(start, self.now, freq="30s"):
            s = self.scenario.minute((t - self.page).total_seconds() / 60, self.moves)
            row = {"time": t, "path": world.HEALTH_PATH, "status_code": 200, "latency_ms": 40,
                   "status": "healthy", "database": "connected", "redis": "connected"}
            if s.redeploying:
                row.update(status_code=502, latency_ms=15, status=None, database=None, redis=None)
            elif s.status == 500 and s.redis_up:      # the DB check waits for a pool slot
                row.update(status_code=None, latency_ms=world.PROBE_TIMEOUT_MS, status=None, database=None,
                           redis=None)
            elif not s.redis_up:                      # the code's quirk: Redis down reads "not_configured"
                row.update(status="unhealthy", redis="not_configured")
            row["ok"] = row["status_code"] == 200 and row["status"] == "healthy"
            rows.append(row)
        return self._look("health", pd.DataFrame(rows).astype({"status_code": "Int64"}))

    def logs(self) -> pd.DataFrame:
        """The backend's Winston lines, one row each (a sample of every minute's requests)."""
        rows = []
        for t, m in self._minutes_so_far():
            rows += self._log_minute(t, m)
        rows += self._lifecycle_lines()
        frame = pd.DataFrame(rows).astype({"statusCode": "Int64", "durationMs": "Int64"})
        frame = frame[frame["timestamp"] <= self.now].sort_values("timestamp", kind="stable")
        return self._look("logs", frame.reset_index(drop=True))

    def _log_minute(self, t: pd.Timestamp, m: float) -> list[dict]:
        s = self.scenario.minute(m, self.moves)
        if s.redeploying:
            return []
        rng = self.variant.rng(62, self._index(), int((t - self.page.floor("D")).total_seconds() // 60))
        seconds = np.sort(rng.uniform(0, 60, size=4))
        lines = []
        for k, second in enumerate(seconds):
            when = (t + pd.Timedelta(seconds=float(second))).round("ms")
            if s.failed and k < 3:
                lines.append(_line(when, "error", "HTTP", "HTTP Request failed", "POST", s.path, s.status,
                                   s.p95_ms - int(rng.integers(0, 20)), s.error))
            else:
                path = incident_scenarios.LOGIN_PATH if k % 2 else "/api/v1/etps"
                lines.append(_line(when, "info", "HTTP", "HTTP Request completed", "POST" if k % 2 else "GET",
                                   path, 200, int(rng.integers(120, max(121, s.p95_ms))), None))
        if not s.redis_up:
            lines.append(_line(t + pd.Timedelta(seconds=30), "error", "SectionsProcessor",
                               f"Redis connection error: {incident_scenarios.REDIS_REFUSED}", None, None, None,
                               None, None))
        return lines

    def _lifecycle_lines(self) -> list[dict]:
        lines = []
        for move in self.moves:
            if move.kind in incident_scenarios.REDEPLOYS:
                lines.append(_line(self._at(move.at) + pd.Timedelta(seconds=3), "info", "NestApplication",
                                   "SIGTERM received: shutting down", None, None, None, None, None))
                lines.append(_line(self._at(move.live) - pd.Timedelta(seconds=2), "info", "NestApplication",
                                   "Nest application successfully started", None, None, None, None, None))
            if move.kind == "restart_redis":
                lines.append(_line(self._at(move.live), "info", "SectionsProcessor", "Redis connection established",
                                   None, None, None, None, None))
        return lines

    def sentry(self) -> pd.DataFrame:
        """Sentry's events of the backend's production project (a 502 never reaches Sentry)."""
        rows = []
        for t, m in self._minutes_so_far():
            s = self.scenario.minute(m, self.moves)
            if s.failed and not s.redeploying:
                title = f"Error: {s.error}"
                for second in (7, 37):
                    rows.append({"time": t + pd.Timedelta(seconds=second), "title": title, "level": "error",
                                 "transaction": f"POST {s.path}", "environment": "production",
                                 "events_this_minute": s.failed * world.REPLICAS[world.BACKEND]})
        frame = pd.DataFrame(rows, columns=["time", "title", "level", "transaction", "environment",
                                            "events_this_minute"])
        return self._look("sentry", frame[frame["time"] <= self.now].reset_index(drop=True))

    def chat(self) -> pd.DataFrame:
        """#incidents: the team's messages, the Railway bot's, and your own posts (times UTC)."""
        rows = [{"time": self._at(m), "author": author, "text": text} for m, author, text in self._world_chat()]
        rows += [{"time": self._at(m), "author": "you", "text": text} for m, text in self.posts]
        frame = pd.DataFrame(rows, columns=["time", "author", "text"])
        frame = frame[frame["time"] <= self.now].sort_values("time", kind="stable").reset_index(drop=True)
        return self._look("chat", frame)

    def _world_chat(self) -> list[tuple[float, str, str]]:
        sc, lines = self.scenario, []
        started_brt = sc.start.tz_convert(BRT).strftime("%H:%M")
        if sc.name == "login-500":
            lines += [(1.0, "support", f"Several users say login fails with an internal error (500) since about "
                                       f"{started_brt} BRT. Is anyone on it?"),
                      (3.0, "dev-ana", "Playbook scenario 6 says 'authentication broken' is P1. SLA.md lists "
                                       "'login fully broken' as P0. Which one is this?")]
        else:
            stopped = sc.start.strftime("%H:%M")
            lines += [(0.5, "railway-bot", f"Redis: service stopped at {stopped} UTC (host maintenance)."),
                      (2.0, "dev-night", "Section generation spins forever for me; opening and exporting ETPs work.")]
        for move in self.moves:
            lines.append((move.at + 0.2, "railway-bot", _bot_text(move)))
            if move.kind in incident_scenarios.REDEPLOYS or move.kind == "restart_redis":
                lines.append((move.live, "railway-bot", f"{world.REDIS if move.kind == 'restart_redis' else world.BACKEND}: "
                                                        "deployment live."))
        for m, who in self.calls:
            reply = ("I have command. First Responder: stay on mitigation; I take stakeholder updates after your "
                     "[INCIDENT] message." if who == "Incident Commander" else "Joining now. What do you see?")
            lines.append((m + 2.0, who.lower().replace(" ", "-"), reply))
        notice = self._stakeholder_notice()
        if notice:
            lines.append(notice)
        if sc.name == "login-500" and not any(text.upper().startswith("[INCIDENT]") and m <= SUPPORT_PATIENCE_MIN
                                              for m, text in self.posts):
            lines.append((SUPPORT_PATIENCE_MIN + 1.0, "support", "Users keep asking and there is still nothing in #incidents."))
        return lines

    def _stakeholder_notice(self) -> tuple[float, str, str] | None:
        """The Incident Commander's email to stakeholders (the incident-notification template's fields),
        written from the first [INCIDENT] message, once both the IC and that message are in."""
        ic = min((m for m, who in self.calls if who == "Incident Commander"), default=None)
        opened = next(((m, text) for m, text in self.posts if text.upper().startswith("[INCIDENT]")), None)
        if ic is None or opened is None:
            return None
        said = template.check_incident(opened[1])
        fields = {name: said.fields.get(name) or "(not given in #incidents)" for name in ("Impact", "Status", "ETA")}
        return (max(ic + 2.0, opened[0]) + 3.0, "incident-commander",
                f"Stakeholder notice sent by email: Problem: {said.title or 'see #incidents'} | "
                f"Impact: {fields['Impact']} | Status: {fields['Status']} | Forecast: {fields['ETA']} | "
                "next update within 30 min.")

    def _index(self) -> int:
        return list(incident_scenarios.SCENARIOS).index(self.scenario.name)

    # -- the record -------------------------------------------------------------------------
    @property
    def record(self) -> pd.DataFrame:
        """Every call so far: simulated time, what it was, and what the platform showed then."""
        return pd.DataFrame(self.entries, columns=["time", "minute", "kind", "name", "detail", "seen_failing",
                                                   "seen_error_rate", "seen_pool", "looked"])

    def to_json(self) -> str:
        """The record with the world it was played in (what the grader replays)."""
        if self.recorder is not None:  # moves the service has not confirmed yet: one more try
            self.recorder.flush()
        frame = self.record.assign(time=lambda f: f["time"].astype(str))
        return json.dumps({"scenario": self.scenario.name, "seed": self.variant.seed, "script": self.script,
                           "entries": frame.to_dict("records")})

    @classmethod
    def replay(cls, saved: str | dict) -> "IncidentSim":
        """The drill of ``saved`` (``to_json``'s text) played again in its world, call by call: a record
        that does not come from that world and those calls does not survive it (``ValueError``)."""
        data = json.loads(saved) if isinstance(saved, str) else saved
        if not isinstance(data, dict) or not {"scenario", "seed", "script"} <= set(data):
            raise ValueError("not a saved drill: expected the text of IncidentSim.to_json()")
        sim = cls(data["scenario"], int(data["seed"]), recorder=None)
        for name, *args in data["script"]:
            if name not in REPLAYABLE:
                raise ValueError(f"a saved drill cannot call {name!r}")
            getattr(sim, name)(*args)
        if "entries" in data:
            played = json.loads(sim.to_json())["entries"]
            if played != data["entries"]:
                raise ValueError("the saved record does not match its calls replayed in its world")
        return sim

    def outcome(self) -> dict:
        """When the platform recovered for good and what the incident cost: known once it is closed."""
        if not self.closed:
            raise IncidentClosed("the outcome is known once the [RESOLVED] message is posted")
        return outcome(self.scenario, self.moves)


REPLAYABLE = ("acknowledge", "wait", "restart", "raise_pool", "rollback", "escalate", "page_ic", "post", *SOURCES)
RESPONSE_MINUTES = {"P0": 15, "P1": 60, "P2": 240, "P3": 1440}   # §2 first response


def outcome(scenario, moves: list[Move]) -> dict:
    """Recovery (the first minute from which the platform stays healthy), the duration from the first
    failure, and the failing minutes, for ``moves`` with nothing done after them."""
    states = {m: scenario.minute(m, moves) for m in range(HORIZON_MIN)}
    last_bad = max((m for m, s in states.items() if not s.healthy), default=-1)
    recovered_min = last_bad + 1 if last_bad < HORIZON_MIN - 1 else None
    failing = sum(1 for s in states.values() if not s.healthy) + scenario.lead_minutes()
    recovered = None if recovered_min is None else scenario.page_time() + pd.Timedelta(minutes=recovered_min)
    duration = None if recovered is None else (recovered - scenario.start).total_seconds() / 60
    return {"start": scenario.start, "page": scenario.page_time(), "recovered": recovered,
            "duration_min": duration, "downtime_min": round(failing, 1)}


def _hub_recorder(scenario: str, seed: int):
    """The quiz service's recorder of a new run on a hub (``course.quiz.sim_recorder``), else None."""
    if not os.environ.get("ETP_QUIZ_SERVICE_URL", "").strip():  # off a hub: no quiz module imported
        return None
    from course.quiz import sim_recorder

    return sim_recorder.for_hub(scenario, seed)


def _rate(s) -> float:
    return round(100.0 * s.failed / s.requests, 1) if s.requests else 0.0


def _bot_text(move: Move) -> str:
    if move.kind == "raise_pool":
        return f"{world.BACKEND}: variable DB_POOL_MAX set to {move.pool}; redeploying."
    if move.kind == "rollback":
        return (f"{world.BACKEND}: rolling back to the previous deployment (same backend code: the last change "
                "was a frontend deploy the day before).")
    if move.kind == "restart_redis":
        return f"{world.REDIS}: restart requested."
    return f"{world.BACKEND}: restart requested (both replicas)."


def _line(when, level, context, message, method, path, status, duration, error) -> dict:
    return {"timestamp": when, "level": level, "context": context, "message": message, "method": method,
            "path": path, "statusCode": status, "durationMs": duration, "error": error,
            "service": world.SERVICE}
