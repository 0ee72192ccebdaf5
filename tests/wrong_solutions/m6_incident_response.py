"""m6_incident_response: plausible wrong solutions and other right ones (see wrong_solutions/__init__.py).

Each case starts from the model solution of the source notebook and changes one thing, so the
catalogue follows the notebook; a fragment that is no longer there fails loudly at import."""
import nbformat

from harness import REPO, solution_sources
from mutation import Alternative, Mutation

_SOURCE = REPO / "source" / "m6_incident_response" / "m6_incident_response.ipynb"
_MODEL = solution_sources(nbformat.read(_SOURCE, as_version=4))
# The simulated incident is created by its own cell: a change to the drill starts the incident over.
_SIM_START = {"m6-sim-start": next(c.source for c in nbformat.read(_SOURCE, as_version=4).cells
                                   if c.metadata.get("nbgrader", {}).get("grade_id") == "m6-sim-start")}


def _edit(cell: str, *changes: tuple[str, str]) -> dict[str, str]:
    code = _MODEL[cell]
    for old, new in changes:
        assert code.count(old) == 1, f"{cell}: {old!r} is not in the model solution once"
        code = code.replace(old, new)
    return {cell: code}


# -- 4b · the two messages--------------------------------------------------------------------------
PLACEHOLDER_KEPT = Mutation(
    "the guide's #XXX kept",
    _edit("m6-ex61-messages", ("Follow-up: GitHub issue for the post-mortem,", "Follow-up: GitHub issue #XXX for the post-mortem,")),
    costs="m6-ex61-messages-test", why="the text says every <...> and the guide's #XXX are placeholders to replace")

TITLES_DIFFER = Mutation(
    "the [RESOLVED] title is not the [INCIDENT] title",
    _edit("m6-ex61-messages", ("[RESOLVED] Section generation stopped: Redis unreachable", "[RESOLVED] Redis is back")),
    costs="m6-ex61-messages-test", why="the text says the title is the same in both messages")

RESOLVED_STATUS = Mutation(
    "Status: Resolved in the [INCIDENT] message",
    _edit("m6-ex61-messages", ("Status: Investigating", "Status: Resolved")),
    costs="m6-ex61-messages-test", why="an open incident's Status is Investigating, Identified or Monitoring")

# -- 4c · alerts from the raw probes-----------------------------------------------------------------
HTTP_200_IS_OK = Mutation(
    "a 200 with an unhealthy body counted ok",
    _edit("m6-ex61-alerts-solution", ('"ok": fields["code"].eq("200") & fields["detail"].str.contains(\'"status":"healthy"\', regex=False),',
                                      '"ok": fields["code"].eq("200"),')),
    costs="m6-ex61-alerts-test", why="the text says ok needs HTTP 200 and a healthy body (the backend answers 200 anyway)")

PAGE_AT_FIRST_FAILURE = Mutation(
    "the monitor pages on the first failed probe",
    _edit("m6-ex61-alerts-solution", ('probes.at[rows[failures - 1], "timestamp"]', 'probes.at[rows[0], "timestamp"]')),
    costs="m6-ex61-alerts-test", why="the monitor pages on the failures-th failed probe in a row")

WINDOW_START_EXCLUDED = Mutation(
    "WINDOW's start left out",
    _edit("m6-ex61-alerts-solution", ('night_probes["timestamp"].ge(WINDOW[0])', 'night_probes["timestamp"].gt(WINDOW[0])')),
    costs="m6-ex61-alerts-test", why="the text says WINDOW's start is included, its end excluded")

ROWS_NOT_SORTED = Mutation(
    "probes taken in the order they come",
    _edit("m6-ex61-alerts-solution", ('    probes = probes.sort_values("timestamp", kind="stable").reset_index(drop=True)\n',
                                      '    probes = probes.reset_index(drop=True)\n')),
    costs="m6-ex61-alerts-test", why="the text says: take the rows in time order")

# -- 4c · one timeline --------------------------------------------------------------------------------
CHAT_AS_UTC = Mutation(
    "the channel's Brasília times read as UTC",
    _edit("m6-ex61-timeline-solution", ('pd.to_datetime(said["stamp"] + "-0300").dt.tz_convert("UTC")', 'pd.to_datetime(said["stamp"], utc=True)')),
    costs="m6-ex61-timeline-test", why="the text says the channel writes BRT (UTC-3)")

TIMELINE_NOT_SORTED = Mutation(
    "the timeline left in source order",
    _edit("m6-ex61-timeline-solution", ('timeline = (pd.concat([alert_rows, logs, chat, deploys], ignore_index=True)\n'
                                        '            .sort_values("time", kind="stable", ignore_index=True))',
                                        'timeline = pd.concat([alert_rows, logs, chat, deploys], ignore_index=True)')),
    costs="m6-ex61-timeline-test", why="the text says: sorted by time")

CHAT_TWICE = Mutation(
    "chat rows found by id and by title, both kept",
    _edit("m6-ex61-timeline-solution", ('said = said[said["detail"].str.contains(NIGHT["incident_id"], regex=False, na=False)]',
                                        'said = pd.concat([said[said["detail"].str.contains(NIGHT["incident_id"], regex=False, na=False)],\n'
                                        '                  said[said["detail"].str.contains("Section generation stopped", regex=False, na=False)]])')),
    costs="m6-ex61-timeline-test", why="one row per event: a message matched twice is a duplicate")

EVERY_WORKER_LINE = Mutation(
    "every failed reconnect of the worker kept",
    _edit("m6-ex61-timeline-solution", ('logs = pd.DataFrame({"time": worker["timestamp"].iloc[[0, -1]].to_numpy(), "source": "log",\n'
                                        '                     "event": ["worker loses Redis", "worker\'s last failed reconnect"],\n'
                                        '                     "detail": worker["message"].iloc[[0, -1]].to_numpy()})',
                                        'logs = pd.DataFrame({"time": worker["timestamp"].to_numpy(), "source": "log",\n'
                                        '                     "event": "worker loses Redis", "detail": worker["message"].to_numpy()})')),
    costs="m6-ex61-timeline-test", why="the text asks for the worker's first and last failure only")

# -- 4c · response times ------------------------------------------------------------------------------
CLOCK_FROM_THE_PAGE = Mutation(
    "the SLA's clock started at the page",
    _edit("m6-ex61-response-solution", ('opened = first("incident opened")', 'opened = first("monitor pages")')),
    costs="m6-ex61-response-test", why="the SLA's clock starts at the [INCIDENT] message that opens the incident (Module 2)")

FIRST_ROW_NOT_EARLIEST = Mutation(
    "the first row of an event, not its earliest time",
    _edit("m6-ex61-response-solution", ('return timeline.loc[timeline["event"] == event, "time"].min()',
                                        'return timeline.loc[timeline["event"] == event, "time"].iloc[0]')),
    costs="m6-ex61-response-test", why="the text says: first means the earliest time, whatever the row order")

P0_TARGETS = Mutation(
    "a P0's targets as the defaults",
    _edit("m6-ex61-response-solution", ('def response_times(timeline, ack_target="1h", resolve_target="8h"):',
                                        'def response_times(timeline, ack_target="15min", resolve_target="4h"):')),
    costs="m6-ex61-response-test", why="the night is a P1: 1 h to the first response, 8 h to resolve")

TARGET_IGNORED = Mutation(
    "the ack_target argument ignored",
    _edit("m6-ex61-response-solution", ('minutes["tta_min"] > pd.Timedelta(ack_target)', 'minutes["tta_min"] > pd.Timedelta("1h")')),
    costs="m6-ex61-response-test", why="the text says: the targets are the ones you are given")

# -- 2 · Exercise 6.1 on the clock -------------------------------------------------------------------
SIM_PLAYBOOK_P1 = Mutation(
    "login-500 declared P1, after playbook scenario 6",
    {**_SIM_START, **_edit("m6-sim-drill", ("Severity: P0", "Severity: P1"))},
    costs="m6-sim-drill-test", why="the guide's rule: login fully broken for every user is P0 (SLA.md, the guide's template)")

MUTATIONS: list = [SIM_PLAYBOOK_P1, PLACEHOLDER_KEPT, TITLES_DIFFER, RESOLVED_STATUS, HTTP_200_IS_OK, PAGE_AT_FIRST_FAILURE,
                   WINDOW_START_EXCLUDED, ROWS_NOT_SORTED, CHAT_AS_UTC, TIMELINE_NOT_SORTED, CHAT_TWICE,
                   EVERY_WORKER_LINE, CLOCK_FROM_THE_PAGE, FIRST_ROW_NOT_EARLIEST, P0_TARGETS, TARGET_IGNORED]

# -- other right ways ---------------------------------------------------------------------------------
CHANNEL_LAYOUT = Alternative(
    "the two messages on one line each, as the channel writes them, with the incident's id",
    {"m6-ex61-messages": '''
incident_message = ("[INCIDENT] INC-2026-10-14-01: Section generation stopped: Redis unreachable | Severity: P1 | "
                    "Status: Identified | Impact: no section can be generated or followed, editing and export work | "
                    "ETA: 02:00 BRT")
resolved_message = ("[RESOLVED] INC-2026-10-14-01: Section generation stopped: Redis unreachable | Duration: 108 min | "
                    "Root Cause: the Redis container stopped and BullMQ lost its queue | "
                    "Resolution: Redis restarted, a test generation completed | Follow-up: GitHub issue #214, paging escalation")
'''}, why="the text accepts the channel's one-line layout, an id after the tag, a clock ETA and any duration")

TZ_AWARE_CHAT = Alternative(
    "the channel's times localised to America/Sao_Paulo, the timeline sorted with mergesort",
    _edit("m6-ex61-timeline-solution",
          ('pd.to_datetime(said["stamp"] + "-0300").dt.tz_convert("UTC")',
           'pd.to_datetime(said["stamp"]).dt.tz_localize("America/Sao_Paulo").dt.tz_convert("UTC")'),
          ('.sort_values("time", kind="stable", ignore_index=True))', '.sort_values("time", kind="mergesort", ignore_index=True))')),
    why="Brasília has no daylight saving time in 2026: the zone and -03:00 agree")

RUNS_BY_LOOP = Alternative(
    "outage_alerts written as a plain loop",
    {"m6-ex61-alerts-solution": _MODEL["m6-ex61-alerts-solution"].split("def outage_alerts")[0] + '''def outage_alerts(probes, failures=PAGE_AFTER):
    rows = probes.sort_values("timestamp").reset_index(drop=True)
    found = pd.Series(pd.NaT, index=["outage starts", "monitor pages", "probes healthy again"], dtype="datetime64[ns, UTC]")
    start = None
    for i, ok in enumerate(rows["ok"].tolist() + [True]):
        if not ok and start is None:
            start = i
        elif ok and start is not None:
            if i - start >= failures:
                found["outage starts"] = rows.at[start, "timestamp"]
                found["monitor pages"] = rows.at[start + failures - 1, "timestamp"]
                if i < len(rows):
                    found["probes healthy again"] = rows.at[i, "timestamp"]
                return found
            start = None
    return found


alerts = outage_alerts(night_probes)
'''}, why="any way to find the first run of failures is right")

RESPONSE_BY_PIVOT = Alternative(
    "response times from a groupby of the earliest time per event",
    {"m6-ex61-response-solution": '''
def response_times(timeline, ack_target="1h", resolve_target="8h"):
    first = timeline.groupby("event")["time"].min()
    since = lambda event: (first[event] - first["incident opened"]).total_seconds() / 60
    tta, ttm, ttr = since("acknowledged"), since("probes healthy again"), since("resolved")
    return pd.Series({"tta_min": tta, "ttm_min": ttm, "ttr_min": ttr,
                      "ack_breached": tta > pd.Timedelta(ack_target).total_seconds() / 60,
                      "resolve_breached": ttr > pd.Timedelta(resolve_target).total_seconds() / 60})


response = response_times(timeline)
'''}, why="any way to take the earliest time per event is right")

SIM_ETA_WITHIN_THE_HOUR = Alternative(
    "the [INCIDENT] ETA written 'within the hour'",
    {**_SIM_START, **_edit("m6-sim-drill", ("ETA: 30-60 min", "ETA: within the hour"))},
    why="the usual ways of writing an ETA pass")

ALTERNATIVES: list = [CHANNEL_LAYOUT, TZ_AWARE_CHAT, RUNS_BY_LOOP, RESPONSE_BY_PIVOT, SIM_ETA_WITHIN_THE_HOUR]
