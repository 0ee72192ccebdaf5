"""Simulated ETP Express backend logs for Module 5 (Troubleshooting).

A trainee meets three formats, and each generator here writes one of them as raw text:

- ``production_log()``: a day of Railway logs as the backend writes them in production, one
  Winston JSON object per line (``HTTP`` interceptor events, ``HttpExceptionFilter`` lines,
  TypeORM, OpenAI, BullMQ, health checks, start-up), plus the odd line that is not JSON at all.
- ``bracketed_log()``: the training guide's ``[ERROR] <date> <time> ...`` style with stack traces
  on indented continuation lines: Exercise 5.1's excerpt, placed at the day's database failure
  (27 October, Brasília wall-clock time, no zone), as a whole morning.
- ``dev_log()``: a developer's local run, ``YYYY-MM-DD HH:mm:ss <level> [Context] <message>``
  followed by the metadata as pretty-printed JSON.

The production day carries three planted stories (``DB_INCIDENT``, ``OPENAI_OUTAGE``,
``JWT_ROTATION``), each with one right answer; ``STORIES`` states them so that tests and
notebooks can quote the facts instead of recomputing them.

The production day is a day of the month Module 2 measures, and one set of rows with it: its
users (with their organizations), ETPs and sections are the world's (``traffic.population``), its
section jobs continue the month's numbering, and the month's log (``traffic.request_log``) takes
this day's requests, jobs, health checks and start-ups as its own 27 October
(``production_events``). Around the stories the day has the month's everyday noise, 401 "Token
inválido" for stale sessions included (no user is named on those lines): the JWT burst is the
wave of them after the deploy (``Story.since``). The other two formats each carry one
planted failure (``bracketed_facts()``, ``dev_facts()``).

Every trainee gets a variant of the world (``course.data.world.Variant``): each story moves by
whole minutes, as a block, and the noise around it (requests, users, ids) is redrawn from the
variant's seed. Every generator and every fact takes ``variant`` (``None``: ``world.current()``);
``stories(variant)``, ``support_request_id(variant)``, ``container_starts(variant)``,
``jwt_window(variant)`` and ``jwt_refused_users(variant)`` give that variant's answers, and the
module-level constants are the canonical world's. The canonical variant draws from
``numpy.random.default_rng(DEFAULT_SEED)``. Everything is drawn with whole-array operations, so
the same variant gives the same bytes, and a day of 220,000 lines takes a few seconds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course.data import cache, world
from course.data.ids import uuid4_strings

GENERATOR_VERSION = 3
DEFAULT_SEED = 20261027
SERVICE = world.SERVICE
PRODUCTION_DAY = world.ON_CALL_DAY  # a Tuesday of the month Module 2 measures

# Traffic scale of each production size: the sample keeps every story, with less traffic around it.
SIZES = {"full": 1.0, "sample": 1 / 4}
# Lines in a full day at scale 1 (about): sizes the busier days write_production_lines thins.
FULL_DAY_LINES = 21_000
LATENCY_WINDOW = "15min"


# --------------------------------------------------------------------------- planted facts
@dataclass(frozen=True)
class Story:
    """One planted incident and the answers a correct parser recovers from the production day.

    Times are UTC, as the backend writes them (``+0000``). ``match`` is a regular expression
    that selects the story's failure lines when searched in ``message``, ``error`` and
    ``stack``; the first line at ``min_level`` or above that matches is ``first_failure``.
    ``dominant_error_class`` is the most frequent error class among error lines from
    ``first_failure`` to ``window_end``. ``request_id`` is the ``X-Request-ID`` a user pasted from
    her error page; every retry of hers got a new id, so her story is her ``userId``'s lines from
    that request on: ``trail`` lists them in order as (eventType, statusCode). ``recovered_at`` is when service was back (the
    restart done, the breaker closed; for the 401 burst, when it had faded to the usual rate),
    and ``milestones`` are (what, when) of other lines worth finding, each a line of the log.
    ``since``, when set, is where the search for ``first_failure`` starts: "Token inválido" is an
    everyday 401 too (expired sessions), so the burst's first one is the first after the deploy.
    """

    key: str
    title: str
    first_failure: str
    match: str
    min_level: str
    window_end: str
    dominant_error_class: str
    request_id: str
    trail: tuple[tuple[str, int | None], ...]
    recovered_at: str
    milestones: tuple[tuple[str, str], ...]
    since: str | None = None


DB_INCIDENT = Story(
    key="db_pool",
    title="PostgreSQL connections dropped, pool exhausted, backend restarted",
    first_failure="2026-10-27T13:02:11.402Z",
    match="Connection terminated unexpectedly",
    min_level="error",
    window_end="2026-10-27T13:21:25.861Z",
    dominant_error_class="QueryFailedError",
    request_id="c0ffee12-7d3b-4a8e-9f61-2b5e8c4d0a17",
    trail=(("http_request", None), ("http_error", 500), ("http_request", None),
           ("http_error", 500), ("http_request", None), ("http_response", 200)),
    recovered_at="2026-10-27T13:21:25.861Z",
    milestones=(
        ("'Starting Nest application...' (the second start: migrations went through)", "2026-10-27T13:21:18.205Z"),
        ("'TypeOrmModule dependencies initialized' (connected to the database)", "2026-10-27T13:21:25.715Z"),
        ("'Nest application successfully started'", "2026-10-27T13:21:25.861Z"),
    ),
)

OPENAI_OUTAGE = Story(
    key="openai_breaker",
    title="OpenAI timeouts, retries exhausted, circuit breaker open",
    first_failure="2026-10-27T16:40:05.118Z",
    match="OpenAI",
    min_level="warn",
    window_end="2026-10-27T16:57:04.355Z",
    dominant_error_class="ServiceUnavailableException",
    request_id="5e1ec7ed-0a11-4b5c-9d3e-7f2a6c8b1d40",
    trail=(("http_request", None), ("http_response", 202), ("http_request", None),
           ("http_response", 202), ("http_request", None), ("http_response", 202)),
    recovered_at="2026-10-27T16:57:04.355Z",
    milestones=(
        ("'[OpenAI API] All 4 attempts exhausted'", "2026-10-27T16:43:12.398Z"),
        ("'OpenAI circuit breaker OPENED - too many failures' (first)", "2026-10-27T16:44:02.771Z"),
        ("'OpenAI circuit breaker CLOSED - service recovered'", "2026-10-27T16:57:04.355Z"),
    ),
)

JWT_ROTATION = Story(
    key="jwt_rotation",
    title="JWT secret changed without dual-key: burst of 401 'Token inválido'",
    first_failure="2026-10-27T19:03:52.731Z",
    match="Token inválido",
    min_level="error",
    window_end="2026-10-27T19:33:52.731Z",
    dominant_error_class="UnauthorizedException",
    request_id="a7e4c2d9-3f81-4b6a-8c05-d19e2f7b4a63",
    trail=(("http_request", None), ("http_error", 401), ("http_request", None),
           ("http_response", 200)),
    recovered_at="2026-10-27T19:33:52.731Z",
    milestones=(
        ("'Starting Nest application...' (the deploy with the new JWT_SECRET)", "2026-10-27T19:03:44.310Z"),
        ("'Nest application successfully started'", "2026-10-27T19:03:51.604Z"),
    ),
    since="2026-10-27T19:03:51.604Z",
)

STORIES = (DB_INCIDENT, OPENAI_OUTAGE, JWT_ROTATION)

# Design bounds of the request latency around the DB incident (median durationMs of
# http_response + http_error lines, LATENCY_WINDOW before vs after DB_INCIDENT.first_failure).
DB_LATENCY_BEFORE_P50_MAX_MS = 200
DB_LATENCY_AFTER_P50_MIN_MS = 4000

# Lines in every production file that are not a Winston JSON record, by kind.
MALFORMED_LINES = {
    "truncated JSON": 3,
    "two records written into one line": 1,
    "plain text of the start command (npm, migrations)": 13,
    "NUL bytes before the record": 1,
    "latin-1 bytes (not UTF-8)": 1,
}

# Exercise 5.1 as a whole morning in the guide's bracketed style: the guide's two lines at the
# production day's first database failure, in Brasília wall-clock time (UTC-3, no zone written),
# and the morning around it; Nest is up again when the production day's backend is (DB_INCIDENT).
# (The guide prints its excerpt as 2025-12-21 10:45:32; the course's world has one 27 October.)
BRACKETED_DAY = "2026-10-27"
BRACKETED_FIRST_FAILURE = "2026-10-27 10:02:11"   # DB_INCIDENT.first_failure, 13:02:11 UTC
BRACKETED_ERROR_CLASS = "QueryFailedError"
BRACKETED_RECOVERED_AT = "2026-10-27 10:21:25"    # DB_INCIDENT.recovered_at, 13:21:25 UTC
BRACKETED_MALFORMED = 2
BRACKETED_VERSION = 3  # the bracketed file's own version (its name): 3 is the 27 October morning

# A developer's local run: a missing migration, then an OpenAI timeout retried to success.
DEV_DAY = "2026-10-26"
DEV_FIRST_ERROR = "2026-10-26 14:07:19"
DEV_ERROR_CLASS = "QueryFailedError"
DEV_REQUEST_ID = "1f0c9e8d-7b6a-4c5d-9e4f-3a2b1c0d9e8f"
DEV_RESTARTED_AT = "2026-10-26 14:13:19"  # the developer ran the migration and started again

# How each planted story is named in course.data.world (what moves it in a variant).
STORY_NAMES = {"db_pool": "db_failover", "openai_breaker": "openai_breaker", "jwt_rotation": "jwt_rotation"}
BRACKETED_STORY = "db_failover"  # it moves with the production day's failure
DEV_STORY = "unapplied_migration"


@dataclass(frozen=True)
class BracketedFacts:
    """The bracketed morning's planted failure, in its wall-clock time (``YYYY-MM-DD HH:mm:ss``).

    ``first_failure`` is the first ``[ERROR]`` line (the guide's excerpt opens there),
    ``error_class`` the most frequent class of the morning's errors, ``recovered_at`` the line
    'Nest application successfully started' after the restart, and ``malformed`` the lines that
    are not a bracketed event or its stack trace.
    """

    first_failure: str
    error_class: str
    recovered_at: str
    malformed: int


@dataclass(frozen=True)
class DevFacts:
    """The development run's planted failure (``YYYY-MM-DD HH:mm:ss``, the laptop's time).

    ``first_error`` is the first error line (the request that needed the missing relation),
    ``error_class`` its class, ``request_id`` that request's id, and ``restarted_at`` when the
    developer started the application again once the migration had run.
    """

    first_error: str
    error_class: str
    request_id: str
    restarted_at: str


def _ms(text: str) -> int:
    """Milliseconds since the epoch of an ISO time; a time without a zone is read as UTC."""
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.value // 1_000_000)


def _iso_z(ms: int) -> str:
    """Epoch milliseconds as the stories write their times: '2026-10-27T13:02:11.402Z'."""
    return pd.Timestamp(ms, unit="ms").isoformat(timespec="milliseconds") + "Z"


DAY_START_MS = _ms(PRODUCTION_DAY)
DAY_MS = 86_400_000

# The story clock of the canonical day: (name, story it moves with, UTC time). A variant moves
# every time of a story by that story's offset, so its milestones keep their distances.
_CLOCK = (
    ("db_t0", "db_failover", DB_INCIDENT.first_failure),
    ("db_down", "db_failover", "2026-10-27T13:21:14.000"),           # the container is replaced
    ("db_boot", "db_failover", "2026-10-27T13:21:18.205"),           # the start that connects
    ("db_connected", "db_failover", "2026-10-27T13:21:25.715"),
    ("db_up", "db_failover", DB_INCIDENT.recovered_at),
    ("ai_call_t0", "openai_breaker", "2026-10-27T16:39:05.118"),     # the first call left hanging
    ("ai_open", "openai_breaker", "2026-10-27T16:44:02.771"),
    ("ai_recovers", "openai_breaker", "2026-10-27T16:56:30.000"),
    ("ai_close", "openai_breaker", OPENAI_OUTAGE.recovered_at),
    ("jwt_down", "jwt_rotation", "2026-10-27T19:03:41.000"),         # the deploy replaces it
    ("jwt_boot", "jwt_rotation", "2026-10-27T19:03:44.310"),
    ("jwt_up", "jwt_rotation", "2026-10-27T19:03:51.604"),
    ("jwt_t0", "jwt_rotation", JWT_ROTATION.first_failure),
    ("jwt_end", "jwt_rotation", JWT_ROTATION.window_end),
)

# The stories' own requests: (story, start, method, path, endpoint, user, request, outcome, ms).
# Path, user and request are indexes into the planted names below; each retry gets a new
# X-Request-ID while the user stays the same.
_PLANTED_ROWS = (
    ("db_failover", "2026-10-27T13:02:06.390", "GET", 0, 1, 0, 0, "db_dropped", 5012),
    ("db_failover", "2026-10-27T13:09:44.015", "GET", 0, 1, 0, 1, "db_pool", 5003),
    ("db_failover", "2026-10-27T13:22:03.377", "GET", 0, 1, 0, 2, "ok", 84),
    ("openai_breaker", "2026-10-27T16:39:04.870", "POST", 1, 6, 1, 3, "ok", 141),
    ("openai_breaker", "2026-10-27T16:47:31.204", "POST", 2, 6, 2, 4, "ok", 138),
    ("openai_breaker", "2026-10-27T16:49:02.870", "POST", 2, 6, 2, 5, "ok", 129),
    ("openai_breaker", "2026-10-27T16:58:15.342", "POST", 2, 6, 2, 6, "ok", 143),
    ("jwt_rotation", "2026-10-27T19:03:52.728", "GET", 3, 0, 3, 7, "jwt_invalid", 3),
    ("jwt_rotation", "2026-10-27T19:04:31.066", "GET", 3, 0, 3, 8, "ok", 47),
)
_STORY_REQUEST = {"db_pool": 0, "openai_breaker": 4, "jwt_rotation": 7}  # the one a user pasted
_JOB_REQUEST = 3  # the generation whose LLM call is the first one OpenAI leaves hanging
# The canonical names: request ids, the ETPs in the paths, users (the three stories' users and
# the planted job's, as indexes into the world's users: the stories' users are the three that
# make no other request that day) and their organizations (each user's own, in the world).
_CANONICAL_NAMES = {
    "requests": ("c0ffee12-7d3b-4a8e-9f61-2b5e8c4d0a17", "3b7e0c55-2d4f-4a91-8e6b-5f1c9a0d7e22",
                 "8d2a6f14-0b3c-4e57-a9d8-1c4e7b2f6a90", "0d6b2f9a-71c4-4e3b-9a58-c2e7f1d04b86",
                 "5e1ec7ed-0a11-4b5c-9d3e-7f2a6c8b1d40", "e4c1a9b7-6d2f-4c08-b3e5-7a9f0d1c2b46",
                 "71f3d8a2-5c9e-4b64-8f1a-2e6d0c7b9a35", "a7e4c2d9-3f81-4b6a-8c05-d19e2f7b4a63",
                 "c5b9e2d7-8a14-4f3c-9d60-b1e7a4c2f085"),
    "etps": ("4f2c0b9e-6a51-4d2e-8c3f-91d7a2b6e5c4", "9b1d7e42-3c6a-4f85-a2d0-6e8f1c3b5a97",
             "2a8c4e61-9f3b-4d17-b5e2-8d0c6a1f7e39"),
    "users": (417, 23, 418, 419),
    "orgs": (7, 2, 5, 3),
}
# Where the collector's edits (cut, glued, NUL-prefixed lines) must not fall: around each story,
# so that no planted line is lost. A clock inside one moves to its end.
_STORY_SPANS = (
    ("db_failover", "2026-10-27T13:01:00", "2026-10-27T13:24:00"),
    ("openai_breaker", "2026-10-27T16:38:00", "2026-10-27T17:00:00"),
    ("jwt_rotation", "2026-10-27T19:02:00", "2026-10-27T19:35:00"),
)


@dataclass(frozen=True)
class _DayPlan:
    """One variant's production day: its stories, its story clock in epoch ms, its planted rows."""

    variant: world.Variant
    stories: tuple[Story, Story, Story]
    db_t0: int
    db_down: int
    db_boot: int
    db_connected: int
    db_up: int
    ai_call_t0: int
    ai_open: int
    ai_recovers: int
    ai_close: int
    jwt_down: int
    jwt_boot: int
    jwt_up: int
    jwt_t0: int
    jwt_end: int
    planted: tuple[tuple, ...]          # rows of _planted_requests
    job_request: str
    boot_text: tuple[tuple[int, tuple[bytes, ...]], ...]  # (when, plain-text lines) per start
    spans: tuple[tuple[int, int], ...]


def _planted_names(variant: world.Variant) -> dict:
    """The planted requests' ids, ETPs, users and organizations: canonical, or the variant's."""
    if variant.canonical:
        return _CANONICAL_NAMES
    rng = variant.rng(5, 3)
    requests, etps = uuid4_strings(rng, 9), uuid4_strings(rng, 3)
    rng.choice(1_000, 3, replace=False)                       # (kept: the stream's next draws)
    job_user = min(int(rng.integers(1, _N_USERS)), _ORDINARY_USERS - 1)  # an ordinary user
    orgs = rng.integers(1, _N_ORGS + 1, 4)
    return {"requests": tuple(requests.tolist()), "etps": tuple(etps.tolist()),
            "users": (_ORDINARY_USERS, job_user, _ORDINARY_USERS + 1, _ORDINARY_USERS + 2),
            "orgs": tuple(int(o) for o in orgs)}


@lru_cache(maxsize=16)
def _day_plan(variant: world.Variant) -> _DayPlan:
    clock = {name: _ms(variant.at(story, when)) for name, story, when in _CLOCK}
    names = _planted_names(variant)
    ids = names["requests"]
    moved = []
    for story in STORIES:
        name = STORY_NAMES[story.key]

        def at(when: str, name: str = name) -> str:
            return variant.at(name, when)

        moved.append(replace(
            story, first_failure=at(story.first_failure), window_end=at(story.window_end),
            request_id=ids[_STORY_REQUEST[story.key]], recovered_at=at(story.recovered_at),
            milestones=tuple((what, at(when)) for what, when in story.milestones),
            since=at(story.since) if story.since else None))
    paths = (f"/api/v1/etps/{names['etps'][0]}", f"/api/v1/sections/etp/{names['etps'][1]}/generate",
             f"/api/v1/sections/etp/{names['etps'][2]}/generate", "/api/v1/etps")
    planted = tuple(
        (_ms(variant.at(story, when)), method, paths[path], endpoint, names["users"][user],
         names["orgs"][user], ids[request], outcome, duration)
        for story, when, method, path, endpoint, user, request, outcome, duration in _PLANTED_ROWS)
    boot_text = tuple(zip((_ms(when) for when in variant.on_call_starts()), _BOOT_LINES))
    spans = tuple((_ms(variant.at(story, low)), _ms(variant.at(story, high))) for story, low, high in _STORY_SPANS)
    return _DayPlan(variant=variant, stories=tuple(moved), **clock, planted=planted,
                    job_request=ids[_JOB_REQUEST], boot_text=boot_text, spans=spans)


def _resolve(variant: world.Variant | None) -> world.Variant:
    return world.resolve(variant)


def stories(variant: world.Variant | None = None) -> tuple[Story, Story, Story]:
    """The three stories of ``variant``'s production day (``None``: ``world.current()``), in the
    order of ``STORIES``: the database incident, the OpenAI outage, the JWT rotation. Every time
    is moved with its story, and the request ids are the variant's."""
    return _day_plan(_resolve(variant)).stories


def story(key: str, variant: world.Variant | None = None) -> Story:
    """One story of ``variant`` by its key: ``"db_pool"``, ``"openai_breaker"`` or ``"jwt_rotation"``."""
    found = [s for s in stories(variant) if s.key == key]
    if not found:
        raise KeyError(f"no story {key!r}; the keys are {sorted(STORY_NAMES)}")
    return found[0]


def support_request_id(variant: world.Variant | None = None) -> str:
    """The X-Request-ID the user pasted in the support channel: her request that failed first
    in the database incident (``story("db_pool", variant).request_id``)."""
    return story("db_pool", variant).request_id


def container_starts(variant: world.Variant | None = None) -> tuple[str, str, str]:
    """When the day's three container starts write their first plain-text line (UTC, as the
    stories' times): the restart that found no database, the platform's next try, the JWT deploy."""
    return tuple(when.replace(" ", "T") + "Z" for when in _resolve(variant).on_call_starts())


def jwt_window(variant: world.Variant | None = None) -> tuple[str, str]:
    """The half hour of the 401 burst to the minute, as a trainee is asked about it: from the
    minute of the first 'Token inválido' to the minute the story's window ends (19:03 to 19:33
    UTC in the canonical day)."""
    jwt = story("jwt_rotation", variant)
    return tuple(_iso_z(_ms(when) // 60_000 * 60_000) for when in (jwt.first_failure, jwt.window_end))


def jwt_refused_users(variant: world.Variant | None = None) -> int:
    """Distinct users with an ``http_error`` line 'Token inválido' inside ``jwt_window`` (both
    ends included) in the full production day: the size of the JWT incident."""
    return _jwt_refused_users(_resolve(variant))


@lru_cache(maxsize=8)
def _jwt_refused_users(variant: world.Variant) -> int:
    low, high = (_ms(when) for when in jwt_window(variant))
    events = _full_day(variant)
    refused = (events["eventType"].eq("http_error") & events["error"].eq("Token inválido")
               & events["t"].between(low, high))
    return int(events.loc[refused, "userId"].nunique())


def bracketed_facts(variant: world.Variant | None = None) -> BracketedFacts:
    """The planted failure of ``variant``'s bracketed morning (the whole morning moves with it)."""
    variant = _resolve(variant)
    return BracketedFacts(first_failure=variant.at(BRACKETED_STORY, BRACKETED_FIRST_FAILURE),
                          error_class=BRACKETED_ERROR_CLASS,
                          recovered_at=variant.at(BRACKETED_STORY, BRACKETED_RECOVERED_AT),
                          malformed=BRACKETED_MALFORMED)


def dev_facts(variant: world.Variant | None = None) -> DevFacts:
    """The planted failure of ``variant``'s development run (the whole session moves with it)."""
    variant = _resolve(variant)
    request_id = DEV_REQUEST_ID if variant.canonical else str(uuid4_strings(variant.rng(5, 6), 1)[0])
    return DevFacts(first_error=variant.at(DEV_STORY, DEV_FIRST_ERROR), error_class=DEV_ERROR_CLASS,
                    request_id=request_id, restarted_at=variant.at(DEV_STORY, DEV_RESTARTED_AT))


def _noise_rng(variant: world.Variant, canonical_seed, stream: int) -> np.random.Generator:
    """The noise of one generator: today's draws in the canonical world, else the variant's stream."""
    if variant.canonical:
        return np.random.default_rng(canonical_seed)
    return variant.rng(5, stream)


def _file_tag(variant: world.Variant) -> str:
    """What a cache file name says about its world (the canonical one keeps the plain seed)."""
    return f"seed{DEFAULT_SEED}" if variant.canonical else f"variant{variant.seed}"


# --------------------------------------------------------------------------- catalogue
_FRAMES = {
    "etps": "    at EtpsService.findOne (/app/dist/modules/etps/etps.service.js:88:21)\n"
            "    at async EtpsController.findOne (/app/dist/modules/etps/etps.controller.js:61:16)",
    "guard": "    at JwtAuthGuard.handleRequest (/app/dist/modules/auth/guards/jwt-auth.guard.js:38:19)\n"
             "    at /app/node_modules/@nestjs/passport/dist/auth.guard.js:44:124\n"
             "    at /app/node_modules/@nestjs/passport/dist/auth.guard.js:83:24",
    "validation": "    at ValidationPipe.exceptionFactory (/app/node_modules/@nestjs/common/pipes/validation.pipe.js:101:20)\n"
                  "    at ValidationPipe.transform (/app/node_modules/@nestjs/common/pipes/validation.pipe.js:74:30)",
    "throttler": "    at ThrottlerGuard.throwThrottlingException (/app/node_modules/@nestjs/throttler/dist/throttler.guard.js:151:15)\n"
                 "    at ThrottlerGuard.handleRequest (/app/node_modules/@nestjs/throttler/dist/throttler.guard.js:128:18)",
    "ownership": "    at ResourceOwnershipGuard.canActivate (/app/dist/common/guards/resource-ownership.guard.js:57:23)",
    "login": "    at AuthService.login (/app/dist/modules/auth/auth.service.js:64:19)\n"
             "    at async AuthController.login (/app/dist/modules/auth/auth.controller.js:40:16)",
    "pdf": "    at ExportService.exportToPDF (/app/dist/modules/export/export.service.js:142:19)\n"
           "    at async ExportController.exportPDF (/app/dist/modules/export/export.controller.js:52:26)",
    "query": "    at PostgresQueryRunner.query (/app/node_modules/typeorm/driver/postgres/PostgresQueryRunner.js:219:19)\n"
             "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
             "    at async SelectQueryBuilder.loadRawResults (/app/node_modules/typeorm/query-builder/SelectQueryBuilder.js:2192:25)\n"
             "    at async EtpsService.findOne (/app/dist/modules/etps/etps.service.js:88:21)",
    "pool": "    at Timeout._onTimeout (/app/node_modules/pg-pool/index.js:205:27)\n"
            "    at listOnTimeout (node:internal/timers:581:17)\n"
            "    at process.processTimers (node:internal/timers:519:7)",
    "breaker_job": "    at OpenAIService.generateCompletion (/app/dist/modules/orchestrator/llm/openai.service.js:97:23)\n"
                   "    at async SectionsProcessor.process (/app/dist/modules/sections/sections.processor.js:48:28)",
    "openai_timeout": "    at OpenAI.makeRequest (/app/node_modules/openai/core.js:331:19)\n"
                      "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
                      "    at async SectionsProcessor.process (/app/dist/modules/sections/sections.processor.js:48:28)",
    "typeorm_boot": "    at Connection.parseE (/app/node_modules/pg/lib/connection.js:615:48)\n"
                    "    at Socket.<anonymous> (/app/node_modules/pg/lib/connection.js:394:17)\n"
                    "    at Socket.emit (node:events:519:28)",
}

AI_UNAVAILABLE = world.AI_UNAVAILABLE

# Outcome of a request: (status, error message, error class, stack frames, latency kind).
# Latency kind: "normal" keeps the endpoint's latency, "fast" is a guard rejecting early.
_OUTCOMES = {
    "ok": (None, None, None, None, "normal"),
    # An expired session's token: the month's everyday 401 (course.data.traffic.ERRORS["token"]).
    # The guard refuses it before any user is known, so its lines carry no userId.
    "stale_token": (401, world.TOKEN_INVALID, "UnauthorizedException", "guard", "fast"),
    "not_found": (404, "ETP não encontrado", "NotFoundException", "etps", "normal"),
    "bad_request": (400, "Bad Request Exception", "BadRequestException", "validation", "fast"),
    "forbidden": (403, "Você não tem permissão para acessar este recurso", "ForbiddenException",
                  "ownership", "fast"),
    "throttled": (429, "ThrottlerException: Too Many Requests", "ThrottlerException", "throttler", "fast"),
    "bad_credentials": (401, "Credenciais inválidas", "UnauthorizedException", "login", "normal"),
    "inactive_user": (401, "Usuário inválido ou inativo", "UnauthorizedException", "guard", "fast"),
    "pdf_failed": (500, "Erro ao gerar PDF: Navigation timeout of 30000 ms exceeded",
                   "InternalServerErrorException", "pdf", "pdf"),
    # Story outcomes.
    "db_dropped": (500, "Connection terminated unexpectedly", "QueryFailedError", "query", "db"),
    "db_pool": (500, "timeout exceeded when trying to connect", "Error", "pool", "pool"),
    "db_slow_ok": (None, None, None, None, "db_slow"),
    "jwt_invalid": (401, "Token inválido", "UnauthorizedException", "guard", "fast"),
}
_OUTCOME_NAMES = list(_OUTCOMES)
_STALE = world.STALE_TOKEN_SHARE  # of the requests that carry a session, as in the month

# Endpoints: (method, path template, weight, median ms, sigma, success status, noise odds).
_ENDPOINTS = [
    ("GET", "/api/v1/etps", 18, 85, 0.45, 200, {"stale_token": _STALE}),
    ("GET", "/api/v1/etps/{etp}", 22, 55, 0.40, 200, {"stale_token": _STALE, "not_found": .015,
                                                       "forbidden": .002, "inactive_user": .0005}),
    ("PATCH", "/api/v1/etps/{etp}", 6, 120, 0.40, 200, {"stale_token": _STALE, "bad_request": .02,
                                                         "forbidden": .004}),
    ("POST", "/api/v1/etps", 2, 160, 0.35, 201, {"stale_token": _STALE, "bad_request": .03}),
    ("GET", "/api/v1/sections/etp/{etp}", 14, 70, 0.40, 200, {"stale_token": _STALE}),
    ("PATCH", "/api/v1/sections/{section}", 7, 110, 0.40, 200, {"stale_token": _STALE,
                                                                 "bad_request": .02}),
    ("POST", "/api/v1/sections/etp/{etp}/generate", 3, 140, 0.30, 202, {"stale_token": _STALE,
                                                                         "throttled": .01}),
    ("GET", "/api/v1/sections/jobs/{job}", 10, 18, 0.35, 200, {"stale_token": _STALE}),
    ("GET", "/api/v1/auth/me", 9, 25, 0.35, 200, {"stale_token": _STALE}),
    ("POST", "/api/v1/auth/login", 3, 240, 0.25, 200, {"bad_credentials": .05, "throttled": .01}),
    ("GET", "/api/v1/templates", 3, 40, 0.30, 200, {"stale_token": _STALE}),
    ("GET", "/api/v1/export/etp/{etp}/pdf", 1.5, 4200, 0.35, 200, {"stale_token": _STALE,
                                                                     "pdf_failed": .01}),
]
_LOGIN, _GENERATE, _HEALTH = 9, 6, -1


def _split_template(path: str) -> tuple[str, str, str]:
    """'/a/{etp}/b' -> ('/a/', 'etp', '/b'): the placeholder kind between head and tail."""
    if "{" not in path:
        return path, "", ""
    head, rest = path.split("{", 1)
    kind, tail = rest.split("}", 1)
    return head, kind, tail


_PATH_PARTS = np.array([_split_template(e[1]) for e in _ENDPOINTS], dtype=object)
_OUTCOME_TABLE = np.array(list(_OUTCOMES.values()), dtype=object)
_USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
]
_PROBE_AGENT = "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)"
_N_USERS, _N_ORGS, _N_ETPS, _N_SECTIONS = world.USERS, world.ORGANIZATIONS, 800, 3000
# The day's traffic comes from the world's first users; the last three are the stories' own users,
# who make no other request that day (so that a story's trail is that user's lines).
_ORDINARY_USERS = _N_USERS - 3
FIELD_ORDER = ["level", "message", "context", "eventType", "method", "path", "statusCode",
               "durationMs", "error", "ip", "userAgent", "requestId", "userId", "organizationId",
               "stack", "jobId", "queue", "sectionId", "executionTimeMs", "query", "service",
               "timestamp"]
INT_FIELDS = {"statusCode", "durationMs", "executionTimeMs"}


# --------------------------------------------------------------------------- small helpers
def _cat(*parts) -> np.ndarray | str:
    """Element-wise string concatenation of scalars and arrays (Arrow kernels, no Python loop).

    A missing element (None) makes that result missing, as in SQL.
    """
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    arrays = [p if isinstance(p, str) else pa.array(p, type=pa.string(), from_pandas=True) for p in parts]
    return pc.binary_join_element_wise(*arrays, "").to_numpy(zero_copy_only=False)


def _frame(t, seq=0, **fields) -> pd.DataFrame:
    """Log events: a time in epoch ms, a tie-breaker and Winston fields (scalars broadcast)."""
    t = np.atleast_1d(np.asarray(t, dtype=np.int64))
    return pd.DataFrame({"t": t, "seq": seq, **fields}, index=pd.RangeIndex(len(t)))


def _stack(error_class, message, frames_key):
    """Node-style stacks: ``Class: message`` then the frames named by ``frames_key``."""
    if isinstance(frames_key, str):
        frames = _FRAMES[frames_key]
    else:
        frames = pd.Series(frames_key, dtype=object).map(_FRAMES).to_numpy(dtype=object)
    return _cat(error_class, ": ", message, "\n", frames)


def _outcome_spec(outcome) -> np.ndarray:
    """Rows of ``_OUTCOMES`` (status, error, class, frames, latency kind) for each outcome name."""
    codes = pd.Categorical(np.asarray(outcome, dtype=object), categories=_OUTCOME_NAMES).codes
    return _OUTCOME_TABLE[codes]


def _weights() -> np.ndarray:
    weights = np.array([e[2] for e in _ENDPOINTS], dtype=float)
    return weights / weights.sum()


def _as_str(values) -> np.ndarray:
    return np.asarray(values).astype(str)


# --------------------------------------------------------------------------- requests
def _minute_rates(scale: float) -> np.ndarray:
    """Expected requests per UTC minute: the month's rhythm and volume (course.data.world)."""
    return scale * world.user_actions_per_peak_minute() * world.minute_intensity(PRODUCTION_DAY, 1)


def _draw_requests(rng, starts: np.ndarray, endpoint: np.ndarray, pools) -> pd.DataFrame:
    """Requests with who, where and how long, for given start times and endpoints."""
    n = len(starts)
    etps, sections, _ = pools
    head, kind, tail = (_PATH_PARTS[endpoint, i] for i in range(3))
    ident = np.select(
        [kind == "etp", kind == "section", kind == "job"],
        [etps[rng.integers(0, _N_ETPS, n)], sections[rng.integers(0, _N_SECTIONS, n)],
         _as_str(rng.integers(47_000, 49_500, n))], "")
    user = np.minimum(rng.zipf(1.6, n) - 1, _ORDINARY_USERS - 1)
    anonymous = endpoint == _LOGIN
    first_octet = np.array([177, 179, 187, 189, 191, 200, 201])[rng.integers(0, 7, n)]
    octets = [_as_str(x) for x in (first_octet, *rng.integers(0, 256, (2, n)), rng.integers(1, 255, n))]
    return pd.DataFrame({
        "start": starts.astype(np.int64),
        "endpoint": endpoint,
        "method": np.array([e[0] for e in _ENDPOINTS], dtype=object)[endpoint],
        "path": _cat(head, ident, tail),
        "ip": _cat(octets[0], ".", octets[1], ".", octets[2], ".", octets[3]),
        "userAgent": np.array(_USER_AGENTS, dtype=object)[rng.integers(0, len(_USER_AGENTS), n)],
        "userId": np.where(anonymous, None, _cat("u-", _as_str(user))),
        "organizationId": None,  # the user's own (_as_world_users)
        "requestId": uuid4_strings(rng, n).astype(object),
        "outcome": _noise_outcomes(rng, endpoint),
        "duration": _endpoint_latency(rng, endpoint),
    })


def _noise_outcomes(rng, endpoint: np.ndarray) -> np.ndarray:
    """Everyday 4xx noise (and the rare failed PDF) by endpoint odds."""
    odds = np.zeros((len(_ENDPOINTS), len(_OUTCOME_NAMES)))
    for i, spec in enumerate(_ENDPOINTS):
        for name, p in spec[6].items():
            odds[i, _OUTCOME_NAMES.index(name)] = p
    odds[:, 0] = 1 - odds.sum(axis=1)
    cumulative = np.cumsum(odds, axis=1)[endpoint]
    picked = (rng.random(len(endpoint))[:, None] > cumulative).sum(axis=1)
    return np.array(_OUTCOME_NAMES, dtype=object)[np.minimum(picked, len(_OUTCOME_NAMES) - 1)]


def _endpoint_latency(rng, endpoint: np.ndarray) -> np.ndarray:
    medians = np.array([e[3] for e in _ENDPOINTS], dtype=float)[endpoint]
    sigmas = np.array([e[4] for e in _ENDPOINTS], dtype=float)[endpoint]
    duration = medians * np.exp(sigmas * rng.standard_normal(len(endpoint)))
    # One request in a hundred is slow for no story reason: a cold cache, a big ETP.
    slow = rng.random(len(endpoint)) < 0.01
    duration = np.where(slow, duration * rng.uniform(4, 15, len(endpoint)), duration)
    return np.maximum(1, np.round(duration)).astype(np.int64)


def _baseline_requests(rng, scale: float, pools) -> pd.DataFrame:
    per_minute = rng.poisson(_minute_rates(scale))
    minute = np.repeat(np.arange(1440), per_minute)
    starts = np.sort(DAY_START_MS + minute * 60_000 + rng.integers(0, 60_000, len(minute)))
    endpoint = rng.choice(len(_ENDPOINTS), len(starts), p=_weights())
    return _draw_requests(rng, starts, endpoint, pools)


def _health_probes(rng, interval_s: int, plan: _DayPlan) -> pd.DataFrame:
    """An uptime monitor calling /api/health (which answers 200 even when the database is down).

    During the database incident its SELECT 1 waits for a pool slot like every request, and
    gives up with the pool's acquire timeout."""
    starts = DAY_START_MS + 118 + np.arange(0, DAY_MS, interval_s * 1000)
    n = len(starts)
    waiting = (starts >= plan.db_t0) & (starts < plan.db_down)
    duration = np.where(waiting, world.POOL_ACQUIRE_TIMEOUT_MS + rng.integers(1, 40, n), rng.integers(2, 9, n))
    return pd.DataFrame({
        "start": starts.astype(np.int64), "endpoint": _HEALTH, "method": "GET", "path": "/api/health",
        "ip": "216.144.250.150", "userAgent": _PROBE_AGENT, "userId": None, "organizationId": None,
        "requestId": uuid4_strings(rng, n).astype(object), "outcome": "ok",
        "duration": duration.astype(np.int64),
    })


def _planted_requests(plan: _DayPlan) -> pd.DataFrame:
    """The stories' own requests. Each retry gets a new X-Request-ID; the user stays the same."""
    rows = list(plan.planted)
    frame = pd.DataFrame(rows, columns=["start", "method", "path", "endpoint", "user", "org",
                                        "requestId", "outcome", "duration"])
    frame["userId"] = _cat("u-", _as_str(frame.pop("user")))
    frame["organizationId"] = None  # the user's own (_as_world_users)
    frame.pop("org")
    frame["ip"] = "187.45.112.9"
    frame["userAgent"] = _USER_AGENTS[0]
    frame["planted"] = True
    return frame.astype({"start": np.int64, "duration": np.int64})


def _story_requests(rng, scale: float, pools, plan: _DayPlan) -> pd.DataFrame:
    """Extra requests the stories cause: users retrying generation, logging in again."""
    n_generate = max(round(14 * scale), 6)  # users pressing "generate" again while the breaker is open
    gen_starts = np.sort(rng.integers(plan.ai_open + 1000, plan.ai_close - 1000, n_generate))
    generate = _draw_requests(rng, gen_starts, np.full(n_generate, _GENERATE), pools)
    n_login = max(round(60 * scale), 20)
    # Logins cluster right after the deploy, as users are sent back to the login page.
    login_starts = np.sort(plan.jwt_t0 + 2000 + rng.exponential(420_000, n_login).astype(np.int64))
    login = _draw_requests(rng, login_starts, np.full(n_login, _LOGIN), pools)
    login["outcome"] = np.where(rng.random(n_login) < 0.04, "bad_credentials", "ok")
    return pd.concat([generate, login], ignore_index=True)


def _as_world_users(req: pd.DataFrame, people: dict) -> pd.DataFrame:
    """Name each request's user as the world does (``u-<k>`` is the world's k-th user, with that
    user's organization); a request refused for a stale token carries no user."""
    index = pd.to_numeric(req["userId"].str.slice(2), errors="coerce")
    known = index.notna().to_numpy() & ~req["outcome"].eq("stale_token").to_numpy()
    k = index.fillna(0).astype(np.int64).to_numpy()
    return req.assign(userId=np.where(known, people["users"][k], None),
                      organizationId=np.where(known, people["organizations"][k], None))


_JOB_POLL = 7  # GET /api/v1/sections/jobs/{job}


def _polling_the_days_jobs(req: pd.DataFrame, plan: _DayPlan) -> pd.DataFrame:
    """A status poll asks about a job of the day: the last one queued before it (jobs are
    numbered as ``_section_jobs`` numbers them, in the month's sequence)."""
    from course.data import traffic

    accepted = np.sort(req.loc[(req["endpoint"].to_numpy() == _GENERATE) & (req["outcome"] == "ok").to_numpy()
                               & ~req["cut_off"].to_numpy(dtype=bool), "start"].to_numpy())
    polls = req["endpoint"].to_numpy() == _JOB_POLL
    if not accepted.size or not polls.any():
        return req
    nth = np.maximum(np.searchsorted(accepted, req.loc[polls, "start"].to_numpy()) - 1, 0)
    head, _, tail = _PATH_PARTS[_JOB_POLL]
    path = req["path"].to_numpy(dtype=object).copy()
    path[polls] = _cat(head, _as_str(traffic.first_job_id_of_day(plan.variant) + nth), tail)
    return req.assign(path=path)


# --------------------------------------------------------------------------- story rules
def _apply_stories(rng, requests: pd.DataFrame, plan: _DayPlan) -> pd.DataFrame:
    """Rewrite outcomes inside the story windows and drop what a restarting backend never saw."""
    req = requests.copy()
    free = ~req["planted"].fillna(False).to_numpy(dtype=bool)
    start = req["start"].to_numpy()
    health = req["endpoint"].to_numpy() == _HEALTH
    n = len(req)
    outcome = req["outcome"].to_numpy(dtype=object)

    # DB: every request that needs PostgreSQL fails or crawls until the restart. Requests start
    # failing 2 s before the planted one ends; failures take 3 s or more, so it stays the first.
    in_db = free & ~health & (start >= plan.db_t0 - 2000) & (start < plan.db_down)
    draw = rng.random(n)
    db_outcome = np.where(draw < 0.60, "db_dropped", np.where(draw < 0.90, "db_pool", "db_slow_ok"))
    # At a quiet hour a few dozen requests make the window, and chance alone could let pool
    # timeouts rival the dropped connections. Hold the mix at 9 drops per 5 timeouts or more
    # (the design is 2:1): the timeouts whose draw came closest to a drop become drops.
    pool = np.flatnonzero(in_db & (db_outcome == "db_pool"))
    dropped = np.count_nonzero(in_db & (db_outcome == "db_dropped"))
    excess = max(0, -(-(9 * len(pool) - 5 * dropped) // 14))
    db_outcome[pool[np.argsort(draw[pool], kind="stable")[:excess]]] = "db_dropped"
    outcome = np.where(in_db, db_outcome, outcome)

    # OpenAI: generation is queued and accepted (202) whatever OpenAI's state; the worker fails.

    # JWT: tokens signed with the old secret fail, fewer as users log in again.
    authenticated = req["userId"].notna().to_numpy() & ~health
    fade = 0.9 * np.exp(-(start - plan.jwt_t0) / 420_000)
    in_jwt = free & authenticated & (start > plan.jwt_t0) & (start < plan.jwt_end) & (rng.random(n) < fade)
    outcome = np.where(in_jwt, "jwt_invalid", outcome)

    req["outcome"] = outcome.astype(object)
    req["duration"] = _story_latency(rng, outcome, req["duration"].to_numpy(), free)
    return _restart_gaps(req, plan)


def _story_latency(rng, outcome, duration, free) -> np.ndarray:
    n = len(outcome)
    kind = _outcome_spec(outcome)[:, 4]
    by_kind = {
        "fast": rng.integers(2, 16, n),
        "db": rng.integers(3000, 6500, n),
        "pool": 5000 + rng.integers(0, 60, n),
        "db_slow": rng.integers(3500, 5000, n),
        "pdf": 30000 + rng.integers(0, 250, n),
    }
    out = duration.copy()
    for name, values in by_kind.items():
        out = np.where(free & (kind == name), values, out)
    return out.astype(np.int64)


def _restart_gaps(req: pd.DataFrame, plan: _DayPlan) -> pd.DataFrame:
    """A stopping container loses its in-flight requests; a starting one sees no traffic yet."""
    start = req["start"].to_numpy()
    end = start + req["duration"].to_numpy()
    free = ~req["planted"].fillna(False).to_numpy(dtype=bool)
    unseen = np.zeros(len(req), dtype=bool)
    cut = np.zeros(len(req), dtype=bool)
    for down, up in [(plan.db_down, plan.db_up + 400), (plan.jwt_down, plan.jwt_t0 + 1)]:
        unseen |= free & (start >= down) & (start < up)
        cut |= free & (start < down) & (end >= down)
    return req.assign(cut_off=cut)[~unseen].reset_index(drop=True)


# --------------------------------------------------------------------------- request lines
def _request_events(req: pd.DataFrame) -> pd.DataFrame:
    """http_request, then http_response or http_error + the HttpExceptionFilter line."""
    spec = _outcome_spec(req["outcome"])
    ok_status = np.array([e[5] for e in _ENDPOINTS] + [200])[req["endpoint"].to_numpy()]
    failed = pd.notna(spec[:, 0]).astype(bool)
    status = np.where(failed, spec[:, 0], ok_status).astype(np.int64)
    duration = req["duration"].to_numpy()
    end = req["start"].to_numpy() + duration
    who = {k: req[k].to_numpy(dtype=object) for k in ["method", "path", "requestId", "userId", "organizationId"]}
    order = np.arange(len(req)) * 4

    received = _frame(req["start"], order, level="info", message="HTTP Request received", context="HTTP",
                      eventType="http_request", ip=req["ip"].to_numpy(dtype=object),
                      userAgent=req["userAgent"].to_numpy(dtype=object), **who)
    done = ~req["cut_off"].to_numpy(dtype=bool)
    ok, bad = done & ~failed, done & failed
    completed = _frame(end[ok], order[ok] + 1, level="info", message="HTTP Request completed",
                       context="HTTP", eventType="http_response", statusCode=status[ok],
                       durationMs=duration[ok], **{k: v[ok] for k, v in who.items()})
    stacks = _stack(spec[bad, 2], spec[bad, 1], spec[bad, 3])
    errored = _frame(end[bad], order[bad] + 1, level="error", message="HTTP Request failed", context="HTTP",
                     eventType="http_error", statusCode=status[bad], durationMs=duration[bad],
                     error=spec[bad, 1], stack=stacks, **{k: v[bad] for k, v in who.items()})
    filtered = _frame(end[bad], order[bad] + 2, level="error", context="HttpExceptionFilter",
                      message=_cat(who["method"][bad], " ", who["path"][bad]), stack=stacks)
    return pd.concat([received, completed, errored, filtered], ignore_index=True)


# --------------------------------------------------------------------------- other sources
def _section_jobs(rng, req: pd.DataFrame, sections: np.ndarray, plan: _DayPlan) -> pd.DataFrame:
    """BullMQ 'sections' jobs behind each accepted generation request, and their LLM calls."""
    accepted = req[(req["endpoint"].to_numpy() == _GENERATE) & (req["outcome"] == "ok").to_numpy()
                   & ~req["cut_off"].to_numpy(dtype=bool)].sort_values("start", kind="stable")
    n = len(accepted)
    from course.data import traffic

    job_id = _as_str(traffic.first_job_id_of_day(plan.variant) + np.arange(n))  # the month's numbering
    picked = accepted["start"].to_numpy() + accepted["duration"].to_numpy() + rng.integers(40, 900, n)
    planted = accepted["requestId"].to_numpy(dtype=object) == plan.job_request
    # The planted job's LLM call is the first one OpenAI leaves hanging.
    picked = np.where(planted, plan.ai_call_t0 - 20, picked)
    call = picked + 20
    section = sections[rng.integers(0, _N_SECTIONS, n)]
    # SLA-shaped LLM time (p50 5 s, p95 15 s), always inside the 60 s timeout when OpenAI is well.
    lasting = np.minimum(world.LLM_SECTION.median * np.exp(world.LLM_SECTION.sigma * rng.standard_normal(n)),
                         world.LLM_TIMEOUT_MS - 1_000).round().astype(np.int64)
    tokens = rng.integers(1400, 4200, n)
    common = dict(context="SectionsProcessor", queue="sections")
    healthy = (call < plan.ai_call_t0) | (call >= plan.ai_close)
    finish = call + lasting
    frames = [
        _frame(picked, 0, level="info", message=_cat("Processing job ", job_id, ": generate section"),
               jobId=job_id, sectionId=section, **common),
        _frame(call, 0, level="info", context="OpenAIService",
               message="Generating completion with model: gpt-4.1-nano"),
        _frame(finish[healthy], 0, level="info", context="OpenAIService",
               message=_cat("Completion generated in ", _as_str(lasting[healthy]), "ms. Tokens: ",
                            _as_str(tokens[healthy]))),
        _frame(finish[healthy] + 35, 1, level="info", message="Section generation completed",
               jobId=job_id[healthy], sectionId=section[healthy],
               durationMs=(finish[healthy] + 35 - picked[healthy]), **common),
    ]
    frames += _jobs_in_outage(rng, call[~healthy], job_id[~healthy], section[~healthy], planted[~healthy],
                              plan.ai_open)
    return pd.concat(frames, ignore_index=True)


def _jobs_in_outage(rng, call, job_id, section, planted, opened: int) -> list[pd.DataFrame]:
    """Retries with backoff while OpenAI hangs (60 s each); once open, the breaker refuses the call."""
    frames, attempt_start, alive = [], call.copy(), np.ones(len(call), dtype=bool)
    common = dict(context="SectionsProcessor", queue="sections")
    planted_delays = [1043, 2087, 4150]
    for attempt in range(1, 5):
        refused = alive & (attempt_start >= opened)
        frames.append(_frame(attempt_start[refused], 2, level="error",
                             message=_cat("Job ", job_id[refused], " failed: " + AI_UNAVAILABLE),
                             jobId=job_id[refused], sectionId=section[refused],
                             stack=_stack("ServiceUnavailableException", AI_UNAVAILABLE, "breaker_job"),
                             **common))
        alive &= ~refused
        failed_at = attempt_start + 60_000
        if attempt == 4:
            frames.append(_frame(failed_at[alive], 0, level="error", context="OpenAIService",
                                 message="[OpenAI API] All 4 attempts exhausted. Last error: Request timed out."))
            frames.append(_frame(failed_at[alive] + 4, 1, level="error",
                                 message=_cat("Job ", job_id[alive], " failed: Request timed out."),
                                 jobId=job_id[alive], sectionId=section[alive],
                                 stack=_stack("APIConnectionTimeoutError", "Request timed out.", "openai_timeout"),
                                 **common))
            break
        delay = np.round(1000 * 2 ** (attempt - 1) * (1 + 0.1 * rng.random(len(call)))).astype(np.int64)
        delay = np.where(planted, planted_delays[attempt - 1], delay)
        frames.append(_frame(failed_at[alive], 0, level="warn", context="OpenAIService",
                             message=_cat(f"[OpenAI API] Attempt {attempt}/4 failed: Request timed out.. Retrying in ",
                                          _as_str(delay[alive]), "ms...")))
        attempt_start = failed_at + delay
    return frames


def _breaker_events(plan: _DayPlan) -> pd.DataFrame:
    """opossum's state changes: open, half-open after 30 s, open again when the probe call times out."""
    cycles = np.arange(0, 1 + int(np.ceil((plan.ai_recovers - plan.ai_open - 30_000) / 90_000)))
    opened = plan.ai_open + cycles * 90_000
    half_open = opened + 30_000
    return pd.concat([
        _frame(opened, 3, level="error", context="OpenAIService",
               message="OpenAI circuit breaker OPENED - too many failures"),
        _frame(half_open, 3, level="warn", context="OpenAIService",
               message="OpenAI circuit breaker HALF-OPEN - testing recovery"),
        _frame(plan.ai_close, 3, level="info", context="OpenAIService",
               message="OpenAI circuit breaker CLOSED - service recovered"),
    ], ignore_index=True)


def _health_failures(probes: pd.DataFrame, plan: _DayPlan) -> pd.DataFrame:
    """Logged by the check itself, just before it answers."""
    start = probes["start"].to_numpy()
    failing = (start >= plan.db_t0) & (start < plan.db_down)
    answered = start[failing] + probes["duration"].to_numpy()[failing]
    return _frame(answered - 1, 3, level="error", context="HealthService",
                  message="Health check failed: Database not connected")


def _startup(at: int, db_retries: int = 0, connect_ms: int = 0) -> pd.DataFrame:
    """A container boot: Nest's start-up lines, TypeORM retries while the database is not back."""
    modules = ["AppModule", "ConfigHostModule", "ThrottlerModule", "BullModule", "ConfigModule",
               "TypeOrmModule", "AuthModule", "EtpsModule", "SectionsModule", "OrchestratorModule",
               "ExportModule", "HealthModule"]
    rows = [(at, "info", "NestFactory", "Starting Nest application...", None)]
    # Modules that need no database are ready at once; TypeORM and the modules that use it are
    # reported initialized only once the connection is up (after any retries).
    early = modules[:modules.index("TypeOrmModule")]
    rows += [(at + 40 + 9 * i, "info", "InstanceLoader", f"{m} dependencies initialized", None)
             for i, m in enumerate(early)]
    boot_error = "Error: Connection terminated unexpectedly\n" + _FRAMES["typeorm_boot"]
    rows += [(at + 1909 + 3013 * (k - 1), "error", "TypeOrmModule",
              f"Unable to connect to the database. Retrying ({k})...", boot_error)
             for k in range(1, db_retries + 1)]
    connected = at + 250 + 3013 * db_retries + connect_ms
    rows += [(connected + 9 * i, "info", "InstanceLoader", f"{m} dependencies initialized", None)
             for i, m in enumerate(modules[len(early):])]
    clock = connected + 120
    routes = [("EtpsController", "/api/v1/etps"), ("SectionsController", "/api/v1/sections"),
              ("AuthController", "/api/v1/auth"), ("HealthController", "/api/health")]
    rows += [(clock + 3 * i, "info", "RoutesResolver", f"{controller} {{{base}}}:", None)
             for i, (controller, base) in enumerate(routes)]
    return pd.DataFrame(rows, columns=["t", "level", "context", "message", "stack"]).assign(seq=0)


def _startups(plan: _DayPlan) -> pd.DataFrame:
    # The restarted container's first run failed at its migration step (the database was still
    # down; see _BOOT_LINES); the platform started it again, and this time the database answered.
    db = _startup(plan.db_boot, connect_ms=plan.db_connected - (plan.db_boot + 250))
    jwt = _startup(plan.jwt_boot)
    ready = _frame([plan.db_up, plan.jwt_up], 0, level="info", context="NestApplication",
                   message="Nest application successfully started")
    listening = _frame([plan.db_up + 2, plan.jwt_up + 2], 0, level="info", context="Bootstrap",
                       message=f"ETP Express backend listening on port {world.PORT}")
    return pd.concat([db, jwt, ready, listening], ignore_index=True)


def _slow_queries(rng, req: pd.DataFrame) -> pd.DataFrame:
    """The slow-query warning (1000 ms threshold) for slow list and detail requests."""
    slow = req[(req["duration"] > 1100).to_numpy() & np.isin(req["endpoint"], [0, 1, 4])
               & (req["outcome"] == "ok").to_numpy() & ~req["cut_off"].to_numpy(dtype=bool)]
    spent = slow["duration"].to_numpy() - rng.integers(15, 90, len(slow))
    query = np.where(slow["endpoint"].to_numpy() == 0,
                     'SELECT "Etp"."id", "Etp"."title", "Etp"."status" FROM "etps" "Etp" '
                     'WHERE "Etp"."organizationId" = $1 ORDER BY "Etp"."updatedAt" DESC',
                     'SELECT "Section"."id", "Section"."type", "Section"."content" FROM "etp_sections" '
                     '"Section" WHERE "Section"."etpId" = $1')
    return _frame(slow["start"].to_numpy() + spent, 1, level="warn", context="SlowQuery",
                  message=_cat("Slow query detected: ", _as_str(spent), "ms"), executionTimeMs=spent,
                  query=query.astype(object))


def _cron_jobs() -> pd.DataFrame:
    rows = [
        ("2026-10-27T05:00:00.012", "ExportCleanupProcessor", "export-cleanup",
         "Starting cleanup of exports older than 7 days"),
        ("2026-10-27T05:00:01.388", "ExportCleanupProcessor", "export-cleanup",
         "Export cleanup completed: 23 files removed"),
        ("2026-10-27T06:00:00.020", "GovDataSyncProcessor", "gov-data-sync", "Running job cache-validation"),
        ("2026-10-27T06:00:41.907", "GovDataSyncProcessor", "gov-data-sync",
         "Cache validation completed: 1412 entries checked, 37 stale"),
    ]
    t, context, queue, message = (np.array(column, dtype=object) for column in zip(*rows))
    return _frame([_ms(x) for x in t], 0, level="info", context=context, queue=queue, message=message)


def _inactive_user_warnings(req: pd.DataFrame) -> pd.DataFrame:
    inactive = req[(req["outcome"] == "inactive_user").to_numpy()]
    return _frame(inactive["start"].to_numpy() + 1, 1, level="warn", context="JwtStrategy",
                  message="Usuário inválido ou inativo", userId=inactive["userId"].to_numpy(dtype=object))


# --------------------------------------------------------------------------- one day, as bytes
def production_events(variant: world.Variant | None = None) -> pd.DataFrame:
    """The full production day of ``variant`` as its generator makes it, one row per record
    (``t`` in epoch ms and the Winston fields), before the log collector's edits. The month's log
    (``traffic.request_log``) and the auth export (``auth``) are views of these rows."""
    return _full_day(_resolve(variant)).copy()


@lru_cache(maxsize=4)
def _full_day(variant: world.Variant) -> pd.DataFrame:
    return _production_events(_day_plan(variant), SIZES["full"])


def _production_events(plan: _DayPlan, scale: float) -> pd.DataFrame:
    from course.data import traffic

    rng = _noise_rng(plan.variant, DEFAULT_SEED, 1)
    rng.integers(1, _N_ORGS + 1, _N_USERS)                    # (kept: the stream's next draws)
    uuid4_strings(rng, _N_ETPS), uuid4_strings(rng, _N_SECTIONS)
    # One world: the day's users, organizations, ETPs and sections are the month's.
    people = traffic.population(plan.variant)
    pools = (people["etps"][:_N_ETPS].astype(str), people["sections"][:_N_SECTIONS].astype(str), None)
    probes = _health_probes(rng, world.PROBE_INTERVAL_S if scale >= 0.2 else 300, plan)
    requests = pd.concat([_baseline_requests(rng, scale, pools), probes, _planted_requests(plan),
                          _story_requests(rng, scale, pools, plan)], ignore_index=True)
    requests = _polling_the_days_jobs(_as_world_users(_apply_stories(rng, requests, plan), people), plan)
    events = pd.concat([
        _request_events(requests), _section_jobs(rng, requests, pools[1], plan), _breaker_events(plan),
        _health_failures(probes, plan), _startups(plan), _slow_queries(rng, requests), _cron_jobs(),
        _inactive_user_warnings(requests),
    ], ignore_index=True)
    return events.sort_values(["t", "seq"], kind="stable", ignore_index=True)


def _json_escape(values: pa.Array) -> pa.Array:
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\t", "\\t")):
        values = pc.replace_substring(values, raw, escaped)
    return values


_NEEDS_ESCAPING = {"message", "error", "stack", "query", "userAgent"}  # the rest are ids and names


def _winston_json(events: pd.DataFrame) -> pa.Array:
    """Format events as Winston JSON lines; a missing field is left out, as JSON.stringify does."""
    stamps = pc.strftime(pa.array(events["t"].to_numpy().astype("datetime64[ms]")), format="%Y-%m-%dT%H:%M:%S")
    pieces = ["{"]
    for field in FIELD_ORDER[:-2]:
        if field not in events:
            continue
        values = pa.array(events[field], from_pandas=True)
        if field in INT_FIELDS:
            text = pc.cast(pc.cast(values, pa.int64()), pa.string())
        else:
            text = pc.cast(values, pa.string())
            text = _json_escape(text) if field in _NEEDS_ESCAPING else text
            text = pc.binary_join_element_wise('"', text, '"', "")
        separator = "" if field == "level" else ","
        pieces.append(pc.fill_null(pc.binary_join_element_wise(f'{separator}"{field}":', text, ""), ""))
    pieces += [f',"service":"{SERVICE}","timestamp":"', stamps, '+0000"}']
    return pc.binary_join_element_wise(*pieces, "")


_LATIN1_LINE = ('{"level":"error","message":"HTTP Request failed","context":"HTTP","eventType":"http_error",'
                '"method":"POST","path":"/api/v1/etps","statusCode":400,"durationMs":6,'
                '"error":"Descrição inválida","service":"' + SERVICE
                + '","timestamp":"2026-10-27T10:31:07.215+0000"}').encode("latin-1")
# The start command runs migration:run:prod, then seed:templates:prod, then start:prod; npm and
# the migration tool write plain text, not Winston JSON.
_MIGRATE = b"> etp-express-backend@1.0.0 migration:run:prod"
_BOOT_OK = [_MIGRATE, b"No migrations are pending", b"> etp-express-backend@1.0.0 seed:templates:prod",
            b"> etp-express-backend@1.0.0 start:prod", b"> node dist/main"]
_BOOT_NO_DATABASE = [_MIGRATE, b"Error during migration run:", b"Error: Connection terminated unexpectedly"]
# What each container start of the day writes (at the variant's ``world.Variant.on_call_starts``):
# restarted while the database was still down, the platform's next try, the JWT deploy.
_BOOT_LINES = (tuple(_BOOT_NO_DATABASE), tuple(_BOOT_OK), tuple(_BOOT_OK))


def _with_malformed(lines: pa.Array, times: np.ndarray, received: np.ndarray, plan: _DayPlan) -> pa.Array:
    """Plant what a log collector really delivers: cut lines, glued lines, banners, stray bytes.

    The collector's edits fall at fixed clocks of the day, unless a story is under way then: the
    edit goes to the first line after the story's span, so that no planted line is lost. An edit
    takes the first 'HTTP Request received' line from its clock on (two in a row for the glued
    pair): every request keeps its outcome line, as the month's log has it."""
    def at(clock: str, lines_taken: int = 1) -> int:
        t = _ms(clock)
        for low, high in plan.spans:
            t = high if low <= t < high else t
        start = int(np.searchsorted(times, t))
        ok = received[start:].copy()
        for shift in range(1, lines_taken):
            ok[:-shift] &= received[start + shift:]
            ok[-shift:] = False
        return start + int(np.argmax(ok))

    def line(i: int) -> bytes:
        return lines[i].as_py()

    edits = [(at(clock), 1, [line(at(clock))[: len(line(at(clock))) * 3 // 5]])  # cut by the collector
             for clock in ("2026-10-27T04:12:00", "2026-10-27T09:47:00", "2026-10-27T15:31:00")]
    nul = at("2026-10-27T08:20:00")
    glued = at("2026-10-27T11:05:00", 2)
    edits += [  # (index, lines replaced, new lines)
        (nul, 1, [b"\x00\x00\x00\x00" + line(nul)]),
        (glued, 2, [line(glued)[: len(line(glued)) // 2] + line(glued + 1)]),
        (int(np.searchsorted(times, _ms("2026-10-27T10:31:07.215"))), 0, [_LATIN1_LINE]),
    ]
    edits += [(int(np.searchsorted(times, when)), 0, list(text)) for when, text in plan.boot_text]
    pieces, position = [], 0
    for index, replaced, new in sorted(edits, key=lambda edit: (edit[0], edit[1])):
        pieces += [lines.slice(position, index - position), pa.array(new, pa.large_binary())]
        position = index + replaced
    pieces.append(lines.slice(position))
    return pa.concat_arrays(pieces)


# Lines _with_malformed adds to the events (banners and the latin-1 line) less the glued one.
_PLANTED_EXTRA_LINES = sum(map(len, _BOOT_LINES)) + 1 - 1


def _production_bytes(events: pd.DataFrame, plan: _DayPlan, n_lines: int | None = None) -> pa.Buffer:
    """The file's bytes; with ``n_lines``, the events are first thinned (at random, in time
    order) so that the file has exactly that many lines."""
    if n_lines is not None:
        rng = _noise_rng(plan.variant, DEFAULT_SEED + 1, 2)
        keep = rng.choice(len(events), n_lines - _PLANTED_EXTRA_LINES, replace=False)
        events = events.iloc[np.sort(keep)].reset_index(drop=True)
    lines = _with_malformed(pc.cast(_winston_json(events), pa.large_binary()), events["t"].to_numpy(),
                            events["eventType"].eq("http_request").to_numpy(), plan)
    lines = pa.concat_arrays([lines, pa.array([b""], pa.large_binary())])  # the final newline
    whole = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], pa.int64()), lines)
    return pc.binary_join(whole, pa.scalar(b"\n", pa.large_binary()))[0].as_buffer()


# --------------------------------------------------------------------------- public API
def production_log(size: str = "full", variant: world.Variant | None = None) -> Path:
    """Path of ``variant``'s production log (``None``: ``world.current()``): ``"full"`` is a whole
    day (about 14,500 lines), ``"sample"`` the same stories with less traffic around them."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, not {size!r}")
    plan = _day_plan(_resolve(variant))
    name = f"etp-backend-production-v{GENERATOR_VERSION}-{_file_tag(plan.variant)}-{size}.log"

    def write(fh) -> None:
        fh.write(_production_bytes(_production_events(plan, SIZES[size]), plan))

    return cache.materialise(name, write, binary=True)


def write_production_lines(path: str | Path, n_lines: int, variant: world.Variant | None = None) -> Path:
    """Write exactly ``n_lines`` production lines to ``path``: a busier day, thinned to size
    (for benchmarks; the stories' counts are not those of ``STORIES``)."""
    if n_lines < 1000:
        raise ValueError("n_lines must be at least 1000")
    plan = _day_plan(_resolve(variant))
    scale = 1.1 * n_lines / FULL_DAY_LINES
    events = _production_events(plan, scale)
    while len(events) + _PLANTED_EXTRA_LINES < n_lines:
        scale *= 1.25
        events = _production_events(plan, scale)
    path = Path(path)
    path.write_bytes(_production_bytes(events, plan, n_lines=n_lines))
    return path


def bracketed_log(variant: world.Variant | None = None) -> Path:
    """Path of the guide-style bracketed log (Exercise 5.1 as the morning of 27 October) of
    ``variant``; its planted failure is ``bracketed_facts(variant)``."""
    variant = _resolve(variant)
    name = f"etp-backend-bracketed-v{BRACKETED_VERSION}-{_file_tag(variant)}.log"
    return cache.materialise(name, lambda fh: fh.write(_bracketed_text(variant)))


def dev_log(variant: world.Variant | None = None) -> Path:
    """Path of a development-mode log (header line, then the metadata as pretty-printed JSON) of
    ``variant``; its planted failure is ``dev_facts(variant)``."""
    variant = _resolve(variant)
    name = f"etp-backend-dev-v{GENERATOR_VERSION}-{_file_tag(variant)}.log"
    return cache.materialise(name, lambda fh: fh.write(_dev_text(variant)))


# --------------------------------------------------------------------------- bracketed format
_BRACKET_LEVEL = {"info": "INFO", "warn": "WARN", "error": "ERROR", "debug": "DEBUG"}


def _local_seconds(t: np.ndarray) -> pd.Series:
    """'YYYY-MM-DD HH:mm:ss' for epoch milliseconds read as local wall-clock time."""
    text = np.datetime_as_string(np.asarray(t).astype("datetime64[ms]").astype("datetime64[s]"), unit="s")
    return pd.Series(np.char.replace(text, "T", " "), dtype="str")


def _bracketed_text(variant: world.Variant) -> str:
    rng = _noise_rng(variant, [DEFAULT_SEED, 521], 4)
    # The whole morning moves with its failure: the same traffic before and after it.
    facts = bracketed_facts(variant)
    moved = variant.shift(BRACKETED_STORY) // pd.Timedelta(milliseconds=1)
    start, stop = _ms(f"{BRACKETED_DAY}T09:15:00") + moved, _ms(f"{BRACKETED_DAY}T10:45:00") + moved
    fail, back = _ms(facts.first_failure), _ms(facts.recovered_at)
    t = np.sort(rng.integers(start, stop, rng.poisson(22 * 90)))
    t = t[(t < fail - 1000) | (t > back + 1000)]
    n = len(t)
    endpoint = rng.choice(len(_ENDPOINTS), n, p=_weights())
    head, kind, tail = (_PATH_PARTS[endpoint, i] for i in range(3))
    ident = np.select([kind == "job"], ["31877"], np.where(kind == "", "", "7c1e9a40-2b6d-4f3e-8a15-c94d0e6b2f18"))
    status = np.array([e[5] for e in _ENDPOINTS])[endpoint]
    requests = _frame(t, 0, level="info", message=_cat(
        np.array([e[0] for e in _ENDPOINTS])[endpoint], " ", head, ident, tail, " ", _as_str(status), " - ",
        _as_str(_endpoint_latency(rng, endpoint)), "ms"))
    debug = rng.random(n) < 0.15
    cache_lines = _frame(t[debug] - 3, 0, level="debug",
                         message=_cat("Cache hit for key etp:", _as_str(rng.integers(1000, 9999, debug.sum()))))
    missing = rng.random(n) < 0.01
    # Client errors are warnings here, so the first ERROR is the excerpt's, as in the guide.
    not_found = _frame(t[missing] + 1, 1, level="warn", message="NotFoundException: ETP não encontrado",
                       stack=_FRAMES["etps"])
    events = pd.concat([requests, cache_lines, not_found, _bracketed_incident(rng, fail, back)], ignore_index=True)
    events = events.sort_values(["t", "seq"], kind="stable", ignore_index=True)
    head_line = "[" + events["level"].map(_BRACKET_LEVEL) + "] " + _local_seconds(events["t"]) + " " \
        + events["message"].astype("str")
    text = head_line.where(events["stack"].isna(), head_line + "\n" + events["stack"].astype("str"))
    lines = text.tolist()
    # Railway's own line when the container starts, and npm's warning at the restart.
    lines.insert(int(np.searchsorted(events["t"].to_numpy(), back - 7000)), "npm WARN config production "
                 "Use `--omit=dev` instead.")
    lines.insert(0, "Starting Container")
    return "\n".join(lines) + "\n"


def _bracketed_incident(rng, fail: int, back: int) -> pd.DataFrame:
    """Exercise 5.1's excerpt verbatim, then what followed it until the restart."""
    query_frames = ("    at PostgresQueryRunner.query (/app/node_modules/typeorm/driver/postgres/PostgresQueryRunner.js:219:19)\n"
                    "    at EtpRepository.findOne (/app/dist/modules/etps/etp.repository.js:41:22)")
    first = _frame([fail, fail + 1000], [0, 1], level="error",
                   message=np.array(["QueryFailedError: Connection terminated unexpectedly",
                                     "NestJS Error: Unable to connect to the database"], dtype=object),
                   stack=np.array([query_frames, None], dtype=object))
    t = np.sort(rng.integers(fail + 1500, back - 9000, 140))
    dropped = rng.random(len(t)) < 0.7
    deeper = (query_frames + "\n    at async EtpsService.findOne (/app/dist/modules/etps/etps.service.js:88:21)"
              "\n    at async EtpsController.findOne (/app/dist/modules/etps/etps.controller.js:61:16)")
    failures = _frame(t, 0, level="error",
                      message=np.where(dropped, "QueryFailedError: Connection terminated unexpectedly",
                                       "Error: timeout exceeded when trying to connect").astype(object),
                      stack=np.where(dropped, deeper, _FRAMES["pool"]).astype(object))
    checks = _frame(np.arange(fail + 30_000, back - 9000, 30_000), 0, level="error",
                    message="Health check failed: Database not connected")
    boot = _frame([back - 7000, back - 4000, back], 0, level=np.array(["info", "error", "info"], dtype=object),
                  message=np.array(["Starting Nest application...",
                                    "Unable to connect to the database. Retrying (1)...",
                                    "Nest application successfully started"], dtype=object),
                  stack=np.array([None, _FRAMES["typeorm_boot"], None], dtype=object))
    return pd.concat([first, failures, checks, boot], ignore_index=True)


# --------------------------------------------------------------------------- development format
def _dev_text(variant: world.Variant) -> str:
    # The whole session moves with its failure: the same work before and after it.
    moved = variant.shift(DEV_STORY) // pd.Timedelta(milliseconds=1)
    events = _dev_events(_noise_rng(variant, [DEFAULT_SEED, 808], 5), moved, dev_facts(variant))
    context = ("[" + events["context"].astype("str") + "]").fillna("")
    head = (_local_seconds(events["t"]) + " " + events["level"].astype("str") + " " + context + " "
            + events["message"].astype("str"))
    # The Nest CLI's own output in watch mode comes before the first log line.
    boot = _ms(f"{DEV_DAY}T14:00:03") + moved
    cli = [f"[{_clock_12h(boot - 3000)}] Starting compilation in watch mode...", "",
           f"[{_clock_12h(boot - 1000)}] Found 0 errors. Watching for file changes.", ""]
    return "\n".join(cli + (head + "\n" + _pretty_meta(events)).tolist()) + "\n"


def _clock_12h(ms: int) -> str:
    """The Nest CLI's clock: '2:00:00 PM'."""
    t = pd.Timestamp(ms, unit="ms")
    return f"{t.hour % 12 or 12}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def _pretty_meta(events: pd.DataFrame) -> pd.Series:
    """``JSON.stringify(meta, null, 2)``: service first (winston's defaultMeta), then the fields."""
    keys = ["eventType", "method", "path", "statusCode", "durationMs", "ip", "requestId", "userId",
            "organizationId", "error", "stack"]
    text = pd.Series('{\n  "service": "' + SERVICE + '"', index=events.index, dtype="str")
    for key in keys:
        if key not in events:
            continue
        values = events[key]
        if key in INT_FIELDS:
            rendered = values.astype("Int64").astype("str")
        else:
            escaped = _json_escape(pa.array(values, type=pa.string(), from_pandas=True))
            rendered = '"' + pd.Series(escaped.to_pandas(), index=events.index, dtype="str") + '"'
        text = text.where(values.isna(), text + f',\n  "{key}": ' + rendered)
    return text + "\n}"


def _dev_events(rng, moved: int, facts: DevFacts) -> pd.DataFrame:
    boot = _ms(f"{DEV_DAY}T14:00:03") + moved
    first_error = _ms(facts.first_error)
    reboot = _ms(facts.restarted_at)
    startup = pd.concat([_startup(boot), _startup(reboot)], ignore_index=True).drop(columns="stack")
    ready = _frame([boot + 4000, reboot + 4000], 0, level="info", context="NestApplication",
                   message="Nest application successfully started")
    docs = _frame(boot + 4002, 0, level="info", context=None,
                  message="Swagger documentation available at http://localhost:3000/api/docs")
    t = np.sort(rng.integers(boot + 5000, _ms(f"{DEV_DAY}T14:40:00") + moved, 160))
    t = t[(t < first_error - 500) | (t > reboot + 5000)]
    n = len(t)
    endpoint = rng.choice([0, 1, 4, 8, 10], n)
    head, kind, tail = (_PATH_PARTS[endpoint, i] for i in range(3))
    who = dict(method=np.array([e[0] for e in _ENDPOINTS], dtype=object)[endpoint],
               path=_cat(head, np.where(kind == "etp", "0b5e3c7a-1d92-4f6e-a8b4-3c7d9e2f1a05", ""), tail),
               requestId=uuid4_strings(rng, n).astype(object), userId="u-1", organizationId="org-1")
    duration = _endpoint_latency(rng, endpoint)
    received = _frame(t, 0, level="info", context="HTTP", message="HTTP Request received",
                      eventType="http_request", ip="::1", **who)
    completed = _frame(t + duration, 1, level="info", context="HTTP", message="HTTP Request completed",
                       eventType="http_response", statusCode=200, durationMs=duration, **who)
    debug = _frame(t + 1, 0, level="debug", context="CacheService",
                   message=_cat("Cache miss for key etp:", _as_str(rng.integers(1, 99, n))))
    return pd.concat([startup, ready, docs, received, completed, debug,
                      _dev_story(first_error, reboot, facts.request_id)],
                     ignore_index=True).sort_values(["t", "seq"], kind="stable", ignore_index=True)


def _dev_story(first_error: int, reboot: int, request_id: str) -> pd.DataFrame:
    """A pending migration (a relation is missing), then an OpenAI call retried twice to success."""
    missing = 'relation "etp_templates" does not exist'
    stack = _cat("QueryFailedError: ", missing, "\n",
                 _FRAMES["query"].replace("EtpsService.findOne (/app/dist/modules/etps/etps.service.js",
                                          "TemplatesService.findAll (/app/dist/modules/templates/templates.service.js"))
    who = dict(method="GET", path="/api/v1/templates", requestId=request_id,
               userId="u-1", organizationId="org-1")
    failed = pd.concat([
        _frame(first_error - 31, 0, level="info", context="HTTP", message="HTTP Request received",
               eventType="http_request", ip="::1", **who),
        _frame(first_error, 1, level="error", context="HTTP", message="HTTP Request failed",
               eventType="http_error", statusCode=500, durationMs=31, error=missing, stack=stack, **who),
        _frame(first_error, 2, level="error", context="HttpExceptionFilter", message="GET /api/v1/templates",
               stack=stack),
    ], ignore_index=True)
    call = reboot + 95_000
    retries = _frame([call, call + 60_000, call + 121_041, call + 123_154 + 31_804], 0,
                     level=np.array(["info", "warn", "warn", "info"], dtype=object), context="OpenAIService",
                     message=np.array(["Generating completion with model: gpt-4.1-nano",
                                       "[OpenAI API] Attempt 1/4 failed: Request timed out.. Retrying in 1041ms...",
                                       "[OpenAI API] Attempt 2/4 failed: Request timed out.. Retrying in 2113ms...",
                                       "Completion generated in 31804ms. Tokens: 2617"], dtype=object))
    return pd.concat([failed, retries], ignore_index=True)
