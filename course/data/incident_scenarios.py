"""What the platform does, minute by minute, in Module 6's two simulated incidents.

A scenario is drawn from the trainee's world (``world.Variant``): when it starts and how hard it
bites differ per trainee, the story does not. ``minute(m, moves)`` says what the platform does
during minute ``m`` (minutes since the page) given the responder's moves so far: a restart empties
the connection pool, a bigger pool holds the login surge, a rollback redeploys the same code.

- ``login-500``: the guide's Exercise 6.1. A morning login surge needs more connections per backend
  replica than the pool's 20 (``world.POOL_MAX``); every request then waits the 5 s acquire timeout
  and fails with 500. A restart or rollback frees the pool until the surge fills it again; a pool
  big enough for the surge (and within PostgreSQL's connection limit) ends it.
- ``redis-night``: Redis is stopped at night (host maintenance; the restart policy does not cover
  a stop), section generation fails with 500, the rest of the platform works. Restarting Redis
  ends it; nothing else does.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from course.data import world

PG_MAX_CONNECTIONS = 100   # course value: PostgreSQL's default max_connections
PG_RESERVED = 3            # PostgreSQL's default superuser_reserved_connections
# Simulated minutes each move takes before its effect shows (§4.1: a rollback takes 5 min).
MOVE_MINUTES = {"restart_backend": 2, "restart_redis": 1, "raise_pool": 3, "rollback": 5}
# Moves that replace the backend's replicas (their pool starts empty; requests get 502 meanwhile).
REDEPLOYS = ("restart_backend", "raise_pool", "rollback")
SURGE_RAMP_MIN, SURGE_HOLD_MIN = 30, 270   # the login surge builds for 30 min and lasts 4.5 h
LOGIN_PATH, GENERATE_PATH = "/api/v1/auth/login", "/api/v1/sections/generate"
REDIS_REFUSED = "connect ECONNREFUSED 10.0.4.7:6379"


@dataclass(frozen=True)
class Minute:
    """One minute of the platform (per backend replica for the pool figures)."""

    requests: int
    failed: int
    status: int            # the status the failed requests got (0 when none failed)
    error: str             # what the backend logs for them
    path: str              # where the failures are
    p95_ms: int
    pool_max: int
    pool_in_use: int
    pool_waiting: int
    redis_up: bool
    redeploying: bool

    @property
    def healthy(self) -> bool:
        return self.failed == 0


@dataclass(frozen=True)
class Move:
    """A move that changes the platform: started at ``at`` (minutes since the page)."""

    kind: str
    at: float
    pool: int = 0

    @property
    def live(self) -> float:
        return self.at + MOVE_MINUTES[self.kind]


# The drills happen in the month after the one every data file covers: no file of the trainee's
# world shows a quiet morning where a drill has its outage.
DRILL_MONTH = (pd.Period(world.MONTH, "M") + 1).strftime("%Y-%m")


class Scenario:
    """The shared shape: a name, a title, when it starts, and its minutes."""

    name = title = ""
    DAYS: tuple[int, ...] = ()  # the weekdays of DRILL_MONTH it may fall on (one drawn per world)

    def __init__(self, variant: world.Variant, index: int):
        self.variant = variant
        self.rng = variant.rng(61, index)
        self.day = pd.Timestamp(f"{DRILL_MONTH}-{int(self.rng.choice(self.DAYS)):02d}", tz="UTC")

    def minute(self, m: float, moves: list[Move]) -> Minute:
        raise NotImplementedError

    def page_time(self) -> pd.Timestamp:
        """When the monitor pages: the third failed 30 s probe (``world.PAGE_AFTER_FAILED_CHECKS``)."""
        first_probe = self.start.ceil("30s")
        return first_probe + pd.Timedelta(seconds=30 * (world.PAGE_AFTER_FAILED_CHECKS - 1))

    def lead_minutes(self) -> float:
        """Minutes from the first failure to the page."""
        return (self.page_time() - self.start).total_seconds() / 60


class LoginPool(Scenario):
    """Exercise 6.1: every login returns 500, the connection pool is exhausted."""

    name = "login-500"
    title = "Authentication system unavailable"
    DAYS = (3, 5, 10, 12, 17, 19, 24)

    def __init__(self, variant: world.Variant, index: int = 0):
        super().__init__(variant, index)
        rng = self.rng
        self.surge_start = self.day + pd.Timedelta(hours=11, minutes=int(rng.integers(35, 80)))  # 08:35-09:20 BRT
        self.demand = int(rng.integers(26, 37))        # connections one replica needs at the surge's peak
        self.refill_min = float(rng.integers(5, 9))    # how fast a freed pool fills back up
        self.peak_rpm = int(rng.integers(140, 200))    # requests per minute per replica at the peak
        crossing = (world.POOL_MAX / self.demand - 0.4) / 0.6 * SURGE_RAMP_MIN
        self.start = (self.surge_start + pd.Timedelta(minutes=crossing)).round("s")
        self._lead = self.lead_minutes()

    @property
    def pool_limit(self) -> int:
        """The largest pool per replica PostgreSQL can serve: (max_connections - reserved) / replicas."""
        return (PG_MAX_CONNECTIONS - PG_RESERVED) // world.REPLICAS[world.BACKEND]

    def _demand_at(self, since_surge: float) -> float:
        rise = min(1.0, max(0.0, since_surge / SURGE_RAMP_MIN))
        fall = min(1.0, max(0.0, (since_surge - SURGE_HOLD_MIN) / SURGE_RAMP_MIN))
        return self.demand * (0.4 + 0.6 * rise - 0.6 * fall)

    def minute(self, m: float, moves: list[Move]) -> Minute:
        since_surge = m + self._lead + (self.start - self.surge_start).total_seconds() / 60
        demand = self._demand_at(since_surge)
        rpm = max(1, round(self.peak_rpm * demand / self.demand))
        done = [move for move in moves if move.live <= m]
        pool = max([world.POOL_MAX] + [move.pool for move in done if move.kind == "raise_pool"])
        if any(move.at <= m < move.live for move in moves if move.kind in REDEPLOYS):
            return Minute(rpm, rpm, 502, "Application failed to respond", LOGIN_PATH, 0, pool, 0, 0,
                          True, True)
        resets = [move.live for move in done if move.kind in REDEPLOYS]
        filled = demand if not resets else demand * min(1.0, (m - max(resets)) / self.refill_min)
        in_use = min(pool, math.floor(filled))
        if in_use >= pool and demand > pool:
            waiting = round(demand - pool)  # in use + waiting = what the surge asks of one replica
            return Minute(rpm, rpm, 500, world.POOL_TIMEOUT_ERROR, LOGIN_PATH,
                          world.POOL_ACQUIRE_TIMEOUT_MS + 12, pool, pool, waiting, True, False)
        busy = in_use / pool
        return Minute(rpm, 0, 0, "", "", int(300 + 900 * busy ** 4), pool, in_use, 0, True, False)


class RedisNight(Scenario):
    """The Redis night: Redis stopped, section generation fails, everything else works."""

    name = "redis-night"
    title = "Section generation failing"
    DAYS = (4, 6, 11, 13, 18, 20)

    def __init__(self, variant: world.Variant, index: int = 1):
        super().__init__(variant, index)
        rng = self.rng
        self.start = self.day + pd.Timedelta(hours=5, minutes=int(rng.integers(5, 50)), seconds=int(rng.integers(60)))
        self.rpm = int(rng.integers(5, 10))
        self.generate_share = float(rng.uniform(0.3, 0.5))

    def minute(self, m: float, moves: list[Move]) -> Minute:
        restarts = [move for move in moves if move.kind == "restart_redis"]
        redis_up = any(move.live <= m for move in restarts)
        redeploying = any(move.at <= m < move.live for move in moves if move.kind in REDEPLOYS)
        pool = max([world.POOL_MAX] + [move.pool for move in moves if move.kind == "raise_pool" and move.live <= m])
        if redeploying:
            return Minute(self.rpm, self.rpm, 502, "Application failed to respond", GENERATE_PATH, 0, pool, 0, 0,
                          redis_up, True)
        if redis_up:
            return Minute(self.rpm, 0, 0, "", "", 900, pool, 3, 0, True, False)
        failed = max(1, round(self.rpm * self.generate_share))
        return Minute(self.rpm, failed, 500, REDIS_REFUSED, GENERATE_PATH, 1_400, pool, 3, 0, False, False)


SCENARIOS = {cls.name: cls for cls in (LoginPool, RedisNight)}


def scenario(name: str, variant: world.Variant | int | None = None) -> Scenario:
    """Scenario ``name`` in ``variant``'s world (the trainee's own by default)."""
    if name not in SCENARIOS:
        raise ValueError(f"no scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[name](world.resolve(variant))
