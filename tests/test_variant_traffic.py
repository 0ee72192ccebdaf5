"""Trainees' months: each variant places every story elsewhere, and every exercise keeps its answer.

Two trainees must not be able to copy each other's numbers, every story must show at its moved
times in all three files, and what the exercises grade (the SLO table, which day broke the LLM SLO,
which deadlines were breached) must come out the same way in every variant. Full months are
generated for three trainees; the properties that follow from where stories sit are checked on
thirty variants without writing their request logs.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from course.data import traffic, world
from course.trainer.reference import slo

CANONICAL = world.Variant()
ALICE, BOB = world.Variant(world.seed_for("alice")), world.Variant(world.seed_for("bob"))
FULL = {"alice": ALICE, "bob": BOB, "carol": world.Variant(world.seed_for("carol"))}
MANY = [world.Variant(world.seed_for(f"trainee-{n:02d}")) for n in range(30)]
BRT = pd.Timedelta(hours=world.UTC_OFFSET_BRT_H)
MONTH_MINUTES = 31 * 24 * 60
SLO_PCT, SLA_PCT = 99.5, 99.9
LOG_COLUMNS = ["timestamp", "level", "message", "context", "eventType", "path", "statusCode", "error"]


def _utc(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%dT%H:%M:%S.%f%z", utc=True)


@pytest.fixture(scope="module")
def months(data_cache):
    """Three trainees' months, generated and parsed once."""
    out = {}
    for name, variant in FULL.items():
        paths = (traffic.request_log(variant), traffic.health_probe_log(variant),
                 traffic.incident_channel_log(variant))
        log = pd.read_json(paths[0], lines=True, engine="pyarrow").reindex(columns=LOG_COLUMNS)
        out[name] = {
            "variant": variant, "paths": paths, "planted": traffic.planted(variant),
            "facts": traffic.facts(variant),
            "log": log.assign(timestamp=_utc(log["timestamp"])),
            "requests": slo.parse_request_log(paths[0]),
            "sections": slo.parse_section_completions(paths[0]),
            "health": slo.parse_health_log(paths[1]),
            "chat": slo.parse_incident_log(paths[2]),
            "channel": pd.Series(paths[2].read_text(encoding="utf-8").splitlines()),
        }
    return out


def inside(times: pd.Series, span, slack="0s") -> pd.Series:
    start, end = span
    return (times >= start) & (times < end + pd.Timedelta(slack))


def brt_clock(when) -> str:
    when = pd.Timestamp(when)
    return ((when.tz_convert(None) if when.tzinfo else when) + BRT).strftime("%H:%M")


# ---------------------------------------------------------------- the canonical world is the narrated one

def test_the_canonical_variant_is_the_month_the_course_narrates():
    assert traffic.planted(CANONICAL) == traffic.PLANTED
    assert traffic.deploys_utc(CANONICAL) == traffic.DEPLOYS_UTC
    facts = traffic.facts(CANONICAL)
    assert facts["bad_llm_day"] == world.CANONICAL_SLOW_LLM_DAY and facts["bad_llm_day_label"] == "Tue 20 Oct"
    assert facts["bad_llm_hours_brt"] == ("12:00", "16:30")
    assert facts["bad_llm_day_options"] == ["Wed 07 Oct", "Wed 14 Oct", "Tue 20 Oct", "Fri 23 Oct"]
    assert facts["crash_loop_deploy_utc"] == "2026-10-21 17:50:20"
    assert facts["crash_loop_deploy_brt"] == "2026-10-21 14:50:20"
    timeline = traffic.incident_timeline(CANONICAL)
    assert list(timeline["id"].unique()) == [incident[0] for incident in traffic.INCIDENTS]
    assert list(timeline["minute"]) == [event[0] for incident in traffic.INCIDENTS for event in incident[5]]
    quoted = " ".join(timeline["text"])
    assert "after the 14:50 deploy" in quoted and "Redis came back at 00:35" in quoted
    assert "checking the 16:03 deploy" in quoted


# ---------------------------------------------------------------- two trainees, two months

def test_two_trainees_report_different_values(months):
    alice, bob = months["alice"], months["bob"]
    fa, fb = alice["facts"], bob["facts"]
    assert (fa["bad_llm_day"], fa["bad_llm_hours_brt"]) != (fb["bad_llm_day"], fb["bad_llm_hours_brt"])
    assert fa["crash_loop_deploy_utc"] != fb["crash_loop_deploy_utc"]
    # every incident tied to a story is opened at another time in the two channels
    opened = {name: months[name]["chat"].merge(months[name]["facts"]["incidents"][["id", "story"]], on="id")
              .query("story != ''").set_index("story")["opened"] for name in ("alice", "bob")}
    assert len(opened["alice"]) == len(traffic.INCIDENT_STORIES)
    assert (opened["alice"] != opened["bob"].reindex(opened["alice"].index)).all()
    # and the SLO figures differ
    assert slo.uptime_pct(alice["health"]) != slo.uptime_pct(bob["health"])
    assert slo.worst_rolling_error_rate_pct(alice["requests"]) != pytest.approx(
        slo.worst_rolling_error_rate_pct(bob["requests"]), abs=0.01)


# ---------------------------------------------------------------- the stories at their moved times

@pytest.mark.parametrize("name", list(FULL))
def test_each_story_shows_in_the_request_log_at_its_moved_time(months, name):
    month = months[name]
    log, planted, deploys = month["log"], month["planted"], traffic.deploys_utc(month["variant"])
    assert all(planted[story] != traffic.PLANTED[story] for story in traffic.PLANTED)
    t = log["timestamp"]
    api = log["path"].notna() & ~log["path"].fillna("").str.startswith("/api/health")
    # pool exhaustion: pg-pool timeouts only in the pool and failover windows, most API calls fail
    pool_errors = log["error"].eq(world.POOL_TIMEOUT_ERROR)
    assert (inside(t, planted["pool_exhaustion"]) | inside(t, planted["db_failover"]))[pool_errors].all()
    during = api & inside(t, planted["pool_exhaustion"])
    assert (pool_errors & during).sum() > 0.5 * during.sum()
    # redis: the worker's reconnect errors start a second into the window and stop at its end
    lost = t[log["message"].eq(traffic.REDIS_LOST)]
    assert len(lost) >= 100 and inside(lost, planted["redis_outage"]).all()
    assert lost.min() - planted["redis_outage"][0] == pd.Timedelta("1s")
    # crash loop: nobody served, heap errors only inside, the bad release and the rollback start
    crash = inside(t, planted["crash_loop"])
    assert log.loc[crash, "eventType"].isna().all()
    ooms = t[log["message"].eq(world.OOM_MESSAGE)]
    assert len(ooms) >= 10 and inside(ooms, planted["crash_loop"]).all()
    starts = set(t[log["message"].eq("No migrations are pending")])  # a start's first line
    bad, rollback = (pd.Timestamp(when, tz="UTC") for when in deploys[2:4])
    assert {bad, rollback} <= starts and bad < planted["crash_loop"][0] and rollback >= planted["crash_loop"][1]
    # PDF export: Chromium errors only inside its window
    chromium = t[log["error"].fillna("").str.startswith("Chromium nao encontrado")]
    assert len(chromium) > 20 and inside(chromium, planted["pdf_export_broken"]).all()
    # slow LLM: OpenAI retries only for jobs posted in the window (and in the on-call day's
    # OpenAI outage, the day's log); the jobs inside take 35-59 s
    retries = t[log["message"].fillna("").str.startswith("[OpenAI API] Attempt 1/4 failed")]
    assert (inside(retries, planted["slow_llm"], "1min") | inside(retries, planted["openai_breaker"], "1min")).all()
    assert inside(retries, planted["slow_llm"], "1min").sum() > 50
    sections = month["sections"]
    slow = sections[inside(sections["timestamp"], planted["slow_llm"], "1min")
                    & (sections["timestamp"] >= planted["slow_llm"][0] + pd.Timedelta("1min"))]
    assert slow["durationMs"].median() > 35_000
    # OpenAI breaker: jobs refused only while it was open
    refused = t[log["message"].fillna("").str.contains("failed: Serviço de IA")]
    assert len(refused) and inside(refused, planted["openai_breaker"], "1min").all()
    # JWT rotation: the wave of 401s starts with its window, not before
    token = t[log["error"].eq("Token inválido")]
    start = planted["jwt_rotation"][0]
    per_minute_after = inside(token, (start, start + pd.Timedelta("5min"))).sum() / 5
    per_minute_before = inside(token, (start - pd.Timedelta("30min"), start)).sum() / 30
    assert per_minute_after > 3 and per_minute_after > 10 * per_minute_before


@pytest.mark.parametrize("name", list(FULL))
def test_each_outage_shows_in_the_probes_at_its_moved_time(months, name):
    health, planted = months[name]["health"], months[name]["planted"]
    t = health["timestamp"]
    in_outage = pd.Series(False, index=health.index)
    for story in traffic.PROBE_OUTAGES:
        in_outage |= inside(t, planted[story])
    # down only in the four outages, apart from the monitor's lone network blips
    assert (~health["up"] & ~in_outage).sum() == traffic.LONE_PROBE_TIMEOUTS
    assert (health.loc[inside(t, planted["redis_outage"]), "redis"] == "not_configured").all()
    assert (health.loc[inside(t, planted["crash_loop"]), "status_code"] == 502).all()
    assert (~health.loc[inside(t, planted["db_failover"]), "up"]).all()
    assert (~health.loc[inside(t, planted["pool_exhaustion"]), "up"]).mean() > 0.6


@pytest.mark.parametrize("name", list(FULL))
def test_each_incident_shows_in_the_channel_at_its_moved_time(months, name):
    month = months[name]
    variant, planted, chat, channel = month["variant"], month["planted"], month["chat"], month["channel"]
    timeline = traffic.incident_timeline(variant)
    # the channel holds exactly the timeline's messages, at its minutes (seconds added)
    messages = channel[channel.str.contains("INC-", regex=False)]  # chatter names no incident
    assert sorted(messages.str.slice(0, 16) + " " + messages.str.split(" BRT \\| ", n=1).str[1]) == sorted(
        timeline["minute"] + " @" + timeline["author"] + " | " + timeline["text"])
    assert (channel.str.slice(17, 19).astype(int) < 60).all()
    # each story's incident moved by exactly its story's shift, relative to the canonical channel
    canonical = traffic.facts(CANONICAL)["incidents"].set_index("story")
    incidents = month["facts"]["incidents"].set_index("story")
    for story in traffic.INCIDENT_STORIES.values():
        shift = variant.shift(story)
        for step in ("opened", "acknowledged", "resolved"):
            assert incidents.loc[story, step] == canonical.loc[story, step] + shift, (story, step)
        opened = chat.loc[chat["id"].eq(incidents.loc[story, "id"]), "opened"].iloc[0]
        assert opened.floor("min") == incidents.loc[story, "opened"]
        assert re.fullmatch(rf"INC-{opened.strftime('%Y-%m-%d')}-0\d", incidents.loc[story, "id"])
    # the clock times the team quotes are the moved ones
    text = "\n".join(channel)
    assert f"Redis came back at {brt_clock(planted['redis_outage'][1])}," in text
    deploys = traffic.deploys_utc(variant)
    assert f"after the {brt_clock(deploys[2])} deploy" in text
    assert f"checking the {brt_clock(variant.on_call_starts()[2])} deploy" in text


# ---------------------------------------------------------------- the exercises keep their answers

@pytest.mark.parametrize("name", list(FULL))
def test_the_slo_table_comes_out_as_in_the_canonical_month(months, name):
    month = months[name]
    requests, health, sections = month["requests"], month["health"], month["sections"]
    table = slo.slo_table(requests, health, sections)
    assert table["met"].tolist() == [True, True, False, True]
    uptime = slo.uptime_pct(health)
    assert SLO_PCT < uptime < SLA_PCT  # the m2-sla-999 quiz: meets 99.5 %, misses 99.9 %
    assert slo.error_budget_minutes(SLA_PCT, MONTH_MINUTES) < slo.downtime_minutes(health) \
        < slo.error_budget_minutes(SLO_PCT, MONTH_MINUTES)
    assert 0.4 < slo.downtime_minutes(health) / slo.error_budget_minutes(SLO_PCT, MONTH_MINUTES) < 0.6  # "about half"
    assert slo.api_p95_seconds(requests) < 1.5 and slo.error_rate_pct(requests) < 1
    assert slo.worst_rolling_error_rate_pct(requests) > 2
    # the pool exhaustion and the PDF incident each push the trailing 24 h rate over 1 %
    rate = slo.rolling_error_rate_pct(requests)
    for story in ("pool_exhaustion", "pdf_export_broken"):
        start = month["planted"][story][0]
        assert rate[start:start + pd.Timedelta("24h")].max() > 1, story


@pytest.mark.parametrize("name", list(FULL))
def test_the_bad_llm_day_is_the_only_day_over_30_s_as_a_trainee_counts_days(months, name):
    sections, facts = months[name]["sections"], months[name]["facts"]
    by_day = sections.groupby(sections["timestamp"].dt.tz_convert("America/Sao_Paulo").dt.date)["durationMs"]
    p95 = by_day.quantile(0.95).sort_values(ascending=False)
    assert str(p95.index[0]) == facts["bad_llm_day"] and p95.iloc[0] > 40_000
    assert p95.iloc[1] < traffic.ORDINARY_DAY_P95_MAX_MS
    assert slo.llm_section_p95_seconds(sections) < 25
    assert facts["bad_llm_day_label"] in facts["bad_llm_day_options"] and len(set(facts["bad_llm_day_options"])) == 4


# ---------------------------------------------------------------- thirty variants, no request logs written

def test_stories_keep_their_length_their_day_and_their_distance():
    canonical = traffic.PLANTED
    for variant in MANY:
        planted = traffic.planted(variant)
        for story, (start, end) in planted.items():
            assert end - start == canonical[story][1] - canonical[story][0], story
            assert traffic.MONTH_START <= start and end <= traffic.MONTH_END, story
            assert (start - canonical[story][0]) % pd.Timedelta("1min") == pd.Timedelta(0), story
        spans = sorted(planted.values())
        assert all(earlier[1] < later[0] for earlier, later in zip(spans, spans[1:])), variant  # no overlap
        day = [name for name, (start, _) in sorted(planted.items(), key=lambda item: item[1])
               if start.strftime("%Y-%m-%d") == world.ON_CALL_DAY]
        assert day == list(world.ON_CALL_INCIDENTS)  # the on-call day keeps its three, in order
        slow_start, slow_end = (when.tz_convert(None) + BRT for when in planted["slow_llm"])
        assert slow_start.strftime("%Y-%m-%d") in world.SLOW_LLM_DAYS and slow_start.date() == slow_end.date()
        other_days = {(start.tz_convert(None) + BRT).date() for name, (start, _) in planted.items() if name != "slow_llm"}
        assert slow_start.date() not in other_days - {(planted["redis_outage"][0].tz_convert(None) + BRT).date()}
        # a story's deploys keep their distance to it
        deploys = [pd.Timestamp(when, tz="UTC") for when in traffic.deploys_utc(variant)]
        for index, story in enumerate(traffic.DEPLOY_STORIES):
            if story:
                assert deploys[index] - planted[story][0] == (
                    pd.Timestamp(traffic.DEPLOYS_UTC[index], tz="UTC") - canonical[story][0]), story


def test_the_outages_alone_keep_uptime_between_the_slo_and_the_sla():
    """Whatever the noise draws, downtime stays inside (44.64, 223.2) minutes.

    Each outage keeps its probe count wherever it moves; the pool exhaustion's probes are down
    or up by chance, the other outages' are all down, and six calm probes time out.
    """
    probe_ms = np.arange(traffic._ms(traffic.MONTH_START), traffic._ms(traffic.MONTH_END),
                         world.PROBE_INTERVAL_S * 1000)
    minutes_per_probe = world.PROBE_INTERVAL_S / 60
    counts = set()
    for variant in [CANONICAL, *MANY]:
        month = traffic._month(variant)
        count = {story: int(month.inside(probe_ms, story).sum()) for story in traffic.PROBE_OUTAGES}
        counts.add(tuple(count.values()))
        always = sum(count[story] for story in traffic.PROBE_OUTAGES if story != "pool_exhaustion")
        least = (always + traffic.LONE_PROBE_TIMEOUTS) * minutes_per_probe
        most = least + count["pool_exhaustion"] * minutes_per_probe
        assert slo.error_budget_minutes(SLA_PCT, MONTH_MINUTES) < least
        assert most < slo.error_budget_minutes(SLO_PCT, MONTH_MINUTES)
    assert len(counts) == 1


def test_the_bad_llm_day_stays_the_only_day_over_30_s():
    """Per BRT day of completion, as a trainee groups the section completions."""
    for variant in MANY:
        month = traffic._month(variant)
        _, _, _, jobs = traffic._population_and_jobs(month.rng("requests"), month)
        done = jobs[~jobs["refused"]]
        done_ms = (done["ms"] + done["post_ms"] + done["run_ms"]).round().astype(np.int64)
        day = pd.to_datetime(done_ms + traffic._BRT_MS, unit="ms").dt.strftime("%Y-%m-%d")
        p95 = done["run_ms"].groupby(day).quantile(0.95).sort_values(ascending=False)
        assert p95.index[0] == traffic.facts(variant)["bad_llm_day"] and p95.iloc[0] > 40_000, variant
        assert p95.iloc[1] < traffic.ORDINARY_DAY_P95_MAX_MS, variant


def test_deadline_outcomes_are_the_canonical_ones_in_every_variant(data_cache):
    def breaches(variant):
        deadlines = slo.response_deadlines(slo.parse_incident_log(traffic.incident_channel_log(variant)))
        timeline = traffic.incident_timeline(variant).drop_duplicates("id")
        name = dict(zip(timeline["id"], timeline["story"].where(timeline["story"].ne(""), timeline["title"])))
        return {column: sorted(name[i] for i in deadlines.loc[deadlines[column], "id"])
                for column in ("ack_breached", "resolve_breached")}

    expected = breaches(CANONICAL)
    assert len(expected["ack_breached"]) == 4 and len(expected["resolve_breached"]) == 2
    for variant in MANY:
        assert breaches(variant) == expected, variant


# The canonical month: its files keep their bytes under their names, so a cache written by an
# earlier install holds the month every module narrates (version 3: the on-call day is the day's log).
CANONICAL_SHA256 = {
    "request_log_v3_seed2026.jsonl": "46997d5b674b5884dbaf975ed145368122b77a9e6b184c7ae27788b28cab9742",
    "health_probes_v3_seed2026.log": "244de993455f87c733f4a1775cff94511e109d055b287b30bb9f43a545290d33",
    "incidents_channel_v3_seed2026.txt": "002e87a0914819583399145d634bc976acdcf283b216b40f31a1e3c49b0726c4",
}


def test_the_canonical_month_keeps_its_bytes(data_cache):
    import hashlib

    for make in (traffic.request_log, traffic.health_probe_log, traffic.incident_channel_log):
        path = make(world.Variant())
        assert hashlib.sha256(path.read_bytes()).hexdigest() == CANONICAL_SHA256[path.name], path.name
