"""The data cache stays bounded: least recently used worlds go whole, the canonical and busy ones stay."""
import os
import re
import time
from pathlib import Path

import pytest

from course.data import auth, backend_logs, cache, platform, sentry, traffic, world

SEED = world.seed_for("cache-trainee")
MB = 2**20
GENERATORS = [traffic.request_log, traffic.health_probe_log, traffic.incident_channel_log,
              platform.deployment_history, platform.project_export, platform.health_checks, platform.metrics,
              sentry.events_export, sentry.issues_export, auth.auth_log,
              lambda variant: backend_logs.production_log("full", variant),
              lambda variant: backend_logs.production_log("sample", variant),
              backend_logs.bracketed_log, backend_logs.dev_log]


def _names_written(monkeypatch, variant) -> list[str]:
    """The file name every generator asks the cache for, without generating anything."""
    names = []

    class Asked(Exception):
        pass

    def ask(name, write, binary=False):
        names.append(name)
        raise Asked

    monkeypatch.setattr(cache, "materialise", ask)
    for make in GENERATORS:
        with pytest.raises(Asked):
            make(variant)
    return names


def test_every_generated_file_names_its_world(monkeypatch):
    sources = Path(cache.__file__).parent.glob("*.py")
    call_sites = sum(len(re.findall(r"cache\.materialise\(", path.read_text())) for path in sources)
    assert call_sites == len(GENERATORS) - 1  # production_log serves both sizes from one call
    trainees = _names_written(monkeypatch, world.Variant(SEED))
    canonical = _names_written(monkeypatch, world.Variant())
    assert [cache.world_of(name) for name in trainees] == [SEED] * len(GENERATORS)
    assert [cache.world_of(name) for name in canonical] == [None] * len(GENERATORS)
    assert cache.world_of("sandbox-probe.txt") is None


def _fake_world(folder: Path, seed: int, mb: float, used_s_ago: float) -> list[Path]:
    paths = [folder / f"request_log_v3_world{seed}.jsonl", folder / f"etp-backend-dev-v3-variant{seed}.log"]
    stamp = time.time() - used_s_ago
    for path in paths:
        path.write_bytes(b"x" * int(mb * MB / 2))
        os.utime(path, (stamp, stamp))
    return paths


@pytest.fixture
def small_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path))
    return tmp_path


def test_the_least_recently_used_idle_worlds_go_whole_until_the_cache_fits(small_cache):
    canonical = _fake_world(small_cache, world.CANONICAL_SEED, 4, used_s_ago=9000)
    oldest = _fake_world(small_cache, 11, 2, used_s_ago=5000)
    older = _fake_world(small_cache, 12, 2, used_s_ago=4000)
    recent = _fake_world(small_cache, 13, 2, used_s_ago=3000)
    busy = _fake_world(small_cache, 14, 2, used_s_ago=10)
    assert cache.prune(limit_mb=100, idle_s=60) == []  # under the limit: nothing goes
    assert cache.prune(limit_mb=9, idle_s=60) == [11, 12]
    assert not any(path.exists() for path in oldest + older)
    assert all(path.exists() for path in canonical + recent + busy)
    assert cache.prune(limit_mb=1, idle_s=60) == [13]  # the busy world stays, over the limit or not
    assert all(path.exists() for path in canonical + busy)


def test_a_read_marks_the_world_used_without_changing_the_files_version(small_cache):
    first = platform.project_export(SEED)
    idle = _fake_world(small_cache, 21, 2, used_s_ago=5000)
    stamp = time.time() - 6000
    os.utime(first, (stamp, stamp))
    version = first.stat().st_mtime_ns
    assert platform.project_export(SEED) == first  # a cache hit
    assert first.stat().st_mtime_ns == version  # readers key their caches on it
    assert cache.prune(limit_mb=0.001, idle_s=60) == [21]
    assert first.exists() and not any(path.exists() for path in idle)


def test_an_evicted_world_comes_back_byte_for_byte(small_cache):
    made = {make: make(SEED) for make in (traffic.incident_channel_log, platform.deployment_history)}
    before = {make: path.read_bytes() for make, path in made.items()}
    stamp = time.time() - 5000
    for path in made.values():
        os.utime(path, (stamp, stamp))
    assert cache.prune(limit_mb=0.001, idle_s=60) == [SEED]
    assert not any(path.exists() for path in made.values())
    assert {make: make(SEED).read_bytes() for make in made} == before


def test_writing_a_file_prunes_with_the_environments_limit(small_cache, monkeypatch):
    idle = _fake_world(small_cache, 31, 3, used_s_ago=5000)
    monkeypatch.setenv(cache.LIMIT_ENV, "2")
    monkeypatch.setenv(cache.IDLE_ENV, "60")
    fresh = platform.project_export(SEED)
    assert fresh.exists() and not any(path.exists() for path in idle)


@pytest.mark.parametrize("limit", ["0", "off"])
def test_a_limit_of_zero_or_off_keeps_everything(small_cache, monkeypatch, limit):
    idle = _fake_world(small_cache, 41, 3, used_s_ago=5000)
    monkeypatch.setenv(cache.LIMIT_ENV, limit)
    assert cache.prune(idle_s=60) == [] and all(path.exists() for path in idle)


def test_a_malformed_limit_says_which_setting(small_cache, monkeypatch):
    monkeypatch.setenv(cache.LIMIT_ENV, "4 GB")
    with pytest.raises(ValueError, match=cache.LIMIT_ENV):
        cache.prune()


def test_a_world_held_by_a_grader_stays_until_it_lets_go(small_cache):
    held = _fake_world(small_cache, 51, 2, used_s_ago=5000)
    other = _fake_world(small_cache, 52, 2, used_s_ago=4000)
    with cache.in_use(51):
        assert cache.prune(limit_mb=0.001, idle_s=0) == [52]
        assert all(path.exists() for path in held) and not any(path.exists() for path in other)
    assert cache.prune(limit_mb=0.001, idle_s=0) == [51]


def test_the_grader_holds_the_submissions_world_while_it_grades(small_cache, monkeypatch):
    from course.trainer.grading.execute import SandboxedExecute
    from course.trainer.grading.variants import WorldVariants

    grader = SandboxedExecute()
    seed = WorldVariants(parent=grader).seed_of("held-trainee")
    paths = _fake_world(small_cache, seed, 2, used_s_ago=5000)
    seen = {}

    def grade(nb, resources, km):
        seen["evicted"] = cache.prune(limit_mb=0.001, idle_s=0)
        return nb, resources

    monkeypatch.setattr(grader, "_grade", grade)
    grader.preprocess("notebook", {"nbgrader": {"student": "held-trainee"}})
    assert seen["evicted"] == [] and all(path.exists() for path in paths)
    assert cache.prune(limit_mb=0.001, idle_s=0) == [seed]
