"""Shared fixtures: one generated data cache and one released copy of the course per test run."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the harness module beside the tests

from harness import build_course  # noqa: E402

# A data call without an explicit variant sees the canonical world here (the trainee id of the
# machine running the tests would otherwise pick one); variant tests name their variants.
os.environ.setdefault("ETP_VARIANTS", "off")


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory):
    """Generated data goes to a throw-away cache, shared by the tests and the kernels they start."""
    folder = tmp_path_factory.mktemp("etp-data")
    previous = os.environ.get("ETP_ACADEMY_DATA")
    os.environ["ETP_ACADEMY_DATA"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("ETP_ACADEMY_DATA", None)
    else:
        os.environ["ETP_ACADEMY_DATA"] = previous


@pytest.fixture(scope="session")
def course(tmp_path_factory, data_cache):
    """A temporary course folder with every assignment generated: (root, NbGraderAPI)."""
    root = tmp_path_factory.mktemp("course")
    os.environ["NBGRADER_EXCHANGE"] = str(root / "exchange")
    return root, build_course(root)


@pytest.fixture(scope="session")
def log_files(data_cache):
    """Module 5's backend logs, generated once: the full day, the sample and the other formats."""
    from course.data import backend_logs

    return {"sample": backend_logs.production_log("sample"), "full": backend_logs.production_log("full"),
            "bracketed": backend_logs.bracketed_log(), "dev": backend_logs.dev_log()}
