"""One simulated month of ETP Express operations (October 2026) for Module 2: SLA and SLOs.

Three raw text files stand in for what an on-call engineer would pull from production:

- ``request_log``: the backend's Winston JSON lines (Railway logs). HTTP completions and
  failures from the ``HTTP`` interceptor, each written when the request finished, BullMQ
  section completions from ``SectionsProcessor``, and a few start-up and warning lines from
  other contexts.
- ``health_probe_log``: one line per probe of ``/api/health`` by the external uptime monitor
  (every 30 s; Railway itself only probes a deploy until it is live).
- ``incident_channel_log``: an export of the team's #incidents channel, times in BRT.

Every generator takes a ``course.data.world.Variant`` (default ``world.current()``): each trainee
gets their own month. A variant moves every planted story by its own whole-minute offset
(``Variant.shift``; the bad LLM afternoon also moves to another working day) and everything that
belongs to the story moves with it: its window, its deploys, its probe outage, its chat messages
and the clock times quoted in them. The noise around the stories (request mix, latencies, ids,
chat lines, seconds) comes from the variant's own random streams. The canonical world
(``Variant()``) is the narrated one: ``PLANTED``, ``DEPLOYS_UTC`` and ``INCIDENTS`` give its times,
and the dates and figures below are its own. ``planted(variant)``, ``deploys_utc(variant)``,
``incident_timeline(variant)`` and ``facts(variant)`` give any variant's. Every number the generator
uses for the platform itself (pool, timeouts, latency targets, probe schedule) comes from
``course.data.world``.

- ``pool_exhaustion``  Wed 07 Oct 16:48-17:28 UTC: slow report queries (N+1) hold all 20 pool
  connections; most API calls wait out the 5 s acquire timeout and fail with pg-pool's
  "timeout exceeded when trying to connect"; so does the health check's SELECT 1, so the
  monitor's probes mostly time out. The worst trailing-24 h 5xx rate is several %.
- ``redis_outage``     Wed 14 Oct 03:10-03:35 UTC: probes report ``unhealthy`` with
  ``redis: "not_configured"`` (the backend's wording when a configured Redis is down); the
  sections worker logs a failed reconnect every 10 s and queue calls fail.
- ``slow_llm``         Tue 20 Oct 15:00-19:30 UTC: OpenAI degraded, sections take 35-59 s; the
  day's p95 is far above 30 s while the month's p95 stays around 17 s (SLO met). On ordinary
  days sections follow the SLA's targets (p50 5 s, p95 15 s).
- ``crash_loop``       Wed 21 Oct 18:05-18:40 UTC: the new release runs out of heap about 40 s
  after each start; the backend logs its boot lines and the heap message over and over and
  serves nobody; probes get 502 from Railway's edge.
- ``pdf_export_broken`` Fri 23 Oct 13:05-22:20 UTC: every PDF export fails with 500
  (Chromium missing after a deploy); DOCX export still works.
- the on-call day, Tue 27 Oct (``course.data.world.ON_CALL_INCIDENTS``), which Module 5 reads
  minute by minute in the backend's own logs:
  ``db_failover``    13:02-13:21 UTC: the database fails over; open connections drop ("Connection
  terminated unexpectedly"), then the pool starves; the first restart fails its migrations, the
  second connects. ``openai_breaker`` 16:40-16:57 UTC: generation jobs fail at once while the
  breaker is open. ``jwt_rotation`` 19:03-19:33 UTC: a deploy replaced JWT_SECRET without
  JWT_SECRET_OLD; logged-in users get 401 "Token inválido" until they log in again.
  That day (UTC) is one set of rows with Module 5's log: its lines here are the day's log
  (``backend_logs.production_events``) in this file's format, one completion line per finished
  request with the same request id, user, time to the millisecond, path, status and duration,
  and the same section jobs, health checks, start-ups and OpenAI warnings. The day's users, ETPs
  and sections are the month's (``population``), its jobs continue the month's numbering, and
  the monitor's probes of that day are the day's health checks (``_probes_of_the_day``).

Every day has the same everyday noise: 401 "Token inválido" for stale sessions (a share
``world.STALE_TOKEN_SHARE`` of the requests that carry one; the guard refuses them before any
user is known, so their lines name none), failed logins, 404s and 429s.

Probes come from an external uptime monitor every 30 s (Railway stops probing a live deploy);
every probe that reached the backend is also a line of the request log, written when the
backend answered it (``durationMs`` after the probe's second).
The four probe outages and six lone probe timeouts give 112 minutes of downtime: uptime 99.75 %,
above the guide's 99.5 % SLO, below the SLA's 99.9 %. The rolling 24-hour 5xx rate breaks 1 %
after 7 Oct, 23 Oct and 27 Oct; the API p95 (about 0.8 s) meets the guide's 2 s.

The channel holds twelve incidents, P0 to P3, including every event above. On the wall clock
first response is late for four of them (10-02 P3, 10-14 P1, 10-15 P2, 10-21 P0) and
resolution for two (10-09 P2, 10-23 P1); counted in support hours, the P3 of 10-02 was
answered in time. INC-2026-10-29-01 is still open when the export ends.

What holds in every variant. Each story keeps its length and moves by whole minutes, so each
probe outage keeps its probe count: the outages and the lone timeouts cost 82 to 122 minutes
whatever the noise draws, and uptime always meets 99.5 % and misses 99.9 %. The bad LLM
afternoon stays inside one BRT working day, and every other day's p95 of section time stays
under 25 s (``_clear_ordinary_days``), so it is the only day over 30 s. The incidents tied to a
story move with it minute for minute (their ``Duration:`` and quoted clock times stay true), the
P2 and P3 ones stay, so which deadlines are breached never changes. An incident id carries the
BRT date it was opened on and its rank that day. Measured rather than built in: the pool
exhaustion and the PDF incident each push the trailing 24 h 5xx rate over 1 % (worst rate 2.6 %
or more over 31 months checked); the 27 Oct failover does so only when it starts after about
07:45 BRT, and the earliest shift the world allows puts it at 07:32.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course.data import cache, world
from course.data.ids import uuid4_strings
from course.data.world import LLM_SECTION, PROBE_INTERVAL_S, PROBE_TIMEOUT_MS, SERVICE

GENERATOR_VERSION = 3
DEFAULT_SEED = 2026

MONTH_START = pd.Timestamp("2026-10-01", tz="UTC")
MONTH_END = pd.Timestamp("2026-11-01", tz="UTC")
# The on-call day (UTC): its lines are those of the day's log, ``backend_logs.production_log``.
ON_CALL_DAY_START = pd.Timestamp(world.ON_CALL_DAY, tz="UTC")
ON_CALL_DAY_END = ON_CALL_DAY_START + pd.Timedelta(days=1)
FIRST_JOB_ID = 48_213                      # BullMQ's id of the month's first generation job


def _window(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    return pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")


PLANTED = {
    "pool_exhaustion": _window("2026-10-07 16:48", "2026-10-07 17:28"),
    "redis_outage": _window("2026-10-14 03:10", "2026-10-14 03:35"),
    "slow_llm": _window("2026-10-20 15:00", "2026-10-20 19:30"),
    "crash_loop": _window("2026-10-21 18:05", "2026-10-21 18:40"),
    "pdf_export_broken": _window("2026-10-23 13:05", "2026-10-23 22:20"),
    **{name: _window(*span) for name, span in world.ON_CALL_INCIDENTS.items()},
}
PROBE_OUTAGES = ("pool_exhaustion", "redis_outage", "crash_loop", "db_failover")
LONE_PROBE_TIMEOUTS = 6

# Deploys of the month (container starts, UTC): two routine ones, the crash loop's leaking release
# and its rollback, the PDF incident's image without Chromium and its fix, a routine one, then the
# on-call day's two successful starts (the failed start of 27 Oct wrote plain text only).
DEPLOYS_UTC = ("2026-10-06 13:12:04", "2026-10-13 13:30:41", "2026-10-21 17:50:20", "2026-10-21 18:40:02",
               "2026-10-23 13:00:12", "2026-10-23 22:14:37", "2026-10-29 12:45:10",
               *world.ON_CALL_STARTS[1:])
# The story each of the month's own deploys belongs to ("" = routine: it stays where it is).
DEPLOY_STORIES = ("", "", "crash_loop", "crash_loop", "pdf_export_broken", "pdf_export_broken", "")

HOLIDAYS_BRT = tuple(pd.Timestamp(day) for day in world.HOLIDAYS_BRT)
USER_ACTIONS_PER_MONTH = world.USER_ACTIONS_PER_MONTH
SECTION_JOBS_PER_MONTH = world.SECTION_JOBS_PER_MONTH
JOB_POLL_EVERY_MS = world.JOB_POLL_EVERY_MS  # the frontend polls a section job's status

# Route catalogue: method, path before the id, id kind, path after the id, class,
# success status, median latency (ms), log-normal sigma, share of user actions.
ROUTES = pd.DataFrame(
    [
        ("POST", "/api/v1/auth/login", "", "", "auth", 200, 280, 0.45, 0.06),
        ("GET", "/api/v1/auth/me", "", "", "auth", 200, 60, 0.50, 0.10),
        ("GET", "/api/v1/etps", "", "", "crud", 200, 110, 0.70, 0.14),
        ("GET", "/api/v1/etps/", "etp", "", "crud", 200, 90, 0.70, 0.20),
        ("PATCH", "/api/v1/etps/", "etp", "", "crud", 200, 180, 0.60, 0.08),
        ("POST", "/api/v1/etps", "", "", "crud", 201, 210, 0.55, 0.02),
        ("GET", "/api/v1/sections/etp/", "etp", "", "crud", 200, 120, 0.70, 0.13),
        ("PATCH", "/api/v1/sections/", "section", "", "crud", 200, 170, 0.60, 0.06),
        ("GET", "/api/v1/sections/", "section", "", "crud", 200, 80, 0.60, 0.06),
        ("GET", "/api/v1/export/etp/", "etp", "/pdf", "export", 200, 3200, 0.45, 0.035),
        ("GET", "/api/v1/export/etp/", "etp", "/docx", "export", 200, 1400, 0.40, 0.015),
    ],
    columns=["method", "prefix", "id_kind", "suffix", "route_class", "ok_status",
             "median_ms", "sigma", "share"],
)
GENERATE = ("POST", "/api/v1/sections/etp/", "/generate", world.GENERATE_STATUS, 150, 0.50)
JOB_POLL = ("GET", "/api/v1/sections/jobs/", 200, 30, 0.50)
HEALTH = ("GET", "/api/health", 200, 25, 0.40)

# Failures the interceptor logs as http_error, 4xx included: (status, error, stack head, latency ms).
ERRORS = {
    "token": (401, "Token inválido", "UnauthorizedException: Token inválido", 8),
    "login": (401, "Credenciais inválidas", "UnauthorizedException: Credenciais inválidas", 290),
    "missing": (404, "ETP não encontrado", "NotFoundException: ETP não encontrado", 35),
    "throttled": (429, "ThrottlerException: Too Many Requests",
                  "ThrottlerException: Too Many Requests", 3),
    "db": (500, world.DROPPED_CONNECTION_ERROR,
           f"QueryFailedError: {world.DROPPED_CONNECTION_ERROR}", 4_500),
    "jwt": (401, "Token inválido", "UnauthorizedException: Token inválido", 6),
    # pg-pool gives up after its acquire timeout when all 20 connections are busy.
    "pool": (500, world.POOL_TIMEOUT_ERROR, f"Error: {world.POOL_TIMEOUT_ERROR}",
             world.POOL_ACQUIRE_TIMEOUT_MS),
    # BullMQ cannot reach Redis: the job is neither queued nor readable.
    "redis": (500, "Connection is closed.", "Error: Connection is closed.", 10_000),
    "internal": (500, "Internal server error",
                 "InternalServerErrorException: Internal server error", 120),
    "chromium": (500, "Chromium nao encontrado. Verifique PUPPETEER_EXECUTABLE_PATH",
                 "InternalServerErrorException: Chromium nao encontrado", 150),
}
STACK_FRAME = r"\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"

N_USERS, N_ORGS, N_ETPS, N_SECTIONS = world.USERS, world.ORGANIZATIONS, 1_500, 6_000


# ---------------------------------------------------------------- one variant's month

def _variant(variant: world.Variant | int | None) -> world.Variant:
    return world.resolve(variant)


def planted(variant: world.Variant | int | None = None) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each planted story's window (UTC, end excluded) in ``variant``'s month; ``PLANTED`` order."""
    variant = _variant(variant)
    on_call = {name: _window(*span) for name, span in variant.on_call_incidents().items()}
    return {name: on_call.get(name) or (start + variant.shift(name), end + variant.shift(name))
            for name, (start, end) in PLANTED.items()}


def deploys_utc(variant: world.Variant | int | None = None) -> tuple[str, ...]:
    """``DEPLOYS_UTC`` of ``variant``: a story's deploys move with it, routine ones stay."""
    variant = _variant(variant)
    own = tuple(variant.at(story, when) if story else when for story, when in zip(DEPLOY_STORIES, DEPLOYS_UTC))
    return own + variant.on_call_starts()[1:]


# Random streams: the canonical world keeps the seeds it has always used, so its files stay
# byte for byte the same; any other variant draws from its own streams.
NOISE_STREAM = 2026
_NOISE_USES = ("requests", "probes", "channel", "sections")
_CANONICAL_NOISE = {"requests": DEFAULT_SEED, "probes": [DEFAULT_SEED, 1], "channel": DEFAULT_SEED,
                    "sections": [DEFAULT_SEED, 3]}


@dataclass(frozen=True, eq=False)
class _Month:
    """What the generators need of one variant: story windows and deploys in epoch ms."""

    variant: world.Variant
    windows: dict[str, tuple[int, int]]
    deploys_ms: np.ndarray

    def inside(self, ms: np.ndarray, name: str) -> np.ndarray:
        start, end = self.windows[name]
        return (ms >= start) & (ms < end)

    def rng(self, use: str, *stream: int) -> np.random.Generator:
        if self.variant.canonical:
            seed = _CANONICAL_NOISE[use]
            return np.random.default_rng([*np.atleast_1d(seed).tolist(), *stream] if stream else seed)
        return self.variant.rng(NOISE_STREAM, _NOISE_USES.index(use), *stream)


@functools.lru_cache(maxsize=8)
def _month(variant: world.Variant) -> _Month:
    windows = {name: (_ms(start), _ms(end)) for name, (start, end) in planted(variant).items()}
    deploys = pd.to_datetime(list(deploys_utc(variant)), utc=True, format="ISO8601").as_unit("ms").asi8
    return _Month(variant, windows, deploys)


def _file_name(stem: str, suffix: str, variant: world.Variant) -> str:
    """Cache file name: the canonical world keeps its historical name, a variant names its seed."""
    tag = f"seed{DEFAULT_SEED}" if variant.canonical else f"world{variant.seed}"
    return f"{stem}_v{GENERATOR_VERSION}_{tag}{suffix}"


# ---------------------------------------------------------------- shared helpers

def _ms(ts: pd.Timestamp) -> int:
    """Milliseconds since the epoch: the generators compute in int64 ms throughout."""
    return ts.value // 1_000_000  # .value is nanoseconds whatever the unit


def _iso_ms(ms: np.ndarray) -> np.ndarray:
    """'2026-10-07T16:48:03.123' for each epoch-ms value (no zone suffix)."""
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")


def _lognormal_ms(rng: np.random.Generator, median, sigma, n: int) -> np.ndarray:
    return np.asarray(median) * np.exp(np.asarray(sigma) * rng.standard_normal(n))


def _minute_intensity() -> np.ndarray:
    """Relative traffic for every minute of the month (peak working-day hour = 1)."""
    return world.minute_intensity(str(MONTH_START.date()), 31)


def _poisson_times(rng: np.random.Generator, per_month: int) -> np.ndarray:
    """Sorted event times (epoch ms) of a Poisson process shaped by the traffic curve."""
    intensity = _minute_intensity()
    counts = rng.poisson(intensity * per_month / intensity.sum())
    minute_ms = _ms(MONTH_START) + np.arange(intensity.size, dtype=np.int64) * 60_000
    times = np.repeat(minute_ms, counts) + rng.integers(0, 60_000, counts.sum())
    return np.sort(times)


def _str(values) -> pd.Series:
    return pd.Series(values, dtype="str")


def _join(*parts) -> pa.Array:
    """Row-wise concatenation of string columns and literals, in one pyarrow kernel call."""
    def column(part):
        if isinstance(part, str):
            return pa.scalar(part, pa.large_string())
        if isinstance(part, pd.Series):
            return pa.array(part.astype("str")).cast(pa.large_string())
        return pa.array(np.asarray(part, dtype=object), type=pa.large_string())
    return pc.binary_join_element_wise(*map(column, parts), pa.scalar("", pa.large_string()))


# ---------------------------------------------------------------- request log

def _user_actions(rng, users: pd.DataFrame, etps, sections) -> pd.DataFrame:
    ts = _poisson_times(rng, USER_ACTIONS_PER_MONTH)
    route = ROUTES.iloc[rng.choice(len(ROUTES), size=ts.size, p=ROUTES["share"] / ROUTES["share"].sum())]
    route = route.reset_index(drop=True)
    ids = np.where(route["id_kind"] == "etp", rng.choice(etps, ts.size),
                   np.where(route["id_kind"] == "section", rng.choice(sections, ts.size), ""))
    who = users.iloc[rng.integers(0, len(users), ts.size)].reset_index(drop=True)
    return pd.DataFrame({
        "ms": ts,
        "method": route["method"],
        "path": route["prefix"] + ids + route["suffix"],
        "route_class": route["route_class"],
        "status": route["ok_status"].to_numpy(),
        "duration": _lognormal_ms(rng, route["median_ms"], route["sigma"], ts.size),
        "userId": who["userId"],
        "organizationId": who["organizationId"],
    })


def _section_jobs(rng, month: _Month, users: pd.DataFrame, etps, sections) -> pd.DataFrame:
    """One row per generation request: when it was posted and how long the job ran."""
    ts = _poisson_times(rng, SECTION_JOBS_PER_MONTH)
    who = users.iloc[rng.integers(0, len(users), ts.size)].reset_index(drop=True)
    normal_s = _lognormal_ms(rng, LLM_SECTION.median / 1000, LLM_SECTION.sigma, ts.size)
    slow_s = rng.uniform(35.0, 59.0, ts.size)  # OpenAI degraded, still inside the 60 s timeout
    run_s = np.where(month.inside(ts, "slow_llm"), slow_s, normal_s)
    # While the OpenAI breaker is open the worker refuses at once: the job fails in milliseconds.
    refused = month.inside(ts, "openai_breaker")
    run_s = np.where(refused, 0.015, run_s)
    jobs = pd.DataFrame({
        "ms": ts,
        "jobId": (FIRST_JOB_ID + np.arange(ts.size)).astype(str),
        "etpId": rng.choice(etps, ts.size),
        "sectionId": rng.choice(sections, ts.size),
        "post_ms": _lognormal_ms(rng, GENERATE[4], GENERATE[5], ts.size),
        "run_ms": np.round(run_s * 1000),
        "userId": who["userId"],
        "organizationId": who["organizationId"],
        "refused": refused,
    })
    # The backend was down during the crash loop, and no job could be queued without Redis.
    jobs = jobs[~month.inside(ts, "crash_loop") & ~month.inside(ts, "redis_outage")].reset_index(drop=True)
    return _clear_ordinary_days(month, jobs)


ORDINARY_DAY_P95_MAX_MS = 25_000  # every day but the bad LLM day keeps its p95 this far under 30 s
_DAY_MS = 86_400_000
_BRT_MS = world.UTC_OFFSET_BRT_H * 3_600_000


def _clear_ordinary_days(month: _Month, jobs: pd.DataFrame) -> pd.DataFrame:
    """Keep the bad LLM day the only day whose p95 of section time breaks the 30 s SLO.

    A quiet day (a weekend, the holiday, the few BRT hours of 30 Sep) has only a handful of jobs,
    and the p95 of a handful of ordinary draws can come near 30 s by chance. Such a day's ordinary
    durations are drawn again, from a stream of their own, until its p95 is clear of the SLO.
    Days are BRT days of completion, as a trainee groups them.
    """
    slow_day = (month.windows["slow_llm"][0] + _BRT_MS) // _DAY_MS
    completed = ~jobs["refused"].to_numpy()
    ordinary = completed & ~month.inside(jobs["ms"].to_numpy(), "slow_llm")
    for attempt in range(100):
        done_ms = (jobs["ms"] + jobs["post_ms"] + jobs["run_ms"]).round().astype(np.int64).to_numpy()
        day = (done_ms + _BRT_MS) // _DAY_MS
        p95 = jobs.loc[completed, "run_ms"].groupby(day[completed]).quantile(0.95)
        near = p95.index[(p95 >= ORDINARY_DAY_P95_MAX_MS) & (p95.index != slow_day)]
        if near.empty:
            return jobs
        redo = np.isin(day, near) & ordinary
        run_s = _lognormal_ms(month.rng("sections", attempt), LLM_SECTION.median / 1000, LLM_SECTION.sigma, redo.sum())
        jobs.loc[redo, "run_ms"] = np.round(run_s * 1000)
    raise RuntimeError("ordinary days kept drawing section times near the LLM SLO")


def _generate_requests(jobs: pd.DataFrame) -> pd.DataFrame:
    method, prefix, suffix, status, _, _ = GENERATE
    return pd.DataFrame({
        "ms": jobs["ms"], "method": method, "path": prefix + jobs["etpId"] + suffix,
        "route_class": "crud", "status": status, "duration": jobs["post_ms"],
        "userId": jobs["userId"], "organizationId": jobs["organizationId"],
    })


def _job_polls(rng, jobs: pd.DataFrame) -> pd.DataFrame:
    """Status polls every 3 s from the moment the job is queued until it has finished."""
    polls_per_job = (jobs["run_ms"] // JOB_POLL_EVERY_MS + 1).astype(int).to_numpy()
    job = np.repeat(np.arange(len(jobs)), polls_per_job)
    nth = np.arange(job.size) - np.repeat(np.cumsum(polls_per_job) - polls_per_job, polls_per_job) + 1
    queued_ms = (jobs["ms"] + jobs["post_ms"]).to_numpy()
    method, prefix, status, median, sigma = JOB_POLL
    return pd.DataFrame({
        "ms": (queued_ms[job] + nth * JOB_POLL_EVERY_MS + rng.integers(0, 400, job.size)).astype(np.int64),
        "method": method, "path": prefix + jobs["jobId"].to_numpy()[job],
        "route_class": "crud", "status": status,
        "duration": _lognormal_ms(rng, median, sigma, job.size),
        "userId": jobs["userId"].to_numpy()[job],
        "organizationId": jobs["organizationId"].to_numpy()[job],
    })


def _health_hits(month: _Month) -> pd.DataFrame:
    """The monitor's probes as the backend saw them: every probe that reached it, same times.

    A probe the monitor gave up on still completes in the backend (during the pool exhaustion,
    after the pool's acquire timeout); Railway's edge answers 502 itself while the backend is down.
    """
    probes = _probe_frame(month)
    reached = probes[probes["state"] != "edge_502"]
    backend_ms = np.where(reached["state"] == "timeout", reached["backend_ms"], reached["duration"])
    method, path, status, _, _ = HEALTH
    return pd.DataFrame({
        "ms": reached["ms"].to_numpy(), "method": method, "path": path, "route_class": "health",
        "status": status, "duration": backend_ms, "userId": "", "organizationId": "",
    })


def _apply_client_errors(rng, req: pd.DataFrame) -> pd.Series:
    """Pick the 4xx/5xx noise of an ordinary month; returns an error key per row ('' = ok)."""
    n = len(req)
    path = req["path"]
    is_login = (path == "/api/v1/auth/login").to_numpy()
    authed = ~is_login & (req["route_class"] != "health").to_numpy()
    has_etp = path.str.startswith("/api/v1/etps/") | path.str.startswith("/api/v1/export/")
    throttled_route = is_login | path.str.endswith("/generate").to_numpy()
    err = np.full(n, "", dtype=object)
    err[authed & (rng.random(n) < world.STALE_TOKEN_SHARE)] = "token"
    err[is_login & (rng.random(n) < 0.08)] = "login"
    err[(err == "") & has_etp.to_numpy() & (rng.random(n) < 0.008)] = "missing"
    err[(err == "") & throttled_route & (rng.random(n) < 0.015)] = "throttled"
    err[(err == "") & authed & (rng.random(n) < 0.0003)] = "internal"
    return pd.Series(err, index=req.index)


def _apply_planted_errors(rng, month: _Month, req: pd.DataFrame, err: pd.Series) -> None:
    """The month's incidents as seen by the interceptor (edits ``req``/``err`` in place)."""
    ms = req["ms"].to_numpy()
    api = (req["route_class"] != "health").to_numpy()
    # Slow report queries hold all 20 connections: most requests wait out the pool's acquire
    # timeout and fail; the lucky ones get a freed connection after a long wait.
    pool = month.inside(ms, "pool_exhaustion")
    fails = pool & api & (rng.random(len(req)) < 0.65)
    err[fails] = "pool"
    slow = pool & ~fails & api
    req.loc[slow, "duration"] += rng.uniform(1_500, 4_500, slow.sum())
    # The on-call day's two stories below are drawn for the other days' sake only (their draws
    # keep the random stream those days were made from): that day's lines are the day's log
    # (``_on_call_day``), and these rows are left out of the file.
    # The failover drops the open connections, then the pool starves until the database is back:
    # dropped queries, pool timeouts, and a few requests that get through after a long wait.
    failover = month.inside(ms, "db_failover") & api
    draw = rng.random(len(req))
    err[failover & (draw < 0.6)] = "db"
    err[failover & (draw >= 0.6) & (draw < 0.9)] = "pool"
    lucky = failover & (draw >= 0.9)
    req.loc[lucky, "duration"] += rng.uniform(3_500, 5_000, lucky.sum())
    # A deploy changed JWT_SECRET without JWT_SECRET_OLD: old tokens fail until users log in again.
    start, _ = month.windows["jwt_rotation"]
    authed = api & (req["userId"] != "").to_numpy() & ~req["path"].eq("/api/v1/auth/login").to_numpy()
    fade = 0.9 * np.exp(-np.clip(ms - start, 0, None) / 420_000)
    err[month.inside(ms, "jwt_rotation") & authed & (rng.random(len(req)) < fade)] = "jwt"
    # Without Redis, BullMQ can neither queue a generation nor report on one.
    queue_work = req["path"].str.contains("/generate|/sections/jobs/", regex=True).to_numpy()
    err[month.inside(ms, "redis_outage") & queue_work] = "redis"
    pdf = req["path"].str.endswith("/pdf").to_numpy()
    err[month.inside(ms, "pdf_export_broken") & pdf] = "chromium"


def _error_durations(rng, err: pd.Series) -> np.ndarray:
    base = err.map({k: v[3] for k, v in ERRORS.items()}).astype(float).to_numpy()
    timeouts = err.isin(["pool", "redis"]).to_numpy()  # a timer decides: a few ms past it
    jitter = np.where(timeouts, rng.exponential(15, err.size), base * 0.3 * rng.standard_normal(err.size))
    return np.maximum(1, base + jitter)


def _http_lines(rng, req: pd.DataFrame, err: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """One line per request, written when it finished (its start plus ``durationMs``), as the
    interceptor does; returns those times (epoch ms) and the lines."""
    failed = (err != "").to_numpy()
    table = pd.DataFrame.from_dict(ERRORS, orient="index", columns=["status", "error", "stack", "ms"])
    status = np.where(failed, err.map(table["status"]).fillna(0).astype(int), req["status"])
    duration = np.where(failed, _error_durations(rng, err), req["duration"]).round().astype(np.int64)
    error_part = np.where(
        failed,
        ',"error":"' + err.map(table["error"]).fillna("") + '","stack":"'
        + err.map(table["stack"]).fillna("") + STACK_FRAME + '"',
        "",
    )
    has_user = (req["userId"] != "") & ~err.isin(["token", "login"])
    user_part = np.where(has_user, ',"userId":"' + req["userId"] + '","organizationId":"'
                         + req["organizationId"] + '"', "")
    head = np.where(failed, '{"level":"error","message":"HTTP Request failed","context":"HTTP","eventType":"http_error"',
                    '{"level":"info","message":"HTTP Request completed","context":"HTTP","eventType":"http_response"')
    done_ms = req["ms"].to_numpy().astype(np.int64) + duration
    return done_ms, _join(head, ',"method":"', req["method"], '","path":"', req["path"],
                          '","statusCode":', status.astype(str), ',"durationMs":', duration.astype(str),
                          error_part, ',"requestId":"', uuid4_strings(rng, len(req)), '"', user_part,
                          f',"service":"{SERVICE}","timestamp":"', _iso_ms(done_ms), '+0000"}')


def _section_lines(jobs: pd.DataFrame) -> tuple[np.ndarray, pa.Array]:
    """One line per finished job: completed with its duration, or failed (breaker open)."""
    done_ms = (jobs["ms"] + jobs["post_ms"] + jobs["run_ms"]).round().astype(np.int64).to_numpy()
    refused = jobs["refused"].to_numpy()
    ok = _join('{"level":"info","message":"Section generation completed","context":"SectionsProcessor"'
               ',"jobId":"', jobs["jobId"], '","sectionId":"', jobs["sectionId"],
               '","durationMs":', jobs["run_ms"].astype(np.int64).astype(str),
               f',"service":"{SERVICE}","timestamp":"', _iso_ms(done_ms), '+0000"}')
    failed = _join('{"level":"error","message":"Job ', jobs["jobId"], f' failed: {world.AI_UNAVAILABLE}",'
                   '"context":"SectionsProcessor","jobId":"', jobs["jobId"], '","sectionId":"', jobs["sectionId"],
                   f'","service":"{SERVICE}","timestamp":"', _iso_ms(done_ms), '+0000"}')
    return done_ms, pc.if_else(pa.array(refused), failed, ok)


REDIS_LOST = "Error: connect ECONNREFUSED redis.railway.internal:6379"  # BullMQ worker, reconnecting
REDIS_RETRY_MS = 10_000       # ioredis connectTimeout: one failed reconnect logged every 10 s
CRASH_CYCLE_MS = 150_000     # the platform restarts the crashed container about every 2.5 min
CRASH_AFTER_START_MS = 41_000  # the leaking release runs out of heap this long after it starts


def _boot_rows(start_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A container start as the backend logs it: migrations first (the start command runs
    ``migration:run:prod`` before ``start:prod``), then Nest, whose TypeORM module reports
    initialized only once the database connection is up."""
    steps = [(0, "info", "", "No migrations are pending"),
             (2_400, "info", "NestFactory", "Starting Nest application..."),
             (2_650, "info", "InstanceLoader", "TypeOrmModule dependencies initialized"),
             (2_700, "info", "RoutesResolver", "HealthController {/api/health}:"),
             (2_820, "info", "NestApplication", "Nest application successfully started")]
    offsets = np.array([step[0] for step in steps])
    ms = (start_ms[:, None] + offsets[None, :]).ravel()
    rows = np.tile(np.array([step[1:] for step in steps], dtype=object), (len(start_ms), 1))
    return ms, rows


def _crash_loop_rows(month: _Month) -> tuple[np.ndarray, np.ndarray]:
    """Out of memory, restart, out of memory: boot lines and the heap message, over and over."""
    start, end = month.windows["crash_loop"]
    boots = np.arange(start, end - CRASH_AFTER_START_MS, CRASH_CYCLE_MS)
    boot_ms, boot_rows = _boot_rows(boots)
    oom_ms = boots + CRASH_AFTER_START_MS
    # A plain stderr line: the log export wraps it as a record with no context.
    oom_rows = np.tile(np.array([("error", "", world.OOM_MESSAGE)], dtype=object), (len(boots), 1))
    return np.concatenate([boot_ms, oom_ms]), np.vstack([boot_rows, oom_rows])


def _other_lines(rng, month: _Month, jobs: pd.DataFrame) -> tuple[np.ndarray, pa.Array]:
    """Non-HTTP lines: start-ups after deploys, the crash loop, failed health checks, OpenAI retries."""
    start_ms, start_rows = _boot_rows(month.deploys_ms)
    crash_ms, crash_rows = _crash_loop_rows(month)
    # The health check logs its failure just before it answers: after a refusal, or after waiting
    # out the pool's acquire timeout.
    probes = _probe_frame(month)
    waited = probes["state"].eq("timeout") & (probes["backend_ms"] >= world.POOL_ACQUIRE_TIMEOUT_MS)
    refused = probes[probes["state"].eq("db_down")]
    failover_ms = np.concatenate([(refused["ms"] + np.maximum(refused["duration"] - 1, 0)).to_numpy(),
                                  (probes.loc[waited, "ms"] + probes.loc[waited, "backend_ms"] - 1).to_numpy()])
    failover_rows = np.tile(np.array([("error", "HealthService", "Health check failed: Database not connected")],
                                     dtype=object), (failover_ms.size, 1))
    start, end = month.windows["redis_outage"]
    redis_ms = np.arange(start + 1_000, end, REDIS_RETRY_MS)
    redis_rows = np.tile(np.array([("error", "SectionsProcessor", REDIS_LOST)], dtype=object), (redis_ms.size, 1))
    slow = jobs[month.inside(jobs["ms"].to_numpy(), "slow_llm")]
    retry_ms = (slow["ms"] + slow["post_ms"] + rng.uniform(20_000, 30_000, len(slow))).round().astype(np.int64)
    retry_rows = np.tile(np.array([("warn", "OpenAIService", "[OpenAI API] Attempt 1/4 failed: Request timed out. "
                                                             "Retrying in 1000ms...")], dtype=object), (len(slow), 1))
    ms = np.concatenate([start_ms, crash_ms, failover_ms, redis_ms, retry_ms.to_numpy()])
    rows = np.vstack([start_rows, crash_rows, failover_rows, redis_rows, retry_rows])
    context = np.where(rows[:, 1] == "", "", '","context":"' + rows[:, 1].astype(str))
    lines = _join('{"level":"', rows[:, 0], '","message":"', rows[:, 2], context,
                  f'","service":"{SERVICE}","timestamp":"', _iso_ms(ms), '+0000"}')
    return ms, lines


def _population_and_jobs(rng, month: _Month):
    """Organisations, users, ETPs and sections, then the month's generation jobs (first draws)."""
    orgs = uuid4_strings(rng, N_ORGS)
    users = pd.DataFrame({"userId": uuid4_strings(rng, N_USERS),
                          "organizationId": orgs[rng.integers(0, N_ORGS, N_USERS)]})
    etps, sections = uuid4_strings(rng, N_ETPS), uuid4_strings(rng, N_SECTIONS)
    return users, etps, sections, _section_jobs(rng, month, users, etps, sections)


@dataclass(frozen=True, eq=False)
class _DayLines:
    """The on-call day in this log's formats: each line's time (ms) and text, the day's number of
    generation jobs, and its health probes (when the backend saw each one, and how long it took)."""

    ms: np.ndarray
    lines: pa.Array
    jobs: int
    probe_ms: np.ndarray
    probe_duration: np.ndarray


# The day's non-HTTP lines this log keeps (context, message or None for all of that context),
# as on the month's other days: start-ups, failed health checks, the sections worker's results
# and OpenAI's warnings.
_DAY_CONTEXTS = {
    "NestFactory": "Starting Nest application...", "InstanceLoader": "TypeOrmModule dependencies initialized",
    "RoutesResolver": "HealthController {/api/health}:", "NestApplication": "Nest application successfully started",
    "HealthService": None,
}


def _json_text(values: pd.Series) -> pd.Series:
    return (values.astype("str").str.replace("\\", "\\\\", regex=False).str.replace('"', '\\"', regex=False)
            .str.replace("\n", "\\n", regex=False))


@functools.lru_cache(maxsize=8)
def _on_call_day(variant: world.Variant) -> _DayLines:
    """The day's log (``backend_logs``, full size) as lines of this log: one completion line per
    finished request (same request id, user, time to the ms, path, status and duration)."""
    from course.data import backend_logs

    events = backend_logs.production_events(variant)
    t = events["t"].to_numpy()
    inside = (t >= _ms(ON_CALL_DAY_START)) & (t < _ms(ON_CALL_DAY_END))
    events = events[inside]
    tail = f',"service":"{SERVICE}","timestamp":"'
    http = events[events["eventType"].isin(["http_response", "http_error"])]
    failed = http["eventType"].eq("http_error").to_numpy()
    user = http["userId"].notna().to_numpy()
    http_lines = _join(
        np.where(failed, '{"level":"error","message":"HTTP Request failed","context":"HTTP","eventType":"http_error"',
                 '{"level":"info","message":"HTTP Request completed","context":"HTTP","eventType":"http_response"'),
        ',"method":"', http["method"], '","path":"', http["path"], '","statusCode":',
        http["statusCode"].astype("int64").astype(str), ',"durationMs":', http["durationMs"].astype("int64").astype(str),
        np.where(failed, ',"error":"' + _json_text(http["error"].fillna("")) + '","stack":"'
                 + _json_text(http["stack"].fillna("")) + '"', ""),
        ',"requestId":"', http["requestId"], '"',
        np.where(user, ',"userId":"' + http["userId"].fillna("").astype(str) + '","organizationId":"'
                 + http["organizationId"].fillna("").astype(str) + '"', ""),
        tail, _iso_ms(http["t"].to_numpy()), '+0000"}')
    jobs = events[events["context"].eq("SectionsProcessor")]
    done = jobs[jobs["message"].eq("Section generation completed")]
    done_lines = _join('{"level":"info","message":"Section generation completed","context":"SectionsProcessor"'
                       ',"jobId":"', done["jobId"], '","sectionId":"', done["sectionId"], '","durationMs":',
                       done["durationMs"].astype("int64").astype(str), tail, _iso_ms(done["t"].to_numpy()), '+0000"}')
    lost = jobs[jobs["message"].str.contains(" failed: ", regex=False)]
    lost_lines = _join('{"level":"error","message":"', _json_text(lost["message"]),
                       '","context":"SectionsProcessor","jobId":"', lost["jobId"], '","sectionId":"', lost["sectionId"],
                       '"', tail, _iso_ms(lost["t"].to_numpy()), '+0000"}')
    wanted = np.zeros(len(events), dtype=bool)
    for context, message in _DAY_CONTEXTS.items():
        mine = events["context"].eq(context)
        wanted |= (mine if message is None else mine & events["message"].eq(message)).to_numpy()
    openai = events["context"].eq("OpenAIService")
    wanted |= (openai & (events["level"].isin(["warn", "error"])
                         | events["message"].str.startswith("OpenAI circuit breaker"))).to_numpy()
    other = events[wanted]
    # The start command's migration step, as this log writes it for every start that got there.
    starts = [backend_logs._ms(when) for when in backend_logs.container_starts(variant)[1:]]
    other_ms = np.concatenate([other["t"].to_numpy(), np.asarray(starts, dtype=np.int64)])
    other_lines = pa.concat_arrays([
        _join('{"level":"', other["level"].astype(str), '","message":"', _json_text(other["message"]),
              '","context":"', other["context"].astype(str), '"', tail, _iso_ms(other["t"].to_numpy()), '+0000"}'),
        _join('{"level":"info","message":"No migrations are pending"', tail, _iso_ms(np.asarray(starts, dtype=np.int64)),
              '+0000"}')])
    received = events[events["eventType"].eq("http_request") & events["path"].eq(world.HEALTH_PATH)]
    took = dict(zip(http["requestId"], http["durationMs"].astype("int64")))
    probe_ms = received["t"].to_numpy()
    probe_duration = received["requestId"].map(took).fillna(world.PROBE_TIMEOUT_MS).astype("int64").to_numpy()
    n_jobs = int(jobs["message"].str.startswith("Processing job ").sum())
    return _DayLines(
        ms=np.concatenate([http["t"].to_numpy(), done["t"].to_numpy(), lost["t"].to_numpy(), other_ms]).astype(np.int64),
        lines=pa.concat_arrays([http_lines, done_lines, lost_lines, other_lines]),
        jobs=n_jobs, probe_ms=probe_ms.astype(np.int64), probe_duration=probe_duration)


@functools.lru_cache(maxsize=8)
def _world_population(variant: world.Variant) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """The month's users (with their organization), ETPs, sections and generation jobs."""
    month = _month(variant)
    return _population_and_jobs(month.rng("requests"), month)


def population(variant: world.Variant | int | None = None) -> dict[str, np.ndarray]:
    """The world's users and what they work on, for every view of the month (the on-call day's
    log draws its users, ETPs and sections from here): ``users`` (userId), ``organizations``
    (each user's organizationId), ``etps`` and ``sections`` (ids)."""
    users, etps, sections, _ = _world_population(_variant(variant))
    return {"users": users["userId"].to_numpy(dtype=object),
            "organizations": users["organizationId"].to_numpy(dtype=object),
            "etps": etps.astype(object), "sections": sections.astype(object)}


def first_job_id_of_day(variant: world.Variant | int | None = None) -> int:
    """The BullMQ id of the on-call day's first generation job: jobs are numbered in the order
    they are posted over the month, from ``FIRST_JOB_ID``."""
    jobs = _world_population(_variant(variant))[3]
    return FIRST_JOB_ID + int((jobs["ms"] < _ms(ON_CALL_DAY_START)).sum())


def _renumber_jobs(jobs: pd.DataFrame, day_jobs: int) -> pd.DataFrame:
    """Job ids after the on-call day make room for that day's jobs (the day's log numbers them)."""
    ms = jobs["ms"].to_numpy()
    before = int((ms < _ms(ON_CALL_DAY_START)).sum())
    after = ms >= _ms(ON_CALL_DAY_END)
    rank = np.arange(len(jobs)) + np.where(after, day_jobs - (len(jobs) - before - after.sum()), 0)
    return jobs.assign(jobId=(FIRST_JOB_ID + rank).astype(str))


def _request_log_lines(month: _Month) -> pa.Array:
    rng = month.rng("requests")
    users, etps, sections, jobs = _population_and_jobs(rng, month)
    day = _on_call_day(month.variant)
    jobs = _renumber_jobs(jobs, day.jobs)
    req = pd.concat([_user_actions(rng, users, etps, sections), _generate_requests(jobs),
                     _job_polls(rng, jobs), _health_hits(month)], ignore_index=True)
    req = req[~month.inside(req["ms"].to_numpy(), "crash_loop")].reset_index(drop=True)
    err = _apply_client_errors(rng, req)
    _apply_planted_errors(rng, month, req, err)
    done_ms, section_lines = _section_lines(jobs)
    other_ms, other_lines = _other_lines(rng, month, jobs)
    answered_ms, http_lines = _http_lines(rng, req, err)
    ms = np.concatenate([answered_ms, done_ms, other_ms])
    lines = pa.concat_arrays([http_lines, section_lines, other_lines])
    serving = np.ones(ms.size, dtype=bool)
    serving[: len(req) + len(done_ms)] = ~month.inside(ms[: len(req) + len(done_ms)], "crash_loop")
    keep = (ms >= _ms(MONTH_START)) & (ms < _ms(MONTH_END)) & serving  # a crashing backend serves nobody
    # The on-call day is the day's log (backend_logs): its lines replace this month's draws for it.
    keep &= (ms < _ms(ON_CALL_DAY_START)) | (ms >= _ms(ON_CALL_DAY_END))
    ms = np.concatenate([ms, day.ms])
    lines = pa.concat_arrays([lines.cast(pa.large_string()), day.lines.cast(pa.large_string())])
    keep = np.concatenate([keep, np.ones(day.ms.size, dtype=bool)])
    order = np.argsort(ms, kind="stable")
    return lines.take(order[keep[order]])


def _writer(make_lines, variant: world.Variant):
    """The ``write`` callback for cache.materialise: lines are only built on a cache miss."""
    def write(fh: IO) -> None:
        write_lines(fh, make_lines(_month(variant)))
    return write


def write_lines(fh: IO, lines: pa.Array) -> None:
    """Each line and a newline, the bytes of ``"\\n".join(lines) + "\\n"``, written from pyarrow's
    own buffer: a month's log is 200,000 lines, and a Python string for each costs a second."""
    if not isinstance(lines, pa.Array) or not len(lines) or lines.null_count or not hasattr(fh, "buffer"):
        fh.write("\n".join(lines.to_pylist()) + "\n")  # a missing line fails here, as it should
        return
    ended = pc.binary_join_element_wise(lines.cast(pa.large_string()), pa.scalar("\n", pa.large_string()),
                                        pa.scalar("", pa.large_string()))
    _, offsets, data = ended.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[ended.offset: ended.offset + len(ended) + 1]
    fh.flush()
    fh.buffer.write(memoryview(data)[bounds[0]:bounds[-1]])


def request_log(variant: world.Variant | int | None = None) -> Path:
    """Path of the month's backend log: Winston JSON, one object per line, time-ordered.

    ``variant`` is the world to write (default ``world.current()``; an int is a world seed).
    """
    variant = _variant(variant)
    return cache.materialise(_file_name("request_log", ".jsonl", variant), _writer(_request_log_lines, variant))


# ---------------------------------------------------------------- health probes

BODY = '{"status":"%s","timestamp":"<t>","database":"%s","redis":"%s"}'
PROBE_STATES = {
    # state: (status code text, what follows the duration; <t> is the body's own timestamp)
    "healthy": ("200", BODY % ("healthy", "connected", "connected")),
    "pool_slow": ("200", BODY % ("healthy", "connected", "connected")),
    "db_down": ("200", BODY % ("unhealthy", "disconnected", "connected")),
    "redis_down": ("200", BODY % ("unhealthy", "connected", "not_configured")),
    "edge_502": ("502", "Application failed to respond"),
    "timeout": ("-", "timeout"),
}


def _probe_states(rng, month: _Month, ms: np.ndarray) -> np.ndarray:
    state = np.full(ms.size, "healthy", dtype=object)
    # The health check's SELECT 1 waits for a pool slot like every request: the monitor's 5 s
    # timeout usually runs out first; now and then a freed connection answers in time.
    pool = month.inside(ms, "pool_exhaustion")
    state[pool] = np.where(rng.random(pool.sum()) < 0.8, "timeout", "pool_slow")
    state[month.inside(ms, "redis_outage")] = "redis_down"
    state[month.inside(ms, "crash_loop")] = "edge_502"
    # During the failover the check's SELECT 1 usually waits for a pool slot and the monitor gives
    # up; when the driver fails fast instead, the body says the database is disconnected.
    failover = month.inside(ms, "db_failover")
    state[failover] = np.where(rng.random(failover.sum()) < 0.7, "timeout", "db_down")
    calm = np.flatnonzero(state == "healthy")
    state[rng.choice(calm, LONE_PROBE_TIMEOUTS, replace=False)] = "timeout"  # network blips
    return state


def _probe_durations(rng, state: np.ndarray) -> np.ndarray:
    duration = _lognormal_ms(rng, 38, 0.35, state.size)
    duration = np.where(state == "pool_slow", rng.uniform(1_500, 4_900, state.size), duration)
    duration = np.where(state == "db_down", _lognormal_ms(rng, 9, 0.3, state.size), duration)
    duration = np.where(state == "redis_down", _lognormal_ms(rng, 14, 0.3, state.size), duration)
    duration = np.where(state == "edge_502", rng.uniform(1, 12, state.size), duration)
    return np.where(state == "timeout", PROBE_TIMEOUT_MS, np.maximum(1, duration.round())).astype(np.int64)


def _probe_frame(month: _Month) -> pd.DataFrame:
    """Every probe of the month: when, what the monitor saw, and how long the backend took."""
    rng = month.rng("probes")  # its own stream: both views draw the same probes
    ms = np.arange(_ms(MONTH_START), _ms(MONTH_END), PROBE_INTERVAL_S * 1000, dtype=np.int64)
    state = _probe_states(rng, month, ms)
    duration = _probe_durations(rng, state)
    in_pool = month.inside(ms, "pool_exhaustion") | month.inside(ms, "db_failover")
    backend_ms = np.where(in_pool, world.POOL_ACQUIRE_TIMEOUT_MS + rng.integers(2, 60, ms.size),
                          _lognormal_ms(rng, 38, 0.35, ms.size).round()).astype(np.int64)
    _probes_of_the_day(month.variant, ms, state, duration, backend_ms)
    return pd.DataFrame({"ms": ms, "state": state, "duration": duration, "backend_ms": backend_ms})


def _probes_of_the_day(variant: world.Variant, ms, state, duration, backend_ms) -> None:
    """The on-call day's probes as the day's log saw them (edits the arrays in place): a probe the
    backend answered after the monitor's timeout timed out, one the backend never saw (a container
    being replaced) got Railway's 502, and the backend's time is the day's ``durationMs``. The
    monitor's own blips (``LONE_PROBE_TIMEOUTS``) stay where they fell."""
    day = _on_call_day(variant)
    index = np.flatnonzero((ms >= _ms(ON_CALL_DAY_START)) & (ms < _ms(ON_CALL_DAY_END)))
    seen = np.searchsorted(day.probe_ms, ms[index])
    seen = np.minimum(seen, day.probe_ms.size - 1)
    found = (day.probe_ms[seen] - ms[index] >= 0) & (day.probe_ms[seen] - ms[index] < 1_000)
    took = np.where(found, day.probe_duration[seen], 0)
    slow = found & (took >= PROBE_TIMEOUT_MS)
    state[index] = np.where(~found, "edge_502", np.where(slow, "timeout",
                            np.where(state[index] == "timeout", "timeout", "healthy")))
    duration[index] = np.where(~found, np.minimum(duration[index], 12), duration[index])
    duration[index] = np.where(slow, PROBE_TIMEOUT_MS, duration[index])
    backend_ms[index] = np.where(found, took, backend_ms[index])


def _health_probe_lines(month: _Month) -> pa.Array:
    probes = _probe_frame(month)
    ms, state, duration = probes["ms"].to_numpy(), probes["state"], probes["duration"].to_numpy()
    table = pd.DataFrame.from_dict(PROBE_STATES, orient="index", columns=["code", "tail"])
    tail = state.map(table["tail"]).str.split("<t>", n=1, expand=True).fillna("")
    has_body = (tail[1] != "").to_numpy()
    body_time = np.where(has_body, _iso_ms(ms + np.minimum(duration, 4_999) // 2), "")
    stamp = np.datetime_as_string((ms // 1000).astype("datetime64[s]"), unit="s")
    return _join(stamp, "Z GET /api/health ", state.map(table["code"]), " ", duration.astype(str), "ms ",
                 tail[0], body_time, np.where(has_body, "Z", ""), tail[1])


def health_probe_log(variant: world.Variant | int | None = None) -> Path:
    """Path of the month's Railway health-probe results, one raw text line per 30 s probe."""
    variant = _variant(variant)
    return cache.materialise(_file_name("health_probes", ".log", variant), _writer(_health_probe_lines, variant))


# ---------------------------------------------------------------- #incidents channel

# Each incident: id, severity, title, impact, ETA, then its channel lines as
# (BRT minute, author, text after the id), times of the canonical world. The planted outages
# above are among them (``INCIDENT_STORIES``). In a text, {id} is the incident's id and {end}
# and {deploy} the BRT clock time of its story's end and of the deploy that set it off.
INCIDENTS = [
    ("INC-2026-10-02-01", "P3", "Typo in the ETP form help text", "Cosmetic, nobody blocked", "next release", [
        ("2026-10-02 10:15", "carla.mendes", "open"),
        ("2026-10-05 09:32", "diego.rocha", "ACK {id} will fix in the next release"),
        ("2026-10-06 11:00", "diego.rocha", "UPDATE {id} | Status: Fix in review"),
        ("2026-10-08 16:05", "diego.rocha", "resolved|Duration: 6 days|Root Cause: wrong string in the form "
                                            "translations|Resolution: text corrected|Follow-up: none"),
    ]),
    ("INC-2026-10-07-01", "P0", "Database connection pool exhausted", "500 errors on most requests, all users",
     "30 min", [
        ("2026-10-07 14:02", "ana.souza", "open"),
        ("2026-10-07 14:09", "bruno.lima", "ACK {id} on it, checking pg_stat_activity"),
        ("2026-10-07 14:11", "carla.mendes", "ACK {id} taking Incident Commander"),
        ("2026-10-07 14:18", "bruno.lima", "UPDATE {id} | Status: Identified | all 20 pool slots held by "
                                           "slow report queries (N+1), cancelling them with pg_cancel_backend"),
        ("2026-10-07 14:29", "bruno.lima", "UPDATE {id} | Status: Monitoring | backend restarted, errors dropping"),
        ("2026-10-07 14:41", "bruno.lima", "resolved|Duration: 53 min|Root Cause: N+1 queries in the report "
                                           "endpoint held every pool connection|Resolution: cancelled the long-running "
                                           "queries and restarted the backend|Follow-up: add index, review pool size"),
    ]),
    ("INC-2026-10-09-01", "P2", "Analytics dashboard not loading", "Dashboard charts blank, ETP editing fine",
     "today", [
        ("2026-10-09 11:20", "eduarda.alves", "open"),
        ("2026-10-09 13:06", "diego.rocha", "ACK {id} looking"),
        ("2026-10-09 17:40", "diego.rocha", "UPDATE {id} | Status: Identified | aggregation query times out, "
                                            "needs an index; continuing after the holiday"),
        ("2026-10-13 10:02", "diego.rocha", "resolved|Duration: 4 days|Root Cause: missing index on the "
                                            "metrics table|Resolution: index created|Follow-up: query review"),
    ]),
    ("INC-2026-10-14-01", "P1", "Section generation stopped: Redis unavailable",
     "BullMQ queue down, new generations fail, health unhealthy", "unknown", [
        ("2026-10-14 00:14", "railway-alerts", "open"),
        ("2026-10-14 01:33", "bruno.lima", "ACK {id} sorry, missed the page"),
        ("2026-10-14 01:41", "bruno.lima", "UPDATE {id} | Status: Monitoring | Redis came back at {end}, "
                                           "queue draining"),
        ("2026-10-14 01:58", "bruno.lima", "resolved|Duration: 1 h 48 min|Root Cause: Redis container "
                                           "restarted by the platform|Resolution: automatic restart, queue "
                                           "verified|Follow-up: page escalation review"),
    ]),
    ("INC-2026-10-15-01", "P2", "Email notifications delayed", "Notification emails arrive hours late", "1 day", [
        ("2026-10-15 09:10", "carla.mendes", "open"),
        ("2026-10-15 14:03", "eduarda.alves", "ACK {id} checking the mail provider"),
        ("2026-10-16 17:31", "eduarda.alves", "resolved|Duration: 1 day 8 h|Root Cause: provider rate "
                                              "limit|Resolution: sending spread over time|Follow-up: alert on "
                                              "queue age"),
    ]),
    ("INC-2026-10-20-01", "P1", "Section generation slow (OpenAI degraded)", "Sections take 35-60 s, some users "
     "give up", "depends on OpenAI", [
        ("2026-10-20 12:40", "ana.souza", "open"),
        ("2026-10-20 13:04", "diego.rocha", "ACK {id} checking status.openai.com and /api/health/providers"),
        ("2026-10-20 13:30", "diego.rocha", "UPDATE {id} | Status: Identified | OpenAI reports elevated "
                                            "latency, retries visible in logs"),
        ("2026-10-20 15:45", "diego.rocha", "UPDATE {id} | Status: Monitoring | latency falling"),
        ("2026-10-20 16:52", "diego.rocha", "resolved|Duration: 4 h 52 min|Root Cause: OpenAI API "
                                            "degradation|Resolution: waited it out, users informed|Follow-up: "
                                            "show a slow-generation notice"),
    ]),
    ("INC-2026-10-21-01", "P0", "Backend down, 502 on all endpoints (restart loop)", "Nobody can use the system",
     "15 min", [
        ("2026-10-21 15:08", "railway-alerts", "open"),
        ("2026-10-21 15:14", "carla.mendes", "anyone on {id}? seeing 502s on every page"),
        ("2026-10-21 15:26", "bruno.lima", "ACK {id} looking at the deploy logs"),
        ("2026-10-21 15:38", "bruno.lima", "UPDATE {id} | Status: Identified | JavaScript heap out of memory "
                                           "after the {deploy} deploy, rolled back"),
        ("2026-10-21 15:47", "bruno.lima", "resolved|Duration: 42 min|Root Cause: memory leak in the new "
                                           "release|Resolution: rollback|Follow-up: post-mortem, raise memory "
                                           "alert"),
    ]),
    ("INC-2026-10-23-01", "P1", "PDF export failing (Chromium not found)", "PDF export returns 500, DOCX works",
     "2 h", [
        ("2026-10-23 10:05", "eduarda.alves", "open"),
        ("2026-10-23 10:41", "diego.rocha", "ACK {id} checking PUPPETEER_EXECUTABLE_PATH"),
        ("2026-10-23 11:30", "diego.rocha", "UPDATE {id} | Status: Workaround | tell users to export DOCX"),
        ("2026-10-23 19:22", "diego.rocha", "resolved|Duration: 9 h 17 min|Root Cause: base image without "
                                            "Chromium|Resolution: image fixed and redeployed|Follow-up: export "
                                            "smoke test in CI"),
    ]),
    ("INC-2026-10-27-01", "P0", "Database connections dropped, most requests failing",
     "500s and 5 s hangs on every page that needs the database", "30 min", [
        ("2026-10-27 10:05", "railway-alerts", "open"),
        ("2026-10-27 10:11", "bruno.lima", "ACK {id} on it: QueryFailedError 'Connection terminated unexpectedly'"),
        ("2026-10-27 10:20", "bruno.lima", "UPDATE {id} | Status: Identified | managed database failover; "
                                           "waiting for it to finish, then restart the backend"),
        ("2026-10-27 10:31", "bruno.lima", "resolved|Duration: 26 min|Root Cause: managed database failover "
                                           "dropped the backend's connections|Resolution: backend restarted once "
                                           "the database answered (the first restart failed its migrations)|"
                                           "Follow-up: pool recovery with backoff, alert on failovers"),
    ]),
    ("INC-2026-10-27-02", "P1", "Section generation failing (OpenAI)", "Generation jobs fail at once, "
     "editing works", "depends on OpenAI", [
        ("2026-10-27 13:46", "diego.rocha", "open"),
        ("2026-10-27 13:55", "diego.rocha", "ACK {id} OpenAI timeouts, circuit breaker open"),
        ("2026-10-27 14:05", "diego.rocha", "resolved|Duration: 19 min|Root Cause: OpenAI API timeouts|"
                                            "Resolution: breaker closed once OpenAI recovered|Follow-up: none"),
    ]),
    ("INC-2026-10-27-03", "P1", "Users logged out: 401 Token inválido after the deploy",
     "Logged-in users sent back to the login page", "30 min", [
        ("2026-10-27 16:09", "carla.mendes", "open"),
        ("2026-10-27 16:14", "ana.souza", "ACK {id} checking the {deploy} deploy"),
        ("2026-10-27 16:22", "ana.souza", "UPDATE {id} | Status: Identified | JWT_SECRET replaced without "
                                          "JWT_SECRET_OLD; users must log in again"),
        ("2026-10-27 16:41", "ana.souza", "resolved|Duration: 32 min|Root Cause: JWT_SECRET changed without the "
                                          "dual-key window|Resolution: users logged in again|Follow-up: rotation "
                                          "checklist with JWT_SECRET_OLD"),
    ]),
    ("INC-2026-10-29-01", "P3", "Tooltip shows an outdated upload limit", "Misleading hint only", "next sprint", [
        ("2026-10-29 17:45", "carla.mendes", "open"),
        ("2026-10-30 09:12", "diego.rocha", "ACK {id} queued for the next sprint"),
    ]),
]

# The planted story behind each incident (by its id in ``INCIDENTS``): its messages move with the
# story, minute for minute. The P2 and P3 incidents have no planted window and stay where they are.
INCIDENT_STORIES = {
    "INC-2026-10-07-01": "pool_exhaustion", "INC-2026-10-14-01": "redis_outage",
    "INC-2026-10-20-01": "slow_llm", "INC-2026-10-21-01": "crash_loop",
    "INC-2026-10-23-01": "pdf_export_broken", "INC-2026-10-27-01": "db_failover",
    "INC-2026-10-27-02": "openai_breaker", "INC-2026-10-27-03": "jwt_rotation",
}
# The deploy (an index into ``DEPLOYS_UTC``) that set a story off, as the team quotes it.
TRIGGER_DEPLOY = {"crash_loop": 2, "pdf_export_broken": 4, "jwt_rotation": len(DEPLOYS_UTC) - 1}
BRT_OFFSET = pd.Timedelta(hours=world.UTC_OFFSET_BRT_H)
BRT_ZONE = "-03:00"

CHATTER = [
    "who has the pager this week?",
    "reminder: weekly SLO review on Friday",
    "PR for the pool size review is up, reviews welcome",
    "Sentry is noisy with 429s from one org again",
    "can someone review the runbook change?",
    "lunch?",
    "moving the staging database maintenance to Saturday",
    "thanks all",
    "the Railway dashboard looks normal",
    "anyone else seeing slow CI today?",
    "updated the on-call rotation sheet",
    "reading the post-mortem draft now",
]
CHATTER_LINES = 45
PEOPLE = ["ana.souza", "bruno.lima", "carla.mendes", "diego.rocha", "eduarda.alves"]


def _brt_clock(when) -> str:
    """'HH:MM' in BRT of a UTC time (a naive string or a tz-aware Timestamp)."""
    utc = pd.Timestamp(when)
    utc = utc.tz_convert(None) if utc.tzinfo is not None else utc
    return (utc + BRT_OFFSET).strftime("%H:%M")


def _message_kind(text: str) -> str:
    if text == "open" or text.startswith("resolved|"):
        return text.split("|")[0]
    return {"ACK": "ack", "UPDATE": "update"}.get(text.split(" ")[0], "chat")


def incident_timeline(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """Every incident message of ``variant``'s #incidents channel (chatter aside), in posting order.

    Columns: ``id`` (``INC-<BRT date opened>-<rank that day>``), ``story`` (the planted story, ''
    for none), ``severity``, ``title``, ``minute`` (BRT text as in the channel, 'YYYY-MM-DD HH:MM';
    the channel adds random seconds), ``time`` (that minute, tz-aware BRT), ``author``, ``kind``
    (open, ack, update, resolved or chat) and ``text`` (the message after the author).
    """
    variant = _variant(variant)
    windows, deploys = planted(variant), deploys_utc(variant)
    rows = []
    for inc_id, severity, title, impact, eta, events in INCIDENTS:
        story = INCIDENT_STORIES.get(inc_id, "")
        shift = variant.shift(story) if story else pd.Timedelta(0)
        clocks = {"end": _brt_clock(windows[story][1])} if story else {}
        if story in TRIGGER_DEPLOY:
            clocks["deploy"] = _brt_clock(deploys[TRIGGER_DEPLOY[story]])
        for minute, author, text in events:
            moved = (pd.Timestamp(minute) + shift).strftime("%Y-%m-%d %H:%M")
            rows.append((inc_id, story, severity, title, impact, eta, moved, author, text, clocks))
    frame = pd.DataFrame(rows, columns=["canonical_id", "story", "severity", "title", "impact", "eta",
                                        "minute", "author", "template", "clocks"])
    frame["time"] = pd.to_datetime(frame["minute"] + BRT_ZONE, format="%Y-%m-%d %H:%M%z")
    frame["kind"] = frame["template"].map(_message_kind)
    # An id names the BRT day the incident was opened on and its rank among that day's incidents.
    opened = frame[frame["kind"].eq("open")].sort_values("time", kind="stable")
    day = opened["minute"].str.slice(0, 10)
    rank = opened.groupby(day).cumcount() + 1
    ids = dict(zip(opened["canonical_id"], "INC-" + day + "-" + rank.map("{:02d}".format)))
    frame["id"] = frame["canonical_id"].map(ids)
    frame["text"] = [_message_text(row) for row in frame.itertuples()]
    return frame[["id", "story", "severity", "title", "minute", "time", "author", "kind", "text"]]


def _message_text(row) -> str:
    text = row.template
    if text == "open":
        text = (f"[INCIDENT] {row.id}: {row.title} | Severity: {row.severity} | Status: Investigating"
                f" | Impact: {row.impact} | ETA: {row.eta}")
    elif text.startswith("resolved|"):
        text = f"[RESOLVED] {row.id}: {row.title} | " + " | ".join(text.split("|")[1:])
    return text.format(id=row.id, **row.clocks)


def _chatter_rows(rng) -> pd.DataFrame:
    days = pd.bdate_range("2026-10-01", "2026-10-30")
    days = days[~days.isin(HOLIDAYS_BRT)]
    minute = (days[rng.integers(0, len(days), CHATTER_LINES)]
              + pd.to_timedelta(rng.integers(8 * 60, 18 * 60, CHATTER_LINES), unit="min"))
    return pd.DataFrame({
        "minute": minute.strftime("%Y-%m-%d %H:%M"),
        "author": np.array(PEOPLE)[rng.integers(0, len(PEOPLE), CHATTER_LINES)],
        "text": np.array(CHATTER)[rng.integers(0, len(CHATTER), CHATTER_LINES)],
    })


def _incident_channel_lines(month: _Month) -> pa.Array:
    rng = month.rng("channel")
    incidents = incident_timeline(month.variant)[["minute", "author", "text"]]
    rows = pd.concat([incidents, _chatter_rows(rng)], ignore_index=True)
    seconds = _str(np.char.zfill(rng.integers(0, 60, len(rows)).astype(str), 2))
    rows["stamp"] = rows["minute"] + ":" + seconds
    rows = rows.sort_values("stamp", kind="stable")
    return _join(rows["stamp"], " BRT | @", rows["author"], " | ", rows["text"])


def incident_channel_log(variant: world.Variant | int | None = None) -> Path:
    """Path of the month's #incidents channel export (BRT, one message per line)."""
    variant = _variant(variant)
    return cache.materialise(_file_name("incidents_channel", ".txt", variant),
                             _writer(_incident_channel_lines, variant))


# ---------------------------------------------------------------- what a variant's month holds

# Days offered beside the bad LLM day when a trainee is asked which day it was, in preference order.
LLM_DAY_DISTRACTORS = ("pool_exhaustion", "redis_outage", "pdf_export_broken", "crash_loop", "db_failover")


def facts(variant: world.Variant | int | None = None) -> dict:
    """What a trainee of ``variant`` finds in the month: the values questions and checks refer to.

    - ``planted``: story -> (start, end) window, tz-aware UTC, end excluded (``planted``);
    - ``deploys_utc``: every container start of the month that logs boot lines (``deploys_utc``);
    - ``incidents``: one row per incident of the channel: id, story, severity, title, opened,
      acknowledged, resolved (tz-aware BRT, to the minute: the channel adds the seconds; NaT when
      never posted); ``incident_id``: story -> its incident's id;
    - ``day_label``: story -> the BRT day its window starts on, as 'Tue 20 Oct';
    - ``bad_llm_day`` ('2026-10-20', a BRT date), ``bad_llm_day_label`` ('Tue 20 Oct') and
      ``bad_llm_hours_brt`` (('12:00', '16:30')): the afternoon OpenAI was degraded;
      ``bad_llm_day_options``: four distinct day labels in date order, the bad day and three days
      of other incidents (canonical: Wed 07 Oct, Wed 14 Oct, Tue 20 Oct, Fri 23 Oct);
    - ``crash_loop_deploy_utc`` ('2026-10-21 17:50:20') and ``crash_loop_deploy_brt``
      ('2026-10-21 14:50:20'): the release that ran out of heap; ``crash_loop_rollback_utc``.
    """
    variant = _variant(variant)
    windows, deploys = planted(variant), deploys_utc(variant)
    timeline = incident_timeline(variant)
    first = timeline.groupby(["id", "kind"], sort=False)["time"].min().unstack()
    incidents = (timeline.drop_duplicates("id")[["id", "story", "severity", "title"]]
                 .assign(opened=lambda frame: frame["id"].map(first["open"]),
                         acknowledged=lambda frame: frame["id"].map(first["ack"]),
                         resolved=lambda frame: frame["id"].map(first["resolved"]))
                 .sort_values("opened", kind="stable").reset_index(drop=True))
    brt = {story: (start.tz_convert(None) + BRT_OFFSET, end.tz_convert(None) + BRT_OFFSET)
           for story, (start, end) in windows.items()}
    slow_start, slow_end = brt["slow_llm"]
    crash_deploy = deploys[TRIGGER_DEPLOY["crash_loop"]]
    # Other incidents' days as distractors; the redis outage can start on the evening before
    # (BRT), which may be the bad day itself, so labels are taken once each.
    options = {slow_start.normalize()}
    for story in LLM_DAY_DISTRACTORS:
        if len(options) < 4:
            options.add(brt[story][0].normalize())
    return {
        "seed": variant.seed,
        "planted": windows,
        "deploys_utc": deploys,
        "incidents": incidents,
        "incident_id": dict(zip(incidents.loc[incidents["story"].ne(""), "story"],
                                incidents.loc[incidents["story"].ne(""), "id"])),
        "day_label": {story: start.strftime("%a %d %b") for story, (start, _) in brt.items()},
        "bad_llm_day": slow_start.strftime("%Y-%m-%d"),
        "bad_llm_day_label": slow_start.strftime("%a %d %b"),
        "bad_llm_hours_brt": (slow_start.strftime("%H:%M"), slow_end.strftime("%H:%M")),
        "bad_llm_day_options": [day.strftime("%a %d %b") for day in sorted(options)],
        "crash_loop_deploy_utc": crash_deploy,
        "crash_loop_deploy_brt": str(pd.Timestamp(crash_deploy) + BRT_OFFSET),
        "crash_loop_rollback_utc": deploys[TRIGGER_DEPLOY["crash_loop"] + 1],
    }
