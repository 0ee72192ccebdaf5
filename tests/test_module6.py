"""Module 6: the drill's injects are views of the trainee's own night, every key and claim holds in
three worlds, the message parser says precisely what is wrong, and realistic mistakes lose only
their own cell."""
import json

import nbformat
import pandas as pd
import pytest

from harness import REPO, Trainee, nbgrader_meta, quiz_questions, solution_sources
from course import incident_template as template
from course.data import world
from course.trainer.reference import incident as ref

ASSIGNMENT = "m6_incident_response"
SOURCE = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
WORLDS = {"canonical": None, "alice": "alice", "bob": "bob"}
QUEUE_ROUTES = r"/generate|/sections/jobs/"


def source_notebook():
    return nbformat.read(SOURCE, as_version=4)


# -- the message parser -----------------------------------------------------------------------------
GUIDE_INCIDENT = """[INCIDENT] Authentication system unavailable
Severity: P0
Status: Investigating
Impact: All users unable to login
ETA: Assessing"""
GUIDE_RESOLVED = """[RESOLVED] Authentication system unavailable
Duration: 25 minutes
Root Cause: Database connection pool exhausted
Resolution: Restarted backend service, increased pool limits
Follow-up: GitHub issue #123 for post-mortem"""


def test_the_guides_examples_and_the_channels_layout_pass():
    assert all(report.ok for report in template.check_pair(GUIDE_INCIDENT, GUIDE_RESOLVED))
    channel = ("[INCIDENT] INC-2026-10-14-01: Section generation stopped: Redis unavailable | Severity: P1 | "
               "Status: Investigating | Impact: BullMQ queue down, new generations fail | ETA: unknown")
    report = template.check_incident(channel)
    assert report.ok and report.title == "Section generation stopped: Redis unavailable"
    assert report.fields["Severity"] == "P1"
    for duration in ["25 minutes", "1 h 48 min", "1h48m", "108 min", "about 2 hours", "3 days (weekend)"]:
        assert template.check_resolved(GUIDE_RESOLVED.replace("25 minutes", duration)).ok, duration
    for eta in ["01:30 BRT", "by 1h30", "30 min", "Assessing, next update in 1 h", "unknown"]:
        assert template.check_incident(GUIDE_INCIDENT.replace("Assessing", eta)).ok, eta


@pytest.mark.parametrize("text, tag, says", [
    ("[INCIDENT] <title>\nSeverity: <P0/P1/P2/P3>\nStatus: Investigating\nImpact: <description>\nETA: <estimated resolution time>",
     "INCIDENT", ["title still holds the template's placeholder '<title>'", "Severity still holds"]),
    (GUIDE_RESOLVED.replace("#123", "#XXX"), "RESOLVED", ["Follow-up still holds the template's placeholder 'XXX'"]),
    (GUIDE_INCIDENT.replace("P0", "P4"), "INCIDENT", ["Severity 'P4' is not a level: write P0, P1, P2 or P3"]),
    (GUIDE_INCIDENT.replace("Investigating", "Resolved"), "INCIDENT", ["a resolved incident gets a [RESOLVED] message"]),
    (GUIDE_INCIDENT.replace("ETA: Assessing", "ETA: soon"), "INCIDENT", ["ETA 'soon' is neither a time"]),
    (GUIDE_INCIDENT.replace("Impact: All users unable to login\n", ""), "INCIDENT", ["Impact is missing: add a line 'Impact: ...'"]),
    (GUIDE_RESOLVED.replace("Root Cause", "Root Cuase"), "RESOLVED", ["(did you mean 'Root Cause'?)", "Root Cause is missing"]),
    (GUIDE_RESOLVED.replace("25 minutes", "until morning"), "RESOLVED", ["Duration 'until morning' is not a duration"]),
    (GUIDE_RESOLVED, "INCIDENT", ["must start with [INCIDENT] and the title; it starts with [RESOLVED]"]),
    (GUIDE_INCIDENT + "\nSeverity: P1", "INCIDENT", ["Severity is given twice"]),
    ("", "RESOLVED", ["the message is empty"]),
    (None, "RESOLVED", ["must be text (a str), not NoneType"]),
])
def test_each_problem_is_named_precisely(text, tag, says):
    report = template.check_message(text, tag)
    assert not report.ok
    shown = "\n".join(report.problems)
    for words in says:
        assert words in shown, shown


def test_the_two_titles_must_match_and_assert_valid_lists_every_problem():
    closed = GUIDE_RESOLVED.replace("Authentication system unavailable", "Login broken")
    reports = template.check_pair(GUIDE_INCIDENT, closed)
    assert reports[0].ok and "is not the [INCIDENT] title" in reports[1].problems[0]
    with pytest.raises(template.TemplateError) as caught:
        template.assert_valid(*template.check_pair(GUIDE_INCIDENT.replace("P0", "P9"), closed))
    message = str(caught.value)
    assert "\n" not in message and "[INCIDENT] Severity 'P9'" in message and "[RESOLVED] its title" in message


def test_the_model_messages_pass():
    code = solution_sources(source_notebook())["m6-ex61-messages"]
    names = {}
    exec(code, names)  # noqa: S102 - the course's own model answer
    assert all(r.ok for r in template.check_pair(names["incident_message"], names["resolved_message"]))


# -- the night, in three worlds ---------------------------------------------------------------------
@pytest.fixture(scope="module", params=list(WORLDS))
def night(request, data_cache):
    from course.data import platform, scenario, traffic

    who = WORLDS[request.param]
    seed = world.CANONICAL_SEED if who is None else world.seed_for(who)
    with world.using(seed):
        facts = scenario.redis_night()
        window = (pd.Timestamp(facts["window_from_utc"], tz="UTC"), pd.Timestamp(facts["window_to_utc"], tz="UTC"))
        paths = dict(probes=traffic.health_probe_log(), log=traffic.request_log(),
                     channel=traffic.incident_channel_log(), history=platform.deployment_history())
        timeline = ref.timeline(paths["probes"], paths["log"], paths["channel"], paths["history"],
                                facts["incident_id"], *window)
        return dict(seed=seed, who=request.param, facts=facts, window=window, paths=paths, timeline=timeline,
                    drill={inject["step"]: inject for inject in scenario.redis_drill()},
                    planted=traffic.planted()[world.DRILL_STORY],
                    alerts=ref.outage_alerts(ref.parse_probes(paths["probes"], *window)))


@pytest.fixture
def in_world(night):
    with world.using(night["seed"]):
        yield night


def event_time(night, event):
    timeline = night["timeline"]
    return timeline.loc[timeline["event"].eq(event), "time"].min()


def test_the_drills_page_is_the_monitors_third_failed_probe(night):
    alerts, drill = night["alerts"], night["drill"]
    paged = alerts["monitor pages"].tz_convert("America/Sao_Paulo")
    assert night["facts"]["page_seconds"] == paged.strftime("%H:%M:%S")
    assert drill["acknowledge"]["at"] == paged.isoformat()
    assert alerts["monitor pages"] - alerts["outage starts"] == pd.Timedelta(seconds=30 * (world.PAGE_AFTER_FAILED_CHECKS - 1))
    assert alerts["outage starts"] == night["planted"][0] and alerts["probes healthy again"] == night["planted"][1]
    start = alerts["outage starts"].tz_convert("America/Sao_Paulo").strftime("%H:%M:%S")
    assert start in drill["acknowledge"]["body"] and "3 checks in a row" in drill["acknowledge"]["body"]


def test_what_the_health_injects_show(night):
    """m6-ex61-diagnose: the database answers and Redis does not, in every failed probe of the night."""
    run = [line for line in night["drill"]["diagnose"]["body"].splitlines()
           if " GET /api/health " in line and '"status":"unhealthy"' in line]
    assert run and all('"database":"connected","redis":"not_configured"' in line for line in run)
    lines = night["paths"]["probes"].read_text().splitlines()
    start, end = night["planted"]
    inside = [l for l in lines if start.strftime("%Y-%m-%dT%H:%M:%S") <= l[:19] < end.strftime("%Y-%m-%dT%H:%M:%S")]
    assert inside and all('"database":"connected","redis":"not_configured"' in line for line in inside)
    ready = [line for line in night["drill"]["diagnose"]["body"].splitlines() if line.startswith('{"checkedAt"')]
    body = json.loads(ready[0])["body"]
    assert body["status"] == "not_ready" and body["reason"] == "redis_disconnected"
    assert body["components"]["database"] == "connected" and json.loads(ready[0])["httpStatus"] == 200


def test_severity_and_mitigation_claims(night):
    """m6-ex61-severity (P1): only queue work fails, the worker says so every 10 s;
    m6-ex61-mitigate: nothing deployed in the hours before, Redis has no container, the backend
    retries on its own; m6-ex61-verify: Redis comes back nearly empty."""
    from course.data import platform

    start, end = night["planted"]
    log = pd.read_json(night["paths"]["log"], lines=True, engine="pyarrow")
    log["timestamp"] = pd.to_datetime(log["timestamp"], utc=True, format="ISO8601")
    during = log[log["timestamp"].between(start, end, inclusive="left")]
    failed = during[during["eventType"].eq("http_error")]
    assert failed["path"].str.contains(QUEUE_ROUTES).all()
    ok = during[during["eventType"].eq("http_response") & ~during["path"].str.startswith("/api/health")]
    assert (ok["statusCode"] < 400).all()
    worker = during[during["message"].str.contains("ECONNREFUSED", na=False)]
    assert (worker["timestamp"].diff().dropna() == pd.Timedelta(seconds=10)).all()
    after = log[log["timestamp"] >= end]
    assert not after["message"].str.contains("ECONNREFUSED", na=False).any()
    with world.using(night["seed"]):
        deploys = platform.deployments()
        metrics = pd.read_csv(platform.metrics(), parse_dates=["timestamp"])
    live = deploys["finished"].dropna()
    assert not live.between(start - pd.Timedelta(hours=5), end).any()
    assert deploys.loc[deploys["service"].eq(world.REDIS), "finished"].max() < pd.Timestamp("2026-10-01", tz="UTC")
    redis = metrics[metrics["service"].eq(world.REDIS)].set_index("timestamp")["memory_mb"]
    assert redis[start:end - pd.Timedelta("1min")].isna().all() and redis[end:].notna().all()
    assert redis[end] < 0.5 * redis[start - pd.Timedelta("1h"):start - pd.Timedelta("1min")].median()
    assert "no container reporting since" in night["drill"]["mitigate"]["body"]


def test_the_chat_injects_and_the_teams_response(night):
    """m6-ex61-communicate: the bot's message is the incident's first, and nobody answered it for
    over an hour; the prose and the quizzes of sections 4 to 6 read the same numbers everywhere."""
    chat = night["timeline"][night["timeline"]["source"].eq("chat")]
    assert chat["event"].iloc[0] == "incident opened" and "@railway-alerts" in night["drill"]["communicate"]["body"]
    assert chat["detail"].iloc[0] in night["drill"]["communicate"]["body"]
    assert chat["detail"].iloc[0] in night["drill"]["deadline"]["body"]  # the deadline counts from it
    opened = chat["time"].iloc[0].tz_convert("America/Sao_Paulo")
    assert night["facts"]["opened"] == opened.strftime("%H:%M:%S")
    assert night["alerts"]["monitor pages"] < chat["time"].iloc[0] < night["alerts"]["monitor pages"] + pd.Timedelta(minutes=10)
    assert pd.Timestamp(night["drill"]["deadline"]["at"]) >= chat["time"].iloc[0]  # shown once it is posted
    times = ref.response_times(night["timeline"])
    assert times["tta_min"] > 60 and times["ack_breached"]            # the first response was late
    assert times["ttr_min"] < 480 and not times["resolve_breached"]   # the resolution was not
    assert times["ttm_min"] < times["tta_min"]                        # users were back before the ACK
    resolved = event_time(night, "resolved")
    assert resolved - night["alerts"]["outage starts"] < pd.Timedelta(hours=2)  # m6-ex61-postmortem's option
    assert "Duration: 1 h 48 min" in chat.loc[chat["event"].eq("resolved"), "detail"].iloc[0]
    assert resolved < night["window"][1]  # the window holds the whole story
    deploys = night["timeline"][night["timeline"]["source"].eq("deploy")]
    assert len(deploys) >= 1 and (deploys["time"] < night["alerts"]["outage starts"] - pd.Timedelta(hours=5)).all()


def test_the_deadline_key(in_world):
    """Module 2's rule: the SLA's first response runs from the [INCIDENT] message that opens the
    incident, not from the page a few minutes before it."""
    from course.trainer.reference import quiz_keys

    key = quiz_keys.answer("m6_ack_deadline")
    due = (event_time(in_world, "incident opened") + pd.Timedelta(hours=1)).tz_convert("America/Sao_Paulo")
    assert key[0] == due.strftime("%H:%M") and f"{due:%H:%M} BRT" in key
    early = (in_world["alerts"]["monitor pages"] + pd.Timedelta(hours=1)).tz_convert("America/Sao_Paulo")
    assert early.strftime("%H:%M") not in key  # counting from the page is the trap
    question = next(q for qs in quiz_questions(source_notebook()).values() for q in qs if q.qid == "m6-ex61-deadline")
    assert question.answer_from == "m6_ack_deadline"
    times = ref.response_times(in_world["timeline"])
    assert times["tta_min"] == (event_time(in_world, "acknowledged") - event_time(in_world, "incident opened")) / pd.Timedelta("1min")
    if in_world["who"] == "canonical":
        # the model debrief's figures, and Module 2's deadline for INC-2026-10-14-01 (01:14:47)
        assert key[0] == "01:14" and in_world["facts"]["page"] == "00:11" and in_world["facts"]["opened"] == "00:14:47"
        assert round(times["tta_min"]) == 79


def test_one_paging_rule_for_every_page(in_world):
    """The 21 October page of Modules 3 and 5 is the monitor's third failed probe, as in Module 6's
    night, and both alert-bot [INCIDENT] messages come after their page."""
    from course.data import scenario, traffic

    for story in (world.DRILL_STORY, "crash_loop"):
        start, end = traffic.planted()[story]
        probes = ref.parse_probes(in_world["paths"]["probes"], start - pd.Timedelta("30min"), end + pd.Timedelta("30min"))
        page = ref.outage_alerts(probes)["monitor pages"]
        assert scenario.monitor_page(story) == page
        opened = traffic.facts()["incidents"].set_index("story").loc[story, "opened"]
        assert page < opened < page + pd.Timedelta(minutes=10)  # to the minute; the channel adds seconds
    crash_page = scenario.monitor_page("crash_loop").strftime("%H:%M")
    assert scenario.monitoring()["leak_page"] == scenario.on_call_day()["crash_report"] == crash_page
    if in_world["who"] == "canonical":
        assert crash_page == "18:06"


def test_the_monitor_as_the_prose_describes_it(data_cache):
    """Section 2: the uptime monitor calls /api/health every 30 s and /api/health/ready every 5 min."""
    from course.data import platform, traffic

    stamps = pd.to_datetime(pd.Series(traffic.health_probe_log().read_text().splitlines()).str.slice(0, 20), utc=True)
    assert (stamps.diff().dropna() == pd.Timedelta(seconds=30)).all()
    checks = pd.read_json(platform.health_checks(), lines=True)
    ready = pd.to_datetime(checks.loc[checks["path"].eq(world.READY_PATH), "checkedAt"], utc=True)
    assert (ready.diff().dropna() == pd.Timedelta(minutes=5)).all()
    text = "\n".join(c.source for c in source_notebook().cells if c.cell_type == "markdown")
    assert "calls `/api/health` every 30 s" in text and "every 5 minutes it also calls `/api/health/ready`" in text


def test_no_cell_above_the_postmortem_quiz_answers_it():
    nb = source_notebook()
    at = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "m6-ex61-postmortem")
    above = "\n".join(c.source for c in nb.cells[:at] if c.cell_type == "markdown")
    assert "every P0 and P1" not in above and "P0 and P1" not in above.split("## 5")[-1]
    below = "\n".join(c.source for c in nb.cells[at + 1:at + 2])
    assert "incidents folder's README" in below  # the four rules come after the question


def test_trainees_have_different_nights(data_cache):
    from course.data import scenario
    from course.trainer.reference import quiz_keys

    found = {}
    for who in ["alice", "bob"]:
        with world.using(world.seed_for(who)):
            found[who] = (quiz_keys.answer("m6_ack_deadline")[0], scenario.redis_night()["page"])
    assert found["alice"] != found["bob"], found


def test_every_drill_decision_has_its_inject_in_order():
    from course.data import scenario

    steps = [inject["step"] for inject in scenario.redis_drill(world.Variant())]
    decided = [q.qid for qs in quiz_questions(source_notebook()).values() for q in qs if q.qid.startswith("m6-ex61-")
               and q.qid.removeprefix("m6-ex61-") in steps]
    assert decided == [f"m6-ex61-{step}" for step in steps]


# -- realistic mistakes lose their own cell --------------------------------------------------------
def wrong(cell: str, old: str, new: str) -> dict:
    code = solution_sources(source_notebook())[cell]
    assert old in code, old
    return {cell: code.replace(old, new)}


MISTAKES = {
    # pages on the first failed probe: the monitor waits for three in a row
    "m6-first-failure": ("m6-ex61-alerts-test", wrong(
        "m6-ex61-alerts-solution", 'probes.at[rows[failures - 1], "timestamp"]', 'probes.at[rows[0], "timestamp"]')),
    # reads the channel's Brasília times as UTC: every chat row three hours early
    "m6-chat-as-utc": ("m6-ex61-timeline-test", wrong(
        "m6-ex61-timeline-solution", 'pd.to_datetime(said["stamp"] + "-0300").dt.tz_convert("UTC")',
        'pd.to_datetime(said["stamp"], utc=True)')),
    # takes the first row of an event instead of its earliest time
    "m6-first-row": ("m6-ex61-response-test", wrong(
        "m6-ex61-response-solution", 'return timeline.loc[timeline["event"] == event, "time"].min()',
        'return timeline.loc[timeline["event"] == event, "time"].iloc[0]')),
    # keeps the guide's own placeholder
    "m6-placeholder": ("m6-ex61-messages-test", wrong(
        "m6-ex61-messages", "Follow-up: GitHub issue for the post-mortem,", "Follow-up: GitHub issue #XXX for the post-mortem,")),
    # follows playbook scenario 6 (P1) for the login outage: the guide's rule gives P0
    "m6-sim-p1": ("m6-sim-drill-test", wrong("m6-sim-drill", "Severity: P0", "Severity: P1")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_realistic_mistake_loses_only_its_own_cell(one_world_course, name):
    from test_roundtrip import autograde

    cell, overrides = MISTAKES[name]
    points = autograde(one_world_course, ASSIGNMENT, Trainee(name, code_overrides=overrides))
    assert points[cell][0] == 0, points[cell]
    short = {other: score for other, score in points.items() if other != cell and score[0] != score[1]}
    assert not short, f"other cells lost points too: {short}"


def test_the_source_notebook_follows_the_conventions():
    nb = source_notebook()
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    assert ids[0] == "m6-setup" and all(i.startswith("m6-") for i in ids)
    tests = [i for i in ids if i.endswith("-test")]
    quizzes = set(quiz_questions(nb))
    assert not quizzes & set(tests)  # a damaged answer file costs the quizzes, never a code check
    points = sum(nbgrader_meta(c).get("points", 0) for c in nb.cells if nbgrader_meta(c).get("grade"))
    assert points == 31


# -- Exercise 6.1 on the clock: the simulated login-500 morning ------------------------------------
def play(cell_code: str, trainee: str):
    """Run the drill cell's code in ``trainee``'s world, as the notebook does; the saved drill."""
    from course.data.incident_sim import IncidentSim

    with world.using(world.seed_for(trainee)):
        names = {"sim": IncidentSim("login-500"), "pd": pd}
        exec(cell_code, names)  # noqa: S102 - the course's own model answer, or a mistake made from it
        return names["sim"].to_json()  # what the next cell saves as drill_record


@pytest.mark.parametrize("trainee", ["alice", "bob"])
def test_the_model_drill_and_postmortem_earn_full_marks_in_every_world(trainee):
    from course.trainer.reference import incident_sim as reference

    sources = solution_sources(source_notebook())
    saved = play(sources["m6-sim-drill"], trainee)
    result = reference.score(saved)
    assert result.points == result.out_of and result.severity_declared == "P0"
    model = next(c.source for c in source_notebook().cells if nbgrader_meta(c).get("grade_id") == "m6-sim-postmortem")
    assert reference.check_postmortem(model, saved) == []


@pytest.mark.parametrize("mistake, changes", [
    ("nothing done", None),
    ("P1 by playbook scenario 6", [("Severity: P0", "Severity: P1")]),
    ("restarts instead of sizing the pool, and does not verify", [
        ("sim.raise_pool(min(48, needed + 20))", "sim.restart('backend')"),
        ('assert sim.health()["ok"].iloc[-3:].all()', "sim.health()")]),
])
def test_a_blank_or_plausible_wrong_drill_does_not(mistake, changes):
    from course.trainer.reference import incident_sim as reference

    code = solution_sources(source_notebook())["m6-sim-drill"]
    for old, new in changes or []:
        assert old in code, old
        code = code.replace(old, new)
    saved = play(code if changes else "", "alice")
    result = reference.score(saved)
    assert result.points < result.out_of, mistake
    if changes and "restart" in mistake:
        assert result.duration_min is None or result.duration_min > result.best_duration_min
        assert result.moves.set_index("move")["minutes_lost"]["restart_backend"] == 2


def test_a_postmortem_that_contradicts_the_drill_loses_its_facts():
    from course.trainer.reference import incident_sim as reference

    saved = play(solution_sources(source_notebook())["m6-sim-drill"], "bob")
    model = next(c.source for c in source_notebook().cells if nbgrader_meta(c).get("grade_id") == "m6-sim-postmortem")
    assert any("pool raised" in p for p in reference.check_postmortem(model.replace("| T+8.5 |", "| T+3 |"), saved))
    assert reference.check_postmortem("", saved) == ["the post-mortem is empty"]


def test_the_postmortem_rubric_is_shown_above_the_answer_and_kept_in_its_metadata():
    nb = source_notebook()
    at = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "m6-sim-postmortem")
    assert "Graded by your trainer" in nb.cells[at - 1].source
    assert len(nb.cells[at].metadata["rubric"]) == 3
    assert nb.cells[at].cell_type == "markdown" and nbgrader_meta(nb.cells[at])["points"] == 3


def test_the_formgrader_shows_the_postmortem_rubric_above_the_answer():
    """The page the trainer grades on: nbgrader's formgrade template over the notebook the trainee
    was given (an autograded copy keeps its Markdown cells)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "formgrade"  # as nbgrader's formgrader extension sets it
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "m6_incident_response", "notebook_id": "m6_incident_response",
                 "submission_id": "s", "index": 0, "total": 1, "base_url": "", "student": "s",
                 "last_name": None, "first_name": None, "notebook_path": "/s"}
    page, _ = HTMLExporter(config=config).from_filename(
        str(REPO / "release" / "m6_incident_response" / "m6_incident_response.ipynb"), resources=resources)
    answer = page.index('id="m6-sim-postmortem"')  # the score box of the answer cell
    rubric = [page.find(text) for text in ("Graded by your trainer", "<em>Root cause</em>", "<em>Honest account</em>",
                                           "<em>Actions</em>")]
    assert all(0 <= at < answer for at in rubric), rubric
