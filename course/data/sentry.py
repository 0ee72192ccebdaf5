"""Sentry's view of the simulated ETP Express platform, for Module 3 (Exercise 3.1).

Two raw files stand in for an export of the organisation's Sentry projects
(``etp-express-backend``, ``etp-express-frontend``) for October 2026:

- ``issues_export()``: a JSON array of issues: id, shortId, project, environment, title, error
  class (``type``) and message (``value``), level, status, event count, distinct users, first and
  last seen, first and last release, culprit.
- ``events_export()``: every event of those issues, one JSON object per line: event id, issue
  id, time, level, environment, release, the exception, the transaction, the request, the user
  id and the tags the backend's ``SentryExceptionFilter`` sets (``endpoint``, ``status_code``,
  ``request_id``, §3.1). A backend event's exception carries its stack trace as Sentry shows it:
  ``stacktrace.frames``, the outermost call first and the frame that raised last, each with
  ``function``, ``filename``, ``lineno``, ``colno`` and ``in_app`` (ETP Express's own code, not
  ``node_modules`` or Node's internals). The frames are those of the backend's log
  (``backend_logs._FRAMES``, Module 5), so a trace reads the same in both places.

Where the events come from, for a ``world.Variant`` (default ``world.current()``):

- The backend in production reports what its own log records as a failure: every
  ``http_error`` line of ``traffic.request_log(variant)`` is one event with the same time,
  request id, user, path and status (client errors at level ``warning``, server errors at
  ``error``; ``BadRequestException`` is dropped in production, §3.1), and so is each failed
  section job and each failed Redis reconnect of the sections worker. The out-of-memory crash
  never reaches Sentry: the heap runs out before the SDK can send anything.
- The frontend in production reports what users' browsers hit: the Railway edge's 502 for every
  API call during the crash loop, the header widget's ``TypeError`` between the bad frontend
  release and its rollback (``platform.planted(variant)["frontend_bad_release"]``), stale
  chunks just after each frontend deploy, and the odd ``ResizeObserver`` warning of the browser.
- Staging: an end-to-end suite runs against a build whose migration is missing (the staging-only
  issue, large enough to top the list when the environment is not filtered) and a load test
  exhausts its pool (a title production also has).

Releases are ``RAILWAY_GIT_COMMIT_SHA`` (§3.1): each event carries the commit of the deployment
of its service live at that moment (``platform.live_deployment``); staging runs the commit
production receives next. Counts follow the variant's incidents, so the top 3 production errors
of a time range differ between variants, and ``top_errors`` gives any variant's.
"""
from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from course.data import cache, platform, traffic, world
from course.data.backend_logs import _FRAMES as _LOG_FRAMES
from course.data.ids import uuid4_strings

GENERATOR_VERSION = 3
STREAM = 3201
_USES = ("ids", "frontend", "staging")

BACKEND, FRONTEND = world.BACKEND, world.FRONTEND
MONTH_START, MONTH_END = traffic.MONTH_START, traffic.MONTH_END
# Time ranges Module 3 asks about; each variant's top 3 production errors in them is unambiguous.
EXERCISE_RANGES = {"month": (MONTH_START, MONTH_END), "last_7_days": platform.LAST_7_DAYS}

AXIOS_502 = ("AxiosError", "Request failed with status code 502")
HEADER_BUG = ("TypeError", "Cannot read properties of undefined (reading 'map')")
STALE_CHUNK = ("TypeError", "Failed to fetch dynamically imported module")
RESIZE_OBSERVER = ("Error", "ResizeObserver loop completed with undelivered notifications.")
REDIS_REFUSED = tuple(traffic.REDIS_LOST.split(": ", 1))
MISSING_RELATION = ("QueryFailedError", 'relation "etp_templates" does not exist')
POOL_TIMEOUT = ("Error", world.POOL_TIMEOUT_ERROR)
AI_JOB_FAILED = ("ServiceUnavailableException", world.AI_UNAVAILABLE)
OPENAI_TIMEOUT = ("APIConnectionTimeoutError", "Request timed out.")  # every retry timed out

# How often users' browsers report, per user action (course values): every API call fails
# during the crash loop and most are reported; the header widget renders on most pages.
CRASH_REPORTS_PER_ACTION = 0.72
HEADER_REPORTS_PER_ACTION = 0.45
STALE_CHUNKS_PER_DEPLOY = 5.0       # at a busy hour, in the hour after a frontend deploy
RESIZE_OBSERVER_PER_MONTH = 45
STAGING_SUITE_EVENTS = (300, 420)   # the end-to-end suite's failures, per variant
STAGING_LOAD_TEST_EVENTS = (40, 90)

_PAGES = ("/etps", "/etps/:id", "/etps/:id/sections", "/dashboard", "/templates")
_PAGE_WEIGHTS = (0.34, 0.30, 0.22, 0.08, 0.06)
_BROWSERS = ("Chrome 131", "Chrome 130", "Firefox 133", "Safari 18.1", "Edge 131")
_BROWSER_WEIGHTS = (0.52, 0.13, 0.12, 0.08, 0.15)
EVENT_COLUMNS = ["timestamp", "project", "environment", "level", "type", "value", "transaction", "method",
                 "url", "user_id", "status_code", "request_id", "endpoint", "queue", "job_id", "browser",
                 "page_url", "release"]


def _variant(variant: world.Variant | int | None) -> world.Variant:
    return platform._variant(variant)


def _rng(variant: world.Variant, use: str) -> np.random.Generator:
    return variant.rng(STREAM, _USES.index(use))


def _file_name(stem: str, suffix: str, variant: world.Variant) -> str:
    return (f"{stem}_v{GENERATOR_VERSION}p{platform.GENERATOR_VERSION}t{traffic.GENERATOR_VERSION}"
            f"_world{variant.seed}{suffix}")


# ---------------------------------------------------------------- the backend's own failures

_LOG_FIELDS = pd.Index(["timestamp", "level", "message", "context", "eventType", "method", "path", "statusCode",
                        "error", "stack", "requestId", "userId", "jobId"])


def _failure_lines(variant: world.Variant) -> pd.DataFrame:
    """The error lines of the month's backend log, as records."""
    raw = traffic.request_log(variant).read_bytes()
    lines = pa.array(raw.split(b"\n"), pa.binary())
    errors = lines.filter(pc.match_substring(lines, b'"level":"error"'))
    text = b"\n".join(errors.to_pylist())
    frame = pd.read_json(io.BytesIO(text), lines=True, dtype=False)
    # A field no error line of this month has (no section job failed, say) is still a column.
    frame = frame.reindex(columns=frame.columns.union(_LOG_FIELDS, sort=False))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    return frame


def _endpoint(method: pd.Series, path: pd.Series) -> pd.Series:
    """'GET /api/v1/etps/:id' for 'GET' and '/api/v1/etps/4f2c...': ids become parameters."""
    template = (path.str.replace(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ":id", regex=True)
                .str.replace(r"/jobs/\d+", "/jobs/:id", regex=True))
    return method + " " + template


def _backend_events(variant: world.Variant) -> pd.DataFrame:
    log = _failure_lines(variant)
    http = log[log["eventType"].eq("http_error")].copy()
    error_class = http["stack"].str.split(":", n=1).str[0]
    status = http["statusCode"].astype(int)
    endpoint = _endpoint(http["method"], http["path"])
    events = pd.DataFrame({
        "timestamp": http["timestamp"], "project": BACKEND, "environment": "production",
        "level": np.where(status < world.SENTRY_WARNING_BELOW_STATUS, "warning", "error"),
        "type": error_class,
        "value": http["error"].str.replace(r"^[A-Za-z]*(?:Exception|Error): ", "", regex=True),
        "transaction": endpoint, "method": http["method"], "url": http["path"],
        "user_id": http.get("userId"), "status_code": status.astype(str),
        "request_id": http["requestId"], "endpoint": endpoint,
    })
    events = events[~events["type"].isin(world.SENTRY_DROPPED_IN_PRODUCTION)]
    jobs = log[log["context"].eq("SectionsProcessor") & log["message"].str.contains(" failed: ", regex=False).fillna(False)]
    job_events = pd.DataFrame({
        "timestamp": jobs["timestamp"], "project": BACKEND, "environment": "production", "level": "error",
        "type": np.where(jobs["message"].str.endswith(OPENAI_TIMEOUT[1]), OPENAI_TIMEOUT[0], AI_JOB_FAILED[0]),
        "value": jobs["message"].str.split(" failed: ", n=1).str[1],
        "transaction": "sections generate", "queue": "sections", "job_id": jobs["jobId"].astype(str),
    })
    redis = log[log["message"].eq(traffic.REDIS_LOST)]
    redis_events = pd.DataFrame({
        "timestamp": redis["timestamp"], "project": BACKEND, "environment": "production", "level": "error",
        "type": REDIS_REFUSED[0], "value": REDIS_REFUSED[1], "transaction": "sections worker",
        "queue": "sections",
    })
    return pd.concat([events, job_events, redis_events], ignore_index=True)


# ---------------------------------------------------------------- browsers

def _api_endpoints() -> tuple[np.ndarray, np.ndarray]:
    routes = traffic.ROUTES
    names = (routes["method"] + " " + routes["prefix"] + np.where(routes["id_kind"] != "", ":id", "")
             + routes["suffix"]).to_numpy()
    return names, (routes["share"] / routes["share"].sum()).to_numpy()


def _poisson_in(rng, start: pd.Timestamp, end: pd.Timestamp, per_action: float) -> np.ndarray:
    """Event times (ns) between ``start`` and ``end``, one minute at a time, at ``per_action``
    reports per user action of that minute (the month's traffic rhythm, ``world``)."""
    minutes = pd.date_range(start.floor("min"), end, freq="min", inclusive="left")
    intensity = world.minute_intensity(str(MONTH_START.date()), 31)
    index = ((minutes - MONTH_START) // pd.Timedelta(minutes=1)).to_numpy()
    rate = per_action * world.user_actions_per_peak_minute() * intensity[np.clip(index, 0, intensity.size - 1)]
    counts = rng.poisson(rate)
    times = np.repeat(minutes.as_unit("ns").asi8, counts) + rng.integers(0, 60_000_000_000, counts.sum())
    return np.sort(times[(times >= start.value) & (times < end.value)])


def _browser_events(rng, ns: np.ndarray, kind: tuple[str, str], users: np.ndarray, level: str = "error",
                    status: str | None = None) -> pd.DataFrame:
    n = ns.size
    page = rng.choice(len(_PAGES), n, p=_PAGE_WEIGHTS)
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(ns, utc=True), "project": FRONTEND, "environment": "production",
        "level": level, "type": kind[0], "value": kind[1], "transaction": np.array(_PAGES)[page],
        "user_id": users[rng.integers(0, users.size, n)] if users.size else None,
        "browser": np.array(_BROWSERS)[rng.choice(len(_BROWSERS), n, p=_BROWSER_WEIGHTS)],
        "page_url": np.char.add(f"https://{world.PUBLIC_DOMAINS[FRONTEND]}", np.array(_PAGES)[page]),
    })
    if status is not None:
        names, weights = _api_endpoints()
        frame["endpoint"] = names[rng.choice(names.size, n, p=weights)]
        frame["status_code"] = status
    return frame


def _frontend_events(variant: world.Variant, users: np.ndarray) -> pd.DataFrame:
    rng = _rng(variant, "frontend")
    facts = platform.planted(variant)
    crash = traffic.planted(variant)["crash_loop"]
    bad = facts["frontend_bad_release"]
    frames = [
        _browser_events(rng, _poisson_in(rng, *crash, CRASH_REPORTS_PER_ACTION), AXIOS_502, users, status="502"),
        _browser_events(rng, _poisson_in(rng, bad["live_at"], bad["rollback_live_at"], HEADER_REPORTS_PER_ACTION),
                        HEADER_BUG, users),
    ]
    # Tabs opened before a deploy ask for chunks the new build no longer has.
    deploys = platform.deployments(variant)
    deploys = deploys[(deploys["service"] == FRONTEND) & deploys["finished"].between(MONTH_START, MONTH_END)]
    per_action = STALE_CHUNKS_PER_DEPLOY / 60 / world.user_actions_per_peak_minute()
    for live in deploys["finished"]:
        frames.append(_browser_events(rng, _poisson_in(rng, live, live + pd.Timedelta(hours=1), per_action),
                                      STALE_CHUNK, users))
    per_action = RESIZE_OBSERVER_PER_MONTH / world.minute_intensity(str(MONTH_START.date()), 31).sum() \
        / world.user_actions_per_peak_minute()
    frames.append(_browser_events(rng, _poisson_in(rng, MONTH_START, MONTH_END, per_action), RESIZE_OBSERVER, users))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- staging

def _staging_events(variant: world.Variant) -> pd.DataFrame:
    rng = _rng(variant, "staging")
    tester = uuid4_strings(rng, 1)[0]
    # The nightly end-to-end suite calls the templates endpoint of a build whose migration never
    # ran; it retries every couple of minutes through the night.
    n = int(rng.integers(STAGING_SUITE_EVENTS[0], STAGING_SUITE_EVENTS[1] + 1))
    start = pd.Timestamp("2026-10-26 21:10", tz="UTC") + pd.Timedelta(minutes=int(rng.integers(-90, 91)))
    suite = start.value + np.cumsum(rng.integers(95_000, 145_000, n)) * 1_000_000
    # An afternoon load test exhausts staging's smaller pool.
    m = int(rng.integers(STAGING_LOAD_TEST_EVENTS[0], STAGING_LOAD_TEST_EVENTS[1] + 1))
    load_start = pd.Timestamp("2026-10-15 17:00", tz="UTC") + pd.Timedelta(minutes=int(rng.integers(-120, 121)))
    load = np.sort(load_start.value + rng.integers(0, 20 * 60_000, m) * 1_000_000)
    etps = uuid4_strings(rng, 40)
    load_paths = "/api/v1/etps/" + etps[rng.integers(0, etps.size, m)]
    frames = [
        pd.DataFrame({"timestamp": pd.to_datetime(suite, utc=True), "type": MISSING_RELATION[0],
                      "value": MISSING_RELATION[1], "method": "GET", "url": "/api/v1/templates",
                      "user_id": tester}),
        pd.DataFrame({"timestamp": pd.to_datetime(load, utc=True), "type": POOL_TIMEOUT[0],
                      "value": POOL_TIMEOUT[1], "method": "GET", "url": load_paths, "user_id": tester}),
    ]
    frame = pd.concat(frames, ignore_index=True)
    frame["endpoint"] = _endpoint(frame["method"], frame["url"])
    frame["transaction"] = frame["endpoint"]
    frame = frame.assign(project=BACKEND, environment="staging", level="error", status_code="500",
                         request_id=uuid4_strings(rng, len(frame)))
    return frame


# ---------------------------------------------------------------- releases, issues

def _ns(stamps: pd.Series) -> np.ndarray:
    return pd.DatetimeIndex(stamps).as_unit("ns").asi8


def _releases(variant: world.Variant, events: pd.DataFrame) -> np.ndarray:
    """The commit each event's service ran: the deployment live then (production), or the next
    backend commit production receives (staging runs it first)."""
    deploys = platform.deployments(variant)
    deploys = deploys[deploys["status"].ne("FAILED")]
    release = np.empty(len(events), dtype=object)
    ns = _ns(events["timestamp"])
    for service in (BACKEND, FRONTEND):
        live = deploys[deploys["service"] == service].sort_values("finished")
        at = _ns(live["finished"])
        idx = np.searchsorted(at, ns, side="right") - 1
        mine = (events["project"] == service).to_numpy() & (events["environment"] == "production").to_numpy()
        release[mine] = live["commit"].to_numpy()[np.maximum(idx[mine], 0)]
    pushes = deploys[(deploys["service"] == BACKEND) & deploys["trigger"].eq("push")].sort_values("created")
    at = _ns(pushes["created"])
    staging = (events["environment"] == "staging").to_numpy()
    idx = np.minimum(np.searchsorted(at, ns[staging], side="right"), len(at) - 1)
    release[staging] = pushes["commit"].to_numpy()[idx]
    return release


def _story_mask(variant: world.Variant, events: pd.DataFrame) -> np.ndarray:
    """Events that belong to a planted incident (their issue is resolved once it is over)."""
    spans = list(traffic.planted(variant).values())
    bad = platform.planted(variant)["frontend_bad_release"]
    spans.append((bad["live_at"], bad["rollback_live_at"]))
    t = events["timestamp"]
    inside = np.zeros(len(events), dtype=bool)
    for start, end in spans:
        inside |= ((t >= start) & (t < end + pd.Timedelta(minutes=1))).to_numpy()
    return inside & (events["environment"] == "production").to_numpy()


_ISSUE_KEY = ["project", "environment", "type", "value"]


def _without_ties(events: pd.DataFrame, n: int = 3) -> pd.DataFrame:
    """Keep each exercise range's top ``n`` production errors free of ties (places 1 to n + 1).

    Two issues with as many events in a range would give the exercise two right answers. The
    browsers' issues are this generator's own draws, so when one of them ties, its last event
    in that range is left out (a report the browser never sent); the backend's events mirror its
    log one for one and are never touched. Ties between two backend issues are rare and are
    reported by ``course.trainer.reference.sentry_ranking.is_unambiguous``.
    """
    for _ in range(20):
        changed = False
        for since, until in EXERCISE_RANGES.values():
            mask = (events["environment"].eq("production") & events["level"].isin(world.SENTRY_ERROR_LEVELS)
                    & (events["timestamp"] >= since) & (events["timestamp"] < until))
            counts = events[mask].groupby(_ISSUE_KEY, sort=False).size().sort_values(ascending=False, kind="stable")
            top = counts.head(n + 1)
            for (a, count_a), (b, count_b) in zip(top.items(), list(top.items())[1:]):
                if count_a != count_b or (a[0] != FRONTEND and b[0] != FRONTEND):
                    continue
                victim = b if b[0] == FRONTEND else a
                mine = mask & np.logical_and.reduce([events[k].eq(v).to_numpy() for k, v in zip(_ISSUE_KEY, victim)])
                events = events.drop(index=events.index[mine][-1]).reset_index(drop=True)
                changed = True
                break
        if not changed:
            return events
    return events


@functools.lru_cache(maxsize=4)
def _sentry(variant: world.Variant) -> tuple[pd.DataFrame, pd.DataFrame]:
    backend = _backend_events(variant)
    users = np.sort(backend["user_id"].dropna().unique()).astype(object)
    events = pd.concat([backend, _frontend_events(variant, users), _staging_events(variant)], ignore_index=True)
    events = events.reindex(columns=EVENT_COLUMNS)
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True).dt.as_unit("ns").dt.floor("ms")
    events["release"] = _releases(variant, events)
    events = events.sort_values(["timestamp", "project"], kind="stable", ignore_index=True)
    events = _without_ties(events)
    rng = _rng(variant, "ids")
    events.insert(0, "event_id", np.char.replace(uuid4_strings(rng, len(events)).astype(str), "-", "").astype(object))
    story = _story_mask(variant, events)

    key = _ISSUE_KEY
    grouped = events.assign(story=story).groupby(key, sort=False)
    issues = grouped.agg(count=("event_id", "size"), userCount=("user_id", "nunique"),
                         firstSeen=("timestamp", "min"), lastSeen=("timestamp", "max"),
                         level=("level", "first"), all_story=("story", "all"),
                         culprit=("transaction", lambda s: s.mode().iloc[0] if s.notna().any() else None)
                         ).reset_index()
    issues = issues.sort_values(["firstSeen", "project"], kind="stable", ignore_index=True)
    first = events.drop_duplicates(key, keep="first").set_index(key)["release"]
    last = events.drop_duplicates(key, keep="last").set_index(key)["release"]
    where = pd.MultiIndex.from_frame(issues[key])
    issues["firstRelease"], issues["lastRelease"] = first.reindex(where).to_numpy(), last.reindex(where).to_numpy()
    issues["id"] = (4_800_000_000 + np.cumsum(rng.integers(1_000, 90_000, len(issues)))).astype(str)
    counter = issues.groupby("project").cumcount() + 1
    prefix = issues["project"].str.upper()
    issues["shortId"] = prefix + "-" + counter.map(lambda k: np.base_repr(int(k) + 9, 36))
    issues["title"] = issues["type"] + ": " + issues["value"]
    issues["status"] = np.where(issues["all_story"], "resolved",
                                np.where(issues["value"].eq(RESIZE_OBSERVER[1]), "ignored", "unresolved"))
    events.insert(1, "issue_id", events.set_index(key).index.map(issues.set_index(key)["id"]).to_numpy())
    issues = issues[["id", "shortId", "project", "environment", "title", "type", "value", "level", "status",
                     "count", "userCount", "firstSeen", "lastSeen", "firstRelease", "lastRelease", "culprit"]]
    return events, issues


def events(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """The generator's own table of every event (what ``events_export`` writes, flattened)."""
    return _sentry(_variant(variant))[0].copy()


def issues(variant: world.Variant | int | None = None) -> pd.DataFrame:
    """The generator's own table of the issues (what ``issues_export`` writes)."""
    return _sentry(_variant(variant))[1].copy()


# ---------------------------------------------------------------- stack traces

# Which frames of the backend's log go with each backend error (by class, and the start of the
# message where one class has several sources). An error with no entry has no stack trace in the export.
_EXTRA_FRAMES = {
    "templates": ("    at PostgresQueryRunner.query (/app/node_modules/typeorm/driver/postgres/PostgresQueryRunner.js:219:19)\n"
                  "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)\n"
                  "    at async SelectQueryBuilder.loadRawResults (/app/node_modules/typeorm/query-builder/SelectQueryBuilder.js:2192:25)\n"
                  "    at async TemplatesService.findAll (/app/dist/modules/templates/templates.service.js:41:24)"),
    "refused": "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)",
}
_STACK_OF = {
    ("UnauthorizedException", "Credenciais inválidas"): "login",
    ("UnauthorizedException", None): "guard",
    ("NotFoundException", None): "etps",
    ("ForbiddenException", None): "ownership",
    ("ThrottlerException", None): "throttler",
    ("InternalServerErrorException", "Chromium nao encontrado"): "pdf",
    ("QueryFailedError", MISSING_RELATION[1]): "templates",
    ("QueryFailedError", None): "query",
    ("Error", POOL_TIMEOUT[1]): "pool",
    ("Error", REDIS_REFUSED[1]): "refused",
    ("ServiceUnavailableException", None): "breaker_job",
    ("APIConnectionTimeoutError", None): "openai_timeout",
}
_FRAME_LINE = re.compile(r"^\s*at (?:async )?(?:(?P<function>.+?) \((?P<where>.+)\)|(?P<bare>.+))$")


def _sentry_frames(stack: str) -> str:
    """A Node stack's frames as Sentry's JSON ``frames``: the outermost call first."""
    frames = []
    for line in stack.splitlines():
        found = _FRAME_LINE.match(line)
        where = found["where"] or found["bare"]
        filename, lineno, colno = where.rsplit(":", 2)
        in_app = filename.startswith("/app/") and "/node_modules/" not in filename
        frames.append({"function": found["function"] or "<anonymous>", "filename": filename,
                       "lineno": int(lineno), "colno": int(colno), "in_app": in_app})
    return json.dumps({"frames": frames[::-1]}, ensure_ascii=False)


def _stacktraces(frame: pd.DataFrame) -> pd.Series:
    """JSON of each event's stack trace; missing for the browsers' events and unknown errors."""
    stacks = {**_LOG_FRAMES, **_EXTRA_FRAMES}
    backend = (frame["project"] == BACKEND).to_numpy()
    out = pd.Series(None, index=frame.index, dtype=object)
    for (error_class, value), key in _STACK_OF.items():
        mine = backend & (frame["type"] == error_class).to_numpy() & out.isna().to_numpy()
        if value is not None:
            mine &= frame["value"].fillna("").str.startswith(value).to_numpy()
        out[mine] = _sentry_frames(stacks[key])
    return out


# ---------------------------------------------------------------- the raw files

def _json_values(values: pd.Series) -> pd.Series:
    """JSON text of each value (``null`` when missing); each distinct value is encoded once."""
    values = pd.Series(values).astype(object)
    missing = values.isna()
    encoded = values[~missing].map({v: json.dumps(v, ensure_ascii=False) for v in values[~missing].unique()})
    return encoded.reindex(values.index).fillna("null").astype(object)


def _iso(stamps: pd.Series) -> pd.Series:
    return pd.Series(platform._iso(stamps), index=stamps.index, dtype=object)


def _object(fields: dict[str, pd.Series], index) -> pd.Series:
    """'{"a":1,"b":"x"}' per row from the present fields; "null" when none is present."""
    text = pd.Series("", index=index, dtype=object)
    for name, values in fields.items():
        values = pd.Series(values, index=index).astype(object)
        text = text + np.where(values.notna(), f',"{name}":' + _json_values(values), "")
    return ("{" + text.str[1:] + "}").where(text != "", "null")


def _event_lines(frame: pd.DataFrame) -> pd.Series:
    i = frame.index
    platform_name = np.where(frame["project"] == BACKEND, world.SENTRY_PROJECTS[BACKEND],
                             world.SENTRY_PROJECTS[FRONTEND])
    request = _object({"method": frame["method"], "url": frame["url"].where(frame["url"].notna(), frame["page_url"])}, i)
    stack = _stacktraces(frame)
    tags = _object({"endpoint": frame["endpoint"], "status_code": frame["status_code"],
                    "request_id": frame["request_id"], "queue": frame["queue"], "job_id": frame["job_id"],
                    "browser": frame["browser"], "url": frame["page_url"]}, i)
    return ('{"eventId":"' + frame["event_id"] + '","issueId":"' + frame["issue_id"] + '","project":"'
            + frame["project"] + '","environment":"' + frame["environment"] + '","level":"' + frame["level"]
            + '","timestamp":"' + _iso(frame["timestamp"]) + '","release":' + _json_values(frame["release"])
            + ',"platform":"' + platform_name + '","exception":{"type":' + _json_values(frame["type"])
            + ',"value":' + _json_values(frame["value"])
            + np.where(stack.notna(), ',"stacktrace":' + stack.fillna(""), "") + '},"transaction":'
            + _json_values(frame["transaction"])
            + ',"request":' + request + ',"user":' + _object({"id": frame["user_id"]}, i) + ',"tags":' + tags + "}")


def events_export(variant: world.Variant | int | None = None) -> Path:
    """Path of the events export: one JSON object per line, oldest first."""
    variant = _variant(variant)

    def write(fh: IO) -> None:
        fh.write("\n".join(_event_lines(_sentry(variant)[0]).tolist()) + "\n")

    return cache.materialise(_file_name("sentry_events", ".jsonl", variant), write)


def issues_export(variant: world.Variant | int | None = None) -> Path:
    """Path of the issues export: a JSON array, most events first."""
    variant = _variant(variant)

    def write(fh: IO) -> None:
        table = _sentry(variant)[1].sort_values(["count", "id"], ascending=[False, True], kind="stable")
        records = []
        for row, first, last in zip(table.itertuples(index=False), _iso(table["firstSeen"]), _iso(table["lastSeen"])):
            records.append({
                "id": row.id, "shortId": row.shortId, "project": row.project, "environment": row.environment,
                "title": row.title, "type": row.type, "value": row.value, "level": row.level,
                "status": row.status, "count": int(row.count), "userCount": int(row.userCount),
                "firstSeen": first, "lastSeen": last, "firstRelease": row.firstRelease,
                "lastRelease": row.lastRelease, "culprit": row.culprit,
            })
        fh.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")

    return cache.materialise(_file_name("sentry_issues", ".json", variant), write)
