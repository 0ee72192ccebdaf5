"""The rotation's auth export (``course.data.auth``): real tokens, and one story with the backend's
day of logs, Railway's deployments and the month.

Every check runs in the canonical world and two trainees' worlds, plus two worlds picked for their
rare cases: one where a refusal falls in the seconds after the burst's last minute ("t42"), one
where a user is back at work before any login of the burst ("t1").
"""
from __future__ import annotations

import base64
import json

import pandas as pd
import pytest

from course.data import auth, backend_logs, platform, traffic, world
from course.trainer.reference import auth as ref
from course.trainer.reference import logparse

WORLDS = {"canonical": world.CANONICAL_SEED, "alice": world.seed_for("alice"), "bob": world.seed_for("bob"),
          "late-refusal": world.seed_for("t42"), "back-before-any-login": world.seed_for("t1")}


@pytest.fixture(scope="module", params=list(WORLDS))
def w(request, data_cache):
    """One world's export, parsed, with its backend day and the facts it plants."""
    seed = WORLDS[request.param]
    with world.using(seed):
        log = ref.parse_auth_log(auth.auth_log())
        secrets = auth.secrets()
        day = logparse.parse_production(backend_logs.production_log("full"))
        yield dict(name=request.param, seed=seed, log=log, secrets=secrets, day=day,
                   tokens=ref.token_table(log, secrets), facts=auth.facts(), rotated=auth.rotated_at(),
                   deploy_s=int(auth.rotated_at().timestamp()), window=backend_logs.jwt_window(),
                   story=backend_logs.story("jwt_rotation"))


def _seconds(stamps: pd.Series) -> pd.Series:
    """Seconds since 1970 (with their fraction), whatever the column's resolution."""
    return (stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)


def _b64url(part: str) -> bytes:
    assert "=" not in part and "+" not in part and "/" not in part, part
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_lines_are_json_in_time_order(w):
    with world.using(w["seed"]):
        lines = auth.auth_log().read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert {r["event"] for r in records} == {"token_issued", "token_rejected"}
    for r in records:
        assert set(r) >= {"timestamp", "event", "userId", "organizationId", "requestId", "token"}
        assert ("path" in r) == (r["event"] == "token_rejected")
        assert r["timestamp"].endswith("Z") and len(r["timestamp"]) == 24
    assert w["log"]["timestamp"].is_monotonic_increasing


def test_tokens_are_hs256_jwts(w):
    for token in w["log"]["token"]:
        header, payload, signature = token.split(".")
        assert json.loads(_b64url(header)) == {"alg": "HS256", "typ": "JWT"}
        claims = json.loads(_b64url(payload))
        assert list(claims) == ["sub", "organizationId", "role", "iat", "exp"]
        assert claims["exp"] - claims["iat"] == world.JWT_EXPIRATION_S
        assert len(_b64url(signature)) == 32
    issued = w["log"][w["log"]["event"].eq("token_issued")]
    assert (issued["token"].map(lambda t: ref.claims(t)["iat"]) == _seconds(issued["timestamp"]) // 1).all()
    assert (issued["token"].map(lambda t: ref.claims(t)["sub"]) == issued["userId"]).all()


def test_secrets_look_like_openssl_rand_base64_32(w):
    values = list(w["secrets"].values())
    assert list(w["secrets"]) == ["JWT_SECRET", "JWT_SECRET_OLD"] and len(set(values)) == 2
    for value in values:
        assert len(value) == 44 and len(base64.b64decode(value, validate=True)) == 32
        assert len(value) >= world.JWT_SECRET_MIN_LENGTH


def test_secrets_differ_between_worlds(data_cache):
    seen = {name: tuple(auth.secrets(seed).values()) for name, seed in WORLDS.items()}
    assert len(set(seen.values())) == len(seen)
    assert auth.secrets(world.CANONICAL_SEED) == auth.secrets(world.Variant())


def test_tokens_before_the_deploy_are_old_after_it_new(w):
    log, secrets = w["log"], w["secrets"]
    issued = log[log["event"].eq("token_issued")]
    before = issued["timestamp"] < w["rotated"]
    signer = issued["token"].map(lambda t: ref.signed_with(t, secrets))
    assert (signer[before] == "JWT_SECRET_OLD").all() and (signer[~before] == "JWT_SECRET").all()
    assert before.any() and (~before).any()
    assert issued["timestamp"].min() >= w["rotated"] - pd.Timedelta(days=2)
    assert issued["timestamp"].max() <= pd.Timestamp(w["story"].window_end)


def test_held_old_tokens_are_exactly_the_refused_users(w):
    """The brief's rule: the users refused in the burst are those holding a token of the old secret
    that was still valid when the deploy went live."""
    start, end = w["window"]
    refused = ref.refused_users(w["day"], start, end)
    at_deploy = ref.logged_out(w["tokens"], w["deploy_s"])
    assert at_deploy == refused == sorted(w["facts"].refused)
    with world.using(w["seed"]):
        assert len(refused) == backend_logs.jwt_refused_users()
    # the old-secret tokens of everyone else had expired by then
    old = w["tokens"][w["tokens"]["signed_with"].eq("JWT_SECRET_OLD")]
    others = old[~old["userId"].isin(refused)]
    assert (others["exp"] <= w["deploy_s"]).all() and len(others) > 0  # some expired tokens


def test_each_refusal_is_a_rejected_line_with_the_token_it_carried(w):
    day, log, secrets = w["day"], w["log"], w["secrets"]
    refusals = day[day["eventType"].eq("http_error") & day["error"].eq("Token inválido")]
    # the everyday refusals of stale sessions name no user: the export (who, which token) has the rotation's
    assert refusals["userId"].isna().sum() > 0
    assert (refusals.loc[refusals["userId"].isna(), "timestamp"] < w["rotated"]).any()
    refusals = refusals[refusals["userId"].notna()]
    rejected = log[log["event"].eq("token_rejected")]
    mine = rejected.set_index("requestId")[["timestamp", "userId", "path"]].sort_index()
    theirs = refusals.set_index("requestId")[["timestamp", "userId", "path"]].sort_index()
    assert mine.index.equals(theirs.index)
    assert (mine["timestamp"] == theirs["timestamp"]).all() and (mine["userId"] == theirs["userId"]).all()
    assert (mine["path"] == theirs["path"]).all()
    start, end = (pd.Timestamp(t) for t in w["window"])
    verdicts = [ref.verify(t, secrets, int(ts.timestamp())) for t, ts in zip(rejected["token"], rejected["timestamp"])]
    counted = rejected["timestamp"].between(start, end).to_numpy()
    edited = (rejected["requestId"] == w["facts"].tampered_request).to_numpy()
    for verdict, in_burst, is_edited in zip(verdicts, counted, edited):
        if is_edited:
            assert verdict is None and in_burst
        elif in_burst:
            assert verdict == "JWT_SECRET_OLD"  # a valid old token, refused by single-key mode
        else:
            assert verdict is None  # after the burst's last minute: an expired one


def test_one_tampered_token(w):
    log, secrets = w["log"], w["secrets"]
    unexpired_unverified = [
        r for r in log.itertuples()
        if ref.signed_with(r.token, secrets) is None and ref.claims(r.token)["exp"] > r.timestamp.timestamp()]
    assert len(unexpired_unverified) == 1
    edited = unexpired_unverified[0]
    assert edited.event == "token_rejected" and edited.requestId == w["facts"].tampered_request
    assert ref.claims(edited.token)["role"] == "admin"
    original = log[log["userId"].eq(edited.userId) & log["event"].eq("token_issued")
                   & (log["timestamp"] < w["rotated"])]["token"].iloc[0]
    assert edited.token.split(".")[0::2] == original.split(".")[0::2]  # same header and signature
    assert ref.claims(original)["role"] == "user"
    first = log[log["event"].eq("token_rejected")].iloc[0]
    assert first["requestId"] != edited.requestId  # the notebook's visible check uses the first refusal


def test_new_tokens_are_the_logins_of_the_burst(w):
    day, log = w["day"], w["log"]
    logins = day[day["eventType"].eq("http_response") & day["path"].eq("/api/v1/auth/login")]
    logins = logins[(logins["timestamp"] > w["rotated"]) & (logins["timestamp"] <= pd.Timestamp(w["story"].window_end))]
    issued = log[log["event"].eq("token_issued") & (log["timestamp"] > w["rotated"])]
    assert sorted(issued["requestId"]) == sorted(logins["requestId"])
    both = issued.merge(logins[["requestId", "timestamp"]], on="requestId", suffixes=("", "_login"))
    assert (both["timestamp"] == both["timestamp_login"]).all()
    # the export's users are the users of the burst
    done = day[day["eventType"].isin(["http_response", "http_error"]) & day["userId"].notna()
               & day["path"].ne("/api/v1/auth/login")]
    starts = done["timestamp"] - pd.to_timedelta(done["durationMs"].astype("int64"), unit="ms")
    active = set(done.loc[(starts >= w["rotated"]) & (starts <= pd.Timestamp(w["story"].window_end)), "userId"])
    assert set(log["userId"]) == active


def test_old_tokens_cover_the_day_before_the_deploy(w):
    """Each user's token of the old secret was valid for every request they made before the deploy
    (a request's token is checked when it arrives)."""
    day, tokens = w["day"], w["tokens"]
    old = tokens[tokens["signed_with"].eq("JWT_SECRET_OLD")].set_index("userId")
    requests = day[day["eventType"].eq("http_request") & day["userId"].notna()
                   & day["path"].ne("/api/v1/auth/login") & (day["timestamp"] < w["rotated"])
                   & day["userId"].isin(old.index)]
    seconds = _seconds(requests["timestamp"])
    iat, exp = old.loc[requests["userId"], "iat"].to_numpy(), old.loc[requests["userId"], "exp"].to_numpy()
    assert ((iat <= seconds.to_numpy()) & (seconds.to_numpy() < exp)).all()


def test_no_old_token_outlives_its_lifetime(w):
    assert ref.logged_out(w["tokens"], w["deploy_s"] + world.JWT_EXPIRATION_S) == []
    assert len(ref.logged_out(w["tokens"], w["deploy_s"] + 60)) >= 1


def test_the_story_agrees_with_railway_and_the_month(w):
    with world.using(w["seed"]):
        variables = platform.deployments()
        change = variables[variables["trigger"].eq("variables")].iloc[0]
        assert change["finished"] == w["rotated"]  # the variables deploy went live: the new secret
        assert change["incident"] == "jwt_rotation"
        start, end = traffic.planted()["jwt_rotation"]
    rejected = w["log"][w["log"]["event"].eq("token_rejected")]
    assert rejected["timestamp"].iloc[0] == pd.Timestamp(w["story"].first_failure)
    assert w["rotated"] < start == rejected["timestamp"].iloc[0] and rejected["timestamp"].max() < end


def test_files_are_deterministic(w, tmp_path, monkeypatch):
    with world.using(w["seed"]):
        first = auth.auth_log().read_bytes()
        auth._export.cache_clear()
        monkeypatch.setenv("ETP_ACADEMY_DATA", str(tmp_path))
        again = auth.auth_log()
        assert again.parent == tmp_path and again.read_bytes() == first


def test_worlds_differ(data_cache):
    refused = {name: auth.facts(seed).refused for name, seed in WORLDS.items() if name in ("alice", "bob", "canonical")}
    times = {name: auth.rotated_at(seed) for name, seed in WORLDS.items()}
    assert len(set(times.values())) == len(times)
    assert len(set(refused.values())) == len(refused)
