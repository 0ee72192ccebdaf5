"""The clock times a module's story tells the trainee, in the trainee's own world.

A notebook's prose cannot change per trainee, so the times it would quote (when the report came
in, which half hour to look at) come from here: the setup cell hands them to the quizzes'
prompts (``Quiz(facts=...)``) and prints the ones the prose refers to. Only givens of the story
are here, never what an exercise asks the trainee to find.
"""
from __future__ import annotations

import pandas as pd

from course.data import backend_logs, traffic, world

BRT = "America/Sao_Paulo"


def _clock(when, fmt: str = "%H:%M") -> str:
    return pd.Timestamp(when).strftime(fmt)


def on_call_day(variant: world.Variant | None = None) -> dict[str, str]:
    """Module 5's givens: the morning's report, the container starts, the evening's 401 wave and
    the crash-loop night of 21 October (times UTC unless the name says BRT)."""
    variant = variant or world.current()
    db = pd.Timestamp(backend_logs.story("db_pool", variant).first_failure)
    report = db.floor("min") + pd.Timedelta(minutes=2)  # the first user writes two minutes in
    starts = [pd.Timestamp(t) for t in backend_logs.container_starts(variant)]
    jwt_from, jwt_to = (pd.Timestamp(t) for t in backend_logs.jwt_window(variant))
    p1_at = jwt_from + pd.Timedelta(minutes=2)
    crash_start, crash_end = traffic.planted(variant)["crash_loop"]
    crash_page = monitor_page("crash_loop", variant)  # the same page as Modules 3 and 6 count it
    return {
        "report_brt": _clock(report.tz_convert(BRT)),
        "report_utc": _clock(report),
        "start1": _clock(starts[0], "%H:%M:%S"), "start2": _clock(starts[1], "%H:%M:%S"),
        "start3": _clock(starts[2], "%H:%M:%S"),
        "jwt_report": _clock(jwt_from + pd.Timedelta(minutes=7)),
        "jwt_deploy": _clock(starts[2]), "jwt_from": _clock(jwt_from), "jwt_to": _clock(jwt_to),
        "jwt_p1_at": _clock(p1_at), "jwt_p1_late": _clock(p1_at + pd.Timedelta(hours=2, minutes=5)),
        "crash_report": _clock(crash_page),
        "crash_from": _clock(crash_start - pd.Timedelta(minutes=20)),
        "crash_to": _clock(crash_end + pd.Timedelta(minutes=5)),
        "crash_down": _clock(crash_start),
        "crash_deploy": _clock(traffic.facts(variant)["crash_loop_deploy_utc"]),
    }


# -- Module 3 -------------------------------------------------------------------------------------
def monitoring(variant: world.Variant | None = None) -> dict[str, str]:
    """Module 3's givens: when the pager went off for the 502s of 21 October (UTC, the same page
    as Module 5's: the monitor's third failed probe in a row, ``monitor_page``), and the support
    ticket of 23 October: when it came in (BRT) and the request id the user pasted from her error
    page (one of the PDF export failures that day)."""
    from course.data import sentry

    variant = variant or world.current()
    page = monitor_page("crash_loop", variant)
    events = pd.read_json(sentry.events_export(variant), lines=True, dtype=False)
    value = events["exception"].str.get("value")
    pdf = events[events["environment"].eq("production") & value.str.startswith("Chromium nao encontrado")
                 & events["user"].notna()]
    ticket = pdf.iloc[len(pdf) // 3]
    written = pd.Timestamp(ticket["timestamp"]) + pd.Timedelta(minutes=4)
    return {
        "leak_page": _clock(page),
        "ticket_brt": _clock(written.tz_convert(BRT)),
        "ticket_request_id": str(ticket["tags"]["request_id"]),
    }


# -- Module 6 -------------------------------------------------------------------------------------
# The night Redis went away (``world.DRILL_STORY``), replayed as a drill: what the on-call saw, in
# the order it reached them, each inject a raw excerpt of one view of the trainee's world (the
# monitor's probes, the readiness checks, the backend's log, Sentry, the #incidents channel,
# Railway). Only what the responder would have had in front of them: never what a later exercise
# asks the trainee to work out (the team's response times, the timeline).
import functools  # noqa: E402 - Module 6's block caches its reads per world
import json  # noqa: E402


def _clock_brt(when, fmt: str = "%H:%M") -> str:
    return pd.Timestamp(when).tz_convert(BRT).strftime(fmt)


def _stamp(line: str) -> str:
    """The UTC time a raw line starts with ('2026-10-14T03:10:00Z ...'), to the second."""
    return line[:19]


def _json_stamp(line: str) -> str:
    """The time of a backend JSON line ('"timestamp":"2026-10-14T03:10:01.000+0000"')."""
    at = line.rfind('"timestamp":"')
    return line[at + 13:at + 32] if at >= 0 else ""


def _between(path, start, end, key) -> list[str]:
    """The lines of a time-ordered file from ``start`` (included) to ``end`` (excluded), UTC,
    found by bisecting the file on disk (a month of log is never read whole here)."""
    low, high = (pd.Timestamp(x).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S") for x in (start, end))
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)

        def line_after(offset: int) -> tuple[int, str]:
            fh.seek(offset)
            if offset:
                fh.readline()  # the rest of the line the offset fell in
            return fh.tell(), fh.readline().decode("utf-8").rstrip("\n")

        lo, hi = 0, size
        while lo < hi:  # the first offset whose next whole line is not before ``low``
            mid = (lo + hi) // 2
            _, line = line_after(mid)
            if line and key(line) < low:
                lo = mid + 1
            else:
                hi = mid
        fh.seek(line_after(lo)[0])
        found = []
        for raw in fh:
            line = raw.decode("utf-8").rstrip("\n")
            if not line or key(line) >= high:
                break
            found.append(line)
    return found


def _probe_ok(line: str) -> bool:
    """A probe is up when it got HTTP 200 and its body says healthy (the backend answers 200 anyway)."""
    return " 200 " in line and '"status":"healthy"' in line


def _failed_run(variant: world.Variant, story: str) -> tuple[list[str], list[pd.Timestamp], int, int]:
    """The uptime monitor's probes around a story's outage (30 min either side), their times, and
    the first and last index of the run of failed probes the outage is."""
    start, end = traffic.planted(variant)[story]
    margin = pd.Timedelta(minutes=30)
    near = _between(traffic.health_probe_log(variant), start - margin, end + margin, _stamp)
    times = [pd.Timestamp(_stamp(line), tz="UTC") for line in near]
    inside = next(i for i, t in enumerate(times) if t >= start)
    first = inside
    while first > 0 and not _probe_ok(near[first - 1]):
        first -= 1  # the run of failed probes may start with a lone blip just before
    last = inside
    while last + 1 < len(near) and not _probe_ok(near[last + 1]):
        last += 1
    return near, times, first, last


def monitor_page(story: str, variant: world.Variant | None = None) -> pd.Timestamp:
    """When the uptime monitor paged the on-call for a story's outage (tz-aware UTC): its
    ``world.PAGE_AFTER_FAILED_CHECKS``-th failed probe in a row, the one paging rule of the world.
    The alert bot's [INCIDENT] message in #incidents comes a few minutes after the page."""
    _, times, first, _ = _failed_run(variant or world.current(), story)
    return times[first + world.PAGE_AFTER_FAILED_CHECKS - 1]


@functools.lru_cache(maxsize=8)
def _redis_night(variant: world.Variant) -> dict:
    """What the on-call of the Redis night had before them, read from the generated files."""
    from course.data import platform, sentry

    story = world.DRILL_STORY
    start, end = traffic.planted(variant)[story]
    margin = pd.Timedelta(minutes=30)
    near, times, first, last = _failed_run(variant, story)
    page = first + world.PAGE_AFTER_FAILED_CHECKS - 1
    ready_path = f'"path":"{world.READY_PATH}"'
    checks = _between(platform.health_checks(variant), start, end + margin, lambda line: line[14:33])
    ready_line = next(line for line in checks if ready_path in line and '"reason":"redis_disconnected"' in line)
    ready = {"checkedAt": pd.Timestamp(ready_line[14:33], tz="UTC")}
    night_log = _between(traffic.request_log(variant), start - margin, end + margin, _json_stamp)
    incident_id = traffic.facts(variant)["incident_id"][story]
    channel = traffic.incident_channel_log(variant).read_text(encoding="utf-8").splitlines()
    opened = next(line for line in channel if f"[INCIDENT] {incident_id}:" in line)
    lost = [json.loads(line) for line in sentry.events_export(variant).read_bytes().split(b"\n")
            if b"ECONNREFUSED" in line and f'"project":"{world.BACKEND}"'.encode() in line]
    lost = pd.DataFrame({"timestamp": pd.to_datetime([e["timestamp"] for e in lost], utc=True, format="ISO8601"),
                         "user": [e.get("user") for e in lost], "issue": [e["issueId"] for e in lost]})
    issues = json.loads(sentry.issues_export(variant).read_text(encoding="utf-8"))
    issue = next(i for i in issues if i["id"] == lost["issue"].iloc[0])
    deploys = platform.deployments(variant)
    return {
        "start": start, "end": end, "probes": near, "probe_times": times, "first": first, "last": last,
        "page": page, "ready": ready, "ready_line": ready_line, "log": night_log, "incident_id": incident_id,
        "opened_line": opened, "opened": pd.Timestamp(opened[:19] + "-0300"), "sentry_events": lost,
        "sentry_issue": issue, "deploys": deploys,
    }


def redis_night(variant: world.Variant | None = None) -> dict[str, str]:
    """Module 6's givens (clock times BRT unless the name says UTC): the night (the BRT day the
    outage began on, as 'Wed 14 Oct'), the page (the monitor's third failed check in a row), the
    incident's id in #incidents and when the alert bot's [INCIDENT] message opened it (``opened``,
    HH:MM:SS: the SLA's clock starts there, as in Module 2), and the window of the raw files the
    module reads (UTC, ISO)."""
    variant = variant or world.current()
    night = _redis_night(variant)
    page = night["probe_times"][night["page"]]
    return {
        "night": pd.Timestamp(night["start"]).tz_convert(BRT).strftime("%a %d %b"),
        "page": _clock_brt(page), "page_seconds": _clock_brt(page, "%H:%M:%S"),
        "page_utc": page.strftime("%Y-%m-%d %H:%M:%S"),
        "incident_id": night["incident_id"],
        "opened": night["opened"].strftime("%H:%M:%S"),
        "window_from_utc": (night["start"] - pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "window_to_utc": (night["start"] + pd.Timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"),
    }


def _inject(step: str, kind: str, at, title: str, body: list[str]) -> dict:
    at = pd.Timestamp(at).tz_convert(BRT)
    return {"step": step, "kind": kind, "at": at.isoformat(timespec="seconds"),
            "clock": at.strftime("%H:%M:%S"), "title": title, "body": "\n".join(body)}


def redis_drill(variant: world.Variant | None = None) -> list[dict]:
    """The drill's injects, in the order they reach the responder: step (the decision it leads to),
    kind, at (when it became available, ISO with the BRT offset), clock (HH:MM:SS BRT), title and
    body (raw excerpts of the trainee's own files, UTC as the files write it)."""
    variant = variant or world.current()
    night = _redis_night(variant)
    probes, times, first, page = night["probes"], night["probe_times"], night["first"], night["page"]
    paged_at = times[page]
    checks_at = [_clock_brt(t, "%H:%M:%S") for t in times[first:page + 1]]
    ready_at = night["ready"]["checkedAt"]
    seen_at = max(paged_at, ready_at)
    log = [line for line in night["log"] if _json_stamp(line) <= seen_at.strftime("%Y-%m-%dT%H:%M:%S")]
    since = [line for line in log if _json_stamp(line) >= night["start"].strftime("%Y-%m-%dT%H:%M:%S")]
    failed_http = [line for line in since if '"eventType":"http_error"' in line]
    worker = [line for line in since if '"context":"SectionsProcessor"' in line and '"level":"error"' in line]
    lost = night["sentry_events"]
    issue = night["sentry_issue"]
    so_far = lost[lost["timestamp"] <= seen_at]
    logs_at = seen_at + pd.Timedelta(minutes=1)
    last_deploys = night["deploys"][night["deploys"]["finished"] < night["start"]].sort_values("finished").tail(3)
    redis_deploy = night["deploys"][night["deploys"]["service"].eq(world.REDIS)].iloc[-1]
    opened_at = max(night["opened"], logs_at)  # the bot's [INCIDENT] message, once the severity call is in
    railway_at = opened_at + pd.Timedelta(minutes=2)
    back_at = times[night["last"] + 1]
    worker_all = [line for line in night["log"] if '"context":"SectionsProcessor"' in line
                  and "ECONNREFUSED" in line]
    return [
        _inject("acknowledge", "page", paged_at, "The uptime monitor pages you", [
            f"[FIRING] {world.BACKEND} · GET {world.HEALTH_PATH}",
            f"not healthy {world.PAGE_AFTER_FAILED_CHECKS} checks in a row: " + ", ".join(checks_at) + " BRT",
            "checks every 30 s · on call: you",
        ]),
        _inject("diagnose", "health probe", seen_at, "You open the monitor: its last liveness probes and the readiness check", [
            "uptime monitor, GET /api/health (every 30 s):",
            *[line for line in probes[max(first - 1, 0):page + 1]],
            "",
            "GET /api/health/ready (every 5 min):",
            night["ready_line"],
        ]),
        _inject("severity", "log excerpt", logs_at, "Sentry and the backend's log", [
            f"Sentry · {issue['project']} · new issue {issue['shortId']}",
            f"{issue['title']} · {issue['culprit']}",
            f"first seen {_clock_brt(lost['timestamp'].min(), '%H:%M:%S')} BRT · "
            f"{len(so_far)} events · {int(so_far['user'].notna().sum())} users",
            "",
            f"since {_clock_brt(night['start'], '%H:%M')} BRT: {len(worker)} worker errors, "
            f"{len(failed_http)} failed HTTP requests"
            + ("" if not failed_http else ": " + ", ".join(sorted({_path_of(line) for line in failed_http}))),
            "",
            f"railway logs --service={world.BACKEND}  (the last lines)",
            *log[-6:],
        ]),
        _inject("deadline", "chat message", opened_at, "#incidents: the alert bot opens the incident", [
            night["opened_line"],
            "",
            "Your severity call is in. Every level of the SLA comes with a first-response target,",
            "and the SLA's clock runs from the [INCIDENT] message that opens the incident.",
        ]),
        _inject("communicate", "chat message", opened_at, "#incidents", [
            night["opened_line"],
            "",
            "(no reply in the channel yet)",
        ]),
        _inject("mitigate", "railway", railway_at, "Railway: deployments and the Redis service", [
            "Deployments before tonight (production, newest first):",
            *[f"{row.finished:%Y-%m-%dT%H:%M:%SZ}  {row.service:<22} {row.status:<8} {row.trigger:<9} "
              f"{row.message if isinstance(row.message, str) else ''}"
              for row in last_deploys.iloc[::-1].itertuples()],
            f"{redis_deploy['finished']:%Y-%m-%dT%H:%M:%SZ}  {world.REDIS:<22} {redis_deploy['status']:<8} "
            f"{redis_deploy['trigger']:<9} image {world.DATABASE_IMAGES[world.REDIS]}",
            "",
            f"Metrics · {world.REDIS}: no container reporting since "
            f"{night['start']:%H:%M} UTC ({_clock_brt(night['start'])} BRT)",
        ]),
        _inject("verify", "health probe", back_at, "Green again", [
            "uptime monitor, GET /api/health:",
            *probes[night["last"] - 1:night["last"] + 2],
            "",
            "the worker's last failed reconnect:",
            worker_all[-1],
            "",
            f"Metrics · {world.REDIS}: a container reports again from "
            f"{night['end']:%H:%M} UTC ({_clock_brt(night['end'])} BRT)",
        ]),
    ]


def _path_of(line: str) -> str:
    at = line.find('"path":"')
    return line[at + 8:line.find('"', at + 8)] if at >= 0 else "?"


# -- Module 4 ------------------------------------------------------------------------------------
M4_EARLY_REMOVAL_H = 2  # the "too early" cleanup of JWT_SECRET_OLD that Module 4 asks about


def procedures(variant: world.Variant | None = None) -> dict[str, str]:
    """Module 4's givens: when the deploy of 27 Oct made the new JWT_SECRET live (UTC and BRT),
    the too-early removal of JWT_SECRET_OLD the quiz imagines, and when the first burst 401 came."""
    from course.data import auth

    variant = variant or world.current()
    live = auth.rotated_at(variant)
    first = pd.Timestamp(backend_logs.story("jwt_rotation", variant).first_failure)
    return {
        "rotation_utc": _clock(live, "%H:%M:%S"),
        "rotation_brt": _clock(live.tz_convert(BRT), "%H:%M"),
        "early_removal_utc": _clock(live + pd.Timedelta(hours=M4_EARLY_REMOVAL_H), "%H:%M:%S"),
        "first_401_utc": _clock(first, "%H:%M:%S"),
    }
