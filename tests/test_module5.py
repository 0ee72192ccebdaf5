"""Module 5's exercises catch the mistakes they are about, and its parsers fail the way the
reference parsers do."""
import json

import nbformat
import pytest
from nbclient import NotebookClient

from harness import REPO, Trainee, nbgrader_meta, solution_sources
from test_roundtrip import autograde
from course.data import backend_logs
from course.trainer.reference import logparse
from course.trainer.reference.logparse import LogFormatError
import wrong_solutions.m5_troubleshooting as CATALOGUE  # the wrong solutions the visible checks are tested with

pytestmark = pytest.mark.slow

ASSIGNMENT = "m5_troubleshooting"
SOURCE = REPO / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


# Ignores the match text: the day's first error line is a 403 shortly after midnight.
FIRST_ERROR_OF_THE_DAY = CATALOGUE.FIRST_ERROR_OF_THE_DAY.code["m5-first-failure-solution"]


# Cuts events before "[" only: the npm warning is glued to the event above it.
GLUED_NPM_WARNING = CATALOGUE.GLUED_NPM_WARNING.code["m5-parse-bracketed-solution"]


def assert_only_cell_lost(points, cell):
    assert points[cell][0] == 0, points[cell]
    short = {name: score for name, score in points.items() if name != cell and score[0] != score[1]}
    assert not short, f"other cells lost points too: {short}"


def test_first_error_of_the_day_is_not_the_incident(one_world_course):
    points = autograde(one_world_course, ASSIGNMENT, Trainee("m5-first-4xx",
                       code_overrides={"m5-first-failure-solution": FIRST_ERROR_OF_THE_DAY}))
    assert_only_cell_lost(points, "m5-first-failure-test")
    assert points["m5-parse-bracketed-test"][0] == points["m5-parse-bracketed-test"][1]


def test_hidden_checks_catch_a_glued_continuation_line(one_world_course):
    points = autograde(one_world_course, ASSIGNMENT, Trainee("m5-glued-npm",
                       code_overrides={"m5-parse-bracketed-solution": GLUED_NPM_WARNING}))
    assert_only_cell_lost(points, "m5-parse-bracketed-test")
    assert points["m5-latency-test"][0] == points["m5-latency-test"][1]


# --------------------------------------------------------------------------- bad input
PROBE = '''
import json
cases = {cases!r}
messages = {{}}
for name, (parser, path) in cases.items():
    try:
        globals()[parser](Path(path))
    except LogFormatError as err:
        messages[name] = str(err)
    else:
        messages[name] = None
print(json.dumps(messages))
'''


def test_trainee_parsers_fail_with_the_reference_message(tmp_path):
    """The model parsers, run in a trainee's kernel, raise the reference's one-line LogFormatError."""
    empty = tmp_path / "empty.log"
    empty.write_text("")
    prose = tmp_path / "notes.log"
    prose.write_text("the database looked fine\nto me\n")
    cases = {
        "missing": ("parse_bracketed", str(tmp_path / "missing.log")),
        "empty": ("parse_bracketed", str(empty)),
        "production as bracketed": ("parse_bracketed", str(backend_logs.production_log("sample"))),
        "dev as bracketed": ("parse_bracketed", str(backend_logs.dev_log())),
        "prose as bracketed": ("parse_bracketed", str(prose)),
        "bracketed as production (the given parser)": ("parse_production", str(backend_logs.bracketed_log())),
    }
    source = nbformat.read(SOURCE, as_version=4)
    setup = next(c.source for c in source.cells if nbgrader_meta(c).get("grade_id") == "m5-setup")
    code = solution_sources(source)
    parsers = [code["m5-parse-bracketed-solution"]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s)
                                         for s in [setup, *parsers, PROBE.format(cases=cases)]])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    got = json.loads(nb.cells[-1].outputs[-1].text)

    reference = {"parse_production": logparse.parse_production, "parse_bracketed": logparse.parse_bracketed}
    for name, (parser, path) in cases.items():
        with pytest.raises(LogFormatError) as caught:
            reference[parser](path)
        expected = str(caught.value)
        assert got[name] == expected, name
        assert "\n" not in got[name] and got[name].startswith(path)


# -- quiz keys and narrative claims, checked against the day's data -----------------------------
# In the canonical world and two trainees' worlds: every key and claim holds in each.
WORLDS = {"canonical": None, "alice": "alice", "bob": "bob"}


@pytest.fixture(scope="module", params=list(WORLDS))
def day(request, data_cache):
    from course.data import world

    who = WORLDS[request.param]
    seed = world.CANONICAL_SEED if who is None else world.seed_for(who)
    with world.using(seed):
        events = logparse.parse_production(backend_logs.production_log("full"))
    events.attrs["seed"] = seed
    return events


@pytest.fixture
def in_world(day):
    from course.data import world

    with world.using(day.attrs["seed"]):
        yield day.attrs["seed"]


def test_container_starts_key(day, in_world):
    import pandas as pd
    from course.data import scenario

    banners = day.attrs["malformed"]["raw"].str.startswith("> etp-express-backend@1.0.0 migration:run:prod")
    assert banners.sum() == 3  # key of m5-container-starts
    failed_start = day.attrs["malformed"]["raw"].eq("Error during migration run:")
    assert failed_start.sum() == 1
    story = scenario.on_call_day()  # the explanation's times are the starts of this world
    boots = day.loc[day["message"].eq("Starting Nest application..."), "timestamp"].dt.strftime("%H:%M:%S")
    assert story["start2"] <= boots.iloc[0] and story["start3"] <= boots.iloc[-1]


def test_cause_and_actions_keys(day, in_world):
    import pandas as pd

    story = backend_logs.story("db_pool")
    first = logparse.first_failure(day, match="Connection terminated|timeout exceeded", min_level="error")
    assert first["error"] == "Connection terminated unexpectedly"  # dropped before the pool ran dry
    starts = day.loc[day["message"].eq("Starting Nest application..."), "timestamp"]
    assert (starts > pd.Timestamp(story.first_failure)).all()  # no deploy to roll back before it
    window = day[day["timestamp"].between(pd.Timestamp(story.first_failure), pd.Timestamp(story.window_end))]
    assert not window["message"].str.contains("heap|OpenAI", regex=True).any()


def test_breaker_pause_key(day):
    import pandas as pd

    opened = day.loc[day["message"].str.startswith("OpenAI circuit breaker OPENED"), "timestamp"]
    half = day.loc[day["message"].str.startswith("OpenAI circuit breaker HALF-OPEN"), "timestamp"]
    assert (half.iloc[0] - opened.iloc[0]) == pd.Timedelta(seconds=30)  # key of m5-breaker-reset


def test_jwt_keys(day, in_world):
    import pandas as pd
    from course.trainer.reference import quiz_keys

    story = backend_logs.story("jwt_rotation")
    start, end = (pd.Timestamp(t) for t in backend_logs.jwt_window())
    window = day[day["timestamp"].between(start, end)]
    refused = window[window["eventType"].eq("http_error") & window["error"].eq("Token inválido")]
    key = quiz_keys.answer("jwt_logged_out_users")  # key of m5-jwt-users, from the parsed log
    assert refused["userId"].nunique() == key == backend_logs.jwt_refused_users()  # = what was planted
    if in_world == 0:
        assert key == 11
    boot = day.loc[day["message"].eq("Starting Nest application..."), "timestamp"]
    assert ((boot < pd.Timestamp(story.first_failure)) & (boot > pd.Timestamp(story.first_failure) - pd.Timedelta("1min"))).any()
    assert (window["statusCode"] == 429).sum() < 0.05 * len(refused)  # no wave of 429s
    assert not window["error"].eq("Connection terminated unexpectedly").any()
    # m5-jwt-severity: the team classified the same incident P1 in the month's channel (one world)
    from course.data import traffic
    from course.trainer.reference import slo

    chat = slo.parse_incident_log(traffic.incident_channel_log())
    assert chat.loc[chat["title"].str.contains("Token inválido"), "severity"].tolist() == ["P1"]


def test_jwt_answers_differ_between_trainees(data_cache):
    from course.data import world
    from course.trainer.reference import quiz_keys

    keys = {}
    for who in ["alice", "bob"]:
        with world.using(world.seed_for(who)):
            keys[who] = (quiz_keys.answer("jwt_logged_out_users"), backend_logs.support_request_id(),
                         backend_logs.story("db_pool").first_failure)
    assert all(a != b for a, b in zip(keys["alice"], keys["bob"])), keys


def test_502_keys(in_world):
    """m5-502-cause and m5-502-action: the month's log shows a crash loop that began with a deploy."""
    import pandas as pd
    from course.data import scenario, traffic, world

    month = logparse.parse_production(traffic.request_log())
    start, end = traffic.planted()["crash_loop"]
    loop = month[(month["timestamp"] >= start) & (month["timestamp"] < end)]
    assert loop["eventType"].isna().all() and (loop["message"] == world.OOM_MESSAGE).sum() >= 10
    deploy = month.loc[month["message"].eq("Starting Nest application...")
                       & month["timestamp"].between(start - pd.Timedelta("20min"), start), "timestamp"]
    story = scenario.on_call_day()
    assert len(deploy) == 1 and deploy.iloc[0].strftime("%H:%M") == story["crash_deploy"]
    assert story["crash_from"] <= story["crash_deploy"] < story["crash_down"] < story["crash_to"]
    assert not loop["error"].fillna("").str.contains("Connection terminated|timeout exceeded|OpenAI").any()


def test_five_seconds_key(day, in_world):
    """m5-five-seconds: after the first failure the median request waits about the pool's 5 s
    acquire timeout, and the failures say 'timeout exceeded when trying to connect'."""
    import pandas as pd

    story = backend_logs.story("db_pool")
    table = logparse.latency_before_after(day, pd.Timestamp(story.first_failure), "15min")
    assert 4500 <= table.loc["after", "p50_ms"] <= 5500 < 1000 * 5.6
    assert table.loc["before", "p50_ms"] < 1000
    after = day[day["timestamp"].between(pd.Timestamp(story.first_failure), pd.Timestamp(story.window_end))]
    assert after["error"].eq("timeout exceeded when trying to connect").any()


def test_bracketed_morning_is_the_days_failure_in_brasilia_time(in_world):
    """The bracketed morning is dated 27 October, and its first failure is the production day's,
    in Brasília wall-clock time."""
    import pandas as pd

    facts = backend_logs.bracketed_facts()
    first = pd.Timestamp(backend_logs.story("db_pool").first_failure).tz_convert("America/Sao_Paulo")
    assert pd.Timestamp(facts.first_failure) == first.tz_localize(None).floor("s")
    assert facts.first_failure.startswith("2026-10-27")
