"""Railway's view of the simulated world: determinism, schemas, and agreement with the month.

Every cross-source check runs for the canonical world and for one trainee's variant (alice),
whose stories sit elsewhere; a third world (bob) shows that the planted facts move per trainee.
"""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from course.data import cache, platform, traffic, world
from course.trainer.reference import platform as ref
from course.trainer.reference import slo

VARIANTS = {"canonical": world.Variant(), "alice": world.Variant(world.seed_for("alice"))}
BOB = world.Variant(world.seed_for("bob"))
GENERATORS = (platform.project_export, platform.health_checks, platform.metrics, platform.deployment_history)
MINUTES_IN_OCTOBER = 31 * 24 * 60


def _clear_memory_caches():
    """Forget every in-memory table, so that files are rebuilt from the world alone."""
    for cached in (platform._platform, platform._project, platform._checks, platform._metrics_frame,
                   getattr(traffic, "_month", None)):
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


@pytest.fixture(scope="module")
def files(data_cache, variant):
    return {make.__name__: make(variant) for make in GENERATORS}


@pytest.fixture(scope="module")
def metrics(files):
    return ref.parse_metrics(files["metrics"])


@pytest.fixture(scope="module")
def checks(files):
    return ref.parse_health_checks(files["health_checks"])


@pytest.fixture(scope="module")
def deploys(files):
    return ref.parse_deployments(files["deployment_history"])


def _utc(text) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# -- files ---------------------------------------------------------------------------------------
def test_files_are_named_by_version_and_world_and_reused(files, variant, data_cache):
    for make, path in files.items():
        assert path.parent == data_cache
        assert f"_v{platform.GENERATOR_VERSION}" in path.name and f"_world{variant.seed}." in path.name, make
        before = path.stat().st_mtime_ns
        assert getattr(platform, make)(variant) == path and path.stat().st_mtime_ns == before
    assert f"t{traffic.GENERATOR_VERSION}_" in files["health_checks"].name  # built on the month's probes


def test_the_same_world_gives_the_same_bytes_from_scratch(files, variant, tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    _clear_memory_caches()
    try:
        for make, path in files.items():
            again = getattr(platform, make)(variant)
            assert again.parent == tmp_path
            assert again.read_bytes() == path.read_bytes(), make
    finally:
        _clear_memory_caches()


def test_another_world_gives_other_bytes(files, variant):
    other = BOB if variant != BOB else world.Variant()
    for make, path in files.items():
        theirs = getattr(platform, make)(other)
        assert theirs.name != path.name and theirs.read_bytes() != path.read_bytes(), make


def test_without_a_variant_the_current_world_is_used():
    alice = VARIANTS["alice"]
    assert platform.deployments().equals(platform.deployments(world.Variant()))  # tests run with variants off
    with world.using(alice.seed):
        assert platform.deployments().equals(platform.deployments(alice))
        assert platform.metrics().name == platform.metrics(alice).name
    with pytest.raises(TypeError):
        platform.deployments("alice")


# -- the project export (Exercise 1.1) -----------------------------------------------------------
def test_the_export_lists_the_four_services_with_their_settings(files):
    table = ref.services_table(files["project_export"]).set_index("service")
    assert list(table.index) == list(world.SERVICES)
    assert table.loc[world.BACKEND, "replicas"] == 2 and table.loc[world.FRONTEND, "replicas"] == 1
    assert table.loc[world.BACKEND, "healthcheck_path"] == "/api/health"
    assert table.loc[world.FRONTEND, "healthcheck_path"] == "/"
    assert table.loc[[world.POSTGRES, world.REDIS], "healthcheck_path"].isna().all()
    assert table.loc[world.BACKEND, "start_command"].split(" && ") == [
        "npm run migration:run:prod", "npm run seed:templates:prod", "npm run start:prod"]
    assert table.loc[world.FRONTEND, "start_command"] == "serve -s dist"
    assert {"DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY", "EXA_API_KEY"} <= set(table.loc[world.BACKEND, "secret_variables"])
    assert table.loc[world.POSTGRES, "secret_variables"] == ["POSTGRES_PASSWORD"]
    staging = ref.services_table(files["project_export"], "staging").set_index("service")
    assert staging.loc[world.BACKEND, "replicas"] == 1


def _walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,), value
            yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, path)


def test_variables_are_names_never_values_and_secrets_are_flagged(files):
    text = files["project_export"].read_text(encoding="utf-8")
    export = json.loads(text)
    keys = {path[-1] for path, _ in _walk(export)}
    assert not keys & {"value", "values", "defaultValue", "raw"}
    variables = [var for env in export["environments"] for svc in env["services"] for var in svc["variables"]]
    assert len(variables) > 40
    for var in variables:
        assert set(var) <= {"name", "secret", "providedBy"} and re.fullmatch(r"[A-Z][A-Z0-9_]*", var["name"])
        assert var["secret"] == (var["name"] in world.SECRET_VARIABLES), var["name"]
    # Nothing in the file looks like a credential or a connection string.
    assert "://" not in text and "sk-" not in text and "@" not in text and "=" not in text
    names = ref.variable_names(files["project_export"])
    old = names[names["name"] == "JWT_SECRET_OLD"]
    assert list(old["environment"]) == ["staging"] and old["secret"].all()  # production lost it (27 Oct)


def test_each_trainee_sets_other_optional_variables():
    ours = set(ref.variable_names(platform.project_export(VARIANTS["alice"]))["name"])
    theirs = set(ref.variable_names(platform.project_export(BOB))["name"])
    assert ours != theirs and ours & theirs >= set(world.ENV_VARIABLES[world.BACKEND])


# -- health checks --------------------------------------------------------------------------------
def test_liveness_checks_are_the_months_probes_at_the_same_seconds(checks, variant):
    liveness = checks[checks["path"] == world.HEALTH_PATH].set_index("checkedAt")
    assert len(liveness) == MINUTES_IN_OCTOBER // 5
    assert (liveness.index.minute % 5 == 0).all() and (liveness.index.second == 0).all()
    month = slo.parse_health_log(traffic.health_probe_log(variant)).set_index("timestamp").loc[liveness.index]
    assert liveness["http_status"].astype("float").equals(month["status_code"].astype("float"))
    assert (liveness["response_ms"] == month["duration_ms"]).all()
    assert liveness["status"].fillna("-").equals(month["status"].fillna("-"))
    assert liveness["passed"].equals(month["up"])
    # three checks per 5-minute mark: liveness, readiness 15 s later, the frontend 20 s later
    assert checks.groupby("path").size().to_dict() == {p: MINUTES_IN_OCTOBER // 5 for p in
                                                        (world.HEALTH_PATH, world.READY_PATH, "/")}


def test_readiness_names_the_dependency_that_is_down(checks, variant):
    windows = traffic.planted(variant)
    ready = checks[checks["path"] == world.READY_PATH]

    def during(span):
        start, end = span
        return ready[(ready["checkedAt"] >= start) & (ready["checkedAt"] < end)]

    redis = during(windows["redis_outage"])
    assert len(redis) >= 4 and (redis["reason"] == "redis_disconnected").all()
    assert (redis["http_status"] == 200).all() and (redis["redis"] == "unhealthy").all()
    failover = during(windows["db_failover"])
    assert (failover["reason"] == "database_disconnected").sum() >= 1 and not failover["passed"].any()
    assert (failover.dropna(subset=["reason"])["database"] == "disconnected").all()
    breaker = during(platform.planted(variant)["openai_circuit_open"])
    assert len(breaker) >= 2 and (breaker["status"] == "degraded").all() and breaker["openai_circuit_open"].all()
    assert (during(windows["crash_loop"])["http_status"] == 502).all()
    # The liveness body of the Redis outage has the backend's quirk: "not_configured".
    liveness = checks[checks["path"] == world.HEALTH_PATH]
    start, end = windows["redis_outage"]
    assert (liveness[(liveness["checkedAt"] >= start) & (liveness["checkedAt"] < end)]["redis"] == "not_configured").all()


def test_readiness_agrees_with_liveness_while_the_pool_is_exhausted(checks, variant):
    """One pool, one story: at each mark of the exhaustion both checks wait for a slot, so readiness
    (15 s later) fails exactly when liveness did, and passes only slowly."""
    start, end = traffic.planted(variant)["pool_exhaustion"]
    marks = checks[(checks["checkedAt"] >= start) & (checks["checkedAt"] < end) & (checks["service"] == platform.BACKEND)]
    live = marks[marks["path"] == world.HEALTH_PATH].set_index("checkedAt")
    ready = marks[marks["path"] == world.READY_PATH].set_index("checkedAt")
    ready.index = ready.index - pd.Timedelta(seconds=platform.READY_OFFSET_S)
    both = live.join(ready, lsuffix="_live", rsuffix="_ready", how="inner")
    assert len(both) >= 6 and (~both["passed_live"]).sum() >= 3
    assert (both["passed_live"] == both["passed_ready"]).all()
    assert (both.loc[both["passed_ready"], "response_ms_ready"] > 1_000).all()


def test_every_failed_check_has_a_planted_cause(checks, variant):
    failed = ref.failing_checks(checks)
    facts = platform.health_check_results(variant)
    causes = facts.set_index(["checkedAt", "path"]).loc[list(zip(failed["checkedAt"], failed["path"])), "cause"]
    failed = failed.assign(cause=causes.to_numpy())
    assert set(facts.loc[facts["cause"] != "", "checkedAt"]) == set(failed["checkedAt"])
    assert (failed["path"] != "/").all()  # the frontend never failed
    expected = {"database disconnected": {"db_failover"}, "redis disconnected": {"redis_outage"},
                "redis not_configured": {"redis_outage"}, "HTTP 502": {"crash_loop"},
                "openai circuit open": {"openai_breaker"},
                "timeout": {"pool_exhaustion", "db_failover", "network_blip"}}
    for why, group in failed.groupby("why"):
        assert set(group["cause"]) <= expected[why], why
    windows = traffic.planted(variant)
    for cause, group in failed[failed["cause"] != "network_blip"].groupby("cause"):
        start, end = windows[cause]
        assert group["checkedAt"].between(start, end).all(), cause
    assert set(failed["cause"]) >= {"pool_exhaustion", "redis_outage", "crash_loop", "db_failover", "openai_breaker"}


# -- metrics (Exercise 3.2) ------------------------------------------------------------------------
def test_metrics_cover_october_minute_by_minute(metrics):
    assert list(metrics.columns[:-1]) == platform.METRIC_COLUMNS
    series = metrics.groupby(["service", "replica"])
    assert set(series.groups) == {(world.BACKEND, 1), (world.BACKEND, 2), (world.FRONTEND, 1),
                                  (world.POSTGRES, 1), (world.REDIS, 1)}
    for (service, _), frame in series:
        stamps = frame["timestamp"]
        assert len(stamps) == MINUTES_IN_OCTOBER and stamps.is_monotonic_increasing
        assert stamps.iloc[0] == _utc("2026-10-01") and stamps.iloc[-1] == _utc("2026-10-31 23:59")
        assert (stamps.diff().dropna() == pd.Timedelta("1min")).all()
        assert (frame["memory_limit_mb"] == world.RESOURCES[service][1]).all()
    assert metrics["cpu_percent"].dropna().between(0, 100).all()
    assert (metrics[["memory_mb", "network_in_mb", "network_out_mb"]].dropna() > 0).all().all()


def _backend(metrics, replica=1) -> pd.DataFrame:
    return metrics[(metrics["service"] == world.BACKEND) & (metrics["replica"] == replica)].set_index("timestamp")


def test_the_leaking_release_climbs_to_the_limit_then_runs_out_of_heap_in_a_loop(metrics, variant):
    leak = platform.planted(variant)["memory_leak"]
    start, end = traffic.planted(variant)["crash_loop"]
    assert leak["first_oom_restart_at"] == start and leak["restarts"][0] == start
    # The backend's own log has the heap message at each of those out-of-memory moments.
    with open(traffic.request_log(variant), encoding="utf-8") as fh:
        logged = [json.loads(line)["timestamp"] for line in fh if world.OOM_MESSAGE in line]
    assert pd.to_datetime(logged, format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True).tolist() == list(leak["ooms"])
    for replica in (1, 2):
        memory = _backend(metrics, replica)["memory_mb"]
        climb = memory[(memory.index > leak["live_at"]) & (memory.index < start)]
        assert len(climb) >= 10 and climb.is_monotonic_increasing
        assert climb.iloc[-1] > 0.9 * world.RESOURCES[world.BACKEND][1] > 3 * climb.iloc[0]
        loop = memory[(memory.index >= start) & (memory.index < leak["rollback_live_at"])]
        boots = pd.DatetimeIndex(leak["restarts"])
        since_boot = loop.index - boots[np.searchsorted(boots, loop.index, side="right") - 1]
        running = since_boot < pd.Timedelta(milliseconds=traffic.CRASH_AFTER_START_MS)
        assert loop[~running].isna().all() and loop[running].notna().all() and running.any()
    firings = ref.alert_firings(metrics)
    memory = firings[firings["metric"] == "memory_percent"]
    assert set(memory["service"]) == {world.BACKEND}
    assert memory["start"].between(leak["live_at"], leak["rollback_live_at"]).all()
    assert (memory["source"] == "SLA.md").any()  # above 90 %: P1 by the SLA


def test_the_cpu_spike_is_the_database_during_the_pool_exhaustion(metrics, variant):
    start, end = traffic.planted(variant)["pool_exhaustion"]
    firings = ref.alert_firings(metrics)
    sla = firings[(firings["source"] == "SLA.md") & (firings["metric"] == "cpu_percent")]
    assert len(sla) == 1
    spike = sla.iloc[0]
    assert spike["service"] == world.POSTGRES and spike["severity"] == "P2"
    assert spike["start"] == start.ceil("min") and spike["end"] == (end - pd.Timedelta("1ns")).floor("min")
    backend = _backend(metrics)["cpu_percent"]
    assert backend[start:end].max() < 50  # the backend only waits for connections


def test_restarts_are_where_the_other_sources_start_containers(metrics, variant):
    """Every fresh backend container shows as a memory drop, and every drop is a container start
    of the backend's log (deploys, the on-call day's restarts, the crash loop's restarts)."""
    deploys = pd.DatetimeIndex([_utc(t) for t in traffic.deploys_utc(variant)])
    starts = deploys.append(pd.DatetimeIndex(platform.planted(variant)["memory_leak"]["restarts"]))
    memory = _backend(metrics)["memory_mb"]
    drops = memory.index[(memory.diff() < -100).to_numpy()]
    for drop in drops:
        assert ((drop - starts >= pd.Timedelta(0)) & (drop - starts < pd.Timedelta("1min"))).any(), drop
    for start in deploys:
        after, before = memory[start:].dropna().iloc[0], memory[memory.index < start].iloc[-1]
        assert after < (300 if np.isnan(before) else before - 50), start  # a container that has just started
    assert len(drops) >= len(traffic.deploys_utc(variant)) - 2  # restarts right after a gap show no drop


def test_databases_have_no_container_while_they_are_down(metrics, variant):
    facts = platform.planted(variant)
    for service, key in ((world.POSTGRES, "database_down"), (world.REDIS, "redis_down")):
        series = metrics[metrics["service"] == service].set_index("timestamp")["memory_mb"]
        start, end = facts[key]["window"]
        missing = series.index[series.isna()]
        assert missing.min() == start.ceil("min") and missing.max() == (end - pd.Timedelta("1ns")).floor("min")
        assert len(missing) == len(series[start:end - pd.Timedelta("1ns")])
        assert series[end:].iloc[0] < 0.6 * series[series.index < start].iloc[-1]  # back cold
    assert facts["database_down"]["window"][0] == traffic.planted(variant)["db_failover"][0]
    postgres = metrics[metrics["service"] == world.POSTGRES].set_index("timestamp")["cpu_percent"]
    back = facts["database_down"]["window"][1]
    assert postgres[back:back + pd.Timedelta("3min")].max() > 80  # every pool reconnects at once


# -- deployments ----------------------------------------------------------------------------------
def test_deployment_history_schema_and_statuses(deploys):
    assert {"id", "service", "environment", "status", "reason", "sourceDeploymentId", "commitHash",
            "commitMessage", "createdAt", "startedAt", "finishedAt"} <= set(deploys.columns)
    assert deploys["id"].is_unique and set(deploys["status"]) <= set(platform.DEPLOY_STATUSES)
    assert set(deploys["reason"]) <= set(platform.TRIGGERS)
    assert (deploys.groupby("service")["status"].apply(lambda s: (s == "SUCCESS").sum()) == 1).all()
    apps = deploys[deploys["service"].isin([world.BACKEND, world.FRONTEND])]
    assert apps["commitHash"].str.fullmatch(r"[0-9a-f]{40}").all()
    failed = deploys[deploys["status"] == "FAILED"]
    assert len(failed) == 1 and failed["startedAt"].isna().all()
    live = deploys[deploys["status"] != "FAILED"]
    assert ((live["createdAt"] < live["startedAt"]) & (live["startedAt"] < live["finishedAt"])).all()


def test_backend_containers_start_at_the_months_deploy_times(deploys, variant):
    backend = deploys[(deploys["service"] == world.BACKEND) & deploys["startedAt"].notna()]
    october = backend[backend["startedAt"] >= traffic.MONTH_START]
    month = [_utc(t) for t in traffic.deploys_utc(variant)]
    first_failover_start = _utc(variant.on_call_starts()[0])
    assert set(october["startedAt"]) == (set(month) - {_utc(variant.on_call_starts()[1])}) | {first_failover_start}
    redeploy = october[october["startedAt"] == first_failover_start].iloc[0]
    assert redeploy["reason"] == "redeploy" and redeploy["startedAt"] < _utc(variant.on_call_starts()[1]) < redeploy["finishedAt"]
    assert redeploy["finishedAt"] == _utc(variant.at("db_failover", world.ON_CALL_LIVE["db_failover"]))
    jwt = october[october["startedAt"] == _utc(variant.on_call_starts()[2])].iloc[0]
    assert jwt["reason"] == "variables" and jwt["finishedAt"] < traffic.planted(variant)["jwt_rotation"][0]
    # The crash loop: the leaking release crashed; the rollback restarted the release before it.
    leak = october[october["status"] == "CRASHED"].iloc[0]
    assert leak["startedAt"] == month[2] < traffic.planted(variant)["crash_loop"][0]
    rollback = october[october["reason"] == "rollback"].iloc[0]
    assert rollback["startedAt"] == month[3]
    restored = backend[backend["id"] == rollback["sourceDeploymentId"]].iloc[0]
    assert restored["commitHash"] == rollback["commitHash"] and restored["startedAt"] == month[1]


def test_the_on_call_day_agrees_with_the_backend_logs(deploys, variant):
    """Module 5's day of logs: the same container starts, the same moments the backend was live
    again, the same moment the OpenAI breaker opened."""
    from course.data import backend_logs

    starts = [pd.Timestamp(when) for when in backend_logs.container_starts(variant)]
    backend = deploys[deploys["service"] == world.BACKEND]
    redeploy = backend[backend["reason"] == "redeploy"].iloc[0]
    jwt = backend[backend["reason"] == "variables"].iloc[0]
    assert redeploy["startedAt"] == starts[0] and redeploy["startedAt"] < starts[1] < redeploy["finishedAt"]
    assert jwt["startedAt"] == starts[2]
    day = {story.key: story for story in backend_logs.stories(variant)}
    assert redeploy["finishedAt"] == pd.Timestamp(day["db_pool"].recovered_at)
    milestones = {what: pd.Timestamp(when) for what, when in day["jwt_rotation"].milestones}
    assert jwt["finishedAt"] == milestones["'Nest application successfully started'"]
    opened = {what: pd.Timestamp(when) for what, when in day["openai_breaker"].milestones}
    assert platform.planted(variant)["openai_circuit_open"] == (
        opened["'OpenAI circuit breaker OPENED - too many failures' (first)"],
        opened["'OpenAI circuit breaker CLOSED - service recovered'"])


def test_the_last_week_has_a_failed_deploy_and_a_rollback(deploys, variant):
    week = ref.deploys_between(deploys, *platform.LAST_7_DAYS)
    assert (week["status"] == "FAILED").any() and (week["reason"] == "rollback").any()
    rollback = week[week["reason"] == "rollback"].iloc[0]
    bad = platform.planted(variant)["frontend_bad_release"]
    assert rollback["id"] == bad["rollback_deployment_id"] and rollback["service"] == world.FRONTEND
    assert rollback["sourceDeploymentId"] == bad["rolled_back_to"]
    failed = week[week["status"] == "FAILED"].iloc[0]
    assert failed["id"] == platform.planted(variant)["failed_deployment_id"]
    # The push after the failed build is the month's routine deploy of 29 Oct, where the log has it.
    after = deploys[(deploys["service"] == world.BACKEND) & (deploys["createdAt"] > failed["createdAt"])].iloc[0]
    assert after["startedAt"] == _utc(traffic.deploys_utc(variant)[6])


def test_the_reference_finds_the_last_good_deployment(deploys, variant):
    leak = platform.planted(variant)["memory_leak"]
    bad = platform.planted(variant)["frontend_bad_release"]
    moments = [(world.BACKEND, None), (world.BACKEND, leak["first_oom_restart_at"]),
               (world.FRONTEND, bad["live_at"] + pd.Timedelta("1min")), (world.FRONTEND, None)]
    for service, before in moments:
        answer = ref.last_good_deployment(deploys, service, before)
        assert answer["id"] == platform.last_good_deployment(variant, service, before)["id"], (service, before)
    # During the crash loop, the deployment to roll back to is the one the rollback restored.
    target = ref.last_good_deployment(deploys, world.BACKEND, leak["first_oom_restart_at"])
    rollback = deploys[deploys["id"] == leak["rollback_deployment_id"]].iloc[0]
    assert target["id"] == rollback["sourceDeploymentId"]
    assert platform.live_deployment(variant, world.BACKEND, leak["first_oom_restart_at"])["id"] == leak["deployment_id"]


# -- per trainee ------------------------------------------------------------------------------------
def test_the_planted_facts_differ_between_trainees():
    alice, bob = platform.planted(VARIANTS["alice"]), platform.planted(BOB)
    assert alice["memory_leak"]["live_at"] != bob["memory_leak"]["live_at"]
    assert alice["cpu_spike"]["window"] != bob["cpu_spike"]["window"]
    assert alice["database_down"]["window"] != bob["database_down"]["window"]
    assert alice["frontend_bad_release"]["live_at"] != bob["frontend_bad_release"]["live_at"]
    assert alice["failed_deployment_id"] != bob["failed_deployment_id"]
    ours, theirs = (platform.last_good_deployment(v, world.BACKEND, platform.planted(v)["memory_leak"]["live_at"])
                    for v in (VARIANTS["alice"], BOB))
    assert ours["id"] != theirs["id"] and ours["commit"] != theirs["commit"]
    canonical = platform.planted(world.Variant())
    assert canonical["frontend_bad_release"]["live_at"].strftime("%Y-%m-%d") == platform.CANONICAL_FRONTEND_STORY_DAY
