"""Modules 1 and 3 reference: read the Railway and Sentry exports the way a trainee would.

Every function starts from a raw file of ``course.data.platform`` or ``course.data.sentry`` (or
the frame its parser returns); none reads the generators' own tables. Definitions the quiz keys
rely on (a notebook states the same ones to trainees):

- **A check passed** when it got HTTP 200 and, for a backend endpoint, its body says
  ``healthy`` (liveness) or ``ready`` (readiness): both endpoints answer 200 even when something
  is down (§1.2), so the status code alone says nothing. Why a check failed: ``timeout``,
  ``HTTP 502`` (the edge found no backend), or what the body says (``database disconnected``,
  ``redis disconnected``, ``redis not_configured`` in the liveness body, ``openai circuit open``).
- **Errors** in Sentry are the issues at level ``error`` or ``fatal``; the **top 3** of a time
  range ``[since, until)`` count each issue's events in that range, in one environment.
- **A resource alert** fires for each run of consecutive one-minute samples above the rule's
  threshold that lasts at least the rule's minutes (``world.RESOURCE_ALERT_RULES``); a missing
  sample (no container) ends a run. Memory % is ``memory_mb / memory_limit_mb``.
- **Deployments in a range** are those created in it, whatever became of them.
- **The last good deployment** of a service before a moment: the latest one live by then that
  neither failed nor crashed and was not replaced by a rollback.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from course.data import world

SERVICE_COLUMNS = ["service", "replicas", "healthcheck_path", "start_command", "variables", "secret_variables"]


# ---------------------------------------------------------------- project export (Exercise 1.1)

def parse_project(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def variable_names(path) -> pd.DataFrame:
    """environment, service, name, secret: one row per variable name of the export."""
    rows = [(env["name"], svc["name"], var["name"], bool(var.get("secret")))
            for env in parse_project(path)["environments"] for svc in env["services"] for var in svc["variables"]]
    return pd.DataFrame(rows, columns=["environment", "service", "name", "secret"])


def services_table(path, environment: str = "production") -> pd.DataFrame:
    """The services of one environment: replicas, health-check path, start command, how many
    variables and which of them are secrets."""
    env = next(e for e in parse_project(path)["environments"] if e["name"] == environment)
    names = variable_names(path)
    names = names[names["environment"] == environment]
    rows = []
    for svc in env["services"]:
        mine = names[names["service"] == svc["name"]]
        rows.append((svc["name"], svc["deploy"]["numReplicas"], svc["deploy"]["healthcheckPath"],
                     svc["deploy"]["startCommand"], len(mine), sorted(mine.loc[mine["secret"], "name"])))
    return pd.DataFrame(rows, columns=SERVICE_COLUMNS)


# ---------------------------------------------------------------- health checks

def parse_health_checks(path) -> pd.DataFrame:
    """One row per check, the body flattened: status, reason, database, redis, openai_circuit_open."""
    raw = pd.read_json(path, lines=True, dtype=False)
    body = pd.json_normalize(raw["body"].where(raw["body"].notna(), None).tolist())
    body.index = raw.index

    def column(*names):
        for name in names:
            if name in body:
                return body[name]
        return pd.Series(np.nan, index=raw.index, dtype=object)

    frame = pd.DataFrame({
        "checkedAt": pd.to_datetime(raw["checkedAt"], utc=True),
        "service": raw["service"], "path": raw["path"],
        "http_status": pd.to_numeric(raw["httpStatus"], errors="coerce").astype("Int64"),
        "response_ms": raw["responseTimeMs"].astype("int64"),
        "status": column("status"), "reason": column("reason"),
        "database": column("database").combine_first(column("components.database")),
        "redis": column("redis").combine_first(column("components.redis")),
        "openai_circuit_open": column("components.providers.openai.circuitOpen"),
        "error": raw["error"],
    })
    backend = frame["path"].ne(world.FRONTEND_HEALTH_PATH)
    body_ok = frame["status"].isin(["healthy", "ready"])
    frame["passed"] = frame["http_status"].eq(200).fillna(False).astype(bool) & (body_ok | ~backend)
    return frame


def failing_checks(checks: pd.DataFrame) -> pd.DataFrame:
    """The failed checks with why each failed."""
    failed = checks[~checks["passed"]].copy()
    why = np.select(
        [failed["error"].eq("timeout"), failed["http_status"].eq(502).fillna(False),
         failed["database"].eq("disconnected"), failed["redis"].eq("unhealthy"),
         failed["redis"].eq("not_configured"), failed["openai_circuit_open"].eq(True)],
        ["timeout", "HTTP 502", "database disconnected", "redis disconnected", "redis not_configured",
         "openai circuit open"], "other")
    failed["why"] = why
    return failed


def failures_by_why(checks: pd.DataFrame) -> pd.DataFrame:
    """How many checks of each path failed for each reason, with the first and last one."""
    failed = failing_checks(checks)
    return (failed.groupby(["path", "why"])["checkedAt"].agg(["size", "min", "max"])
            .rename(columns={"size": "checks", "min": "first", "max": "last"}).reset_index())


# ---------------------------------------------------------------- metrics (Exercise 3.2)

def parse_metrics(path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["memory_percent"] = 100 * frame["memory_mb"] / frame["memory_limit_mb"]
    return frame


def alert_firings(metrics: pd.DataFrame, rules=world.RESOURCE_ALERT_RULES) -> pd.DataFrame:
    """Each firing of each rule: source, metric, threshold, service, replica, start, end
    (the last sample above), minutes and severity."""
    firings = []
    frame = metrics.sort_values(["service", "replica", "timestamp"], kind="stable")
    for source, metric, threshold, minutes, severity in rules:
        above = frame[metric].gt(threshold).to_numpy()
        series = (frame["service"] + "#" + frame["replica"].astype(str)).to_numpy()
        starts_run = above & ~np.r_[False, above[:-1] & (series[1:] == series[:-1])]
        run = np.cumsum(starts_run)
        runs = frame.loc[above, ["service", "replica", "timestamp"]].assign(run=run[above])
        spans = runs.groupby("run").agg(service=("service", "first"), replica=("replica", "first"),
                                        start=("timestamp", "min"), end=("timestamp", "max"),
                                        minutes=("timestamp", "size"))
        spans = spans[spans["minutes"] >= minutes]
        firings.append(spans.assign(source=source, metric=metric, threshold=threshold, severity=severity))
    columns = ["source", "metric", "threshold", "service", "replica", "start", "end", "minutes", "severity"]
    return pd.concat(firings, ignore_index=True)[columns] if firings else pd.DataFrame(columns=columns)


def memory_over(metrics: pd.DataFrame, service: str, since, until) -> pd.DataFrame:
    """One service's memory per replica (rows: minutes, columns: replicas) in ``[since, until)``:
    what Exercise 3.2 plots."""
    mine = metrics[(metrics["service"] == service) & (metrics["timestamp"] >= pd.Timestamp(since))
                   & (metrics["timestamp"] < pd.Timestamp(until))]
    return mine.pivot(index="timestamp", columns="replica", values="memory_mb")


# ---------------------------------------------------------------- deployments

def parse_deployments(path) -> pd.DataFrame:
    records = parse_project(path)["deployments"]
    frame = pd.json_normalize(records)
    frame.columns = [c.replace("meta.", "") for c in frame.columns]
    for column in ("createdAt", "startedAt", "finishedAt"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame.sort_values("createdAt", kind="stable", ignore_index=True)


def deploys_between(deploys: pd.DataFrame, since, until, service: str | None = None) -> pd.DataFrame:
    """Deployments created in ``[since, until)`` (of one service, or all)."""
    mine = deploys[(deploys["createdAt"] >= pd.Timestamp(since)) & (deploys["createdAt"] < pd.Timestamp(until))]
    return mine if service is None else mine[mine["service"] == service]


def last_good_deployment(deploys: pd.DataFrame, service: str = world.BACKEND, before=None) -> pd.Series:
    """The deployment to roll back to (see the module's definition)."""
    mine = deploys[(deploys["service"] == service) & deploys["status"].ne("FAILED")].sort_values("finishedAt")
    replaced_by = mine["reason"].shift(-1)
    good = mine[mine["status"].ne("CRASHED") & replaced_by.ne("rollback")]
    if before is not None:
        good = good[good["finishedAt"] < pd.Timestamp(before)]
    return good.iloc[-1]


# ---------------------------------------------------------------- Sentry (Exercise 3.1)

def parse_sentry_events(path) -> pd.DataFrame:
    """One row per event: ids, project, environment, level, timestamp, release, the exception's
    type and value, transaction, user id and the tags."""
    raw = pd.read_json(path, lines=True, dtype=False)
    flat = pd.json_normalize(raw.to_dict("records"))
    flat["timestamp"] = pd.to_datetime(flat["timestamp"], utc=True)
    flat["title"] = flat["exception.type"] + ": " + flat["exception.value"]
    return flat


def parse_sentry_issues(path) -> pd.DataFrame:
    frame = pd.DataFrame(json.loads(Path(path).read_text(encoding="utf-8")))
    for column in ("firstSeen", "lastSeen"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def top_errors(events: pd.DataFrame, since, until, environment: str = "production",
               levels=world.SENTRY_ERROR_LEVELS, n: int = 3) -> pd.DataFrame:
    """The ``n`` issues with the most error events in ``[since, until)``: issueId, title, events."""
    keep = (events["environment"].eq(environment) & events["level"].isin(levels)
            & (events["timestamp"] >= pd.Timestamp(since)) & (events["timestamp"] < pd.Timestamp(until)))
    counts = events[keep].groupby(["issueId", "title"]).size().rename("events").reset_index()
    return counts.sort_values(["events", "issueId"], ascending=[False, True], ignore_index=True).head(n)


# ---------------------------------------------------------------- Module 1: not-ready spells

def not_ready_spells(checks: pd.DataFrame) -> pd.DataFrame:
    """Runs of consecutive failed readiness checks (no passed readiness check between them), in
    time order: ``start`` and ``end`` (the first and the last failed check of the run),
    ``checks`` (how many) and ``minutes`` (each check stands for the 5 minutes up to the next)."""
    from course.data.platform import CHECK_EVERY_S

    ready = checks[checks["path"] == world.READY_PATH].sort_values("checkedAt", kind="stable")
    failed = ~ready["passed"].to_numpy(dtype=bool)
    run = np.cumsum(~failed)
    spells = (ready[failed].assign(run=run[failed]).groupby("run")["checkedAt"]
              .agg(start="min", end="max", checks="size").reset_index(drop=True))
    spells["minutes"] = spells["checks"] * CHECK_EVERY_S // 60
    return spells


def longest_not_ready_spells(checks: pd.DataFrame) -> pd.DataFrame:
    """The longest spell of ``not_ready_spells`` (several rows only when spells tie)."""
    spells = not_ready_spells(checks)
    return spells[spells["checks"] == spells["checks"].max()].reset_index(drop=True)
