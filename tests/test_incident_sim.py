"""Module 6's incident simulation: the world up to the simulated now and nothing after it, moves
with consequences, the same record for the same world and moves, and two trainees whose best and
poor paths end differently."""
import pandas as pd
import pytest

from course.data import world
from course.data.incident_sim import IncidentClosed, IncidentSim

TRAINEES = ("alice", "bob")
VIEWS = ("logs", "health", "metrics", "sentry", "chat")
TIME_COLUMN = {"logs": "timestamp"}


def seed(trainee):
    return world.seed_for(trainee)


def best_path(sim):
    """Look, classify as P0, tell the channel, call in the Tech Lead and the IC, size the pool for the
    surge, verify, resolve."""
    sim.acknowledge()
    sim.health(); sim.sentry(); sim.logs()
    metrics = sim.metrics()
    needed = int((metrics["pool_in_use"] + metrics["pool_waiting"]).max())
    sim.post("[INCIDENT] Authentication system unavailable\nSeverity: P0\nStatus: Investigating\n"
             "Impact: All users unable to login\nETA: 30 min")
    sim.escalate("Tech Lead")
    sim.page_ic()
    sim.raise_pool(min(sim.scenario.pool_limit, needed + 15))
    sim.wait(3)
    sim.health()
    sim.post("[RESOLVED] Authentication system unavailable\nDuration: 20 minutes\n"
             "Root Cause: Database connection pool exhausted\nResolution: Raised DB_POOL_MAX and redeployed\n"
             "Follow-up: GitHub issue #123 for post-mortem")
    return sim


def poor_path(sim):
    """Restart first, roll back, raise the pool too little, write late and call it P1."""
    sim.logs()
    sim.restart("backend")
    sim.wait(5)
    sim.rollback()
    sim.wait(5)
    sim.post("[INCIDENT] Login errors\nSeverity: P1\nStatus: Investigating\nImpact: Users cannot login\nETA: 1 h")
    sim.raise_pool(24)
    sim.wait(15)
    sim.metrics()
    sim.raise_pool(45)
    sim.wait(5)
    sim.post("[RESOLVED] Login errors\nDuration: 45 minutes\nRoot Cause: Database connection pool exhausted\n"
             "Resolution: Raised the pool\nFollow-up: GitHub issue #124")
    return sim


def _times(view, frame):
    return frame[TIME_COLUMN.get(view, "time")]


@pytest.mark.parametrize("trainee", TRAINEES)
def test_no_view_shows_anything_after_the_simulated_now(trainee):
    sim = IncidentSim("login-500", seed(trainee))
    sim.restart("backend")
    for view in VIEWS:
        now = sim.now
        frame = getattr(sim, view)()
        assert len(frame) and (_times(view, frame) <= now).all(), view
        assert sim.now > now, f"looking at {view} takes simulated time"


def test_a_view_of_the_past_does_not_change_with_later_moves():
    early, later = (IncidentSim("login-500", seed("alice")) for _ in range(2))
    seen = {view: getattr(early, view)() for view in VIEWS}
    cut = early.now
    for view in VIEWS:
        getattr(later, view)()
    later.restart("backend"); later.raise_pool(40); later.post("[INCIDENT] Login down")
    for view in VIEWS:
        whole = getattr(later, view)()
        before = whole[_times(view, whole) <= seen[view][TIME_COLUMN.get(view, "time")].max()]
        assert before.iloc[:len(seen[view])].reset_index(drop=True).equals(seen[view]), view
        assert _times(view, whole).max() > cut or view == "sentry"


def test_the_same_world_and_moves_give_the_same_record_and_data():
    one, two = (best_path(IncidentSim("login-500", seed("alice"))) for _ in range(2))
    pd.testing.assert_frame_equal(one.record, two.record)
    assert one.to_json() == two.to_json()
    assert one.outcome() == two.outcome()


def test_a_restart_frees_the_pool_for_minutes_then_it_exhausts_again():
    sim = IncidentSim("login-500", seed("alice"))
    sim.restart("backend")
    sim.wait(20)
    after = sim.metrics()
    after = after[after["time"] >= sim.page + pd.Timedelta(minutes=2)]
    healthy = after["errors_5xx"].eq(0)
    assert healthy.iloc[:3].all(), "the restarted replicas answer while the pool refills"
    assert not healthy.iloc[-3:].any(), "the surge fills the pool again"
    assert after["pool_in_use"].iloc[-1] == after["pool_max"].iloc[-1] == world.POOL_MAX
    chat = sim.chat()
    assert chat["text"].str.contains("restart requested").any()


def test_a_pool_too_big_for_postgres_is_refused_and_costs_nothing():
    sim = IncidentSim("login-500", seed("bob"))
    before = sim.minutes
    with pytest.raises(ValueError, match="max_connections"):
        sim.raise_pool(60)
    with pytest.raises(ValueError, match="raise it above"):
        sim.raise_pool(20)
    with pytest.raises(TypeError):
        sim.raise_pool("40")
    assert sim.minutes == before and sim.moves == []


def test_the_incident_closes_with_its_resolved_message():
    sim = best_path(IncidentSim("login-500", seed("bob")))
    with pytest.raises(IncidentClosed):
        sim.restart("backend")
    unfinished = IncidentSim("login-500", seed("bob"))
    with pytest.raises(IncidentClosed, match="once the \\[RESOLVED\\]"):
        unfinished.outcome()


def test_every_call_is_recorded_with_what_was_visible():
    sim = poor_path(IncidentSim("login-500", seed("alice")))
    record = sim.record
    assert record["minute"].is_monotonic_increasing
    assert record.iloc[0]["name"] == "acknowledge"  # the first call picks up the page
    restart = record[record["name"] == "restart_backend"].iloc[0]
    assert restart["seen_failing"] and restart["looked"] == "logs"
    second_raise = record[record["name"] == "raise_pool"].iloc[1]
    assert second_raise["seen_failing"], "the small pool had exhausted again when the second raise came"


@pytest.mark.parametrize("trainee", TRAINEES)
def test_best_and_poor_paths_end_differently_in_each_world(trainee):
    best = best_path(IncidentSim("login-500", seed(trainee))).outcome()
    poor = poor_path(IncidentSim("login-500", seed(trainee))).outcome()
    assert best["duration_min"] < 25 < poor["duration_min"], (best, poor)
    assert best["downtime_min"] < poor["downtime_min"]


def test_two_trainees_have_different_incidents():
    alice, bob = (IncidentSim("login-500", seed(t)) for t in TRAINEES)
    assert alice.page != bob.page
    assert alice.scenario.demand != bob.scenario.demand or alice.scenario.refill_min != bob.scenario.refill_min


def test_the_redis_night_ends_only_when_redis_is_restarted():
    sim = IncidentSim("redis-night", seed("alice"))
    sim.health(); sim.restart("backend"); sim.raise_pool(30); sim.rollback()
    assert sim.metrics()["errors_5xx"].iloc[-1] > 0, "nothing but Redis was broken"
    assert sim.health()["redis"].iloc[-1] == "not_configured"  # the health code's quirk for a Redis down
    sim.restart("redis"); sim.wait(2)
    assert sim.health()["ok"].iloc[-1]
    sim.post("[RESOLVED] Section generation failing\nDuration: 30 min\nRoot Cause: Redis stopped by host "
             "maintenance\nResolution: Restarted Redis\nFollow-up: GitHub issue #7")
    fast = IncidentSim("redis-night", seed("alice"))
    fast.restart("redis"); fast.post("[RESOLVED] done now")
    assert fast.outcome()["duration_min"] + 10 < sim.outcome()["duration_min"]


def test_bad_calls_get_clear_errors():
    sim = IncidentSim("login-500", seed("alice"))
    with pytest.raises(ValueError, match="choose one of"):
        IncidentSim("login-404")
    with pytest.raises(ValueError, match="restart 'backend' or 'redis'"):
        sim.restart("postgres")
    with pytest.raises(ValueError, match="escalate to one of"):
        sim.escalate("my manager")
    with pytest.raises(ValueError):
        sim.wait(0)
    with pytest.raises(ValueError):
        sim.post("   ")
    assert sim.minutes == 0 and sim.record.empty


def test_the_incident_commander_tells_the_stakeholders_what_the_incident_message_says():
    sim = IncidentSim("login-500", seed("alice"))
    sim.acknowledge()
    sim.page_ic()
    sim.wait(10)
    assert not sim.chat()["text"].str.startswith("Stakeholder notice").any()  # no [INCIDENT] message yet
    sim.post("[INCIDENT] Authentication system unavailable\nSeverity: P0\nStatus: Investigating\n"
             "Impact: All users unable to login\nETA: 30-60 min")
    sim.wait(2)
    assert not sim.chat()["text"].str.startswith("Stakeholder notice").any()  # written, not sent yet
    sim.wait(2)
    chat = sim.chat()
    notices = chat[chat["text"].str.startswith("Stakeholder notice")]
    assert list(notices["author"]) == ["incident-commander"]
    text = notices["text"].iloc[0]
    for field in ("Problem: Authentication system unavailable", "Impact: All users unable to login",
                  "Status: Investigating", "Forecast: 30-60 min"):
        assert field in text
    alone = IncidentSim("login-500", seed("alice"))
    alone.post("[INCIDENT] Authentication system unavailable\nSeverity: P0\nStatus: Investigating\n"
               "Impact: All users unable to login\nETA: 30 min")
    alone.wait(30)
    assert not alone.chat()["text"].str.startswith("Stakeholder notice").any()  # nobody paged the IC
