"""Module 2 reference: parse the month's raw files, measure the SLOs, check incident targets.

Definitions the hidden tests rely on (the notebook states the same ones to trainees):

- **API requests**: HTTP events (``eventType`` ``http_response`` or ``http_error``) whose path
  does not start with ``/api/health``. Health checks are monitoring, not user traffic. Every
  status counts, failures included: a user waited for them too.
- **API p95**: the 95th percentile of ``durationMs`` over all API requests of the month
  (``Series.quantile``, linear interpolation), in seconds.
- **Error rate**: the share of API requests with a 5xx status. The rolling rate is evaluated
  at each API request over the trailing window ``(t - 24 h, t]``, only once a full window of
  log exists (from 24 h after the first request), so the month's first hours cannot produce
  a 100 % rate from a single failure.
- **Downtime**: a probe is *up* only when it got HTTP 200 *and* its body says
  ``"status":"healthy"`` (the backend answers 200 even when unhealthy). Every other probe
  (unhealthy body, non-200, timeout) counts its whole 30 s interval as down.
  Uptime % = (probes up) / (all probes) x 100 = (minutes - downtime) / minutes x 100.
- **LLM generation**: the 95th percentile of ``SectionsProcessor`` completion ``durationMs``.
- **Incident targets** (docs/SLA.md): first response is the first ``ACK <id>`` message, the
  resolution the first ``[RESOLVED] <id>`` message. P0-P2 targets are wall-clock; P3's
  resolution is 5 business days (``pandas`` ``BDay``, Monday-Friday, counted in BRT).
"""
from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pyarrow as pa
from pandas.tseries.offsets import BDay

# Severity -> (first response, resolution), from docs/SLA.md.
SEVERITY_TARGETS = {
    "P0": (pd.Timedelta(minutes=15), pd.Timedelta(hours=4)),
    "P1": (pd.Timedelta(hours=1), pd.Timedelta(hours=8)),
    "P2": (pd.Timedelta(hours=4), pd.Timedelta(hours=48)),
    "P3": (pd.Timedelta(hours=24), BDay(5)),
}

# The training guide's SLO table: metric -> target. Uptime must reach its target,
# the other three must stay below theirs.
GUIDE_SLOS = {
    "uptime_pct": 99.5,
    "api_p95_s": 2.0,
    "error_rate_24h_pct": 1.0,
    "llm_p95_s": 30.0,
}
AT_LEAST = {"uptime_pct"}

HTTP_EVENTS = ("http_response", "http_error")
REQUEST_COLUMNS = ["timestamp", "eventType", "level", "method", "path", "statusCode", "durationMs",
                   "error", "requestId", "userId", "organizationId"]
PROBE_INTERVAL = pd.Timedelta(seconds=30)
BRT = "-0300"

HEALTH_LINE = (r"^(?P<timestamp>\S+Z) (?P<method>[A-Z]+) (?P<path>\S+) (?P<code>\d{3}|-) "
               r"(?P<duration_ms>\d+)ms (?P<detail>.*)$")
CHANNEL_LINE = r"^(?P<stamp>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) BRT \| @(?P<author>\S+) \| (?P<text>.*)$"
INCIDENT_ID = r"INC-\d{4}-\d{2}-\d{2}-\d{2}"
OPENED = rf"^\[INCIDENT\] (?P<id>{INCIDENT_ID}): (?P<title>.+?) \| Severity: (?P<severity>P[0-3])\b"
ACKED = rf"^ACK (?P<id>{INCIDENT_ID})\b"
RESOLVED = rf"^\[RESOLVED\] (?P<id>{INCIDENT_ID})\b"


# ---------------------------------------------------------------- reading

def _existing_file(path, what: str, generator: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} not found: {path}. Create it with course.data.traffic.{generator}() "
            "and pass the path that call returns."
        )
    return path


def _read_lines(path: Path) -> pd.Series:
    lines = pd.Series(path.read_text(encoding="utf-8").splitlines(), dtype="str")
    return lines[lines.str.strip() != ""]


def _extract(text: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of ``pattern`` as 'str' columns; rows that do not match are NA.

    The Arrow dtype sends the match to pyarrow's regex kernel instead of a per-line loop.
    """
    return text.astype(pd.ArrowDtype(pa.string())).str.extract(pattern).astype("str")


def _read_backend_log(path) -> pd.DataFrame:
    path = _existing_file(path, "Request log", "request_log")
    stat = path.stat()
    return _read_json_lines(path.resolve(), stat.st_mtime_ns, stat.st_size).copy()


@functools.lru_cache(maxsize=2)
def _read_json_lines(path: Path, mtime_ns: int, size: int) -> pd.DataFrame:
    """Read once per file version: several hidden tests check against the same month."""
    return pd.read_json(path, lines=True, engine="pyarrow")


def _utc(stamps: pd.Series) -> pd.Series:
    """Winston's '2026-10-07T16:48:03.123+0000' as tz-aware UTC timestamps."""
    return pd.to_datetime(stamps, format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)


def parse_request_log(path) -> pd.DataFrame:
    """HTTP events of the backend log, one row per request, oldest first.

    Other lines (section completions, start-up and warning lines) are left out by
    ``eventType``; their ``level`` says nothing about HTTP. ``statusCode`` and ``durationMs``
    are int64, ``timestamp`` is tz-aware UTC, missing ``userId``/``error`` are NA.
    """
    log = _read_backend_log(path)
    http = log[log["eventType"].isin(HTTP_EVENTS)].reindex(columns=REQUEST_COLUMNS)
    http = http.assign(
        timestamp=_utc(http["timestamp"]),
        statusCode=http["statusCode"].astype("int64"),
        durationMs=http["durationMs"].astype("int64"),
    )
    return http.sort_values("timestamp", kind="stable").reset_index(drop=True)


def parse_section_completions(path) -> pd.DataFrame:
    """BullMQ section completions from the same log: timestamp, jobId, sectionId, durationMs."""
    log = _read_backend_log(path)
    done = log[(log["context"] == "SectionsProcessor") & (log["message"] == "Section generation completed")]
    done = done.reindex(columns=["timestamp", "jobId", "sectionId", "durationMs"])
    done = done.assign(timestamp=_utc(done["timestamp"]), durationMs=done["durationMs"].astype("int64"))
    return done.sort_values("timestamp", kind="stable").reset_index(drop=True)


def parse_health_log(path) -> pd.DataFrame:
    """One row per probe: timestamp (UTC), status_code (NA on timeout), duration_ms,
    timed_out, the body's status/database/redis (NA without a JSON body) and ``up``."""
    path = _existing_file(path, "Health probe log", "health_probe_log")
    fields = _extract(_read_lines(path), HEALTH_LINE).dropna(subset=["timestamp"])
    detail = fields["detail"]
    probes = pd.DataFrame({
        "timestamp": pd.to_datetime(fields["timestamp"], format="%Y-%m-%dT%H:%M:%S%z", utc=True),
        "path": fields["path"],
        "status_code": pd.to_numeric(fields["code"].replace("-", None), errors="coerce").astype("Int64"),
        "duration_ms": fields["duration_ms"].astype("int64"),
        "timed_out": (fields["code"] == "-") & (detail == "timeout"),
        "status": _extract(detail, r'"status":"(?P<v>[^"]*)"')["v"],
        "database": _extract(detail, r'"database":"(?P<v>[^"]*)"')["v"],
        "redis": _extract(detail, r'"redis":"(?P<v>[^"]*)"')["v"],
    })
    probes["up"] = (probes["status_code"] == 200).fillna(False).astype(bool) & (probes["status"] == "healthy")
    return probes.sort_values("timestamp", kind="stable").reset_index(drop=True)


def parse_incident_log(path) -> pd.DataFrame:
    """One row per incident: id, title, severity, opened, acknowledged, resolved.

    Times stay in BRT (fixed UTC-03:00), the zone the channel is written in and the one
    business days are counted in. ``acknowledged``/``resolved`` are NaT when never posted.
    """
    path = _existing_file(path, "Incident channel export", "incident_channel_log")
    msgs = _extract(_read_lines(path), CHANNEL_LINE).dropna(subset=["stamp"])
    msgs["time"] = pd.to_datetime(msgs["stamp"] + BRT, format="%Y-%m-%d %H:%M:%S%z")
    msgs = msgs.sort_values("time", kind="stable")  # "first" below means earliest
    opened = _extract(msgs["text"], OPENED).assign(opened=msgs["time"]).dropna(subset=["id"])
    opened = opened.drop_duplicates("id", keep="first")
    incidents = (opened[["id", "title", "severity", "opened"]]
                 .merge(_first_time(msgs, ACKED, "acknowledged"), on="id", how="left")
                 .merge(_first_time(msgs, RESOLVED, "resolved"), on="id", how="left"))
    return incidents.sort_values("opened", kind="stable").reset_index(drop=True)


def _first_time(msgs: pd.DataFrame, pattern: str, name: str) -> pd.DataFrame:
    """Earliest message per incident id whose text matches ``pattern``."""
    ids = _extract(msgs["text"], pattern)["id"]
    hits = pd.DataFrame({"id": ids, name: msgs["time"]}).dropna(subset=["id"])
    return hits.groupby("id", as_index=False)[name].min()


# ---------------------------------------------------------------- SLO measurements

def api_requests(requests: pd.DataFrame) -> pd.DataFrame:
    """The requests the latency and error-rate SLOs are about: everything but /api/health."""
    return requests[~requests["path"].str.startswith("/api/health")]


def uptime_pct(health: pd.DataFrame) -> float:
    """Share of probes that were up, in % (each probe stands for its 30 s interval)."""
    return float(100 * health["up"].mean())


def downtime_minutes(health: pd.DataFrame) -> float:
    """Minutes of the period covered by probes that were not up."""
    return float((~health["up"]).sum() * PROBE_INTERVAL / pd.Timedelta(minutes=1))


def api_p95_seconds(requests: pd.DataFrame) -> float:
    """95th percentile of API request duration over the whole period, in seconds."""
    return float(api_requests(requests)["durationMs"].quantile(0.95) / 1000)


def error_rate_pct(requests: pd.DataFrame) -> float:
    """5xx share of all API requests in the frame, in %."""
    return float(100 * (api_requests(requests)["statusCode"] >= 500).mean())


def _trailing_5xx_pct(api: pd.DataFrame, window: str) -> pd.Series:
    """5xx share (%) over the trailing ``window`` at each request of ``api``, as given."""
    api = api.sort_values("timestamp", kind="stable")
    is_5xx = pd.Series((api["statusCode"] >= 500).to_numpy(dtype=float),
                       index=pd.DatetimeIndex(api["timestamp"]))
    return 100 * is_5xx.rolling(window).mean()


def rolling_error_rate_pct(requests: pd.DataFrame, window: str = "24h") -> pd.Series:
    """5xx share (%) over the trailing ``window`` at each API request, full windows only."""
    rate = _trailing_5xx_pct(api_requests(requests), window)
    return rate[rate.index >= rate.index[0] + pd.Timedelta(window)]


def worst_trailing_5xx_pct(api: pd.DataFrame, window: str = "24h") -> float:
    """The worst trailing-window 5xx share (%) of a trainee's own API table, first partial
    windows included: how the error-rate step is judged when an earlier step built ``api`` wrong."""
    return float(_trailing_5xx_pct(api, window).max())


def worst_rolling_error_rate_pct(requests: pd.DataFrame, window: str = "24h") -> float:
    """Highest trailing-window 5xx rate seen in the period, in %."""
    return float(rolling_error_rate_pct(requests, window).max())


def llm_section_p95_seconds(sections: pd.DataFrame) -> float:
    """95th percentile of section generation time, in seconds."""
    return float(sections["durationMs"].quantile(0.95) / 1000)


def slo_table(requests: pd.DataFrame, health: pd.DataFrame, sections: pd.DataFrame) -> pd.DataFrame:
    """The guide's SLO table for the period: index ``metric``; columns target, actual, met."""
    actual = {
        "uptime_pct": uptime_pct(health),
        "api_p95_s": api_p95_seconds(requests),
        "error_rate_24h_pct": worst_rolling_error_rate_pct(requests),
        "llm_p95_s": llm_section_p95_seconds(sections),
    }
    table = pd.DataFrame({"target": GUIDE_SLOS, "actual": actual})
    table.index.name = "metric"
    at_least = table.index.isin(list(AT_LEAST))
    table["met"] = (at_least & (table["actual"] >= table["target"])) | (
        ~at_least & (table["actual"] < table["target"]))
    return table


def error_budget_minutes(slo_pct: float, minutes: float) -> float:
    """Downtime an availability target allows over ``minutes`` (99.9 % of 44 640 -> 44.64)."""
    return (100 - slo_pct) / 100 * minutes


# ---------------------------------------------------------------- incident targets

def response_deadlines(incidents: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Add ack_deadline, resolve_deadline, ack_breached and resolve_breached.

    A step taken after its deadline is a breach. A step still missing counts as a breach only
    once ``as_of`` (default: the latest time in the frame) has passed its deadline.
    """
    out = incidents.copy()
    times = out[["opened", "acknowledged", "resolved"]]
    as_of = pd.Timestamp(as_of) if as_of is not None else times.max().max()
    out["ack_deadline"] = _deadline(out, 0)
    out["resolve_deadline"] = _deadline(out, 1)
    out["ack_breached"] = _breached(out["acknowledged"], out["ack_deadline"], as_of)
    out["resolve_breached"] = _breached(out["resolved"], out["resolve_deadline"], as_of)
    return out


def _deadline(incidents: pd.DataFrame, which: int) -> pd.Series:
    """opened + the severity's target (0 = first response, 1 = resolution)."""
    deadline = pd.Series(pd.NaT, index=incidents.index, dtype=incidents["opened"].dtype)
    for severity, targets in SEVERITY_TARGETS.items():
        rows = incidents["severity"] == severity
        deadline[rows] = incidents.loc[rows, "opened"] + targets[which]
    return deadline


def _breached(done: pd.Series, deadline: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    late = (done > deadline).fillna(False)
    overdue = done.isna() & (deadline < as_of)
    return (late | overdue).astype(bool)
