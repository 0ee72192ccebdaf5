"""Module 5's logs per trainee: every story where its variant puts it, and as hard as the canonical one."""
import hashlib
import re

import pandas as pd
import pytest

from course.data import backend_logs, world
from course.trainer.reference import logparse

VARIANTS = {"canonical": world.Variant(), "alice": world.Variant(world.seed_for("alice")),
            "bob": world.Variant(world.seed_for("bob")),
            # the failover at its earliest (07:32 BRT): a quarter of the traffic decides the mix
            "trainee-155": world.Variant(world.seed_for("trainee-155")),
            # the failover over 11:05 UTC, where the log collector glues two lines into one
            "trainee-228": world.Variant(world.seed_for("trainee-228"))}
# The canonical files are shared by every kernel under these names: the same name must always
# hold the same bytes (a change to the data needs a new GENERATOR_VERSION, and new digests here).
CANONICAL_SHA256 = {
    "etp-backend-production-v3-seed20261027-full.log": "8c14a588219a6a4b1e58666bda223337316db4b374b5ffe8c52651484ecefd09",
    "etp-backend-production-v3-seed20261027-sample.log": "ba58305d7c441763d67980119efa44fca7e92dee2a4ad0ae5950935a2df30556",
    "etp-backend-bracketed-v3-seed20261027.log": "0608e39caafc663c5f06686966606c58a97a8c8d9f7c6416f73b3f7c34323d71",
    "etp-backend-dev-v3-seed20261027.log": "33866043bb0a1c3f612a425efd4d53e29555fbf6aa41fed1a353ad5a697f01bc",
}
BANNER = "> etp-express-backend@1.0.0 migration:run:prod"


@pytest.fixture(scope="module")
def day(data_cache):
    """day(name, size): that variant's production day, parsed once."""
    parsed = {}

    def get(name: str, size: str = "full") -> pd.DataFrame:
        if (name, size) not in parsed:
            parsed[name, size] = logparse.parse_production(backend_logs.production_log(size, VARIANTS[name]))
        return parsed[name, size]

    return get


def _shifted(canonical: str, shift: pd.Timedelta) -> pd.Timestamp:
    return pd.Timestamp(canonical) + shift


# -- the facts each variant states -------------------------------------------------------------
@pytest.mark.parametrize("name", VARIANTS)
def test_stories_move_whole_by_their_variants_offset(name):
    variant = VARIANTS[name]
    for canonical, moved in zip(backend_logs.STORIES, backend_logs.stories(variant)):
        shift = variant.shift(backend_logs.STORY_NAMES[canonical.key])
        assert shift % pd.Timedelta(minutes=1) == pd.Timedelta(0)
        assert pd.Timestamp(moved.first_failure) == _shifted(canonical.first_failure, shift)
        assert pd.Timestamp(moved.window_end) == _shifted(canonical.window_end, shift)
        assert pd.Timestamp(moved.recovered_at) == _shifted(canonical.recovered_at, shift)
        assert [(what, pd.Timestamp(when)) for what, when in moved.milestones] == [
            (what, _shifted(when, shift)) for what, when in canonical.milestones]
        # the same story to solve: what to search, its level, its class, the shape of the trail
        assert (moved.key, moved.title, moved.match, moved.min_level, moved.dominant_error_class, moved.trail) == (
            canonical.key, canonical.title, canonical.match, canonical.min_level,
            canonical.dominant_error_class, canonical.trail)
        assert (moved.request_id == canonical.request_id) == variant.canonical
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", moved.request_id)
    assert backend_logs.support_request_id(variant) == backend_logs.story("db_pool", variant).request_id
    if variant.canonical:
        assert backend_logs.stories(variant) == backend_logs.STORIES


def test_every_placement_keeps_the_stories_apart_in_order_and_inside_their_days():
    day_start = pd.Timestamp(backend_logs.PRODUCTION_DAY, tz="UTC")
    for i in range(300):
        variant = world.Variant(world.seed_for(f"trainee-{i}"))
        db, ai, jwt = backend_logs.stories(variant)
        starts = [pd.Timestamp(when) for when in backend_logs.container_starts(variant)]
        spans = [(pd.Timestamp(db.first_failure) - pd.Timedelta("10s"), pd.Timestamp(db.recovered_at)),
                 (pd.Timestamp(ai.first_failure) - pd.Timedelta("61s"), pd.Timestamp(ai.recovered_at)),
                 (starts[2], pd.Timestamp(jwt.window_end))]
        assert day_start < spans[0][0] and spans[-1][1] < day_start + pd.Timedelta("1D")
        # in order, and never so close that one story's lines could be read as another's
        assert spans[0][1] + pd.Timedelta("15min") < spans[1][0] and spans[1][1] + pd.Timedelta("15min") < spans[2][0]
        assert spans[0][0] < starts[0] < starts[1] < spans[0][1]
        window = [pd.Timestamp(t) for t in backend_logs.jwt_window(variant)]
        assert window[0] == pd.Timestamp(jwt.first_failure).floor("min") and window[1] - window[0] == pd.Timedelta("30min")
        morning, dev = backend_logs.bracketed_facts(variant), backend_logs.dev_facts(variant)
        assert pd.Timestamp(morning.first_failure).date() == pd.Timestamp(backend_logs.BRACKETED_DAY).date()
        # the bracketed morning is the same failure in Brasília wall-clock time (UTC-3, no zone)
        brt = lambda t: (pd.Timestamp(t).tz_convert("America/Sao_Paulo").tz_localize(None)).floor("s")
        assert pd.Timestamp(morning.first_failure) == brt(db.first_failure)
        assert pd.Timestamp(morning.recovered_at) == brt(db.recovered_at)
        assert pd.Timestamp(dev.first_error).date() == pd.Timestamp(backend_logs.DEV_DAY).date()
        assert "10:00" <= dev.first_error[11:16] and dev.restarted_at[11:16] <= "17:40"


def test_the_answers_a_trainee_reports_differ_between_trainees():
    alice, bob = VARIANTS["alice"], VARIANTS["bob"]
    assert backend_logs.story("db_pool", alice).first_failure != backend_logs.story("db_pool", bob).first_failure
    assert backend_logs.jwt_refused_users(alice) != backend_logs.jwt_refused_users(bob)
    assert backend_logs.support_request_id(alice) != backend_logs.support_request_id(bob)
    assert backend_logs.bracketed_facts(alice).first_failure != backend_logs.bracketed_facts(bob).first_failure
    assert backend_logs.dev_facts(alice).first_error != backend_logs.dev_facts(bob).first_error
    canonical = VARIANTS["canonical"]
    assert backend_logs.support_request_id(canonical) == backend_logs.DB_INCIDENT.request_id
    assert backend_logs.DB_INCIDENT.request_id not in {backend_logs.support_request_id(alice),
                                                       backend_logs.support_request_id(bob)}


# -- each story in its variant's log -----------------------------------------------------------
@pytest.mark.parametrize("size", ["sample", "full"])
@pytest.mark.parametrize("name", VARIANTS)
def test_each_story_is_where_its_variant_says(day, name, size):
    df = day(name, size)
    for story in backend_logs.stories(VARIANTS[name]):
        first = logparse.first_failure(df, match=story.match, min_level=story.min_level, since=story.since)
        assert first["timestamp"] == pd.Timestamp(story.first_failure), story.key
        window = df[df["timestamp"].between(pd.Timestamp(story.first_failure), pd.Timestamp(story.window_end))]
        top = logparse.top_error_classes(window, 2)
        assert top.index[0] == story.dominant_error_class, story.key
        assert len(top) == 1 or top.iloc[0] > 1.5 * top.iloc[1], story.key  # one class clearly leads
        trail = logparse.user_trail(df, story.request_id)
        steps = [(event, None if pd.isna(status) else int(status))
                 for event, status in zip(trail["eventType"], trail["statusCode"])]
        assert steps == list(story.trail), story.key
        for what, when in story.milestones:
            assert (df["timestamp"] == pd.Timestamp(when)).any(), (story.key, what)
    assert df.attrs["malformed_count"] == sum(backend_logs.MALFORMED_LINES.values())


@pytest.mark.parametrize("name", VARIANTS)
def test_the_collectors_damage_never_falls_inside_a_story(day, name):
    """Cut, glued and NUL-prefixed lines replace records: none of them may take a story's line."""
    df = day(name).sort_values("line")
    malformed = day(name).attrs["malformed"]
    collector = malformed[malformed["raw"].str.startswith(("{", "\x00"))
                          & ~malformed["reason"].str.startswith("not valid UTF-8")]
    assert len(collector) == sum(backend_logs.MALFORMED_LINES[kind] for kind in (
        "truncated JSON", "two records written into one line", "NUL bytes before the record"))
    for line in collector["line"]:
        before = df.loc[df["line"] < line, "timestamp"].iloc[-1]
        after = df.loc[df["line"] > line, "timestamp"].iloc[0]
        for story in backend_logs.stories(VARIANTS[name]):
            start, end = pd.Timestamp(story.first_failure), pd.Timestamp(story.window_end)
            assert not (start <= after and before <= end), (story.key, line)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_database_incident_feels_the_same_wherever_it_falls(day, name):
    df = day(name)
    story = backend_logs.story("db_pool", VARIANTS[name])
    latency = logparse.latency_before_after(df, story.first_failure, backend_logs.LATENCY_WINDOW)
    assert latency.loc["before", "p50_ms"] < backend_logs.DB_LATENCY_BEFORE_P50_MAX_MS
    assert latency.loc["after", "p50_ms"] > backend_logs.DB_LATENCY_AFTER_P50_MIN_MS
    assert (latency["requests"] > 30).all()
    failed = df.loc[df["message"].eq("Health check failed: Database not connected"), "timestamp"]
    assert len(failed) > 30
    assert failed.min() > pd.Timestamp(story.first_failure) and failed.max() < pd.Timestamp(story.window_end)


@pytest.mark.parametrize("name", VARIANTS)
def test_container_starts_and_their_plain_text_follow_the_variant(day, name):
    df = day(name).sort_values("line")
    malformed = day(name).attrs["malformed"]
    banners = malformed.loc[malformed["raw"].eq(BANNER), "line"].tolist()
    starts = [pd.Timestamp(when) for when in backend_logs.container_starts(VARIANTS[name])]
    assert len(banners) == len(starts) == 3
    for line, start in zip(banners, starts):
        before = df.loc[df["line"] < line, "timestamp"].iloc[-1]
        after = df.loc[df["line"] > line, "timestamp"].iloc[0]
        assert before < start <= after
    failed = malformed.loc[malformed["raw"].eq("Error during migration run:"), "line"].tolist()
    assert len(failed) == 1 and banners[0] < failed[0] < banners[1]  # the first start found no database
    nest = df.loc[df["message"].eq("Starting Nest application..."), "timestamp"].tolist()
    assert len(nest) == 2 and starts[1] < nest[0] < starts[1] + pd.Timedelta("5s")
    assert starts[2] < nest[1] < starts[2] + pd.Timedelta("5s")


@pytest.mark.parametrize("name", VARIANTS)
def test_jwt_refused_users_is_what_the_log_shows(day, name):
    df = day(name)
    low, high = (pd.Timestamp(t) for t in backend_logs.jwt_window(VARIANTS[name]))
    window = df[df["timestamp"].between(low, high)]
    refused = window[window["eventType"].eq("http_error") & window["error"].eq("Token inválido")]
    assert len(refused) > 0
    assert refused["userId"].nunique() == backend_logs.jwt_refused_users(VARIANTS[name])
    story = backend_logs.story("jwt_rotation", VARIANTS[name])
    everywhere = df[df["error"].eq("Token inválido")]
    # an everyday 401 for a stale session carries no user; the burst's first comes as the deploy is live
    assert everywhere["userId"].isna().sum() > 20
    assert everywhere.loc[everywhere["userId"].notna(), "timestamp"].min() == pd.Timestamp(story.first_failure)
    assert everywhere.loc[everywhere["timestamp"] >= pd.Timestamp(story.since), "timestamp"].min() == pd.Timestamp(story.first_failure)


def test_the_canonical_jwt_answer_is_the_quizs():
    assert backend_logs.jwt_refused_users(VARIANTS["canonical"]) == 11
    assert backend_logs.jwt_window(VARIANTS["canonical"]) == ("2026-10-27T19:03:00.000Z", "2026-10-27T19:33:00.000Z")


# -- the other two formats ---------------------------------------------------------------------
@pytest.mark.parametrize("name", VARIANTS)
def test_the_bracketed_morning_moves_whole(data_cache, name):
    variant = VARIANTS[name]
    facts = backend_logs.bracketed_facts(variant)
    shift = variant.shift(backend_logs.BRACKETED_STORY)
    assert pd.Timestamp(facts.first_failure) == _shifted(backend_logs.BRACKETED_FIRST_FAILURE, shift)
    assert pd.Timestamp(facts.recovered_at) == _shifted(backend_logs.BRACKETED_RECOVERED_AT, shift)
    path = backend_logs.bracketed_log(variant)
    text = path.read_text(encoding="utf-8")
    second = (pd.Timestamp(facts.first_failure) + pd.Timedelta("1s")).strftime("%Y-%m-%d %H:%M:%S")
    assert re.search(rf"^\[ERROR\] {facts.first_failure} QueryFailedError: Connection terminated unexpectedly\n"
                     r"    at PostgresQueryRunner\.query \(.+\)\n    at EtpRepository\.findOne \(.+\)\n"
                     rf"\[ERROR\] {second} NestJS Error: Unable to connect to the database$", text, re.M)
    df = logparse.parse_bracketed(path)
    assert logparse.first_failure(df)["timestamp"] == pd.Timestamp(facts.first_failure)
    assert logparse.top_error_classes(df, 1).index[0] == facts.error_class
    assert df.attrs["malformed_count"] == facts.malformed
    back = df[df["message"].eq("Nest application successfully started")]
    assert back["timestamp"].tolist() == [pd.Timestamp(facts.recovered_at)]
    # the whole morning moves: an hour and a half of traffic around the failure
    assert df["timestamp"].min() >= _shifted(f"{backend_logs.BRACKETED_DAY} 09:15", shift) - pd.Timedelta("1s")
    assert df["timestamp"].max() <= _shifted(f"{backend_logs.BRACKETED_DAY} 10:45", shift)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_development_session_moves_whole(data_cache, name):
    variant = VARIANTS[name]
    facts = backend_logs.dev_facts(variant)
    shift = variant.shift(backend_logs.DEV_STORY)
    assert pd.Timestamp(facts.first_error) == _shifted(backend_logs.DEV_FIRST_ERROR, shift)
    assert pd.Timestamp(facts.restarted_at) == _shifted(backend_logs.DEV_RESTARTED_AT, shift)
    assert (facts.request_id == backend_logs.DEV_REQUEST_ID) == variant.canonical
    path = backend_logs.dev_log(variant)
    df = logparse.parse_dev(path)
    failed = df[df["eventType"] == "http_error"]
    assert failed["timestamp"].tolist() == [pd.Timestamp(facts.first_error)]
    assert failed["requestId"].tolist() == [facts.request_id]
    assert logparse.top_error_classes(df, 1).index[0] == facts.error_class
    starts = df.loc[df["message"].eq("Starting Nest application..."), "timestamp"].tolist()
    assert len(starts) == 2 and starts[1] == pd.Timestamp(facts.restarted_at)
    # the Nest CLI's clock opens the file, three seconds before the first start
    clock = re.match(r"\[(\d+:\d\d:\d\d [AP]M)\] Starting compilation", path.read_text(encoding="utf-8")).group(1)
    assert pd.Timestamp(f"{backend_logs.DEV_DAY} {clock}") == starts[0] - pd.Timedelta("3s")


# -- files: names, the default world, the canonical bytes ---------------------------------------
def test_files_carry_their_variant_and_the_canonical_names_stay(data_cache):
    alice = VARIANTS["alice"]
    made = [backend_logs.production_log("sample", alice), backend_logs.bracketed_log(alice), backend_logs.dev_log(alice)]
    for path in made:
        assert f"variant{alice.seed}" in path.name and f"seed{backend_logs.DEFAULT_SEED}" not in path.name
    canonical = [backend_logs.production_log("sample", world.Variant()), backend_logs.bracketed_log(world.Variant()),
                 backend_logs.dev_log(world.Variant())]
    assert {path.name for path in canonical} <= set(CANONICAL_SHA256)
    assert not {path.name for path in made} & {path.name for path in canonical}


def test_the_default_is_the_current_world(tmp_path, monkeypatch):
    """With variants off a call without a variant writes the canonical bytes; with a seed in
    force it writes that seed's world."""
    makers = {"full": lambda *v: backend_logs.production_log("full", *v),
              "sample": lambda *v: backend_logs.production_log("sample", *v),
              "bracketed": backend_logs.bracketed_log, "dev": backend_logs.dev_log}
    monkeypatch.setenv(world.VARIANTS_ENV, "off")
    monkeypatch.delenv(world.SEED_ENV, raising=False)
    for kind, make in makers.items():
        monkeypatch.setenv("ETP_ACADEMY_DATA", str(tmp_path / kind / "explicit"))
        explicit = make(world.Variant())
        monkeypatch.setenv("ETP_ACADEMY_DATA", str(tmp_path / kind / "default"))
        default = make()
        assert default.parent != explicit.parent and default.name == explicit.name
        assert default.read_bytes() == explicit.read_bytes(), kind
        assert hashlib.sha256(default.read_bytes()).hexdigest() == CANONICAL_SHA256[default.name], kind
    bob = VARIANTS["bob"]
    with world.using(bob.seed):
        assert backend_logs.support_request_id() == backend_logs.support_request_id(bob)
        assert backend_logs.dev_log() == backend_logs.dev_log(bob)


def test_write_production_lines_takes_a_variant(tmp_path):
    alice = backend_logs.write_production_lines(tmp_path / "alice.log", 3_000, VARIANTS["alice"]).read_bytes()
    bob = backend_logs.write_production_lines(tmp_path / "bob.log", 3_000, VARIANTS["bob"]).read_bytes()
    assert alice.count(b"\n") == bob.count(b"\n") == 3_000 and alice != bob
    again = backend_logs.write_production_lines(tmp_path / "again.log", 3_000, VARIANTS["alice"]).read_bytes()
    assert again == alice


def test_the_noise_around_the_stories_is_redrawn(day):
    """Before any story (the small hours), requests, their ids and their users are the variant's own."""
    def early(name):
        df = day(name, "sample")
        return df[df["eventType"].eq("http_request") & (df["timestamp"] < pd.Timestamp("2026-10-27T06:00Z"))
                  & ~df["path"].eq("/api/health")]

    alice, bob, canonical = early("alice"), early("bob"), early("canonical")
    assert len(alice) and len(bob) and len(canonical)
    assert not set(alice["requestId"]) & set(bob["requestId"])
    assert not set(alice["requestId"]) & set(canonical["requestId"])
    assert list(alice["userId"]) != list(bob["userId"])
