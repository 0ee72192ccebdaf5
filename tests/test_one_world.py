"""One 27 October: the day's log (Module 5), the auth export (Module 4) and Sentry (Module 3) are
views of the month's requests (Modules 2, 3 and 6): the same rows, users and planted counts."""
import json

import pandas as pd
import pytest

from course.data import auth, backend_logs, sentry, traffic, world
from course.trainer.reference import logparse, slo

VARIANTS = {"canonical": world.Variant(), "alice": world.Variant(world.seed_for("alice")),
            "bob": world.Variant(world.seed_for("bob"))}
DAY_START = pd.Timestamp(world.ON_CALL_DAY, tz="UTC")
DAY_END = DAY_START + pd.Timedelta("1D")
DONE = ["http_response", "http_error"]
REQUEST = ["requestId", "userId", "organizationId", "timestamp", "method", "path", "statusCode", "durationMs"]


@pytest.fixture(scope="module")
def views(data_cache):
    """views(name): that world's day log and month log, each cut to the on-call day (UTC)."""
    made = {}

    def get(name: str) -> dict:
        if name not in made:
            variant = VARIANTS[name]
            day = logparse.parse_production(backend_logs.production_log("full", variant))
            month = logparse.parse_production(traffic.request_log(variant))
            for df in (day, month):
                df.attrs = {}  # the malformed lines (frames) would be compared at every concat
            made[name] = {
                "variant": variant,
                "day": day[day["timestamp"].between(DAY_START, DAY_END, inclusive="left")],
                "month_day": month[month["timestamp"].between(DAY_START, DAY_END, inclusive="left")],
                "month": month,
            }
        return made[name]

    return get


def _done(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["eventType"].isin(DONE)]


def _refused(df: pd.DataFrame) -> pd.DataFrame:
    done = _done(df)
    return done[done["eventType"].eq("http_error") & done["error"].eq(world.TOKEN_INVALID)]


@pytest.mark.parametrize("name", VARIANTS)
def test_the_days_requests_are_the_months_requests_of_that_day(views, name):
    v = views(name)
    day, month = _done(v["day"]), _done(v["month_day"])
    triples = lambda df: set(zip(df["requestId"], df["userId"].fillna(""), df["statusCode"].astype(int)))
    assert triples(day) == triples(month)
    assert len(day) == len(month) == day["requestId"].nunique()
    # the very rows: time to the ms, path, status and duration
    rows = lambda df: pd.DataFrame(df[REQUEST].astype(str).to_numpy(), columns=REQUEST).sort_values(
        REQUEST, ignore_index=True)
    assert rows(day).to_numpy().tolist() == rows(month).to_numpy().tolist()


@pytest.mark.parametrize("name", VARIANTS)
def test_one_user_population_in_one_id_format(views, name):
    v = views(name)
    people = traffic.population(v["variant"])
    org_of = dict(zip(people["users"], people["organizations"]))
    for df in (v["day"], v["month"]):
        users = df[["userId", "organizationId"]].dropna().drop_duplicates()
        assert set(users["userId"]) <= set(people["users"])
        assert (users["organizationId"] == users["userId"].map(org_of)).all()
    assert set(_done(v["day"])["userId"].dropna()) < set(people["users"])


@pytest.mark.parametrize("name", VARIANTS)
def test_the_planted_stories_count_the_same_in_both(views, name):
    v = views(name)
    variant, day, month = v["variant"], v["day"], v["month_day"]
    # the JWT wave, as Module 5 asks about it: users and refusals in the window, both minutes in
    low, high = (pd.Timestamp(t) for t in backend_logs.jwt_window(variant))
    high = high + pd.Timedelta("1min") - pd.Timedelta("1ms")
    wave = [_refused(df)[_refused(df)["timestamp"].between(low, high)] for df in (day, month)]
    assert wave[0]["userId"].nunique() == wave[1]["userId"].nunique() == backend_logs.jwt_refused_users(variant)
    assert len(wave[0]) == len(wave[1]) > 0
    # the failover: who was hit, and how many connections dropped
    db = backend_logs.story("db_pool", variant)
    hit = [_done(df)[_done(df)["eventType"].eq("http_error")
                     & _done(df)["timestamp"].between(pd.Timestamp(db.first_failure), pd.Timestamp(db.window_end))]
           for df in (day, month)]
    assert set(hit[0]["userId"].dropna()) == set(hit[1]["userId"].dropna()) != set()
    dropped = [(_done(df)["error"] == world.DROPPED_CONNECTION_ERROR).sum() for df in (day, month)]
    assert dropped[0] == dropped[1] > 20
    # every "Token inválido" of the day, the wave and the everyday ones
    assert len(_refused(day)) == len(_refused(month))
    assert set(_refused(day)["requestId"]) == set(_refused(month)["requestId"])


def _working_days(month: pd.DataFrame) -> pd.DataFrame:
    """Per UTC day of the month's working days (BRT weekdays, no holiday): requests and the
    'Token inválido' refusals outside the JWT wave."""
    done = _done(month)
    brt = done["timestamp"].dt.tz_convert("America/Sao_Paulo")
    working = (brt.dt.dayofweek < 5) & ~brt.dt.strftime("%Y-%m-%d").isin(world.HOLIDAYS_BRT)
    done = done[working & done["timestamp"].dt.hour.between(12, 20)]  # the BRT working day, in UTC
    day = done["timestamp"].dt.strftime("%Y-%m-%d")
    stale = done["error"].eq(world.TOKEN_INVALID) & done["userId"].isna()
    return pd.DataFrame({"requests": day.value_counts(), "stale_tokens": day[stale].value_counts()}).fillna(0)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_day_has_the_months_volume_and_its_everyday_401s(views, name):
    v = views(name)
    days = _working_days(v["month"])
    on_call = days.loc[world.ON_CALL_DAY]
    others = days.drop(index=world.ON_CALL_DAY)
    assert 0.8 * others["requests"].median() <= on_call["requests"] <= 1.25 * others["requests"].median()
    # everyday 401s for stale sessions, in the day's log and in the month, at the month's rate
    assert 0.4 * others["stale_tokens"].mean() <= on_call["stale_tokens"] <= 2.5 * others["stale_tokens"].mean()
    stale = _refused(v["day"])
    stale = stale[stale["userId"].isna()]
    assert len(stale) > 20 and (stale["timestamp"] < pd.Timestamp(backend_logs.story("jwt_rotation", v["variant"]).since)).any()


@pytest.mark.parametrize("name", VARIANTS)
def test_the_auth_exports_refusals_are_401s_of_both_logs(views, name):
    v = views(name)
    export = pd.DataFrame([json.loads(line) for line in auth.auth_log(v["variant"]).read_text(encoding="utf-8").splitlines()])
    rejected = export[export["event"].eq("token_rejected")]
    assert len(rejected) > 0
    for df in (v["day"], v["month_day"]):
        unauthorized = _done(df)[_done(df)["statusCode"].eq(401)]
        assert set(rejected["requestId"]) <= set(unauthorized["requestId"])
        same = unauthorized.set_index("requestId").loc[rejected["requestId"]]
        assert list(same["userId"]) == list(rejected["userId"]) and list(same["path"]) == list(rejected["path"])
    issued = export[export["event"].eq("token_issued")]
    logins = _done(v["month_day"])
    logins = logins[logins["path"].eq(auth.LOGIN_PATH)]
    after = issued[pd.to_datetime(issued["timestamp"]) > auth.rotated_at(v["variant"])]
    assert set(after["requestId"]) <= set(logins["requestId"])


@pytest.mark.parametrize("name", VARIANTS)
def test_sentrys_backend_events_of_the_day_are_the_months_http_errors(views, name):
    v = views(name)
    events = sentry.events(v["variant"])
    backend = events[events["project"].eq(world.BACKEND) & events["environment"].eq("production")
                     & events["timestamp"].between(DAY_START, DAY_END, inclusive="left") & events["request_id"].notna()]
    failed = v["month_day"][v["month_day"]["eventType"].eq("http_error")]
    reported = failed[~failed["stack"].str.startswith(world.SENTRY_DROPPED_IN_PRODUCTION)]
    assert set(backend["request_id"]) == set(reported["requestId"])
    assert len(backend) == len(reported) > 100
    by_id = reported.set_index("requestId")
    assert (backend["status_code"].astype(int).to_numpy() == by_id.loc[backend["request_id"], "statusCode"].to_numpy()).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_the_monitor_saw_the_days_health_checks(views, name):
    """The uptime monitor's probes of the day are the day's /api/health requests: the ones the
    backend answered after the monitor's 5 s are its timeouts (with at most its own blips)."""
    v = views(name)
    probes = slo.parse_health_log(traffic.health_probe_log(v["variant"]))
    probes = probes[probes["timestamp"].between(DAY_START, DAY_END, inclusive="left")]
    health = v["day"][v["day"]["eventType"].eq("http_request") & v["day"]["path"].eq(world.HEALTH_PATH)]
    took = _done(v["day"]).set_index("requestId")["durationMs"]
    slow = health[health["requestId"].map(took).fillna(world.PROBE_TIMEOUT_MS) >= world.PROBE_TIMEOUT_MS]
    timed_out = set(probes.loc[probes["timed_out"], "timestamp"])
    waited = set(slow["timestamp"].dt.floor("s"))
    assert len(waited) > 30 and waited <= timed_out
    assert len(timed_out - waited) <= traffic.LONE_PROBE_TIMEOUTS
    assert set(health["timestamp"].dt.floor("s")) <= set(probes["timestamp"])


def test_job_ids_are_one_sequence_over_the_month(views):
    month = views("canonical")["month"]
    jobs = month[month["context"].eq("SectionsProcessor") & month["jobId"].notna()]
    assert jobs["jobId"].is_unique
    day = views("canonical")["day"]
    picked = day[day["message"].str.startswith("Processing job ", na=False)]
    assert picked["jobId"].astype(int).min() == traffic.first_job_id_of_day(world.Variant())
    # the day's status polls ask about the day's jobs
    polled = day.loc[day["path"].str.startswith("/api/v1/sections/jobs/", na=False), "path"].str.rsplit("/", n=1).str[1]
    assert len(polled) and polled.isin(picked["jobId"]).all()
