"""Module 3's exercises catch the mistakes they are about, and its quiz keys and narrative claims
hold in the canonical world and in two trainees' worlds."""
import json
import re

import nbformat
import pandas as pd
import pytest

from course.trainer.reference import sentry_ranking
from harness import REPO, Trainee, quiz_questions
from test_roundtrip import autograde
import wrong_solutions.m3_monitoring as CATALOGUE  # the wrong solutions the visible checks are tested with

pytestmark = pytest.mark.slow

ASSIGNMENT = "m3_monitoring"
SOURCE = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
BRT = "America/Sao_Paulo"

# The trap of section 2c: the staging test suite's issue takes the first place.
NO_ENVIRONMENT_FILTER = '''
def top_errors(events, since, until, environment="production", n=3):
    keep = events["level"].isin(["error", "fatal"]) & (events["timestamp"] >= since) & (events["timestamp"] < until)
    counts = events[keep].groupby(["issueId", "title"]).size().rename("events").reset_index()
    return counts.sort_values(["events", "issueId"], ascending=[False, True], ignore_index=True).head(n)
'''

# Warnings counted as errors: the everyday 401s crowd in.
WARNINGS_COUNTED = '''
def top_errors(events, since, until, environment="production", n=3):
    keep = (events["timestamp"] >= since) & (events["timestamp"] < until)
    if environment is not None:
        keep &= events["environment"] == environment
    counts = events[keep].groupby(["issueId", "title"]).size().rename("events").reset_index()
    return counts.sort_values(["events", "issueId"], ascending=[False, True], ignore_index=True).head(n)
'''


# Runs found over the whole frame in time order: the two replicas' samples interleave.
REPLICAS_MIXED = CATALOGUE.REPLICAS_MIXED.code["m3-alerts-solution"]

# Only the deployments that went live: the failed build of 29 October is left out.
LIVE_ONLY = '''
deployments = pd.json_normalize(history["deployments"])
for column in ["createdAt", "startedAt", "finishedAt"]:
    deployments[column] = pd.to_datetime(deployments[column], utc=True)
recent = deployments[deployments["createdAt"].between(*LAST_7_DAYS, inclusive="left") & deployments["status"].ne("FAILED")]
'''


def assert_only_cell_lost(points, cell):
    assert points[cell][0] == 0, points[cell]
    short = {name: score for name, score in points.items() if name != cell and score[0] != score[1]}
    assert not short, f"other cells lost points too: {short}"


@pytest.mark.parametrize("name, cell, code", [
    ("m3-no-env-filter", "m3-top-errors-solution", NO_ENVIRONMENT_FILTER),
    ("m3-warnings-counted", "m3-top-errors-solution", WARNINGS_COUNTED),
    ("m3-replicas-mixed", "m3-alerts-solution", REPLICAS_MIXED),
    ("m3-live-only", "m3-deploys-solution", LIVE_ONLY),
])
def test_a_realistic_mistake_loses_its_own_cell(one_world_course, name, cell, code):
    points = autograde(one_world_course, ASSIGNMENT, Trainee(name, code_overrides={cell: code}))
    assert_only_cell_lost(points, cell.replace("-solution", "-test"))


# -- the notebook -----------------------------------------------------------------------------------
def test_prompts_name_no_world_facts_and_data_keys_come_from_the_reference():
    """Prompts stay literal (a browser test formats them without this module's facts); the
    data-dependent keys are the two registered key functions."""
    from course.trainer.reference import quiz_keys

    questions = [q for qs in quiz_questions(nbformat.read(SOURCE, as_version=4)).values() for q in qs]
    assert len(questions) == 14 and {q.kind for q in questions} == {
        "single choice", "multiple select", "numeric", "short text", "ordering", "matching"}
    assert not [q.qid for q in questions if re.search(r"[{}]", q.prompt)]
    keyed = {q.qid: q.answer_from for q in questions if q.answer_from}
    assert keyed == {"m3-week-top-events": "busiest_production_issue_last_7_days",
                     "m3-memory-now": "backend_memory_now_mb"}
    assert set(keyed.values()) <= set(quiz_keys._KEYS)


# -- quiz keys and narrative claims, checked against the month's exports ------------------------------
WORLDS = {"canonical": None, "alice": "alice", "bob": "bob"}


@pytest.fixture(scope="module", params=list(WORLDS))
def month(request, data_cache):
    from course.data import platform, scenario, sentry, traffic, world
    from course.trainer.reference import platform as ref

    who = WORLDS[request.param]
    seed = world.CANONICAL_SEED if who is None else world.seed_for(who)
    with world.using(seed):
        metrics = ref.parse_metrics(platform.metrics())
        return dict(seed=seed, events=ref.parse_sentry_events(sentry.events_export()),
                    issues=ref.parse_sentry_issues(sentry.issues_export()), metrics=metrics,
                    firings=ref.alert_firings(metrics), story=scenario.monitoring(),
                    deployments=ref.parse_deployments(platform.deployment_history()),
                    planted=platform.planted(), windows=traffic.planted())


@pytest.fixture
def in_world(month):
    from course.data import world

    with world.using(month["seed"]):
        yield month


def test_the_setup_cells_ranges_are_the_exports(month):
    from course.data import platform, sentry

    exported = pd.Timestamp("2026-11-01 00:00", tz="UTC")
    assert sentry.EXERCISE_RANGES == {"month": (pd.Timestamp("2026-10-01", tz="UTC"), exported),
                                      "last_7_days": (exported - pd.Timedelta(days=7), exported)}
    assert platform.EXPORTED_AT == exported
    assert month["metrics"]["timestamp"].max() == exported - pd.Timedelta(minutes=1)
    assert exported.tz_convert(BRT).strftime("%A %d %B %H:%M") == "Saturday 31 October 21:00"  # the intro's "now"


def test_the_staging_suite_tops_the_unfiltered_list(month):
    from course.data import sentry
    from course.trainer.reference import platform as ref

    events, (since, until) = month["events"], sentry.EXERCISE_RANGES["last_7_days"]
    everywhere = pd.concat([ref.top_errors(events, since, until, environment=e) for e in ("production", "staging")])
    everywhere = everywhere.sort_values(["events", "issueId"], ascending=[False, True], ignore_index=True).head(3)
    production = ref.top_errors(events, since, until)
    suite = events[events["issueId"] == everywhere["issueId"].iloc[0]]  # m3-staging-issue
    assert set(suite["environment"]) == {"staging"} and suite["user.id"].nunique() == 1
    assert len(suite) >= 200  # "an issue with hundreds of events"
    assert set(suite["tags.endpoint"]) == {"GET /api/v1/templates"}
    assert suite["title"].iloc[0] == 'QueryFailedError: relation "etp_templates" does not exist'
    gaps = suite["timestamp"].diff().dropna()
    assert gaps.between(pd.Timedelta("90s"), pd.Timedelta("150s")).all()  # "every couple of minutes"
    first, last = (suite["timestamp"].agg(f).tz_convert(BRT) for f in ("min", "max"))
    assert first.day == 26 and 16 <= first.hour <= 21 and last.day == 27 and last.hour < 12  # "through the night"
    assert production["issueId"].iloc[2] not in set(everywhere["issueId"])  # a production error is pushed out


def test_the_week_and_month_rankings_have_one_answer(in_world):
    from course.data import sentry
    from course.trainer.reference import platform as ref, quiz_keys

    events = in_world["events"]
    for span in sentry.EXERCISE_RANGES.values():
        assert sentry_ranking.is_unambiguous(None, *span)
    week = ref.top_errors(events, *sentry.EXERCISE_RANGES["last_7_days"])
    assert quiz_keys.answer("busiest_production_issue_last_7_days") == week["events"].iloc[0]  # m3-week-top-events
    noisy = ref.top_errors(events, *sentry.EXERCISE_RANGES["month"], levels=("warning", "error"))
    assert noisy["title"].iloc[0] == "UnauthorizedException: Token inválido"  # the summary's 401 warnings


def test_the_ticket_is_a_pdf_failure_of_the_slim_image(in_world):
    events, story, deployments = in_world["events"], in_world["story"], in_world["deployments"]
    ticket = events[events["tags.request_id"] == story["ticket_request_id"]]
    assert len(ticket) == 1
    row = ticket.iloc[0]
    assert row["environment"] == "production" and row["tags.endpoint"] == "GET /api/v1/export/etp/:id/pdf"
    assert row["tags.status_code"] == "500" and isinstance(row["user.id"], str) and len(row["release"]) == 40
    written = row["timestamp"] + pd.Timedelta(minutes=4)
    assert written.tz_convert(BRT).strftime("%a %d %H:%M") == f"Fri 23 {story['ticket_brt']}"
    own = [frame for frame in row["exception.stacktrace.frames"] if frame["in_app"]]  # 2d's raised_in
    assert own[-1]["function"] == "ExportService.exportToPDF" and own[0]["function"].endswith("Controller.exportPDF")
    ticket_at = pd.Timestamp(f"2026-10-23 {story['ticket_brt']}", tz=BRT)  # 2d's visible check: within the hour before
    assert ticket_at - pd.Timedelta(hours=1) <= row["timestamp"] <= ticket_at
    shipped = deployments[deployments["commitHash"] == row["release"]]  # m3-deploy-links, second row
    assert set(shipped["commitMessage"]) == {"chore(docker): slimmer runtime image"}
    fix = deployments[deployments["commitMessage"] == "fix(docker): install chromium in the runtime image"]
    fixed_at = fix.loc[fix["reason"] == "push", "finishedAt"].iloc[0]
    assert fixed_at > row["timestamp"] and fixed_at.tz_convert(BRT).day == 23  # "fixed it later that day"


def test_what_never_reaches_sentry(month, data_cache):
    from course.data import sentry, world

    with world.using(month["seed"]):
        text = sentry.events_export().read_text(encoding="utf-8").lower()
    for word in ("authorization", "cookie", "password", "bearer"):
        assert word not in text, word
    events = month["events"]
    production = events[events["environment"] == "production"]
    assert not production["exception.type"].eq("BadRequestException").any()
    backend = production[(production["project"] == world.BACKEND) & production["tags.request_id"].notna()]
    assert backend["tags.endpoint"].notna().all() and backend["user.id"].notna().any()
    assert (events["environment"] == "staging").any()  # m3-never-sent: beforeSend does not drop staging


def test_issue_statuses_in_the_regression_quiz(month):
    issues = month["issues"].set_index("title")
    assert issues.loc["TypeError: Cannot read properties of undefined (reading 'map')", "status"] == "resolved"
    assert issues.loc["Error: ResizeObserver loop completed with undelivered notifications.", "status"] == "ignored"


def test_memory_now_key_and_a_quiet_last_day(in_world):
    from course.data import platform, world
    from course.trainer.reference import quiz_keys

    with open(platform.metrics(), encoding="utf-8") as fh:
        rows = [line.split(",") for line in fh.read().splitlines()[-5:]]
    last = [r for r in rows if r[1] == world.BACKEND and r[0] == "2026-10-31T23:59:00Z"]
    key = quiz_keys.answer("backend_memory_now_mb")  # m3-memory-now, against the raw CSV text
    assert len(last) == 2 and abs(key - sum(float(r[4]) for r in last)) < 1e-6
    assert all(250 < float(r[4]) < 400 for r in last) and 0.12 < key / 4096 < 0.2  # "a little over 300 MB, about 15 %"
    metrics = in_world["metrics"]
    day = metrics[(metrics["service"] == world.BACKEND) & (metrics["timestamp"] >= platform.EXPORTED_AT - pd.Timedelta("24h"))]
    assert day["memory_percent"].max() < 20 and day["cpu_percent"].max() < 30
    assert not (in_world["firings"]["end"] >= platform.EXPORTED_AT - pd.Timedelta("24h")).any()
    until = platform.EXPORTED_AT - pd.Timedelta("1h")  # 3a's visible check: a full window with samples at its ends
    backend = metrics[metrics["service"] == world.BACKEND]
    inside = backend[(backend["timestamp"] >= until - pd.Timedelta("24h")) & (backend["timestamp"] < until)]
    assert len(inside) == 2 * 24 * 60 and (backend["timestamp"] == until).sum() == 2
    assert inside["timestamp"].min() == until - pd.Timedelta("24h") and backend["memory_percent"].max() > 1


def test_the_alert_rule_keys(month):
    from course.data import world

    firings, windows, deployments = month["firings"], month["windows"], month["deployments"]
    per_rule = firings.groupby(["source", "metric"]).size().sort_values(ascending=False)
    assert per_rule.index[0] == ("DEPLOY_RAILWAY.md", "cpu_percent") and per_rule.iloc[0] >= 15  # m3-noisy-rule
    assert per_rule.iloc[0] > 3 * per_rule.iloc[1]
    # "routine deploys included": a firing within 3 minutes of a deployment that caused nothing
    boots = deployments.loc[(deployments["service"] == world.BACKEND) & deployments["startedAt"].notna(), "startedAt"]
    cpu = firings[(firings["source"] == "DEPLOY_RAILWAY.md") & (firings["metric"] == "cpu_percent")]
    outside = cpu[~cpu["start"].apply(lambda t: any(s <= t < e for s, e in windows.values()))]
    assert any(((boots <= t) & (t - boots <= pd.Timedelta("3min"))).any() for t in outside["start"])
    sla_cpu = firings[(firings["source"] == "SLA.md") & (firings["metric"] == "cpu_percent")]  # m3-sla-cpu
    assert len(sla_cpu) == 1 and sla_cpu["service"].iloc[0] == "PostgreSQL"
    start, end = windows["pool_exhaustion"]
    when = sla_cpu["start"].iloc[0]
    assert start <= when < end and when.tz_convert(BRT).day == 7 and 12 <= when.tz_convert(BRT).hour < 18


def test_the_leak_gave_minutes_of_warning(month):
    from course.data import world

    leak, firings, metrics = month["planted"]["memory_leak"], month["firings"], month["metrics"]
    memory = firings[firings["metric"] == "memory_percent"]
    oom = leak["first_oom_restart_at"]
    assert (memory["start"] > leak["live_at"]).all() and (memory["end"] < oom).all()
    first = {source: rows["start"].min() for source, rows in memory.groupby("source")}
    for source in ("MONITORING.md", "DEPLOY_RAILWAY.md"):
        assert pd.Timedelta("1min") <= oom - first[source] <= pd.Timedelta("5min")  # "a few minutes"
    assert first["SLA.md"] > first["MONITORING.md"]  # "the 90 % rule a little later"
    backend = metrics[metrics["service"] == world.BACKEND].set_index("timestamp")
    normal = backend.loc[oom - pd.Timedelta("20min"):oom - pd.Timedelta("16min"), "memory_percent"]
    assert normal.max() < 25  # "from normal to the limit in about a quarter of an hour"
    climbing = backend.loc[leak["live_at"]:oom, "memory_percent"]
    assert climbing[climbing > 25].index.min() - leak["live_at"] < pd.Timedelta("5min")  # "within minutes"


def test_the_deployment_links(month):
    from course.data import world

    deployments, leak = month["deployments"], month["planted"]["memory_leak"]
    backend = deployments[(deployments["service"] == world.BACKEND) & deployments["status"].ne("FAILED")]
    live_before = backend[backend["finishedAt"] <= leak["live_at"]].sort_values("finishedAt").iloc[-1]
    assert live_before["commitMessage"] == "feat(sections): faster section previews"  # m3-deploy-links, first row
    rollback = backend[backend["id"] == leak["rollback_deployment_id"]].iloc[0]
    assert rollback["reason"] == "rollback" and rollback["commitMessage"] == "fix(auth): refresh the cookie path after login"


def test_the_last_7_days_include_a_failed_build(month):
    from course.data import platform
    from course.trainer.reference import platform as ref

    recent = ref.deploys_between(month["deployments"], *platform.LAST_7_DAYS)
    assert (recent["status"] == "FAILED").sum() == 1  # what the live-only mistake misses
    assert 5 <= len(recent) <= 14


def test_the_story_matches_module_5(in_world):
    from course.data import scenario

    assert in_world["story"]["leak_page"] == scenario.on_call_day()["crash_report"]  # one page, one night


def test_answers_differ_between_trainees(data_cache):
    from course.data import scenario, world
    from course.trainer.reference import quiz_keys

    found = {}
    for who in ["alice", "bob"]:
        with world.using(world.seed_for(who)):
            found[who] = (quiz_keys.answer("busiest_production_issue_last_7_days"),
                          quiz_keys.answer("backend_memory_now_mb"), scenario.monitoring()["ticket_request_id"])
    assert all(a != b for a, b in zip(found["alice"], found["bob"])), found
