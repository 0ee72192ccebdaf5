"""Shared fixtures: one generated data cache and one released copy of the course per test run."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the harness module beside the tests

from harness import build_course  # noqa: E402
from run_plan import plan  # noqa: E402

pytest_plugins = ("suite_cpu",)  # CPU seconds per test file, printed at the end of a run

# A data call without an explicit variant sees the canonical world here (the trainee id of the
# machine running the tests would otherwise pick one); variant tests name their variants.
os.environ.setdefault("ETP_VARIANTS", "off")
# The suite makes some seventy worlds of 120 MB: the cache keeps the most recent to 2 GB, past
# the worlds read in the last ten minutes and those being graded (course/data/cache.py).
os.environ.setdefault("ETP_ACADEMY_DATA_LIMIT_MB", "2048")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config, items):
    if getattr(config.option, "loadgroup", False):  # pytest-xdist's --dist loadgroup, in every worker
        plan(items)


def shared_folder(tmp_path_factory, name: str) -> Path:
    """A folder of the run: one for every pytest-xdist worker, beside their own temporary folders."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return tmp_path_factory.mktemp(name)
    folder = tmp_path_factory.getbasetemp().parent / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory):
    """Generated data goes to a throw-away cache, shared by the tests and the kernels they start,
    and by every pytest-xdist worker of the run (the cache writes each file atomically)."""
    folder = shared_folder(tmp_path_factory, "etp-data")
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
def one_world_course(course, tmp_path_factory):
    """A copy of the released course that grades every trainee in the canonical world:
    (root, NbGraderAPI). For tests about a submission's code, not its world; a trainee's own
    world costs seconds of CPU to generate, and the canonical one is made once per run."""
    import shutil

    from course.trainer.cohort.api import open_course

    released, _ = course
    root = tmp_path_factory.mktemp("one-world-course")
    for folder in ("source", "release"):
        shutil.copytree(released / folder, root / folder)
    shutil.copy(released / "gradebook.db", root)
    config = (released / "nbgrader_config.py").read_text(encoding="utf-8")
    (root / "nbgrader_config.py").write_text(config + "\nc.WorldVariants.enabled = False\n", encoding="utf-8")
    return root, open_course(root)


@pytest.fixture(scope="session")
def log_files(data_cache):
    """Module 5's backend logs, generated once: the full day, the sample and the other formats."""
    from course.data import backend_logs

    return {"sample": backend_logs.production_log("sample"), "full": backend_logs.production_log("full"),
            "bracketed": backend_logs.bracketed_log(), "dev": backend_logs.dev_log()}


# -- PostgreSQL: a throw-away cluster for the gradebook tests -------------------------------------
PG_PACKAGE = "postgresql"          # Debian's package (also in the Makefile's `system` target)
PG_CLIENT_PIN = "psycopg2-binary"  # pinned in requirements.txt


def _pg_bin(program: str):
    import glob
    import shutil

    found = shutil.which(program)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{program}"),
                      key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return versions[-1] if versions else None


def _install_postgres() -> str:
    """Debian's PostgreSQL, installed when missing (as root); '' when it is there, else why not."""
    import shutil
    import subprocess

    if _pg_bin("initdb") and _pg_bin("pg_ctl"):
        return ""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"initdb not found and `apt-get install {PG_PACKAGE}` needs root on Debian (make system)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", PG_PACKAGE]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()[-300:]}"
    return "" if _pg_bin("initdb") else f"{PG_PACKAGE} installed but initdb is still missing"


def _install_psycopg2() -> str:
    import importlib
    import subprocess

    try:
        importlib.import_module("psycopg2")
        return ""
    except ImportError:
        pass
    pins = (Path(__file__).resolve().parents[1] / "requirements.txt").read_text().splitlines()
    pin = next((line.strip() for line in pins if line.startswith(PG_CLIENT_PIN + "==")), PG_CLIENT_PIN)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", pin],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        return f"pip install {pin} failed: {(done.stderr or done.stdout).strip()[-300:]}"
    importlib.invalidate_caches()
    return ""


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL cluster of its own (temporary folder, Unix socket only), as a SQLAlchemy URL
    to an empty database. PostgreSQL and psycopg2 are installed when missing; the tests using it
    are skipped, with the reason, only when that install is impossible."""
    import shutil
    import subprocess
    import tempfile

    why = _install_postgres() or _install_psycopg2()
    if why:
        pytest.skip(f"PostgreSQL cannot be installed here: {why}")
    folder = Path(tempfile.mkdtemp(prefix="etp-pg-"))
    data, log = folder / "data", folder / "server.log"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the cluster belongs to nobody
        os.chown(folder, 65534, 65534)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *command], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=300)

    done = run(_pg_bin("initdb"), "-D", str(data), "-U", "etp", "--auth=trust", "-E", "UTF8",
               "--locale=C.UTF-8")
    assert done.returncode == 0, done.stderr[-2000:]
    port = "5439"
    done = run(_pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
               f"-k {folder} -c listen_addresses='' -p {port} -c max_connections=200", "start")
    assert done.returncode == 0, (done.stderr + (log.read_text() if log.exists() else ""))[-3000:]
    try:
        import psycopg2

        conn = psycopg2.connect(dbname="postgres", user="etp", host=str(folder), port=port)
        conn.autocommit = True  # CREATE DATABASE runs outside a transaction
        conn.cursor().execute("CREATE DATABASE gradebook")
        conn.close()
        yield f"postgresql+psycopg2://etp@/gradebook?host={folder}&port={port}"
    finally:
        run(_pg_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)
