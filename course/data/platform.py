"""Railway's view of the simulated ETP Express platform, for Modules 1 and 3.

Four raw files stand in for what an on-call engineer reads in the Railway project
``etp-express`` and in its uptime monitor:

- ``project_export()``: the project's configuration as JSON: for each environment (production,
  staging) the four services of ``world.SERVICES`` with their replicas, health-check path, start
  command, restart policy, resources and the NAMES of their environment variables, secrets
  flagged by name. No value of any variable is ever written.
- ``health_checks()``: the uptime monitor's checks every 5 minutes, one JSON object per line:
  ``/api/health`` (liveness) on the 5-minute mark, ``/api/health/ready`` (readiness) 15 s later,
  the frontend's ``/`` 20 s later. The liveness check on the mark is the very probe
  ``traffic.health_probe_log`` records at that second (same status, time and body). Both backend
  endpoints answer 200 even when unhealthy (§1.2): the body says what is wrong, and the
  readiness body says which dependency: ``database_disconnected`` during the failover of 27 Oct,
  ``redis_disconnected`` during the Redis outage of 14 Oct, ``degraded`` with the OpenAI circuit
  open during the breaker outage of 27 Oct.
- ``metrics()``: Railway's metrics for the whole month at one-minute resolution, one CSV row per
  minute, service and replica: CPU (% of the replica's vCPUs), memory (MB, and the replica's
  limit), network in and out (MB in that minute). An empty cell means no container was running.
- ``deployment_history()``: every deployment of the production environment (JSON): id, service,
  status (SUCCESS for the one live at the end, REMOVED once replaced, FAILED, CRASHED), what
  triggered it (push, rollback, redeploy, variables), commit, and when it was created, when its
  container started and when it went live (or failed).

Everything sits on the timeline of ``course.data.traffic`` for the same ``world.Variant``
(default ``world.current()``): the backend's deployments start their containers exactly at
``traffic.deploys_utc(variant)``, the on-call day's restarts at ``variant.on_call_starts()``, and
every story window is ``traffic.planted(variant)``. What the views show of each story:

- ``pool_exhaustion``: PostgreSQL's CPU above 90 % for the whole window (the slow report
  queries); the backend waits, its CPU drops; liveness and readiness checks mostly time out.
- ``redis_outage``: Redis has no container for the window, then restarts nearly empty.
- ``crash_loop``: the leaking release goes live, the backend's memory climbs towards the
  replica's limit (above 85 %, then 90 %) until the first out-of-memory restart at the window's
  start; then each restart runs out of heap ``traffic.CRASH_AFTER_START_MS`` after it starts
  (``world.OOM_MESSAGE`` in the backend's log), with no container between restarts, until the
  rollback to the previous release goes live. The leaking deployment ends CRASHED.
- ``pdf_export_broken``: the release without Chromium and the fix that ends it.
- ``db_failover``: PostgreSQL has no container until the database is back, then a short CPU
  spike while every pool reconnects; the backend is redeployed (its first container fails its
  migrations, the restart policy starts the second) and goes live when Nest has started.
- ``openai_breaker``: readiness ``degraded`` while the breaker is open.
- ``jwt_rotation``: a deployment triggered by a variables change (JWT_SECRET replaced).

Two stories are this view's own, placed per variant: on 29 Oct a backend build FAILED (no
container ever started; the next push fixed it), and in the last week a frontend release broke
a header widget and was rolled back a few minutes later (the errors are in Sentry, see
``course.data.sentry``). Frontend deployments never show in the backend's sources.

``deployments(variant)``, ``last_good_deployment(variant)``, ``live_deployment(...)`` and
``planted(variant)`` give the planted facts; the analysis a trainee does lives in
``course.trainer.reference.platform``.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course.data import cache, traffic, world
from course.data.ids import uuid4_strings

GENERATOR_VERSION = 2
STREAM = 3101                                   # this module's random streams: variant.rng(STREAM, use)
_USES = ("deployments", "project", "checks", "metrics")

BACKEND, FRONTEND, POSTGRES, REDIS = world.BACKEND, world.FRONTEND, world.POSTGRES, world.REDIS
MONTH_START, MONTH_END = traffic.MONTH_START, traffic.MONTH_END
EXPORTED_AT = MONTH_END                         # every export is taken as the month ends
LAST_7_DAYS = (MONTH_END - pd.Timedelta(days=7), MONTH_END)
CHECK_EVERY_S = 300                             # the monitor's export: every 5 minutes
READY_OFFSET_S, FRONTEND_OFFSET_S = 15, 20
BOOT_TO_LIVE_MS = 2_820                         # the start command's "Nest application successfully
                                                # started" comes this long after it ran (traffic)
DEPLOY_STATUSES = ("SUCCESS", "REMOVED", "FAILED", "CRASHED")
TRIGGERS = ("push", "rollback", "redeploy", "variables")

# The frontend's release that broke a header widget lands on one of these working days of the
# last week (never the on-call day); it is rolled back within half an hour.
FRONTEND_STORY_DAYS = ("2026-10-26", "2026-10-28", "2026-10-29", "2026-10-30")
CANONICAL_FRONTEND_STORY_DAY = "2026-10-28"
FRONTEND_TYPO_FIX_UTC = "2026-10-08 18:47:31"   # INC-2026-10-02-01 resolved 16:05 BRT that day
BACKEND_BEFORE_MONTH_UTC = "2026-09-29 14:06:33"
FRONTEND_BEFORE_MONTH_UTC = "2026-09-30 15:20:10"

_BACKEND_MESSAGES = {
    "before": "chore(deps): bump @nestjs packages to 10.4.15",
    "routine_1": "feat(etps): filter the ETP list by status",
    "routine_2": "fix(auth): refresh the cookie path after login",
    "leak": "feat(sections): faster section previews",
    "no_chromium": "chore(docker): slimmer runtime image",
    "chromium_fix": "fix(docker): install chromium in the runtime image",
    "failed_build": "feat(templates): template usage statistics",
    "build_fix": "fix(templates): missing import in usage statistics",
}
_FRONTEND_MESSAGES = (
    "feat(etp-form): autosave indicator", "fix(editor): keep the cursor after autosave",
    "chore(deps): bump react-router to 6.28", "feat(dashboard): filter charts by month",
    "fix(export): disable the PDF button while exporting", "style(etps): denser ETP table",
    "feat(sections): show generation progress", "fix(login): focus the e-mail field",
    "chore(i18n): revise pt-BR strings", "feat(templates): preview before applying",
    "fix(a11y): labels on the section toolbar", "perf(editor): lazy-load the rich-text editor",
)


# ---------------------------------------------------------------- variants and helpers

def _variant(variant: world.Variant | int | None) -> world.Variant:
    return world.resolve(variant)


def _rng(variant: world.Variant, use: str) -> np.random.Generator:
    return variant.rng(STREAM, _USES.index(use))


def _ts(text) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _iso(stamps, unit: str = "ms") -> np.ndarray:
    """'2026-10-21T17:50:20.000Z' for each UTC time (NaT gives None)."""
    index = pd.DatetimeIndex(pd.Series(stamps, dtype="datetime64[ns, UTC]"))
    text = np.datetime_as_string(index.tz_convert(None).to_numpy().astype(f"datetime64[{unit}]"), unit=unit)
    return np.where(index.isna(), None, np.char.add(text.astype(str), "Z")).astype(object)


def _hex(rng: np.random.Generator, n: int, length: int = 40) -> np.ndarray:
    raw = rng.integers(0, 16, size=(n, length))
    return np.array(["".join("0123456789abcdef"[d] for d in row) for row in raw], dtype=object)


def _file_name(stem: str, suffix: str, variant: world.Variant, depends_on_traffic: bool = False) -> str:
    upstream = f"t{traffic.GENERATOR_VERSION}" if depends_on_traffic else ""
    return f"{stem}_v{GENERATOR_VERSION}{upstream}_world{variant.seed}{suffix}"


def _working_days_brt() -> list[str]:
    days = pd.bdate_range("2026-10-01", "2026-10-30")
    return [d.strftime("%Y-%m-%d") for d in days if d.strftime("%Y-%m-%d") not in world.HOLIDAYS_BRT]


def _brt_to_utc(day: str, minutes_after_midnight: float) -> pd.Timestamp:
    return _ts(day) + pd.Timedelta(minutes=float(minutes_after_midnight)) - pd.Timedelta(hours=world.UTC_OFFSET_BRT_H)


# ---------------------------------------------------------------- deployments

@dataclass(frozen=True, eq=False)
class _Platform:
    """One variant's platform: its deployments and the stories' times, shared by every view."""

    variant: world.Variant
    deployments: pd.DataFrame
    windows: dict
    facts: dict


def _backend_deployments(variant: world.Variant, rng: np.random.Generator) -> list[dict]:
    (routine_1, routine_2, leak, rollback, no_chromium, chromium_fix, build_fix,
     failover_start, jwt_start) = (_ts(t) for t in traffic.deploys_utc(variant))
    failover_first = _ts(variant.on_call_starts()[0])
    failover_live = _ts(variant.at("db_failover", world.ON_CALL_LIVE["db_failover"]))
    jwt_live = _ts(variant.at("jwt_rotation", world.ON_CALL_LIVE["jwt_rotation"]))

    def build_s() -> pd.Timedelta:      # a Nixpacks build and image push before the container starts
        return pd.Timedelta(seconds=float(rng.uniform(95, 230)))

    def quick_s() -> pd.Timedelta:      # no build: an existing image is started again
        return pd.Timedelta(seconds=float(rng.uniform(12, 40)))

    def boot(start: pd.Timestamp) -> pd.Timestamp:
        return start + pd.Timedelta(milliseconds=BOOT_TO_LIVE_MS + int(rng.integers(600, 4_000)))

    def push(key, start, incident=""):
        return dict(key=key, service=BACKEND, trigger="push", source=None, created=start - build_s(),
                    started=start, finished=boot(start), message=_BACKEND_MESSAGES[key], incident=incident)

    before = _ts(BACKEND_BEFORE_MONTH_UTC)
    failed_created = build_fix - pd.Timedelta(minutes=float(rng.uniform(14, 40)))
    return [
        push("before", before),
        push("routine_1", routine_1),
        push("routine_2", routine_2),
        push("leak", leak, "crash_loop"),
        dict(key="rollback", service=BACKEND, trigger="rollback", source="routine_2", created=rollback - quick_s(),
             started=rollback, finished=boot(rollback), message=None, incident=""),
        push("no_chromium", no_chromium, "pdf_export_broken"),
        push("chromium_fix", chromium_fix),
        # The on-call redeployed during the failover: the first container failed its migrations
        # (the database was still down), the restart policy started it again, and it went live.
        dict(key="failover_redeploy", service=BACKEND, trigger="redeploy", source="chromium_fix",
             created=failover_first - quick_s(), started=failover_first, finished=failover_live,
             message=None, incident=""),
        dict(key="jwt_variables", service=BACKEND, trigger="variables", source="failover_redeploy",
             created=jwt_start - quick_s(), started=jwt_start, finished=jwt_live, message=None,
             incident="jwt_rotation"),
        dict(key="failed_build", service=BACKEND, trigger="push", source=None, created=failed_created,
             started=pd.NaT, finished=failed_created + pd.Timedelta(seconds=float(rng.uniform(70, 150))),
             message=_BACKEND_MESSAGES["failed_build"], incident="", failed=True),
        push("build_fix", build_fix),
    ]


def _frontend_deployments(variant: world.Variant, rng: np.random.Generator) -> list[dict]:
    story_day = (CANONICAL_FRONTEND_STORY_DAY if variant.canonical
                 else FRONTEND_STORY_DAYS[int(rng.integers(len(FRONTEND_STORY_DAYS)))])
    busy = {story_day, world.ON_CALL_DAY, FRONTEND_TYPO_FIX_UTC[:10]}
    candidates = [day for day in _working_days_brt() if day not in busy]
    routine_days = sorted(rng.choice(candidates, int(rng.integers(6, 10)), replace=False))
    messages = rng.permutation(len(_FRONTEND_MESSAGES))

    def live(start):
        return start + pd.Timedelta(milliseconds=int(rng.integers(1_500, 4_000)))

    def push(key, start, message, incident=""):
        created = start - pd.Timedelta(seconds=float(rng.uniform(60, 140)))
        return dict(key=key, service=FRONTEND, trigger="push", source=None, created=created, started=start,
                    finished=live(start), message=message, incident=incident)

    rows = [push("before", _ts(FRONTEND_BEFORE_MONTH_UTC), "chore(deps): bump vite to 5.4.10"),
            push("typo_fix", _ts(FRONTEND_TYPO_FIX_UTC), "fix(etp-form): help text typo")]
    for i, day in enumerate(routine_days):
        start = _brt_to_utc(day, rng.uniform(10 * 60, 17.5 * 60)).floor("s")
        rows.append(push(f"routine_{i + 1}", start, _FRONTEND_MESSAGES[messages[i]]))
    bad_start = _brt_to_utc(story_day, rng.uniform(10 * 60, 16 * 60)).floor("s")
    bad = push("bad_release", bad_start, "feat(header): notifications menu", "frontend_bad_release")
    previous = max((r for r in rows if r["started"] < bad_start), key=lambda r: r["started"])
    back = (bad["finished"] + pd.Timedelta(minutes=float(rng.uniform(9, 25)))).floor("s")
    rows += [bad, dict(key="bad_rollback", service=FRONTEND, trigger="rollback", source=previous["key"],
                       created=back - pd.Timedelta(seconds=float(rng.uniform(10, 30))), started=back,
                       finished=live(back), message=None, incident="")]
    later = [day for day in _working_days_brt() if day > story_day and day != world.ON_CALL_DAY]
    if later:  # the fix goes out the next working day, when there is one left in the month
        start = _brt_to_utc(later[0], rng.uniform(10 * 60, 12 * 60)).floor("s")
        rows.append(push("bad_fix", start, "fix(header): notifications menu guard"))
    return rows


def _database_deployments() -> list[dict]:
    rows = []
    for service, started in ((POSTGRES, "2026-09-02 11:04:51"), (REDIS, "2026-09-02 11:06:17")):
        start = _ts(started)
        rows.append(dict(key="image", service=service, trigger="push", source=None,
                         created=start - pd.Timedelta(seconds=38), started=start,
                         finished=start + pd.Timedelta(seconds=9), message=None, incident=""))
    return rows


def _deployment_frame(variant: world.Variant) -> pd.DataFrame:
    rng = _rng(variant, "deployments")
    rows = _backend_deployments(variant, rng) + _frontend_deployments(variant, rng) + _database_deployments()
    frame = pd.DataFrame(rows)
    frame["failed"] = frame.get("failed", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
    frame["id"] = uuid4_strings(rng, len(frame))
    frame["commit"] = _hex(rng, len(frame))
    frame.loc[frame["service"].isin([POSTGRES, REDIS]), ["commit", "message"]] = None
    frame["image"] = frame["service"].map(world.DATABASE_IMAGES)
    for column in ("created", "finished"):
        frame[column] = frame[column].dt.floor("ms")
    frame = frame.sort_values(["created", "service"], kind="stable").reset_index(drop=True)
    # A rollback, redeploy or variables change starts the source deployment's commit again
    # (in time order, so that a chain of them resolves to the commit first pushed).
    frame["source_id"] = None
    where = {(service, key): i for i, (service, key) in enumerate(zip(frame["service"], frame["key"]))}
    for i in frame.index[frame["source"].notna()]:
        j = where[(frame.at[i, "service"], frame.at[i, "source"])]
        frame.loc[i, ["commit", "message", "source_id"]] = [frame.at[j, "commit"], frame.at[j, "message"],
                                                           frame.at[j, "id"]]
    # Final statuses: the last deployment live per service is SUCCESS, the others REMOVED,
    # except a build that failed and the release that kept crashing.
    went_live = ~frame["failed"]
    last_live = frame[went_live].groupby("service")["finished"].transform("max")
    status = np.where(frame["failed"], "FAILED",
                      np.where(frame["incident"].eq("crash_loop"), "CRASHED",
                               np.where(went_live & frame["finished"].eq(last_live.reindex(frame.index)),
                                        "SUCCESS", "REMOVED")))
    frame["status"] = status
    return frame


@functools.lru_cache(maxsize=8)
def _platform(variant: world.Variant) -> _Platform:
    frame = _deployment_frame(variant)
    windows = traffic.planted(variant)
    leak = frame[frame["incident"].eq("crash_loop")].iloc[0]
    back = frame[(frame["service"] == BACKEND) & frame["trigger"].eq("rollback")].iloc[0]
    bad = frame[frame["incident"].eq("frontend_bad_release")].iloc[0]
    bad_back = frame[(frame["service"] == FRONTEND) & frame["trigger"].eq("rollback")].iloc[0]
    crash_start, crash_end = windows["crash_loop"]
    boots = pd.date_range(crash_start, crash_end - pd.Timedelta(milliseconds=traffic.CRASH_AFTER_START_MS),
                          freq=pd.Timedelta(milliseconds=traffic.CRASH_CYCLE_MS))
    failover_start, _ = windows["db_failover"]
    database_back = _ts(variant.on_call_starts()[0]) + pd.Timedelta(seconds=1)
    facts = {
        "memory_leak": {
            "service": BACKEND, "deployment_id": leak["id"], "commit": leak["commit"], "live_at": leak["finished"],
            "first_oom_restart_at": crash_start, "restarts": tuple(boots),
            "ooms": tuple(boots + pd.Timedelta(milliseconds=traffic.CRASH_AFTER_START_MS)),
            "rollback_deployment_id": back["id"], "rollback_live_at": back["finished"],
        },
        "cpu_spike": {"service": POSTGRES, "window": windows["pool_exhaustion"]},
        "database_down": {"service": POSTGRES, "window": (failover_start, database_back)},
        "redis_down": {"service": REDIS, "window": windows["redis_outage"]},
        "openai_circuit_open": (_ts(variant.at("openai_breaker", world.OPENAI_BREAKER_OPENED)),
                                windows["openai_breaker"][1]),
        "failed_deployment_id": frame.loc[frame["failed"], "id"].iloc[0],
        "frontend_bad_release": {"deployment_id": bad["id"], "commit": bad["commit"], "live_at": bad["finished"],
                                 "rollback_deployment_id": bad_back["id"], "rollback_live_at": bad_back["finished"],
                                 "rolled_back_to": bad_back["source_id"]},
    }
    return _Platform(variant, frame, windows, facts)


def deployments(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """Every production deployment of ``variant``'s month, oldest first: id, service, status,
    trigger, commit, message, source_id (the deployment a rollback, redeploy or variables change
    started again), created / started / finished (UTC; started is NaT for a failed build) and
    ``incident`` (the planted story a deployment caused, "" for none)."""
    frame = _platform(_variant(variant)).deployments
    return frame[["id", "service", "status", "trigger", "commit", "message", "source_id", "created",
                  "started", "finished", "incident"]].copy()


def live_deployment(variant: world.Variant | int | None, service: str, at) -> pd.Series:
    """The deployment of ``service`` serving at time ``at`` (the last one live by then)."""
    frame = deployments(variant)
    live = frame[(frame["service"] == service) & frame["status"].ne("FAILED") & (frame["finished"] <= _ts(at))]
    if live.empty:
        raise ValueError(f"no deployment of {service} was live at {at}")
    return live.sort_values("finished").iloc[-1]


def last_good_deployment(variant: world.Variant | int | None = None, service: str = BACKEND,
                         before=None) -> pd.Series:
    """The deployment to roll back to: the latest one of ``service`` live before ``before``
    (default: the end of the month) that neither failed nor caused a planted incident."""
    frame = deployments(variant)
    until = EXPORTED_AT if before is None else _ts(before)
    good = frame[(frame["service"] == service) & frame["status"].ne("FAILED") & frame["incident"].eq("")
                 & (frame["finished"] < until)]
    return good.sort_values("finished").iloc[-1]


def planted(variant: world.Variant | int | None = None) -> dict:
    """The planted facts of this view: the memory leak (deployment, when it went live, its
    out-of-memory restarts and the rollback), the CPU spike, when PostgreSQL and Redis had no
    container, when the OpenAI circuit was open, the failed build and the frontend's bad release."""
    return _platform(_variant(variant)).facts


def _deployment_records(platform: _Platform) -> list[dict]:
    frame = platform.deployments
    records = []
    for row, created, started, finished in zip(frame.itertuples(), _iso(frame["created"]), _iso(frame["started"]),
                                               _iso(frame["finished"])):
        records.append({
            "id": row.id, "service": row.service, "environment": "production", "status": row.status,
            "meta": {"reason": row.trigger, "sourceDeploymentId": row.source_id,
                     "commitHash": row.commit, "commitMessage": row.message,
                     "repo": world.GIT_REPOSITORY if row.commit else None,
                     "branch": world.GIT_BRANCH if row.commit else None,
                     "image": row.image if isinstance(row.image, str) else None},
            "createdAt": created, "startedAt": started, "finishedAt": finished,
        })
    return records


def deployment_history(variant: world.Variant | int | None = None) -> Path:
    """Path of the production deployment history (JSON array, newest first, as Railway lists it)."""
    variant = _variant(variant)

    def write(fh: IO) -> None:
        records = _deployment_records(_platform(variant))[::-1]
        fh.write(json.dumps({"project": world.RAILWAY_PROJECT, "environment": "production",
                             "deployments": records}, ensure_ascii=False, indent=2) + "\n")

    return cache.materialise(_file_name("railway_deployments", ".json", variant), write)


# ---------------------------------------------------------------- project export

def _project_dict(variant: world.Variant) -> dict:
    rng = _rng(variant, "project")
    optional = sorted(rng.choice(world.OPTIONAL_VARIABLES, int(rng.integers(4, 9)), replace=False))
    ids = iter(uuid4_strings(rng, 16))

    def variables(service: str, environment: str) -> list[dict]:
        names = list(world.ENV_VARIABLES[service])
        if service == BACKEND:
            names += optional
        if environment == "staging":
            names += world.STAGING_EXTRA_VARIABLES.get(service, ())
        entries = [{"name": name, "secret": name in world.SECRET_VARIABLES} for name in sorted(names)]
        entries += [{"name": name, "secret": False, "providedBy": "railway"}
                    for name in world.RAILWAY_PROVIDED_VARIABLES.get(service, ())]
        return entries

    def service_entry(service: str, environment: str) -> dict:
        replicas = (world.REPLICAS if environment == "production" else world.STAGING_REPLICAS)[service]
        vcpus, memory_mb = world.RESOURCES[service]
        if service in (BACKEND, FRONTEND):
            source = {"repo": world.GIT_REPOSITORY, "branch": world.GIT_BRANCH if environment == "production"
                      else "develop", "rootDirectory": "backend" if service == BACKEND else "frontend"}
            deploy = {"numReplicas": replicas, "startCommand": world.START_COMMANDS[service],
                      "healthcheckPath": world.HEALTH_PATH if service == BACKEND else world.FRONTEND_HEALTH_PATH,
                      "healthcheckTimeout": world.HEALTHCHECK_TIMEOUT_S,
                      "restartPolicyType": world.RESTART_POLICY,
                      "restartPolicyMaxRetries": world.RESTART_MAX_RETRIES}
        else:  # databases: an image, no HTTP health check (the backend checks them, §1.1)
            source = {"image": world.DATABASE_IMAGES[service]}
            deploy = {"numReplicas": replicas, "startCommand": None, "healthcheckPath": None,
                      "healthcheckTimeout": None, "restartPolicyType": world.RESTART_POLICY,
                      "restartPolicyMaxRetries": world.RESTART_MAX_RETRIES}
        domain = world.PUBLIC_DOMAINS.get(service)
        if domain and environment != "production":
            domain = domain.replace("-production.", f"-{environment}.")
        entry = {"id": next(ids), "name": service, "source": source,
                 "networking": {"publicDomain": domain,
                                "privateDomain": f"{service.lower()}.railway.internal"},
                 "deploy": deploy, "resources": {"vcpus": vcpus, "memoryMB": memory_mb}}
        if service in world.SCALING and environment == "production":
            low, high, cpu, memory = world.SCALING[service]
            entry["scaling"] = {"minReplicas": low, "maxReplicas": high, "targetCPUPercent": cpu,
                                "targetMemoryPercent": memory}
        entry["variables"] = variables(service, environment)
        return entry

    return {
        "project": {"id": next(ids), "name": world.RAILWAY_PROJECT},
        "exportedAt": _iso([EXPORTED_AT], unit="s")[0],
        "environments": [{"id": next(ids), "name": environment,
                          "services": [service_entry(service, environment) for service in world.SERVICES]}
                         for environment in ("production", "staging")],
    }


@functools.lru_cache(maxsize=8)
def _project(variant: world.Variant) -> str:
    return json.dumps(_project_dict(variant), ensure_ascii=False, indent=2) + "\n"


def project_export(variant: world.Variant | int | None = None) -> Path:
    """Path of the Railway project export (JSON): environments, services, variable names."""
    variant = _variant(variant)
    return cache.materialise(_file_name("railway_project", ".json", variant),
                             lambda fh: fh.write(_project(variant)))


def project(variant: world.Variant | int | None = None) -> dict:
    """The project export as a dict (what ``project_export`` writes)."""
    return json.loads(_project(_variant(variant)))


def variables(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """Every variable name of the export: environment, service, name, secret, providedBy."""
    rows = [{"environment": env["name"], "service": svc["name"], **var}
            for env in project(variant)["environments"] for svc in env["services"] for var in svc["variables"]]
    frame = pd.DataFrame(rows)
    frame["providedBy"] = frame.get("providedBy", pd.Series(index=frame.index, dtype=object)).fillna("user")
    return frame


# ---------------------------------------------------------------- health checks

READY_STATES = ("ready", "ready_slow", "timeout", "db_down", "redis_down", "edge_502", "degraded")
_OK_CACHE = '{"status":"healthy","latencyMs":%s,"connected":true}'
_PROVIDERS_OK = '{"openai":{"status":"healthy","circuitOpen":false},"exa":{"status":"healthy","circuitOpen":false}}'
_PROVIDERS_OPEN = '{"openai":{"status":"unhealthy","circuitOpen":true},"exa":{"status":"healthy","circuitOpen":false}}'
# state: (head before the timestamp, the components after it); <c> is the cache's latency.
_READY_BODIES = {
    "ready": ('{"status":"ready",', '"components":{"database":"connected","migrations":"completed","redis":"healthy",'
              '"semanticCache":' + _OK_CACHE % "<c>" + ',"providers":' + _PROVIDERS_OK + '}}'),
    "db_down": ('{"status":"not_ready","reason":"database_disconnected",',
                '"components":{"database":"disconnected","migrations":"unknown","redis":"healthy",'
                '"semanticCache":' + _OK_CACHE % "<c>" + ',"providers":' + _PROVIDERS_OK + '}}'),
    "redis_down": ('{"status":"not_ready","reason":"redis_disconnected",',
                   '"components":{"database":"connected","migrations":"completed","redis":"unhealthy",'
                   '"semanticCache":{"status":"unhealthy","latencyMs":null,"connected":false},'
                   '"providers":' + _PROVIDERS_OK + '}}'),
    "degraded": ('{"status":"degraded",', '"components":{"database":"connected","migrations":"completed",'
                 '"redis":"healthy","semanticCache":' + _OK_CACHE % "<c>" + ',"providers":' + _PROVIDERS_OPEN + '}}'),
}
_READY_BODIES["ready_slow"] = _READY_BODIES["ready"]


def _liveness_probes(variant: world.Variant) -> pd.DataFrame:
    """The monitor's /api/health probes on each 5-minute mark, read from the month's probe log."""
    raw = traffic.health_probe_log(variant).read_bytes()
    lines = pa.array(raw.decode("utf-8").splitlines(), pa.large_string())
    marks = pc.and_(pc.equal(pc.utf8_slice_codeunits(lines, 17, 19), "00"),
                    pc.is_in(pc.utf8_slice_codeunits(lines, 15, 16), value_set=pa.array(["0", "5"])))
    text = pd.Series(lines.filter(marks).to_pylist(), dtype=object)
    fields = text.str.extract(r"^(?P<t>\S+)Z GET (?P<path>\S+) (?P<code>\d{3}|-) (?P<ms>\d+)ms (?P<detail>.*)$")
    return pd.DataFrame({
        "checkedAt": pd.to_datetime(fields["t"], utc=True),
        "code": fields["code"],
        "ms": fields["ms"].astype(np.int64),
        "detail": fields["detail"],
    })


def _ready_states(platform: _Platform, at: pd.DatetimeIndex, rng: np.random.Generator,
                  live_state: np.ndarray) -> np.ndarray:
    """Each readiness check's outcome; ``live_state``: the liveness check 15 s before it."""
    ns = at.as_unit("ns").asi8

    def inside(span) -> np.ndarray:
        start, end = span
        return (ns >= start.value) & (ns < end.value)

    w = platform.windows
    state = np.full(len(at), "ready", dtype=object)
    # Both checks wait for a pool slot: readiness gets one only when liveness, 15 s before, did.
    pool = inside(w["pool_exhaustion"])
    rng.random(pool.sum())  # drawn as before, so that the other stories' checks stay as they were
    state[pool] = np.where(live_state[pool] == "timeout", "timeout", "ready_slow")
    state[inside(w["redis_outage"])] = "redis_down"
    state[inside(w["crash_loop"])] = "edge_502"
    # The connections have just dropped: the first check of the failover is refused at once;
    # later ones either fail fast or wait for a pool slot until the monitor gives up.
    failover = inside(w["db_failover"])
    state[failover] = np.where(rng.random(failover.sum()) < 0.6, "db_down", "timeout")
    state[np.flatnonzero(failover)[:1]] = "db_down"
    state[inside(platform.facts["openai_circuit_open"])] = "degraded"
    return state


def _check_frame(platform: _Platform) -> pd.DataFrame:
    """Every check of the export, in time order, with its outcome and the story behind it."""
    rng = _rng(platform.variant, "checks")
    live = _liveness_probes(platform.variant)
    live_state = np.select([live["code"].eq("-"), live["code"].eq("502"),
                            live["detail"].str.contains('"status":"unhealthy"', regex=False)],
                           ["timeout", "edge_502", "unhealthy"], "healthy")
    liveness = pd.DataFrame({
        "checkedAt": live["checkedAt"], "service": BACKEND, "path": world.HEALTH_PATH,
        "httpStatus": pd.to_numeric(live["code"].replace("-", None), errors="coerce").astype("Int64"),
        "responseTimeMs": live["ms"],
        "body": np.where(live["detail"].str.startswith("{"), live["detail"], None),
        "error": np.select([live["code"].eq("-"), live["code"].eq("502")], ["timeout", live["detail"]], None),
        "state": live_state,
    })
    at = pd.DatetimeIndex(live["checkedAt"]) + pd.Timedelta(seconds=READY_OFFSET_S)
    state = _ready_states(platform, at, rng, live_state)
    n = len(at)
    ms = np.select(
        [state == "timeout", state == "ready_slow", state == "db_down", state == "redis_down", state == "edge_502"],
        [np.full(n, world.PROBE_TIMEOUT_MS, dtype=float), rng.uniform(1_500, 4_900, n),
         11 * np.exp(0.3 * rng.standard_normal(n)), 16 * np.exp(0.3 * rng.standard_normal(n)),
         rng.uniform(1, 12, n)],
        52 * np.exp(0.35 * rng.standard_normal(n)))
    ms = np.maximum(1, np.round(ms)).astype(np.int64)
    body_time = _iso(at + pd.to_timedelta(np.minimum(ms, 4_999) // 2, unit="ms"))
    heads = pd.Series(state).map({k: v[0] for k, v in _READY_BODIES.items()})
    tails = pd.Series(state).map({k: v[1] for k, v in _READY_BODIES.items()})
    cache_ms = rng.integers(1, 5, n).astype(str)
    body = heads + '"timestamp":"' + pd.Series(body_time) + '",' + _with_cache_latency(tails, cache_ms)
    readiness = pd.DataFrame({
        "checkedAt": at, "service": BACKEND, "path": world.READY_PATH,
        "httpStatus": pd.array(np.where(state == "timeout", pd.NA, np.where(state == "edge_502", 502, 200)),
                               dtype="Int64"),
        "responseTimeMs": ms,
        "body": body.where(heads.notna(), None).to_numpy(dtype=object),
        "error": np.select([state == "timeout", state == "edge_502"], ["timeout", "Application failed to respond"],
                           None),
        "state": state,
    })
    front_at = pd.DatetimeIndex(live["checkedAt"]) + pd.Timedelta(seconds=FRONTEND_OFFSET_S)
    frontend = pd.DataFrame({
        "checkedAt": front_at, "service": FRONTEND, "path": world.FRONTEND_HEALTH_PATH,
        "httpStatus": pd.array(np.full(n, 200), dtype="Int64"),
        "responseTimeMs": np.maximum(1, np.round(35 * np.exp(0.3 * rng.standard_normal(n)))).astype(np.int64),
        "body": None, "error": None, "state": "healthy",
    })
    frame = pd.concat([liveness, readiness, frontend], ignore_index=True)
    frame["checkedAt"] = pd.to_datetime(frame["checkedAt"], utc=True)
    frame = frame.sort_values(["checkedAt", "path"], kind="stable", ignore_index=True)
    frame["cause"] = _cause(platform, frame)
    return frame


def _with_cache_latency(tails: pd.Series, cache_ms: np.ndarray) -> pd.Series:
    """Put each body's semantic-cache latency where its template says ``<c>``."""
    parts = tails.str.split("<c>", n=1, expand=True)
    if parts.shape[1] == 1:
        return tails
    return parts[0].where(parts[1].isna(), parts[0] + pd.Series(cache_ms) + parts[1].fillna(""))


def _cause(platform: _Platform, frame: pd.DataFrame) -> np.ndarray:
    """The story behind each failed check ("" when the check passed)."""
    failed = ~frame["state"].isin(["healthy", "ready", "ready_slow"]).to_numpy()
    cause = np.full(len(frame), "", dtype=object)
    t = frame["checkedAt"]
    for name in ("pool_exhaustion", "redis_outage", "crash_loop", "db_failover", "openai_breaker"):
        start, end = platform.windows[name]
        cause[failed & ((t >= start) & (t < end)).to_numpy()] = name
    cause[failed & (cause == "")] = "network_blip"  # the monitor's lone timeouts
    return cause


@functools.lru_cache(maxsize=4)
def _checks(variant: world.Variant) -> pd.DataFrame:
    return _check_frame(_platform(variant))


def health_check_results(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """The generator's own table of the exported checks: checkedAt, service, path, httpStatus,
    responseTimeMs, body (JSON text or None), error, ``state`` and ``cause`` (the planted story
    behind a failed check, "network_blip" for a lone timeout, "" when the check passed)."""
    return _checks(_variant(variant)).copy()


def _text(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)


def _join(*parts) -> pa.Array:
    """Row-wise concatenation of text columns and literals (a missing element makes the row missing)."""
    def column(part):
        return pa.scalar(part, pa.large_string()) if isinstance(part, str) else part
    return pc.binary_join_element_wise(*map(column, parts), pa.scalar("", pa.large_string()))


def _check_lines(frame: pd.DataFrame) -> pa.Array:
    stamp = np.datetime_as_string(frame["checkedAt"].dt.tz_convert(None).to_numpy().astype("datetime64[s]"), unit="s")
    code = pc.fill_null(pc.cast(pa.array(frame["httpStatus"].astype("Int64"), from_pandas=True), pa.large_string()),
                        "null")
    error = pc.fill_null(_join('"', _text(frame["error"]), '"'), "null")
    body = pc.fill_null(_text(frame["body"]), "null")
    return _join('{"checkedAt":"', _text(stamp), 'Z","service":"', _text(frame["service"]), '","path":"',
                 _text(frame["path"]), '","httpStatus":', code, ',"responseTimeMs":',
                 _text(frame["responseTimeMs"].astype(str)), ',"body":', body, ',"error":', error, "}")


def health_checks(variant: world.Variant | int | None = None) -> Path:
    """Path of the uptime monitor's export: one JSON object per check, every 5 minutes."""
    variant = _variant(variant)

    def write(fh: IO) -> None:
        fh.write("\n".join(_check_lines(_checks(variant)).to_pylist()) + "\n")

    return cache.materialise(_file_name("railway_health_checks", ".jsonl", variant, depends_on_traffic=True), write)


# ---------------------------------------------------------------- metrics

METRIC_COLUMNS = ["timestamp", "service", "replica", "cpu_percent", "memory_mb", "memory_limit_mb",
                  "network_in_mb", "network_out_mb"]
LEAK_PEAK_SHARE = 0.95       # the heap gives out when the replica uses this share of its memory
LEAK_PLATEAU_FROM = 0.9      # ... after creeping along that top for the last tenth of its run
_NS_MIN = 60 * 1_000_000_000


def _runs(platform: _Platform, service: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Container runs of ``service``: start and end (ns; end = when it died, int64 max when it
    was replaced) and whether it runs the leaking release. A minute's sample comes from the
    latest run started by then, or from nobody when that run has died."""
    never = np.iinfo(np.int64).max
    frame = platform.deployments
    mine = frame[(frame["service"] == service) & ~frame["failed"]].sort_values("started")
    starts, ends, leaking = list(mine["started"].map(lambda t: t.value)), [never] * len(mine), [False] * len(mine)
    if service == BACKEND:
        facts = platform.facts["memory_leak"]
        index = list(mine["id"]).index(facts["deployment_id"])
        ends[index], leaking[index] = facts["first_oom_restart_at"].value, True
        for boot, oom in zip(facts["restarts"], facts["ooms"]):
            starts.append(boot.value), ends.append(oom.value), leaking.append(True)
    elif service in (POSTGRES, REDIS):
        start, end = platform.facts["database_down" if service == POSTGRES else "redis_down"]["window"]
        ends[0] = start.value
        starts.append(end.value), ends.append(never), leaking.append(False)
    order = np.argsort(starts, kind="stable")
    return (np.asarray(starts, dtype=np.int64)[order], np.asarray(ends, dtype=np.int64)[order],
            np.asarray(leaking)[order])


def _run_state(platform: _Platform, service: str, ns: np.ndarray):
    """For each sample: minutes since its container started, whether one is running, leak share."""
    starts, ends, leaking = _runs(platform, service)
    idx = np.searchsorted(starts, ns, side="right") - 1
    up = (idx >= 0) & (ns < ends[np.maximum(idx, 0)])
    age_min = (ns - starts[np.maximum(idx, 0)]) / _NS_MIN
    length = (ends - starts)[np.maximum(idx, 0)] / _NS_MIN
    # The leak grows with the work done; close to the heap limit the garbage collector runs
    # back to back and memory creeps along the top until the heap gives out.
    leak = np.where(up & leaking[np.maximum(idx, 0)], np.clip(age_min / length / LEAK_PLATEAU_FROM, 0, 1), 0.0)
    return age_min, up, leak


def _inside(ns: np.ndarray, span) -> np.ndarray:
    start, end = span
    return (ns >= start.value) & (ns < end.value)


def _metric_series(platform: _Platform, rng: np.random.Generator, ns: np.ndarray,
                   intensity: np.ndarray) -> list[pd.DataFrame]:
    n = ns.size
    w = platform.windows

    def noise(sigma: float) -> np.ndarray:
        return np.exp(sigma * rng.standard_normal(n))

    def warm(age, boot, ready, tau):
        return boot + (ready - boot) * (1 - np.exp(-np.maximum(age, 0) / tau))

    frames = []

    def add(service, replica, up, cpu, memory, net_in, net_out):
        limit = world.RESOURCES[service][1]
        frames.append(pd.DataFrame({
            "ns": ns, "service": service, "replica": replica,
            "cpu_percent": np.where(up, np.clip(cpu, 0.1, 100).round(1), np.nan),
            "memory_mb": np.where(up, np.clip(memory, 1, limit).round(1), np.nan),
            "memory_limit_mb": limit,
            "network_in_mb": np.where(up, np.maximum(net_in, 0).round(3), np.nan),
            "network_out_mb": np.where(up, np.maximum(net_out, 0).round(3), np.nan),
        }))

    # Backend: every replica follows the same deployments; load is shared between them.
    waiting = _inside(ns, w["pool_exhaustion"]) | _inside(ns, w["db_failover"])
    serving = ~_inside(ns, w["crash_loop"])
    limit = world.RESOURCES[BACKEND][1]
    age, up, leak = _run_state(platform, BACKEND, ns)
    for replica in range(1, world.REPLICAS[BACKEND] + 1):
        load = intensity * np.where(waiting, 0.45, 1.0) * serving
        base = warm(age, 172, 318, 22) + 38 * intensity + 6 * rng.standard_normal(n)
        memory = base + (LEAK_PEAK_SHARE * limit - base) * leak
        cpu = 2.5 + 27 * load * noise(0.18) + np.where(age < 1.5, 48, 0) + 58 * leak ** 2
        add(BACKEND, replica, up, cpu, memory, 0.03 + 1.1 * load * noise(0.2), 0.06 + 3.4 * load * noise(0.25))
    # Frontend: static files served by `serve -s dist`.
    age, up, _ = _run_state(platform, FRONTEND, ns)
    add(FRONTEND, 1, up, 0.5 + 1.8 * intensity * noise(0.2), warm(age, 41, 61, 5) + 3 * intensity + rng.normal(0, 1.2, n),
        0.004 + 0.12 * intensity * noise(0.2), 0.02 + 5.2 * intensity * noise(0.25))
    # PostgreSQL: the N+1 report queries of the pool exhaustion pin its CPU; after the failover it
    # starts cold and every pool reconnects at once.
    age, up, _ = _run_state(platform, POSTGRES, ns)
    pool = _inside(ns, w["pool_exhaustion"])
    since_back = (ns - platform.facts["database_down"]["window"][1].value) / _NS_MIN
    recovery = np.where(since_back >= 0, 70 * np.exp(-np.maximum(since_back, 0) / 5), 0)
    cpu = np.where(pool, rng.uniform(92.5, 99.5, n), 4 + 22 * intensity * noise(0.2) + recovery)
    memory = warm(age, 262, 818, 90) + 120 * intensity + rng.normal(0, 9, n)
    add(POSTGRES, 1, up, cpu, memory, 0.05 + 1.4 * intensity * noise(0.2) + pool * 0.9,
        0.1 + 3.9 * intensity * noise(0.25) + pool * rng.uniform(6, 11, n))
    # Redis: BullMQ queues and the semantic cache; back empty after its outage.
    age, up, _ = _run_state(platform, REDIS, ns)
    add(REDIS, 1, up, 0.6 + 2.4 * intensity * noise(0.25), warm(age, 9, 52, 180) + 6 * intensity + rng.normal(0, 0.8, n),
        0.01 + 0.35 * intensity * noise(0.2), 0.02 + 0.55 * intensity * noise(0.2))
    return frames


@functools.lru_cache(maxsize=2)
def _metrics_frame(variant: world.Variant) -> pd.DataFrame:
    platform = _platform(variant)
    rng = _rng(variant, "metrics")
    minutes = pd.date_range(MONTH_START, MONTH_END, freq="min", inclusive="left")
    ns = minutes.as_unit("ns").asi8
    intensity = world.minute_intensity(str(MONTH_START.date()), 31)
    frame = pd.concat(_metric_series(platform, rng, ns, intensity), ignore_index=True)
    frame = frame.sort_values(["ns", "service", "replica"], kind="stable", ignore_index=True)
    frame.insert(0, "timestamp", pd.to_datetime(frame.pop("ns"), utc=True))
    return frame[METRIC_COLUMNS]


def metrics(variant: world.Variant | int | None = None) -> Path:
    """Path of the month's Railway metrics (CSV; one row per minute, service and replica)."""
    variant = _variant(variant)

    def write(fh: IO) -> None:
        frame = _metrics_frame(variant).copy()
        frame["timestamp"] = np.char.add(np.datetime_as_string(
            frame["timestamp"].dt.tz_convert(None).to_numpy().astype("datetime64[s]"), unit="s"), "Z")
        frame.to_csv(fh, index=False, lineterminator="\n")

    return cache.materialise(_file_name("railway_metrics", ".csv", variant), write)
