"""The trainer's side of the simulated incidents: the best path, a drill's score beside it, and the
post-mortem's automatic checks against the trainee's own record."""
import json

import pytest

from course.data import world
from course.data.incident_sim import IncidentSim
from course import postmortem_facts
from course.trainer.reference import incident_sim as ref
from test_incident_sim import poor_path

TRAINEES = ("alice", "bob")


def seed(trainee):
    return world.seed_for(trainee)


@pytest.mark.parametrize("trainee", TRAINEES)
def test_best_and_poor_paths_differ_in_duration_sla_and_score(trainee):
    best = ref.score(ref.best_path("login-500", seed(trainee)).to_json())
    poor = ref.score(poor_path(IncidentSim("login-500", seed(trainee))).to_json())
    assert best.points == best.out_of and best.moves["minutes_lost"].sum() == 0
    assert best.duration_min == best.best_duration_min
    assert poor.duration_min > best.duration_min + 15
    assert best.sla["first response in time"] and not poor.sla["first response in time"]
    assert poor.points < best.points
    assert poor.severity_declared == "P1" and poor.severity_expected == "P0"
    lost = poor.moves.set_index("move")["minutes_lost"]
    assert lost["restart_backend"] == 2 and lost["rollback"] == 5
    assert poor.moves["minutes_lost"].sum() >= 20


def test_two_trainees_best_paths_are_their_own():
    alice, bob = (ref.best_path("login-500", seed(t)) for t in TRAINEES)
    assert alice.page != bob.page and alice.to_json() != bob.to_json()


def test_the_redis_night_best_path_is_a_p1_restart_of_redis():
    sim = ref.best_path("redis-night", seed("alice"))
    result = ref.score(sim.to_json())
    assert result.points == result.out_of
    assert [m.kind for m in sim.moves] == ["restart_redis"]
    wasted = IncidentSim("redis-night", seed("alice"))
    wasted.restart("backend"); wasted.restart("redis"); wasted.post("[RESOLVED] Section generation failing")
    assert ref.score(wasted.to_json()).moves.set_index("move")["minutes_lost"]["restart_backend"] == 2


def test_an_unfinished_drill_is_scored_as_unresolved():
    sim = IncidentSim("login-500", seed("alice"))
    sim.logs()
    result = ref.score(sim.to_json())
    assert result.duration_min is None and not result.sla["resolved within target"]


# -- the post-mortem ----------------------------------------------------------------------------
def postmortem(sim, **change):
    """A post-mortem written from the drill's own record (times UTC), with ``change`` applied."""
    events = postmortem_facts.record_events(sim)
    hhmm = {kind: times[0].strftime("%H:%M") for kind, times in events.items() if times}
    done = sim.outcome()
    mtta = sim.acknowledged
    mttr = round((done["recovered"] - sim.page).total_seconds() / 60)
    rows = [("first failure", "First login failures (500)"), ("page", "Monitor pages the on-call"),
            ("acknowledged", "Page acknowledged"), ("incident message", "[INCIDENT] posted, P0"),
            ("escalated", "Escalated to the Tech Lead"), ("ic paged", "Incident Commander paged"),
            ("pool raised", "DB_POOL_MAX raised, backend redeploying"), ("recovered", "Logins recover"),
            ("resolved message", "[RESOLVED] posted")]
    table = "\n".join(f"| {change.get(kind, hhmm[kind])} | {text} |" for kind, text in rows if kind in hhmm)
    table += change.get("extra_row", "")
    whys = "\n".join(f"{i}. Why {q}? Because {a}." for i, (q, a) in list(enumerate([
        ("did logins fail", "every request waited 5 s for a database connection"),
        ("was no connection free", "the pool's 20 were all in use"),
        ("were all 20 in use", "the morning login surge needed more at once"),
        ("was the pool that small", "DB_POOL_MAX was never sized for the peak"),
        ("was it never sized", "no load test covers the login surge")], 1))[: change.get("whys", 5)])
    owner = change.get("owner", "Ana (DevOps)")
    return f"""# Post-mortem: Authentication system unavailable
**Severity:** P0 · **Duration:** {done['duration_min']:.0f} min

## Summary
Every login failed with 500 for {done['duration_min']:.0f} minutes: the connection pool was exhausted.

## Timeline
| Time (UTC) | Event |
|---|---|
{table}

## Root cause analysis (5 Whys)
{whys}

## Impact
All users could not log in; the weekly downtime allowance was spent.

## What went well
The [INCIDENT] message went out within the response time.

## What went wrong
Nobody had sized the pool for the surge.

## Action items
| Action | Owner | Due |
|---|---|---|
| Alert on pool waiting > 0 | {owner} | 2026-12-10 |
| Load test the login surge | Bruno (backend) | 2026-12-20 |

## Metrics
- MTTA: {change.get('mtta', mtta):g} min
- MTTR: {change.get('mttr', mttr):g} min
- Time to communicate: 7 min
"""


@pytest.fixture(scope="module")
def drill():
    sim = ref.best_path("login-500", seed("alice"))
    return sim, sim.to_json()


def test_a_postmortem_true_to_the_record_passes(drill):
    sim, saved = drill
    assert ref.check_postmortem(postmortem(sim), saved) == []


def test_a_timeline_that_contradicts_the_record_is_rejected(drill):
    sim, saved = drill
    raised = postmortem_facts.record_events(sim)["pool raised"][0]
    moved = (raised.tz_convert("UTC") + __import__("pandas").Timedelta(minutes=9)).strftime("%H:%M")
    problems = ref.check_postmortem(postmortem(sim, **{"pool raised": moved}), saved)
    assert any("puts pool raised" in p and "record says" in p for p in problems), problems


def test_a_timeline_claiming_a_move_never_made_is_rejected(drill):
    sim, saved = drill
    last = postmortem_facts.record_events(sim)["resolved message"][0].strftime("%H:%M")
    problems = ref.check_postmortem(postmortem(sim, extra_row=f"\n| {last} | Restarted the backend |"), saved)
    assert any("the drill has no restart" in p for p in problems), problems


@pytest.mark.parametrize("change, says", [
    ({"mttr": 45}, "MTTR says 45 min"),
    ({"mtta": 9}, "MTTA says 9 min"),
    ({"whys": 3}, "3 Whys"),
    ({"owner": "TBD"}, "has no owner"),
])
def test_wrong_facts_and_missing_parts_are_named(drill, change, says):
    sim, saved = drill
    problems = ref.check_postmortem(postmortem(sim, **change), saved)
    assert any(says in p for p in problems), problems


def test_a_blank_or_sectionless_postmortem_fails_and_a_forged_record_is_refused(drill):
    sim, saved = drill
    assert ref.check_postmortem("", saved) == ["the post-mortem is empty"]
    problems = ref.check_postmortem("Everything was fine.", saved)
    assert any("'timeline' is missing" in p for p in problems)
    forged = json.loads(saved)
    forged["entries"][3]["minute"] += 5
    with pytest.raises(ValueError, match="does not match"):
        ref.check_postmortem(postmortem(sim), json.dumps(forged))


def test_the_form_alone_is_checked_on_the_trainee_side(drill):
    from course import postmortem as form

    sim, _ = drill
    assert form.form_problems(postmortem(sim)) == []
    assert any("placeholders" in p for p in form.form_problems(form.TEMPLATE))
    assert any("not in time order" in p for p in form.form_problems(postmortem(sim, page="23:59")))
    assert any("YYYY-MM-DD" in p for p in form.form_problems(postmortem(sim).replace("2026-12-10", "next week")))


def test_actions_due_before_the_incident_are_named(drill):
    sim, saved = drill
    problems = ref.check_postmortem(postmortem(sim).replace("2026-12-10", "2026-01-02"), saved)
    assert any("not after the incident" in p for p in problems), problems


def test_a_drill_from_another_world_is_refused():
    saved = ref.best_path("login-500", seed("alice")).to_json()
    with world.using(seed("bob")), pytest.raises(AssertionError, match="another trainee's world"):
        ref.own_drill(saved)
    with world.using(seed("alice")):
        assert ref.own_drill(saved).closed


def test_the_debrief_puts_both_drills_on_one_timeline():
    import matplotlib
    matplotlib.use("Agg")
    from course.figures import describe
    from course.incident_debrief import debrief_figure, decisions

    poor = poor_path(IncidentSim("login-500", seed("alice")))
    best = ref.best_path("login-500", seed("alice"))
    rows = decisions(poor)
    assert "look" not in set(rows["kind"]) and rows["label"].str.len().max() < 20
    text = describe(debrief_figure(poor, best=best))
    assert "rows from the top: Your drill; Best path" in text and "restart backend" in text and "page IC" in text


def test_a_timeline_in_minutes_from_the_page_is_checked_the_same_way(drill):
    sim, saved = drill
    relative = {kind: f"T{(times[0] - sim.page).total_seconds() / 60:+.1f}"
                for kind, times in postmortem_facts.record_events(sim).items() if times}
    assert ref.check_postmortem(postmortem(sim, **relative), saved) == []
    relative["pool raised"] = "T+30"
    problems = ref.check_postmortem(postmortem(sim, **relative), saved)
    assert any("puts pool raised" in p for p in problems), problems
