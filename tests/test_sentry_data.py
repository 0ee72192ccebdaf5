"""Sentry's view of the simulated world: determinism, schemas, and agreement with the backend's log.

Every cross-source check runs for the canonical world and for one trainee's variant (alice);
a third world (bob) shows that the exercise's answers move per trainee.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from course.trainer.reference import sentry_ranking
from course.data import cache, platform, sentry, traffic, world
from course.trainer.reference import platform as ref

VARIANTS = {"canonical": world.Variant(), "alice": world.Variant(world.seed_for("alice"))}
BOB = world.Variant(world.seed_for("bob"))
GENERATORS = (sentry.issues_export, sentry.events_export)
ISSUE_FIELDS = {"id", "shortId", "project", "environment", "title", "type", "value", "level", "status", "count",
                "userCount", "firstSeen", "lastSeen", "firstRelease", "lastRelease", "culprit"}
EVENT_FIELDS = {"eventId", "issueId", "project", "environment", "level", "timestamp", "release", "platform",
                "exception", "transaction", "request", "user", "tags"}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


@pytest.fixture(scope="module")
def files(data_cache, variant):
    return {make.__name__: make(variant) for make in GENERATORS}


@pytest.fixture(scope="module")
def events(files):
    return ref.parse_sentry_events(files["events_export"])


@pytest.fixture(scope="module")
def issues(files):
    return ref.parse_sentry_issues(files["issues_export"])


@pytest.fixture(scope="module")
def http_errors(data_cache, variant):
    """The http_error lines of the month's backend log."""
    with open(traffic.request_log(variant), encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if '"eventType":"http_error"' in line]
    frame = pd.DataFrame(records)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)
    return frame


def _title(kind: tuple[str, str]) -> str:
    return f"{kind[0]}: {kind[1]}"


def _production(events: pd.DataFrame, kind: tuple[str, str]) -> pd.DataFrame:
    return events[events["environment"].eq("production") & events["title"].eq(_title(kind))]


# -- files ---------------------------------------------------------------------------------------
def test_files_are_named_by_version_and_world_and_reused(files, variant, data_cache):
    for make, path in files.items():
        assert path.parent == data_cache
        assert f"_v{sentry.GENERATOR_VERSION}p{platform.GENERATOR_VERSION}t{traffic.GENERATOR_VERSION}_" in path.name
        assert path.name.endswith(f"_world{variant.seed}{path.suffix}")
        before = path.stat().st_mtime_ns
        assert getattr(sentry, make)(variant) == path and path.stat().st_mtime_ns == before


def test_the_same_world_gives_the_same_bytes_from_scratch(files, variant, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    for cached in (sentry._sentry, platform._platform, traffic._month):
        cached.cache_clear()
    try:
        for make, path in files.items():
            again = getattr(sentry, make)(variant)
            assert again.parent == tmp_path and again.read_bytes() == path.read_bytes(), make
    finally:
        sentry._sentry.cache_clear()


def test_another_world_gives_other_bytes(files, variant):
    for make, path in files.items():
        theirs = getattr(sentry, make)(BOB)
        assert theirs.name != path.name and theirs.read_bytes() != path.read_bytes(), make


def test_without_a_variant_the_current_world_is_used():
    alice = VARIANTS["alice"]
    assert sentry.issues().equals(sentry.issues(world.Variant()))
    with world.using(alice.seed):
        assert sentry.issues().equals(sentry.issues(alice))
        assert sentry.events_export().name == sentry.events_export(alice).name


# -- schemas -------------------------------------------------------------------------------------
def test_issues_and_events_schemas_agree(files, issues, events, variant):
    raw_issues = json.loads(files["issues_export"].read_text(encoding="utf-8"))
    assert all(set(issue) == ISSUE_FIELDS for issue in raw_issues)
    with open(files["events_export"], encoding="utf-8") as fh:
        first = json.loads(fh.readline())
    assert set(first) == EVENT_FIELDS and {"type", "value"} <= set(first["exception"]) <= {"type", "value", "stacktrace"}
    assert issues["id"].is_unique and events["eventId"].is_unique and len(issues) >= 12
    assert events["timestamp"].is_monotonic_increasing
    assert set(issues["environment"]) == set(world.SENTRY_ENVIRONMENTS)
    assert set(events["level"]) <= {"warning", "error", "fatal"}
    per_issue = events.groupby("issueId").agg(count=("eventId", "size"), users=("user.id", "nunique"),
                                              first=("timestamp", "min"), last=("timestamp", "max"))
    table = issues.set_index("id").loc[per_issue.index]
    assert (table["count"] == per_issue["count"]).all() and (table["userCount"] == per_issue["users"]).all()
    assert (table["firstSeen"] == per_issue["first"]).all() and (table["lastSeen"] == per_issue["last"]).all()
    assert (issues["title"] == issues["type"] + ": " + issues["value"]).all()
    assert len(events) == len(sentry.events(variant)) and len(issues) == len(sentry.issues(variant))


def test_nothing_sensitive_is_sent(files):
    text = files["events_export"].read_text(encoding="utf-8").lower()
    for word in ("authorization", "cookie", "password", "bearer", "x-api-key"):
        assert word not in text, word
    assert "BadRequestException" not in files["issues_export"].read_text(encoding="utf-8")


# -- the backend's events are its log's failures --------------------------------------------------
def test_every_failed_request_of_the_log_is_one_backend_event(events, http_errors):
    backend = events[events["project"].eq(world.BACKEND) & events["environment"].eq("production")
                     & events["tags.request_id"].notna()]
    ours = backend.set_index("tags.request_id")[["timestamp", "tags.status_code", "exception.value"]].sort_index()
    reported = http_errors[~http_errors["stack"].str.startswith(world.SENTRY_DROPPED_IN_PRODUCTION)]
    assert len(reported) < len(http_errors)  # the on-call day's log has BadRequestExceptions, not sent
    log = reported.set_index("requestId")[["timestamp", "statusCode", "error"]].sort_index()
    assert list(ours.index) == list(log.index)
    assert (ours["timestamp"] == log["timestamp"]).all()
    assert (ours["tags.status_code"].astype(int) == log["statusCode"]).all()
    assert all(error.endswith(value) for error, value in zip(log["error"], ours["exception.value"]))
    client = backend["tags.status_code"].astype(int) < 500
    assert (backend.loc[client, "level"] == "warning").all() and (backend.loc[~client, "level"] == "error").all()


def test_the_error_classes_and_messages_are_the_backends(issues):
    production = issues[issues["environment"] == "production"].set_index("title")
    for kind in (("QueryFailedError", world.DROPPED_CONNECTION_ERROR), ("Error", world.POOL_TIMEOUT_ERROR),
                 ("UnauthorizedException", "Token inválido"), sentry.AI_JOB_FAILED, sentry.REDIS_REFUSED):
        assert _title(kind) in production.index, kind
    assert world.OOM_MESSAGE not in " ".join(issues["title"])  # the heap gives out before the SDK can send


def test_incidents_show_at_the_same_minutes_as_in_the_month(events, variant, http_errors):
    windows = traffic.planted(variant)
    bad = platform.planted(variant)["frontend_bad_release"]
    spans = {
        ("QueryFailedError", world.DROPPED_CONNECTION_ERROR): [windows["db_failover"]],
        sentry.POOL_TIMEOUT: [windows["pool_exhaustion"], windows["db_failover"]],
        ("InternalServerErrorException", "Chromium nao encontrado. Verifique PUPPETEER_EXECUTABLE_PATH"):
            [windows["pdf_export_broken"]],
        sentry.REDIS_REFUSED: [windows["redis_outage"]],
        sentry.AXIOS_502: [windows["crash_loop"]],
        sentry.HEADER_BUG: [(bad["live_at"], bad["rollback_live_at"])],
    }
    # The few section jobs refused while the OpenAI breaker was open: one event per failed job.
    with open(traffic.request_log(variant), encoding="utf-8") as fh:
        refused = [json.loads(line) for line in fh if f"failed: {world.AI_UNAVAILABLE}" in line]
    jobs = _production(events, sentry.AI_JOB_FAILED)
    assert sorted(jobs.get("tags.job_id", pd.Series(dtype=object))) == sorted(str(r["jobId"]) for r in refused)
    start, end = windows["openai_breaker"]
    assert jobs["timestamp"].between(start, end + pd.Timedelta("1min")).all()
    for kind, allowed in spans.items():
        mine = _production(events, kind)
        assert len(mine) > 0, kind
        inside = pd.Series(False, index=mine.index)
        for start, end in allowed:
            inside |= mine["timestamp"].between(start, end, inclusive="left")
        assert inside.all(), kind
        for start, end in allowed:  # every window of the story has events
            assert mine["timestamp"].between(start, end, inclusive="left").any(), kind
    # The browsers report from the first minutes of what they suffer...
    for kind in (sentry.AXIOS_502, sentry.HEADER_BUG):
        (start, _), = spans[kind]
        assert _production(events, kind)["timestamp"].min() - start < pd.Timedelta("5min"), kind
    # ... and the backend's first failure of each story is the log's, to the millisecond.
    for error, story in ((world.DROPPED_CONNECTION_ERROR, "db_failover"), (world.POOL_TIMEOUT_ERROR, "pool_exhaustion"),
                         (world.POOL_TIMEOUT_ERROR, "db_failover"), ("Chromium nao", "pdf_export_broken")):
        start, end = windows[story]
        logged = http_errors[http_errors["error"].str.startswith(error) & http_errors["timestamp"].between(start, end)]
        ours = events[events["exception.value"].str.startswith(error) & events["environment"].eq("production")
                      & events["timestamp"].between(start, end)]
        assert ours["timestamp"].min() == logged["timestamp"].min(), story


def test_each_event_carries_the_release_live_at_its_time(events, variant):
    deploys = platform.deployments(variant)
    sample = events[events["environment"].eq("production")].iloc[::25]
    for row in sample.itertuples():
        live = platform.live_deployment(variant, row.project, row.timestamp)
        assert row.release == live["commit"], row.timestamp
    chromium = deploys.loc[deploys["incident"].eq("pdf_export_broken"), "commit"].iloc[0]
    pdf = events[events["title"].str.startswith("InternalServerErrorException: Chromium")]
    assert set(pdf["release"]) == {chromium}
    header = _production(events, sentry.HEADER_BUG)
    assert set(header["release"]) == {platform.planted(variant)["frontend_bad_release"]["commit"]}
    staging = events[events["environment"] == "staging"]
    pushes = deploys[(deploys["service"] == world.BACKEND) & deploys["trigger"].eq("push")]
    assert set(staging["release"]) <= set(pushes["commit"])


# -- Exercise 3.1: production only, top 3, a time range --------------------------------------------
def test_the_staging_only_issue_tops_the_list_unless_production_is_filtered(issues, events, variant):
    staging_only = issues[issues["title"].eq(_title(sentry.MISSING_RELATION))]
    assert list(staging_only["environment"]) == ["staging"]
    shared = issues[issues["title"].eq(_title(sentry.POOL_TIMEOUT))]
    assert set(shared["environment"]) == {"production", "staging"}
    for since, until in sentry.EXERCISE_RANGES.values():
        everywhere = sentry_ranking.ranking(variant, since, until, environment=None).head(3)
        assert staging_only["id"].iloc[0] in set(everywhere["issue_id"])
        assert staging_only["id"].iloc[0] not in set(sentry_ranking.ranking(variant, since, until)["issue_id"])


def test_the_top_3_is_unambiguous_and_the_reference_finds_it(events, variant):
    for name, (since, until) in sentry.EXERCISE_RANGES.items():
        assert sentry_ranking.is_unambiguous(variant, since, until), name
        expected = sentry_ranking.top_errors(variant, since, until)
        found = ref.top_errors(events, since, until)
        assert list(found["issueId"]) == list(expected["issue_id"]), name
        assert list(found["events"]) == list(expected["events"]), name
        assert (found["title"] == expected["title"]).all()
    # Warnings are not errors: counting them puts the everyday 401s on top instead.
    noisy = sentry_ranking.top_errors(variant, levels=("warning", "error"))
    assert noisy["title"].iloc[0] == "UnauthorizedException: Token inválido"
    assert "UnauthorizedException: Token inválido" not in set(sentry_ranking.top_errors(variant)["title"])


def test_the_top_3_moves_with_each_trainees_incidents():
    rankings = {}
    trainees = {"alice": VARIANTS["alice"], "bob": BOB, "carol": world.Variant(world.seed_for("carol"))}
    for who, v in trainees.items():
        rankings[who] = {name: tuple(sentry_ranking.top_errors(v, *span)["title"]) for name, span in
                         sentry.EXERCISE_RANGES.items()}
        assert all(sentry_ranking.is_unambiguous(v, *span) for span in sentry.EXERCISE_RANGES.values()), who
    # not one ranking for everybody (two given trainees may share one by chance: alice and bob do)
    assert len({tuple(ranking.items()) for ranking in rankings.values()}) > 1
    counts = {who: sentry_ranking.top_errors(v, *sentry.EXERCISE_RANGES["last_7_days"])["events"].tolist()
              for who, v in {"alice": VARIANTS["alice"], "bob": BOB}.items()}
    assert counts["alice"] != counts["bob"]
    ids = {who: set(sentry.issues(v)["id"]) for who, v in {"alice": VARIANTS["alice"], "bob": BOB}.items()}
    assert not ids["alice"] & ids["bob"]


def test_backend_events_carry_the_logs_stack_frames(events):
    """Exercise 3.1 step 4: a backend event's stack trace, the frame that raised last; browsers send none."""
    from course.data import world

    frames = events["exception.stacktrace.frames"]
    backend = events["project"].eq(world.BACKEND)
    assert frames[~backend].isna().all() and frames[backend].notna().mean() > 0.95
    pdf = events[events["exception.value"].str.startswith("Chromium nao encontrado")]
    assert len(pdf) and all([f["function"] for f in trace if f["in_app"]][-1] == "ExportService.exportToPDF"
                            and trace[0]["function"] == "ExportController.exportPDF" for trace in pdf["exception.stacktrace.frames"])

