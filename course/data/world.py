"""The simulated ETP Express platform: one set of parameters every dataset draws from.

Each value is traced to its section of the facts digest of the real repository
(``etp_ops_facts.md``, "§" below). Where the sources disagree the course follows its policy:
the training guide first, then what the code does, then the docs. The generators
(``traffic``, ``backend_logs``) take their numbers from here, so a request log, a health probe
and a chat message about the same incident agree on what the platform is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

SERVICE = "etp-express-backend"            # §1.1 the Winston `service` field, always this name
PORT = 3001                                # §1.1 PORT default in the code
API_PREFIX = "/api/v1"                     # §1.1 prefix /api + URI version v1
HEALTH_PATH = "/api/health"                # §1.2 liveness, version-neutral (no /v1)
SERVICES = ("etp-express-backend", "etp-express-frontend", "PostgreSQL", "Redis")  # §1.1

# §1.4 TypeORM pool: 20 connections per instance, acquire timeout 5000 ms, 3 retries 1 s apart.
POOL_MAX = 20
POOL_ACQUIRE_TIMEOUT_MS = 5_000
DB_RETRY_ATTEMPTS = 3
DB_RETRY_DELAY_MS = 1_000
SLOW_QUERY_MS = 1_000                      # §1.4 maxQueryExecutionTime in the code (docs: 3000)

# §1.6 OpenAI circuit breaker (code values; a doc says 60 s reset) and retries.
BREAKER_TIMEOUT_MS = 60_000
BREAKER_RESET_MS = 30_000
OPENAI_ATTEMPTS = 4                        # 1 call + 3 retries, 1-8 s backoff

# §1.3 section generation is asynchronous: POST .../generate enqueues a BullMQ job on queue
# `sections` and answers 202 with a jobId; the client polls GET /sections/jobs/:id every 2-3 s.
GENERATE_STATUS = 202
JOB_POLL_EVERY_MS = 3_000

# §2 latency targets (p50, p95) per kind of work, in ms; generators centre their draws on them.
LATENCY_TARGETS_MS = {
    "health": (100, 200), "auth": (300, 800), "crud": (500, 1_500),
    "llm": (5_000, 15_000), "export": (3_000, 8_000),
}
LLM_TIMEOUT_MS = 60_000                    # §2 LLM generation timeout (= the breaker's timeout)

# §2 measurement: health checked every 30 s with a 5 s timeout. Railway itself only probes a
# deploy until it is live (§1.1 healthcheckTimeout), so the month's probes come from an
# external uptime monitor calling /api/health on that schedule.
PROBE_INTERVAL_S = 30
PROBE_TIMEOUT_MS = 5_000

# §2 support hours (BRT, UTC-3): 08:00-18:00 on weekdays; P0 and P1 are answered 24/7.
SUPPORT_HOURS_BRT = (8, 18)
ALWAYS_ON_CALL = ("P0", "P1")
UTC_OFFSET_BRT_H = -3

# §5.2-5.3 what the backend's libraries say when the database is in trouble.
POOL_TIMEOUT_ERROR = "timeout exceeded when trying to connect"       # pg-pool: every slot busy
DROPPED_CONNECTION_ERROR = "Connection terminated unexpectedly"       # the server end went away
OOM_MESSAGE = "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"
# §5.1 what a user sees, and the worker logs, while the OpenAI breaker is open
AI_UNAVAILABLE = "Serviço de IA temporariamente indisponível. Tente novamente em alguns minutos."


@dataclass(frozen=True)
class LogNormal:
    """A positive duration given by its median and 95th percentile (both in ms)."""

    median: float
    p95: float

    @property
    def sigma(self) -> float:
        return math.log(self.p95 / self.median) / 1.6448536269514722


# §2: LLM generation p50 5 s, p95 15 s (p99 30 s): an ordinary day meets the guide's 30 s SLO
# for almost every section; a degraded OpenAI is what breaks it.
LLM_SECTION = LogNormal(*LATENCY_TARGETS_MS["llm"])


# -- traffic: one population, one daily rhythm, for the month and for any day of it ------------
MONTH = "2026-10"                          # the simulated month every dataset lives in
ON_CALL_DAY = "2026-10-27"                 # Module 5's day of logs: a Tuesday of that month
USERS, ORGANIZATIONS = 420, 38
USER_ACTIONS_PER_MONTH = 85_000            # API calls users make (polls of running jobs aside)
SECTION_JOBS_PER_MONTH = 4_000

# Relative traffic by BRT hour on a working day: office hours, a lunch dip.
HOURLY_SHAPE_BRT = (0.04, 0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.25, 0.65, 0.95, 1.00, 0.95,
                    0.60, 0.80, 1.00, 1.00, 0.90, 0.70, 0.40, 0.25, 0.20, 0.15, 0.10, 0.06)
QUIET_DAY_FACTOR = 0.12                    # weekends and the 12 Oct national holiday
HOLIDAYS_BRT = ("2026-10-12",)


def minute_intensity(start_utc: str, days: int):
    """Relative traffic for every minute from ``start_utc`` (a working day's busiest hour = 1)."""
    import numpy as np
    import pandas as pd

    minutes = pd.date_range(pd.Timestamp(start_utc, tz="UTC"), periods=days * 1440, freq="min")
    brt = minutes.tz_convert(None) + pd.Timedelta(hours=UTC_OFFSET_BRT_H)
    quiet = (brt.day_of_week >= 5) | brt.normalize().isin(pd.to_datetime(list(HOLIDAYS_BRT)))
    return np.asarray(HOURLY_SHAPE_BRT)[brt.hour.to_numpy()] * np.where(quiet, QUIET_DAY_FACTOR, 1.0)


def user_actions_per_peak_minute() -> float:
    """How many user actions the busiest minute of a working day sees, on average."""
    return USER_ACTIONS_PER_MONTH / minute_intensity(f"{MONTH}-01", 31).sum()

# -- the on-call day: its incidents, in UTC, seen by the month (Module 2) and the day (Module 5) --
ON_CALL_INCIDENTS = {
    # the database failed over: open connections dropped, the pool starved until it was back
    "db_failover": ("2026-10-27 13:02:06.390", "2026-10-27 13:21:25.861"),
    # OpenAI timed out; after the retries the circuit breaker opened, generation jobs failed
    "openai_breaker": ("2026-10-27 16:40:05.118", "2026-10-27 16:57:04.355"),
    # a deploy replaced JWT_SECRET without JWT_SECRET_OLD: logged-in users got 401s
    "jwt_rotation": ("2026-10-27 19:03:52.731", "2026-10-27 19:33:52.731"),
}
# Container starts of that day (the start command's first line): the first failed its migrations.
ON_CALL_STARTS = ("2026-10-27 13:21:14.310", "2026-10-27 13:21:15.805", "2026-10-27 19:03:41.910")


# -- variants: every trainee gets their own placement of the planted incidents ----------------
# A variant moves each planted story by its own offset, inside bounds that keep the story on its
# day, in the same order and at the same kind of hour, so every exercise stays as hard as the
# canonical one and keeps one right answer. Everything inside a story (its length, its milestones,
# how its errors unfold) moves with it; the noise around it (requests, users, ids) is redrawn.
CANONICAL_SEED = 0                          # the narrated world: variants off, or a trainer's read
COURSE_ID = "etp-ops-academy"               # nbgrader's CourseDirectory.course_id
SEED_ENV = "ETP_WORLD_SEED"                 # set for a graded kernel: the submission's world
VARIANTS_ENV = "ETP_VARIANTS"               # "off": one world for every trainee
COURSE_ENV = "ETP_COURSE_ID"
TRAINEE_ENV = "JUPYTERHUB_USER"             # on a hub, the user the server runs for

# story: (earliest, latest) shift in minutes. The on-call day's three stay apart and in order.
STORY_SHIFT_MINUTES = {
    "db_failover": (-120, 45),              # 11:02 to 13:47 UTC: the working morning, BRT
    "openai_breaker": (-60, 50),            # 15:40 to 17:30 UTC
    "jwt_rotation": (-55, 60),              # 18:08 to 20:03 UTC
    "pool_exhaustion": (-90, 90),
    "redis_outage": (-90, 90),
    "slow_llm": (-120, 30),
    "crash_loop": (-120, 60),
    "pdf_export_broken": (-120, 60),
    # Module 5's other two logs move whole (their traffic with them); named so that they sort
    # after every other story, which leaves the other stories' offsets as they were.
    # No longer used (the bracketed morning moves with db_failover); kept because each offset is
    # drawn by the story's place in this sorted list, and removing it would move the next one.
    "sunday_db_failure": (-120, 60),
    "unapplied_migration": (-240, 180),     # the developer's session: 10:00-10:40 to 17:00-17:40
}
# The month's bad LLM afternoon falls on one of these working days with no other incident.
SLOW_LLM_DAYS = ("2026-10-06", "2026-10-08", "2026-10-13", "2026-10-16", "2026-10-20",
                 "2026-10-22", "2026-10-28")
CANONICAL_SLOW_LLM_DAY = "2026-10-20"


def seed_for(trainee_id: str, course_id: str = COURSE_ID) -> int:
    """The world seed of one trainee of one course: stable, and never the canonical seed."""
    import hashlib

    digest = hashlib.sha256(f"{course_id}\0{trainee_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:6], "big") or 1


@dataclass(frozen=True)
class Variant:
    """One trainee's world: where each planted story sits, and the seed of the noise around it."""

    seed: int = CANONICAL_SEED

    @property
    def canonical(self) -> bool:
        return self.seed == CANONICAL_SEED

    def rng(self, *stream: int):
        """A random stream of this variant; ``stream`` keeps the draws of each use apart."""
        import numpy as np

        return np.random.default_rng([self.seed, *stream])

    def shift(self, story: str):
        """How far ``story`` moves from its canonical time (a Timedelta, zero when canonical)."""
        import pandas as pd

        if self.canonical:
            return pd.Timedelta(0)
        low, high = STORY_SHIFT_MINUTES[story]
        index = sorted(STORY_SHIFT_MINUTES).index(story)
        minutes = int(self.rng(31, index).integers(low, high + 1))  # whole minutes: chat lines
        days = self._slow_llm_days() if story == "slow_llm" else 0  # are stamped to the minute
        return pd.Timedelta(days=days, minutes=minutes)

    def _slow_llm_days(self) -> int:
        import pandas as pd

        day = SLOW_LLM_DAYS[int(self.rng(32).integers(len(SLOW_LLM_DAYS)))]
        return (pd.Timestamp(day) - pd.Timestamp(CANONICAL_SLOW_LLM_DAY)).days

    def at(self, story: str, when: str) -> str:
        """Canonical time ``when`` of ``story`` moved to this variant, in the same text format."""
        import pandas as pd

        if self.canonical:
            return when
        moved = pd.Timestamp(when.rstrip("Z")) + self.shift(story)
        text = moved.isoformat(sep="T" if "T" in when else " ", timespec="milliseconds")
        if "." not in when:
            text = text[: len(when.rstrip("Z"))]
        return text + ("Z" if when.endswith("Z") else "")

    def on_call_incidents(self) -> dict[str, tuple[str, str]]:
        """``ON_CALL_INCIDENTS`` of this variant."""
        return {name: (self.at(name, start), self.at(name, end))
                for name, (start, end) in ON_CALL_INCIDENTS.items()}

    def on_call_starts(self) -> tuple[str, ...]:
        """``ON_CALL_STARTS`` of this variant (the first two restart after the failover)."""
        stories = ("db_failover", "db_failover", "jwt_rotation")
        return tuple(self.at(story, when) for story, when in zip(stories, ON_CALL_STARTS))


def resolve(variant: "Variant | int | None") -> Variant:
    """A generator's ``variant`` argument: ``None`` is ``current()``, an int is a world seed."""
    if variant is None:
        return current()
    if isinstance(variant, Variant):
        return variant
    if isinstance(variant, int) or type(variant).__name__.startswith(("int", "uint")):
        if not isinstance(variant, bool):
            return Variant(int(variant))
    raise TypeError(f"variant must be a course.data.world.Variant, not {type(variant).__name__}")


def trainee_id() -> str:
    """Who this kernel works for: the id the work is handed in under (``handin.handed_in_as``:
    the hub user, else nbgrader's ``CourseDirectory.student_id``, else the login name)."""
    from course.data.handin import handed_in_as

    return handed_in_as()


def own_world_id() -> str | None:
    """The trainee id ``current()`` derives its world from; None when a seed is set instead."""
    import os

    if _override or os.environ.get(SEED_ENV, "").strip():
        return None
    if os.environ.get(VARIANTS_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return None
    return trainee_id()


_override: list[int] = []


def current() -> Variant:
    """The world this process should see.

    In order: a seed set with ``using`` (the trainer's verdicts), ``$ETP_WORLD_SEED`` (a graded
    kernel), the canonical world when ``$ETP_VARIANTS`` is ``off``, else the trainee's own seed.
    """
    import os

    if _override:
        return Variant(_override[-1])
    if os.environ.get(SEED_ENV, "").strip():
        return Variant(int(os.environ[SEED_ENV]))
    if os.environ.get(VARIANTS_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return Variant(CANONICAL_SEED)
    return Variant(seed_for(trainee_id(), os.environ.get(COURSE_ENV) or COURSE_ID))


class using:
    """``with world.using(seed):`` makes ``current()`` that seed's world (nestable)."""

    def __init__(self, seed: int):
        self.seed = int(seed)

    def __enter__(self) -> Variant:
        _override.append(self.seed)
        return Variant(self.seed)

    def __exit__(self, *exc) -> None:
        _override.pop()


# =================================================================================================
# Railway and Sentry: the project, its services and its error tracker as Modules 1 and 3 see them
# (``course.data.platform``, ``course.data.sentry``). The repository has the configuration files'
# values; production values are not in it (§10), so where the digest has no figure the course sets
# one and says so ("course value").
# =================================================================================================
RAILWAY_PROJECT = "etp-express"                                      # §1.1
BACKEND, FRONTEND, POSTGRES, REDIS = SERVICES                          # §1.1
READY_PATH = "/api/health/ready"                                     # §1.2 readiness, no /v1
FRONTEND_HEALTH_PATH = "/"                                           # §1.1
GIT_REPOSITORY, GIT_BRANCH = "CONFENGE/etp-express", "master"        # §8 access items; §4.5 push to master
REPLICAS = {BACKEND: 2, FRONTEND: 1, POSTGRES: 1, REDIS: 1}          # §1.1 numReplicas = 2; frontend 1-2
STAGING_REPLICAS = {BACKEND: 1, FRONTEND: 1, POSTGRES: 1, REDIS: 1}  # course value
# §1.1 runbook §3.1 / §4.4: min and max replicas, target CPU %, target memory %.
SCALING = {BACKEND: (2, 4, 70, 80), FRONTEND: (1, 2, 70, 80)}
# §1.1 the start command runs migrations, then the template seed, then the app.
START_COMMANDS = {
    BACKEND: "npm run migration:run:prod && npm run seed:templates:prod && npm run start:prod",
    FRONTEND: "serve -s dist",
}
HEALTHCHECK_TIMEOUT_S = 300                  # §1.1 backend/railway.toml healthcheckTimeout
RESTART_POLICY = "ON_FAILURE"                # §1.1
RESTART_MAX_RETRIES = 10                     # §1.1 root .railway.toml (§9.23: 10 vs 3)
DATABASE_IMAGES = {POSTGRES: "ghcr.io/railwayapp-templates/postgres-ssl:15", REDIS: "redis:7"}  # §1.1 PostgreSQL 15
PUBLIC_DOMAINS = {BACKEND: "etp-express-backend-production.up.railway.app",     # §9.28 the
                  FRONTEND: "etp-express-frontend-production.up.railway.app"}   # *-production form
# Per replica: vCPUs and memory limit in MB (course values). The backend's limit is what its
# memory is measured against: the alert rules below are percentages of it.
RESOURCES = {BACKEND: (2, 2048), FRONTEND: (1, 512), POSTGRES: (2, 4096), REDIS: (1, 512)}

# §1.7 environment variables by NAME (the course never holds a value). Backend: the required
# ones, then the optional ones production sets; SESSION_SECRET is documented and rotated by the
# runbook (§4.1) but never read by the code (§1.7, §9.19). RAILWAY_GIT_COMMIT_SHA is provided by
# Railway itself. A variant also sets a few of the optional tuning names (``OPTIONAL_VARIABLES``).
ENV_VARIABLES = {
    BACKEND: ("DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY", "EXA_API_KEY", "CORS_ORIGINS",
              "NODE_ENV", "PORT", "FRONTEND_URL", "JWT_EXPIRATION", "OPENAI_MODEL", "REDIS_URL",
              "DB_POOL_MAX", "DB_POOL_MIN", "DB_CONNECTION_TIMEOUT", "DB_MIGRATIONS_RUN",
              "SENTRY_DSN", "SENTRY_TRACES_SAMPLE_RATE", "PUPPETEER_EXECUTABLE_PATH",
              "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SESSION_SECRET"),
    FRONTEND: ("VITE_API_URL", "VITE_APP_NAME", "VITE_SENTRY_DSN"),
    POSTGRES: ("POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"),
    REDIS: ("REDIS_PASSWORD", "REDIS_URL"),   # what the backend's REDIS_URL points at (§1.7)
}
RAILWAY_PROVIDED_VARIABLES = {BACKEND: ("RAILWAY_GIT_COMMIT_SHA",)}   # §1.7, §3.1 Sentry release
OPTIONAL_VARIABLES = ("SHUTDOWN_TIMEOUT", "OPENAI_MAX_TOKENS", "OPENAI_TEMPERATURE", "EXA_TYPE",
                      "EXA_NUM_RESULTS", "EXA_FALLBACK_ENABLED", "EXA_FALLBACK_THRESHOLD",
                      "DB_IDLE_TIMEOUT", "DB_RETRY_ATTEMPTS", "DB_RETRY_DELAY", "DB_LOGGING",
                      "RATE_LIMIT_ENABLED", "RATE_LIMIT_TTL", "RATE_LIMIT_MAX", "SINAPI_API_KEY",
                      "CONTRATOS_GOVBR_CLIENT_ID", "CONTRATOS_GOVBR_CLIENT_SECRET",
                      "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_SERVICE_NAME")
# Staging is in the middle of a dual-key rotation (§4.2): it also holds JWT_SECRET_OLD. Production
# does not: the on-call day's deploy replaced JWT_SECRET without it (ON_CALL_INCIDENTS).
STAGING_EXTRA_VARIABLES = {BACKEND: ("JWT_SECRET_OLD",)}
# Names whose values are secrets: credentials, keys, and URLs that embed a password.
SECRET_VARIABLES = frozenset({
    "DATABASE_URL", "JWT_SECRET", "JWT_SECRET_OLD", "SESSION_SECRET", "OPENAI_API_KEY", "EXA_API_KEY",
    "REDIS_URL", "REDIS_PASSWORD", "SMTP_PASSWORD", "POSTGRES_PASSWORD", "SINAPI_API_KEY",
    "SINAPI_WEBHOOK_SECRET", "CONTRATOS_GOVBR_CLIENT_SECRET", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "OTEL_EXPORTER_OTLP_HEADERS", "RAILWAY_TOKEN", "RAILWAY_API_TOKEN",
})

# The on-call day's two deploys went live when Nest reported it had started (the backend's logs):
# the restart after the failover, and the deploy that replaced JWT_SECRET.
ON_CALL_LIVE = {"db_failover": "2026-10-27 13:21:25.861", "jwt_rotation": "2026-10-27 19:03:51.604"}
# §1.6 the OpenAI breaker first opened at this time of the outage (the backend's logs) and stayed
# open, with half-open tries, until the outage's end.
OPENAI_BREAKER_OPENED = "2026-10-27 16:44:02.771"

# §3.1 Sentry: environment = NODE_ENV (production, staging), release = RAILWAY_GIT_COMMIT_SHA,
# BadRequestException dropped in production. One project per application.
SENTRY_ENVIRONMENTS = ("production", "staging")
SENTRY_PROJECTS = {BACKEND: "node", FRONTEND: "javascript-react"}
SENTRY_DROPPED_IN_PRODUCTION = ("BadRequestException",)
# Course value: the exception filter reports client errors (4xx) at level "warning" and
# everything else at "error". "Errors" in Module 3 are the issues at level error or fatal.
SENTRY_WARNING_BELOW_STATUS = 500
SENTRY_ERROR_LEVELS = ("error", "fatal")

# §3.2 the resource alert rules, by source (they disagree): (source, metric, above %, for minutes,
# severity). "For n minutes" means n consecutive one-minute samples above the threshold; a rule
# without a duration fires on one sample. Percentages are of the replica's limit (RESOURCES).
RESOURCE_ALERT_RULES = (
    ("SLA.md", "cpu_percent", 90, 10, "P2"),
    ("SLA.md", "memory_percent", 90, 1, "P1"),
    ("MONITORING.md", "memory_percent", 85, 1, "P1"),
    ("DEPLOY_RAILWAY.md", "cpu_percent", 80, 1, None),
    ("DEPLOY_RAILWAY.md", "memory_percent", 85, 1, None),
)


# =================================================================================================
# Module 4, operational procedures (``course.data.auth``): the JWT secret rotation of 27 Oct, and
# the procedures' table. Production's JWT_EXPIRATION is set (ENV_VARIABLES) but its value is not in
# the repository (§10): the course sets it to the auth cookie's lifetime ("course value").
# =================================================================================================
JWT_ALGORITHM = "HS256"                      # §4.2 tokens signed and verified with a shared secret
JWT_EXPIRATION = "24h"                       # course value: the cookie's maxAge is 24 h (§4.2); the
JWT_EXPIRATION_S = 24 * 3600                 # code's default is 7d, TROUBLESHOOTING says 8 h (§9.15)
JWT_EXPIRATION_DEFAULT = "7d"                # §1.7 the code's default when the variable is unset
JWT_SECRET_BYTES = 32                        # §4.2 `openssl rand -base64 32` (§9.17: -hex 32, 64 chars)
JWT_SECRET_MIN_LENGTH = 32                   # §1.7 JWT_SECRET: at least 32 characters
DUAL_KEY_OVERLAP_H = (24, 48)                # §4.2 keep JWT_SECRET_OLD 24-48 h, then delete it
DUAL_KEY_WARNING = ("Dual-key rotation mode active: accepting both JWT_SECRET and "
                    "JWT_SECRET_OLD")        # §4.2 the log line that confirms the mode
TOKEN_INVALID = "Token inválido"             # §4.2, §5.1 the 401 when no secret verifies a token
STALE_TOKEN_SHARE = 0.012                    # course value: requests refused so on an ordinary day
# §4.1 the guide's table: procedure -> (frequency, risk, time).
PROCEDURES = {
    "Secret rotation (JWT)": ("Monthly", "High", "10 min"),
    "Database migration": ("On demand", "High", "15 min"),
    "Service scaling": ("On demand", "Low", "5 min"),
    "Deployment rollback": ("Emergency", "Medium", "5 min"),
}
# §4.5 runbook §6.1 (with the guide's answer key, §7 4.2): a rollback from the dashboard.
ROLLBACK_STEPS = (
    "Open the backend service's Deployments in Railway",
    "Pick the last good deployment",
    "Open its ⋮ menu, choose 'Rollback to this deployment' and confirm",
    "Check /api/health and the logs",
)


# =================================================================================================
# Module 6, incident response: the page that wakes the on-call, and the incident the module's drill
# replays, the Redis outage of the month (``traffic.PLANTED["redis_outage"]``; its chat in
# ``traffic.INCIDENTS``, its health checks and metrics in ``platform``, its events in ``sentry``).
# =================================================================================================
PAGE_AFTER_FAILED_CHECKS = 3   # §3.2 OPS_ALERTING: the monitor pages on the 3rd consecutive failed 30 s check
DRILL_STORY = "redis_outage"   # the story Module 6 replays, hour by hour, in the trainee's own world
