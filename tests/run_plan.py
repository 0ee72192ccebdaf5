"""How the suite is shared out among pytest-xdist's workers (``make test`` runs ``-n 4 --dist
loadgroup``): which tests must run in the same worker, and which groups start first.

A group is one unit of work for one worker. Tests that share an expensive set-up of module scope
(a graded cohort, a live kernel, a hub) are one group, so that it is built once; a set-up of
module scope with parameters (one cohort per module) makes one group per parameter. Live hubs and
browser tests each form a group of their own kind, so that no two of them fight for the ports, the
accounts and the two cores. The longest groups start first, so that none is left running alone at
the end.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.nodeid import NodeId

# Files that share a set-up built once per process (tests/insight_cohort.py: one graded cohort).
SHARED_SETUP = {"test_item_analysis.py": "insight-cohort", "test_trainer_verbs.py": "insight-cohort"}

# Heavy singletons, run one after another in their group: one JupyterLab and one Chromium at a time;
# the live hubs in one queue: every hub gives the checkout to its own grader account and group
# (chmod 750, as docs/hub.md says), so a second hub at once locks the first one's grader out.
ONE_AT_A_TIME = {
    "test_browser.py": "browser", "test_browser_trainee_polish.py": "browser",
    "test_browser_trainee_traps.py": "browser", "test_browser_incident.py": "browser",
    **{name: "live-hub" for name in ("test_hub_isolation_live.py", "test_hub_drill_live.py", "test_hub_quiz_live.py",
                                     "test_hub_exchange_live.py", "test_jupyterhub_live.py")},
}

# Rough seconds per file on the 2-core machine with four workers busy: they only order the queue
# (longest first); a file not named here counts one second per test.
COST = {
    "test_hostile_cohort.py": 700, "test_visible_checks.py": 720, "test_variants_cohort.py": 400,
    "test_trainer_traps.py": 210, "test_parallel_grading.py": 300, "test_demo.py": 120,
    "test_browser.py": 420, "test_browser_trainee_polish.py": 60, "test_browser_trainee_traps.py": 60,
    "test_browser_incident.py": 90,
    "test_hub_isolation_live.py": 200, "test_hub_exchange_live.py": 170, "test_jupyterhub_live.py": 150,
    "test_hub_quiz_live.py": 70, "test_hub_drill_live.py": 60, "test_item_analysis.py": 90,
    "test_trainer_verbs.py": 40, "test_broken_submissions.py": 100, "test_certification.py": 120,
    "test_trainer_feedback_cycle.py": 90, "test_module1.py": 60, "test_module2.py": 60, "test_module3.py": 60,
    "test_module4.py": 60, "test_module5.py": 60, "test_module6.py": 60, "test_roundtrip.py": 90,
    "test_postgres_gradebook.py": 60, "test_headless.py": 60,
}

WIDE_SCOPES = {"module", "package", "session"}


def wide_params(item: pytest.Item) -> list[str]:
    """Ids of the parameters that select a set-up of module scope or wider (one cohort per module)."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return []
    chosen = []
    for name, value in sorted(callspec.params.items()):
        definitions = item._fixtureinfo.name2fixturedefs.get(name, ())
        scopes = {callspec._arg2scope[name].value} if name in callspec._arg2scope else set()
        scopes |= {definition.scope for definition in definitions[-1:]}
        if scopes & WIDE_SCOPES:  # the same name in every worker: a plain value, else its position
            shown = value if isinstance(value, (str, int)) else f"#{callspec.indices[name]}"
            chosen.append(f"{name}={shown}")
    return chosen


def group_of(item: pytest.Item) -> str:
    name = file_of(item)
    if name in ONE_AT_A_TIME:
        return ONE_AT_A_TIME[name]
    if name in SHARED_SETUP:
        return SHARED_SETUP[name]
    return "::".join([name, *wide_params(item)])


def file_of(item: pytest.Item) -> str:
    return Path(str(item.path)).name


def cost_of(tests: list[pytest.Item], per_file: dict[str, int]) -> float:
    """The group's share of each file's cost, by its share of the file's tests."""
    return sum(COST.get(file_of(item), per_file[file_of(item)]) / per_file[file_of(item)] for item in tests)


def plan(items: list[pytest.Item]) -> None:
    """Mark every test with its group and put the longest groups first (items are sorted in place;
    a group's tests keep their order, which pytest chose to set each fixture up once)."""
    groups: dict[str, list[pytest.Item]] = {}
    per_file: dict[str, int] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)
        per_file[file_of(item)] = per_file.get(file_of(item), 0) + 1
    order = sorted(groups, key=lambda group: -cost_of(groups[group], per_file))
    items[:] = [item for group in order for item in groups[group]]
    for group in order:
        for item in groups[group]:
            item.add_marker(pytest.mark.xdist_group(group))
            name_the_group(item, group)


def name_the_group(item: pytest.Item, group: str) -> None:
    """The test's id with ``@group``, which the scheduler of ``--dist loadgroup`` reads: pytest-xdist
    3.8 writes it to a field pytest 9 no longer reads its ids from, so it is written here."""
    suffixed = f"{item.nodeid}@{group}"
    if isinstance(getattr(item, "_id", None), NodeId):
        item._id = NodeId.parse(suffixed)
    else:
        item._nodeid = suffixed
