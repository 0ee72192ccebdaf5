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
