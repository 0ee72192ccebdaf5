"""Per-trainee worlds in grading: whose seed, where it is recorded, keys from the trainee's own
data, and values that belong to another trainee's world."""
from __future__ import annotations

import json

import pytest
from traitlets.config import Config

from course.data import world
from course.trainer.reference.judge import GradingError, expect_close, expect_equal
from course.quiz import Quiz
from course.quiz.store import AnswerFileError, AnswerStore
from course.trainer.reference import quiz_keys
from course.trainer.grading.sealing import questions_in, seal_source
from course.trainer.grading.variants import Ledger, WorldVariants, matches
from course.trainer.grading.verdicts import Verdicts


def test_seeds_are_stable_per_trainee_and_course_and_never_canonical():
    alice, bob = world.seed_for("alice"), world.seed_for("bob")
    assert alice == world.seed_for("alice") and alice != bob
    assert world.seed_for("alice", "another-course") != alice
    assert world.CANONICAL_SEED not in {alice, bob}


def test_variants_move_each_story_inside_its_bounds_and_keep_the_canonical_world():
    assert world.Variant().on_call_incidents() == world.ON_CALL_INCIDENTS
    assert world.Variant().on_call_starts() == world.ON_CALL_STARTS
    moved = set()
    for trainee in [f"t{i}" for i in range(40)]:
        variant = world.Variant(world.seed_for(trainee))
        for story, (low, high) in world.STORY_SHIFT_MINUTES.items():
            minutes = variant.shift(story) / world_minute() % 1440 if story == "slow_llm" else \
                variant.shift(story) / world_minute()
            if story != "slow_llm":
                assert low <= minutes <= high, (trainee, story, minutes)
        incidents = variant.on_call_incidents()
        starts = [incidents[name][0] for name in ("db_failover", "openai_breaker", "jwt_rotation")]
        assert starts == sorted(starts) and all(s.startswith(world.ON_CALL_DAY) for s in starts)
        moved.add(incidents["db_failover"][0])
    assert len(moved) > 20  # trainees get different times, not two or three


def world_minute():
    import pandas as pd
    return pd.Timedelta(minutes=1)


def test_current_world_order_of_precedence(monkeypatch):
    monkeypatch.delenv(world.SEED_ENV, raising=False)
    monkeypatch.setenv(world.VARIANTS_ENV, "on")
    monkeypatch.setenv(world.TRAINEE_ENV, "alice")
    assert world.current().seed == world.seed_for("alice")
    monkeypatch.setenv(world.COURSE_ENV, "other")
    assert world.current().seed == world.seed_for("alice", "other")
    monkeypatch.setenv(world.VARIANTS_ENV, "off")
    assert world.current().canonical
    monkeypatch.setenv(world.SEED_ENV, "77")  # a graded kernel: the grader says which world
    assert world.current().seed == 77
    with world.using(5):
        assert world.current().seed == 5
        with world.using(6):
            assert world.current().seed == 6
        assert world.current().seed == 5
    assert world.current().seed == 77


def test_autograde_derives_the_seed_from_the_student_id_unless_variants_are_off():
    config = Config()
    config.CourseDirectory.course_id = "etp-ops-academy"
    assert WorldVariants(config=config).seed_of("alice") == world.seed_for("alice", "etp-ops-academy")
    config.WorldVariants.enabled = False
    assert WorldVariants(config=config).seed_of("alice") == world.CANONICAL_SEED


def test_the_answer_file_records_the_world_its_answers_were_committed_in(tmp_path):
    store = AnswerStore(tmp_path / "answers.json")
    with world.using(11):
        store.record("q", "P0", "p0", True)
    with world.using(12):
        store.record("q", "P1", "p1", False)
    assert store.worlds() == [11, 12]
    data = json.loads(store.path.read_text())
    data["worlds"] = ["11"]
    store.path.write_text(json.dumps(data))
    with pytest.raises(AnswerFileError, match="worlds"):
        store.worlds()


KEYED = ("quiz.numeric('q-users', 'How many users were logged out after the {deploy} deploy?', "
         "answer_from='test-users', tolerance=0, unit='users')\nquiz.grade('q-users')")


@quiz_keys.key("test-users")
def _users_in_this_world():
    return world.current().seed % 7 + 3  # a stand-in for a count found in the world's logs


def test_a_key_from_the_trainees_data_stays_out_of_the_release_and_is_computed_when_graded(tmp_path):
    assert seal_source(KEYED) == KEYED  # no answer to seal: the release names the key function only
    explained = KEYED.replace("unit='users')", "unit='users', explanation='Count the distinct userId.')")
    assert "distinct userId" not in seal_source(explained) and "answer_from='test-users'" in seal_source(explained)
    assert seal_source(seal_source(explained)) == seal_source(explained)
    [question] = questions_in(KEYED)
    assert question.pending and not question.is_correct(3)
    quiz = Quiz(tmp_path / "answers.json", facts={"deploy": "18:36"})
    question = quiz.build("numeric", "q-users", "After the {deploy} deploy?", answer_from="test-users")
    assert question.prompt == "After the 18:36 deploy?"

    own, other = 40, 41
    with world.using(own):
        AnswerStore(tmp_path / "answers.json").record("q-users", own % 7 + 3, question.canonical(own % 7 + 3), False)
    setup = "from course.quiz import Quiz\nquiz = Quiz(facts={'deploy': '18:36'})\n"
    graded = Verdicts([setup], tmp_path / "answers.json", seed=own).judge("q-users", KEYED, None)
    assert graded[-1].output_type == "stream" and "correct" in graded[-1].text
    in_other_world = Verdicts([setup], tmp_path / "answers.json", seed=other).judge("q-users", KEYED, None)
    assert in_other_world[-1].output_type == "error"


def test_evidence_and_ledger_name_the_world_a_wrong_value_came_from(tmp_path):
    ledger = Ledger(tmp_path)

    def graded(seed, value):
        verdicts = Verdicts([f"EXPECTED = {seed} * 1.5 + 0.25\n"], tmp_path / "a.json", seed=seed)
        code = ("from course.trainer.reference.judge import expect_close\n"
                "expect_close('uptime_pct', uptime_pct, EXPECTED, 0.01)")

        class Bridge:
            def fetch(self, names):
                return {"uptime_pct": value}

        outputs = verdicts.judge("t", code, Bridge())
        return outputs, verdicts.evidence

    _, bob = graded(20, 30.25)               # bob's own, right value
    ledger.record("m2", 20, "bob", bob.references)
    outputs, alice = graded(10, 30.25)       # alice hands in bob's number
    assert outputs[-1].output_type == "error"
    assert alice.failed == {"uptime_pct": (30.25, 0.01)}
    [line] = ledger.copied_values("m2", 10, alice.failed)
    assert "bob" in line and "uptime_pct" in line
    _, carol = graded(30, 1.0)               # simply wrong: no world has it
    assert ledger.copied_values("m2", 30, carol.failed) == []
    _, dan = graded(40, 60.25)               # 60.25 is right in three other worlds: no evidence
    ledger.record("m2", 40, "dan", dan.references)
    ledger.record("m2", 41, "erin", {"uptime_pct": 60.25})
    ledger.record("m2", 42, "finn", {"uptime_pct": 60.25})
    _, gus = graded(43, 60.25)
    assert ledger.copied_values("m2", 43, gus.failed) == []
    ledger.record("m2", 46, "ida", {"choice": "tue 06 oct"})  # a short label right in one world
    assert ledger.copied_values("m2", 47, {"choice": ("tue 06 oct", 0.0)}) == []
    # two shared values that both point at one world do name it
    ledger.record("m2", 41, "erin", {"errors": 3.0})
    ledger.record("m2", 44, "hal", {"errors": 3.0})
    both = {"uptime_pct": (60.25, 0.01), "errors": (3.0, 0.0)}
    lines = ledger.copied_values("m2", 45, both)
    assert len(lines) == 2 and all("erin" in line for line in lines), lines


def test_comparisons_match_the_way_the_checks_do():
    assert matches(1.0, 1.004, 0.01) and not matches(1.0, 1.2, 0.01)
    assert matches("p0", ["p0", "p1"], 0) and not matches("p2", ["p0", "p1"], 0)
    assert matches("13:02:11", "13:02:11", 0) and not matches(float("nan"), 1.0, 1.0)
    with pytest.raises(GradingError):
        expect_equal("first_failure", "13:02:12", "13:02:11")
    with pytest.raises(GradingError):
        expect_close("x", "twelve", 12, 0)


def test_the_trainee_kernel_learns_the_course_and_the_variants_switch(tmp_path):
    from course.trainer.lab import runtime as lab, launch

    config = Config()
    config.CourseDirectory.course_id = "etp-ops-academy"
    env = launch.world_env(config, "etp-ops-academy")
    assert env == {world.COURSE_ENV: "etp-ops-academy", world.VARIANTS_ENV: "on"}
    config.WorldVariants.enabled = False
    assert launch.world_env(config, "etp-ops-academy")[world.VARIANTS_ENV] == "off"
    spec = json.loads((lab.write_kernelspec(tmp_path, env) / "kernel.json").read_text())
    assert spec["env"][world.COURSE_ENV] == "etp-ops-academy" and "PYTHONPATH" in spec["env"]
