"""``SandboxedExecute``: nbgrader's Execute step, rebuilt around the trainee's kernel as untrusted.

- The kernel runs in the sandbox, on a private copy of the submission (``sandbox.py``).
- Test cells never run in the kernel: ``verdicts.py`` judges them in this process, asking the
  kernel for values through a ``KernelBridge``.
- Outputs are capped in bytes as they arrive, so printing gigabytes costs nothing.
- A kernel that dies, or ignores an interrupt after a timeout, costs the cells not yet run; the
  cells before keep their scores, and the problem is recorded for the trainer.
"""
from __future__ import annotations

import builtins
import json
import os
import stat
import shutil
import tempfile
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat.v4 import new_code_cell, new_output
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from course import handover
from course.data import cache, world
from course.quiz.store import AnswerFileError, AnswerStore
from course.trainer.grading import refcache
from course.trainer.grading.problems import note_problem
from course.trainer.grading.sanitize import PROBLEMS_KEY, clean_text
from course.trainer.grading.sandbox import Sandbox, SandboxedKernelManager
from course.trainer.grading.variants import COPIED, LEDGER_FOLDER, Ledger, WorldVariants, remember_failures, world_mismatch
from course.trainer.grading.verdicts import SETUP_SUFFIX, Unavailable, Verdicts, error_output

ANSWERS = "answers.json"


# The kernel has no such name. A sentinel of its own: a trainee's value may well be the string
# "undefined", which must still reach the check as that value.
_MISSING = object()


class KernelGone(Exception):
    """The kernel died or stopped answering; the rest of the notebook cannot run."""


class KernelFunction:
    """A trainee's function, called in the kernel on data the check chooses."""

    def __init__(self, name: str, bridge: "KernelBridge"):
        self.name, self.bridge = name, bridge

    def __call__(self, *args, **kwargs):
        return self.bridge.call(self.name, args, kwargs)

    def __repr__(self):
        return f"<your function {self.name}>"


class KernelBridge:
    """Runs small hand-over snippets in the kernel and reads what they wrote, as data."""

    def __init__(self, executor: "SandboxedExecute", folder: Path, cell_index: int):
        self.executor, self.folder, self.index = executor, folder, cell_index

    def _run(self, code: str, what: str) -> None:
        cell, cells = new_code_cell(code), self.executor.nb.cells
        graded_cell = cells[self.index]
        try:
            self.executor.execute_cell(cell, self.index, store_history=False)
        except DeadKernelError:
            self.executor.gone = f"the kernel died at cell {self.index + 1} while {what}"
            raise KernelGone(self.executor.gone) from None
        finally:
            cells[self.index] = graded_cell  # nbclient files an executed cell at its index
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            self.executor.check_responsive(errors[-1])
            raise AssertionError(f"{what} failed in your kernel ({errors[-1].get('ename', 'error')})")

    def _folder(self) -> Path:
        self.executor.requests += 1
        return self.folder / f"r{self.executor.requests}"

    def fetch(self, names: list[str]) -> dict:
        folder = self._folder()
        self._run(f"__import__('course.handover', fromlist=['export']).export({names!r}, {str(folder)!r})",
                  "handing over " + ", ".join(names))
        entries = handover.read_manifest(folder).get("entries", {})
        return {name: value for name in names
                if (value := self._value(name, entries.get(name), folder)) is not _MISSING}

    def _value(self, name: str, entry, folder: Path):
        kind = entry.get("kind") if isinstance(entry, dict) else handover.UNDEFINED
        if kind == handover.UNDEFINED:
            return _MISSING
        if kind == handover.CALLABLE:
            return KernelFunction(name, self)
        if kind == handover.MODULE:
            return Unavailable(name, "it is a module")
        if kind == handover.UNSUPPORTED:
            return Unavailable(name, str(entry.get("why", "not data")))
        try:
            return handover.read_value(entry, folder, self.executor.max_value_bytes)
        except handover.HandOverError as err:
            return Unavailable(name, str(err))
        except Exception as err:  # noqa: BLE001 - a damaged file is the trainee's loss, not a crash
            return Unavailable(name, f"its data could not be read ({type(err).__name__})")

    def _as_exception(self, name: str, raised) -> Exception:
        """The trainee's exception, as the check's own class of that name where there is one,
        so that a check expecting, say, LogFormatError can catch it."""
        raised = raised if isinstance(raised, dict) else {}
        kind, message = str(raised.get("type", "Exception"))[:80], str(raised.get("message", ""))[:300]
        cls = self.executor.verdicts.namespace.get(kind, getattr(builtins, kind, None))
        if isinstance(cls, type) and issubclass(cls, Exception):
            error = cls.__new__(cls)
            error.args = (message,)
            return error
        return AssertionError(f"your {name} raised {kind}: {message}")

    def call(self, name: str, args: tuple, kwargs: dict):
        folder = self._folder()
        handover.write_request(folder, args, kwargs, self.executor.written)
        self.executor.sandbox_user(folder)
        self._run(f"__import__('course.handover', fromlist=['call']).call({name!r}, {str(folder)!r})",
                  f"calling {name}")
        outcome = handover.read_manifest(folder).get("entries", {})
        if "raised" in outcome:
            raise self._as_exception(name, outcome["raised"])
        value = self._value(name, outcome.get("result"), folder)
        if isinstance(value, Unavailable):
            raise AssertionError(f"what your {name} returned cannot be checked: {value.why}")
        if value is _MISSING or isinstance(value, KernelFunction):
            raise AssertionError(f"your {name} did not return data that can be checked")
        return value


class SandboxedExecute(Execute):
    """Execute with the kernel sandboxed, test cells judged outside it and outputs capped."""

    max_cell_output_bytes = Integer(100_000, help="Output kept per cell, in bytes").tag(config=True)
    max_notebook_output_bytes = Integer(2_000_000, help="Output kept per notebook").tag(config=True)
    max_value_bytes = Integer(256 << 20, help="Largest value a kernel may hand over").tag(config=True)
    responsive_timeout = Float(10.0, help="Seconds an interrupted kernel has to answer again").tag(config=True)
    ledger_folder = Unicode("", help="Where each world's reference values are kept (default: "
                            f"{LEDGER_FOLDER} in the course folder)").tag(config=True)
    cache_references = Bool(True, help="Keep reference results per data file in this process, for "
                            "the next checks and notebooks of the same world (refcache.py)").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        if self.cache_references:  # nbgrader's CLI, the formgrader and the workers alike
            refcache.install()
        # The submission's own world: its kernel generates it, its verdicts are computed in it,
        # and no pruning of the data cache takes it away meanwhile.
        self.seed = WorldVariants(parent=self).seed_of(resources["nbgrader"]["student"])
        with cache.in_use(self.seed):
            return self._grade(nb, resources, km)

    def _grade(self, nb, resources, km):
        self.sandbox = Sandbox(parent=self)
        sandboxed = self.sandbox.ensure()
        info = resources["nbgrader"]
        self.sandbox.kernel_env = {world.SEED_ENV: str(self.seed)}
        submission = Path(resources["metadata"]["path"])
        self.gone, self.requests, self.kept, self.written = None, 0, 0, {}
        self.timed_out = None  # the last cell that ran out of time: a later death may follow it
        for problem in nb.metadata.pop(PROBLEMS_KEY, []):
            note_problem(resources, problem)
        with tempfile.TemporaryDirectory(prefix="etp-grade-") as scratch:
            scratch = Path(scratch)
            workdir = scratch / info["assignment"]
            shutil.copytree(submission, workdir, symlinks=True, ignore=_special_files)
            self.rundir = scratch / "run"
            self.rundir.mkdir()
            self.verdicts = self._verdicts(info, submission / ANSWERS)
            # the submission's written answers, which no kernel changes: read once for every check
            self.verdicts.written = {c.metadata.nbgrader["grade_id"]: c.source for c in nb.cells
                                     if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")}
            self._kernel_setup = dict(sandbox=self.sandbox if sandboxed else None,
                                      workdir=workdir, rundir=self.rundir,
                                      kernel_env=self.sandbox.kernel_env)
            resources["metadata"]["path"] = str(workdir)
            try:
                nb, resources = self._run_all(nb, resources, km)
            finally:
                resources["metadata"]["path"] = str(submission)
        if self.gone:
            note_problem(resources, self.gone)
        resources["etp_drills"] = list(self.verdicts.evidence.drills)  # for a hub's check of its runs
        self._check_world(resources, submission)
        nb, _ = clean_text(nb)  # a kernel may print lone surrogates too
        return nb, resources

    def _verdicts(self, info: dict, answer_file: Path) -> Verdicts:
        """Setup and test code come from the gradebook, whatever the submitted notebook holds."""
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            sources = {c.name: c for c in notebook.source_cells}
            solutions = {c.name for c in notebook.solution_cells}
            self.checks = {c.name: sources[c.name].source for c in notebook.grade_cells
                           if c.cell_type == "code" and c.name not in solutions and c.name in sources}
            setup = sorted((c.name, c.source) for c in sources.values()
                           if c.cell_type == "code" and c.locked and c.name.endswith(SETUP_SUFFIX))
        return Verdicts([source for _, source in setup], answer_file, self.seed)

    def _check_world(self, resources, submission: Path) -> None:
        """Keep this world's references; flag values and answers that belong to another world."""
        info, answer_file = resources["nbgrader"], submission / ANSWERS
        # <course>/<autograded>/<student>/<assignment>: the ledger sits in the course folder
        ledger = Ledger(Path(self.ledger_folder or submission.parents[2] / LEDGER_FOLDER))
        evidence = self.verdicts.evidence
        ledger.record(info["assignment"], self.seed, info["student"], evidence.references)
        copied = ledger.copied_values(info["assignment"], self.seed, evidence.failed)
        for line in copied:
            note_problem(resources, f"{COPIED} {line}")
        remember_failures(resources, ledger, self.seed, evidence.failed, copied)
        store = AnswerStore(answer_file)
        try:
            foreign = [s for s in store.worlds() if s != self.seed]
        except AnswerFileError:
            foreign = []  # the quiz checks report a damaged file
        if foreign:
            note_problem(resources, world_mismatch(info["student"], foreign, store.committed_as(),
                                                   self._roster_worlds(info["db_url"], submission), self._seed_of))

    def _seed_of(self, student: str) -> int:
        return WorldVariants(parent=self).seed_of(student)

    def _roster_worlds(self, db_url: str, submission: Path) -> dict[int, str]:
        """{seed: trainee} of the gradebook's trainees and of every submission in the course
        folder (a trainee not graded yet is on no roster in the gradebook)."""
        with Gradebook(db_url) as gb:
            names = {s.id for s in gb.students}
        # <course>/<submitted or autograded>/<student>/<assignment>
        names |= {p.name for p in (submission.parents[2] / "submitted").glob("*") if p.is_dir()}
        return {self._seed_of(name): name for name in sorted(names)}

    def _run_all(self, nb, resources, km):
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        with self.setup_kernel():
            info_msg = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                self.preprocess_cell(cell, resources, index)
        return self.nb, self.resources

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.transport, km.ip = "ipc", str(self.rundir / "kernel")
        km.connection_file = str(self.rundir / "kernel.json")
        for name, value in self._kernel_setup.items():
            setattr(km, name, value)
        return km

    def __init__(self, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(**kwargs)

    # -- cells ---------------------------------------------------------------------------------
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        self.cell_bytes = 0
        if self.gone:
            cell.outputs = [error_output("NotRun", f"not run: {self.gone}")]
            cell.execution_count = None
            return cell, resources
        try:
            if _is_test(cell):
                self._judge(cell, index)
            else:
                cell = self.execute_cell(cell, index, store_history=True)
                if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
                    self._timed_out(cell, index)
        except CellTimeoutError:
            cell.outputs = list(cell.get("outputs", [])) + [
                error_output("CellTimeoutError", "the cell ran out of time")]
            self._timed_out(cell, index)
        except (DeadKernelError, KernelGone) as err:
            said = self.km.last_words() if hasattr(self.km, "last_words") else ""
            after = f", after cell {self.timed_out} ran out of time" if self.timed_out else ""
            self.gone = self.gone or f"the kernel died at cell {index + 1} ({said or err}{after})"
            cell.outputs = list(cell.get("outputs", [])) + [error_output("KernelDied", self.gone)]
        return cell, resources

    def _timed_out(self, cell, index: int) -> None:
        self.timed_out = index + 1
        note_problem(self.resources, f"cell {index + 1} ran out of time ({self.timeout} s) and scored zero")
        try:
            self.check_responsive(cell.outputs[-1])
        except KernelGone:
            cell.outputs.append(error_output("KernelDied", self.gone))

    def _judge(self, cell, index: int) -> None:
        grade_id = cell.metadata.nbgrader["grade_id"]
        bridge = KernelBridge(self, self.rundir / "handover", index)
        bridge.folder.mkdir(exist_ok=True)
        self.sandbox_user(bridge.folder)
        cell.outputs = self.verdicts.judge(grade_id, self.checks.get(grade_id, ""), bridge)
        cell.execution_count = None
        if self.gone:
            raise KernelGone(self.gone)

    def sandbox_user(self, folder: Path) -> None:
        if self._kernel_setup.get("sandbox"):
            self.sandbox.hand_to_sandbox_user(folder)

    def check_responsive(self, error) -> None:
        """After a timeout, a kernel that does not answer again is stopped: the rest is not run."""
        if error.get("ename") != "CellTimeoutError":
            return
        try:
            self.kc.kernel_info()
            run_sync(self.kc.get_shell_msg)(timeout=self.responsive_timeout)
        except Exception:  # noqa: BLE001 - queue.Empty or a dead channel: the kernel is gone
            self.gone = "the kernel ignored the interrupt after a cell timed out"
            run_sync(self.km.shutdown_kernel)(now=True)
            raise KernelGone(self.gone) from None

    # -- output caps ---------------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {}), ensure_ascii=False, default=str))
        self.cell_bytes += size
        self.kept += size
        if self.cell_bytes > self.max_cell_output_bytes or self.kept > self.max_notebook_output_bytes:
            if not outs or outs[-1].get("text", "") != CUT_NOTE:
                outs.append(new_output("stream", name="stdout", text=CUT_NOTE))
            return None
        return super().output(outs, msg, display_id, cell_index)


CUT_NOTE = "\n[output cut: this cell printed more than the grader keeps]\n"


def _special_files(folder, names) -> list[str]:
    """FIFOs, sockets and devices in a submission are left out of the kernel's copy: reading a
    FIFO to copy it would wait forever."""
    def special(name: str) -> bool:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))
    return [name for name in names if special(name)]


def _is_test(cell) -> bool:
    return utils.is_grade(cell) and not utils.is_solution(cell) and "grade_id" in cell.metadata.nbgrader
