"""Per-trainee worlds through nbgrader: one run per module grades a small cohort where two
honest trainees have different worlds, two copy another trainee's numbers and one hands in an
answer file committed in someone else's world; then one trainee with variants off."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from nbgrader.api import Gradebook

from course.data import world
from course.trainer.reference import quiz_keys, slo
from harness import ASSIGNMENTS, COURSE_ID, Trainee, autograded_points, failure_log

pytestmark = pytest.mark.slow

# A copier graded before the trainee they copied (name order) is caught by the end-of-run check.
SOURCE, EARLY_COPIER, LATE_COPIER, COPIED_FILE, OTHER = "var-bob", "var-aaron", "var-carol", "var-dave", "var-alice"
COPIED_QUIZ = {"m1_architecture": "m1-longest-spell", "m2_sla_severity": "m2-llm-bad-day", "m3_monitoring": "m3-week-top-events", "m4_procedures": "m4-too-early", "m5_troubleshooting": "m5-jwt-users", "m6_incident_response": "m6-ex61-deadline"}


def seed(name: str) -> int:
    return world.seed_for(name, COURSE_ID)


def copied_m2_values(source: str) -> dict:
    """Module 2's solution, then the numbers of ``source``'s world typed over the trainee's own."""
    from course.data import traffic

    with world.using(seed(source)):
        health = slo.parse_health_log(traffic.health_probe_log())
        worst = slo.worst_rolling_error_rate_pct(slo.parse_request_log(traffic.request_log()))
    from harness import REPO, notebooks, solution_sources
    [source_nb] = notebooks(REPO / "source" / "m2_sla_severity").values()
    solution = solution_sources(source_nb)
    return {"m2-health-solution": solution["m2-health-solution"]
            + f"\nuptime_pct = {slo.uptime_pct(health)!r}\ndowntime_min = {slo.downtime_minutes(health)!r}\n",
            "m2-errors-solution": solution["m2-errors-solution"] + f"\nworst_error_rate_24h_pct = {worst!r}\n"}


def copied_m5_values(source: str) -> dict:
    """Module 5's solution, with the first failure of ``source``'s database incident typed in."""
    from course.data import backend_logs
    from harness import REPO, notebooks, solution_sources

    with world.using(seed(source)):
        theirs = backend_logs.story("db_pool").first_failure
    [source_nb] = notebooks(REPO / "source" / "m5_troubleshooting").values()
    solution = solution_sources(source_nb)["m5-first-failure-solution"]
    return {"m5-first-failure-solution": solution + f"""
_own_first_failure = first_failure
def first_failure(events, match, min_level="error"):
    row = _own_first_failure(events, match, min_level)
    if row is not None and match == "Connection terminated unexpectedly":
        row = row.copy()
        row["timestamp"] = pd.Timestamp({theirs!r})
    return row
"""}


COPIED_CODE = {"m2_sla_severity": copied_m2_values, "m5_troubleshooting": copied_m5_values}
# Modules whose copier carries values that point at one world: a value right in no other world,
# or two values right in the same one. Module 4's only copyable value is one small count that
# many worlds share, which is no evidence of where it came from.
STRONG_EVIDENCE = {"m1_architecture", "m2_sla_severity", "m3_monitoring", "m5_troubleshooting"}


def nbgrader(root, *args):
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True,
                          text=True, timeout=1800, env=dict(os.environ, ETP_CELL_TIMEOUT="60"))


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def variant_run(request, course):
    assignment = request.param
    root, _ = course
    overrides = COPIED_CODE[assignment](SOURCE) if assignment in COPIED_CODE else None
    cohort = {
        OTHER: Trainee(OTHER), SOURCE: Trainee(SOURCE),
        EARLY_COPIER: Trainee(EARLY_COPIER, code_overrides=overrides, keys_from=SOURCE),
        LATE_COPIER: Trainee(LATE_COPIER, code_overrides=overrides, keys_from=SOURCE),
        COPIED_FILE: Trainee(COPIED_FILE),
    }
    for name, trainee in cohort.items():
        trainee.submit(root, assignment, seed=seed(SOURCE) if name == COPIED_FILE else None)
    graded = nbgrader(root, "autograde", assignment, "--student=var-*")
    off = Trainee("novariant-eve")
    off.submit(root, assignment, seed=world.CANONICAL_SEED)
    graded_off = nbgrader(root, "autograde", assignment, "--student=novariant-eve",
                         "--WorldVariants.enabled=False")
    return dict(assignment=assignment, root=root, graded=graded, graded_off=graded_off)


def points(run, name):
    return autograded_points(run["root"], run["assignment"], name)


def flag_of(run, name):
    with Gradebook(f"sqlite:///{run['root'] / 'gradebook.db'}") as gb:
        [notebook] = gb.find_submission(run["assignment"], name).notebooks
        comments = " ".join(c.auto_comment or "" for c in notebook.comments)
        return notebook.flagged, comments


def test_each_honest_trainee_earns_full_marks_in_their_own_world(variant_run):
    assert variant_run["graded"].returncode == 0, failure_log(variant_run["graded"].stderr)
    for name in (OTHER, SOURCE):
        earned = points(variant_run, name)
        assert earned and all(score == top for score, top in earned.values()), (name, earned)
        assert flag_of(variant_run, name)[0] is False


def test_the_two_worlds_have_different_planted_answers(variant_run):
    qid_key = {"m1-longest-spell": "m1_longest_not_ready_start", "m2-llm-bad-day": "slow_llm_day", "m3-week-top-events": "busiest_production_issue_last_7_days", "m4-too-early": "m4_logged_out_early", "m5-jwt-users": "jwt_logged_out_users", "m6-ex61-deadline": "m6_ack_deadline"}
    key = qid_key[COPIED_QUIZ[variant_run["assignment"]]]
    answers = {}
    for name in (OTHER, SOURCE):
        with world.using(seed(name)):
            answers[name] = quiz_keys.answer(key)
    assert answers[OTHER] != answers[SOURCE], answers


def test_copied_values_earn_nothing_and_are_flagged_whoever_is_graded_first(variant_run):
    qid = COPIED_QUIZ[variant_run["assignment"]]
    for copier in (EARLY_COPIER, LATE_COPIER):
        earned = points(variant_run, copier)
        lost = {cell for cell, (score, top) in earned.items() if score < top}
        assert any(qid in cell for cell in lost), (copier, lost)
        if variant_run["assignment"] == "m2_sla_severity":
            assert {"m2-health-test", "m2-errors-test"} <= lost
        flagged, comments = flag_of(variant_run, copier)
        if variant_run["assignment"] in STRONG_EVIDENCE:
            assert flagged and "another trainee's world" in comments and SOURCE in comments, comments
            assert f"{copier}\t" in variant_run["graded"].stderr
        elif "another trainee's world" in comments:  # weak evidence may still name the source
            assert SOURCE in comments, comments


def test_an_answer_file_from_another_world_is_flagged(variant_run):
    flagged, comments = flag_of(variant_run, COPIED_FILE)
    assert flagged and f"committed in the world of {SOURCE}, not this trainee's" in comments, comments


def test_with_variants_off_everyone_shares_the_canonical_world(variant_run):
    assert variant_run["graded_off"].returncode == 0, failure_log(variant_run["graded_off"].stderr)
    earned = points(variant_run, "novariant-eve")
    assert earned and all(score == top for score, top in earned.values()), earned
    assert flag_of(variant_run, "novariant-eve")[0] is False
