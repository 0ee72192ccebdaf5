"""``python -m course demo``: a trainer's whole day on a simulated cohort, in a temporary folder.

Each simulated trainee works as a real one does: nbgrader fetches the module from the (local)
exchange into their own folder, they write code and commit quiz answers there in their own
world, and ``nbgrader submit`` hands the work in. The cohort is varied on purpose:

- strong, good, partial and beginner trainees (all code, most, half, none; quizzes right or not);
- two hand in after the due date (nbgrader's late rule marks them);
- one kernel dies halfway (``os._exit``): graded with problems, the cells before keep their points;
- one notebook is damaged (not a notebook any more): it cannot be graded, and autograde says so;
- one answer file is forged (a first answer changed by hand): FLAGGED;
- one trainee copies a classmate's answer file (another world): flagged as copied;
- one trainee on the roster submits nothing: missing.

Then the trainer's commands run on that course, as a trainer types them: ``release``,
``collect``, ``autograde`` (parallel), the written answers graded as in the formgrader,
``feedback``, ``report`` and ``status``. Nothing needs a server.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

SOLUTION_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)
NAMES = ["ana", "ben", "cy", "dee", "eli", "fay", "gus", "hana", "ivo", "jo", "kai", "lia", "max",
         "nina", "oto", "pia", "quin", "rui", "sol", "tea"]


@dataclass
class Simulated:
    """One trainee of the demo cohort and what they do before handing in."""

    name: str
    skill: str                      # strong, good, partial, beginner
    late: bool = False
    quirk: str = ""                 # kernel-dies, damaged, forged, copier, absent
    code_share: float = 1.0         # share of the code exercises solved
    wrong_quizzes: int = 0          # quizzes answered wrongly first (of each notebook)
    copies: str | None = None       # whose answer file a copier takes
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [self.skill]
        if self.late:
            parts.append("hands in late")
        if self.quirk:
            parts.append({"kernel-dies": "a cell kills the kernel",
                          "damaged": "the notebook file is damaged",
                          "forged": "changes a committed quiz answer by hand",
                          "copier": f"copies {self.copies}'s answer file",
                          "absent": "submits nothing"}[self.quirk])
        return ", ".join(parts)


SKILLS = {"strong": (1.0, 0), "good": (1.0, 2), "partial": (0.5, 4), "beginner": (0.0, 6)}


def cohort(size: int) -> list[Simulated]:
    """A varied cohort of ``size`` trainees (at least 6: every planted case needs one)."""
    size = max(6, size)
    quirks = ["", "", "kernel-dies", "damaged", "forged", "copier", "absent"]
    skills = ["strong", "good", "partial", "beginner"]
    people = []
    for index in range(size):
        name = NAMES[index] if index < len(NAMES) else f"trainee-{index:03d}"
        quirk = quirks[index] if index < len(quirks) else ""
        skill = skills[index % len(skills)]
        share, wrong = SKILLS[skill]
        people.append(Simulated(name, skill, late=index in (1, 2), quirk=quirk, code_share=share,
                                wrong_quizzes=wrong))
    if size < len(quirks):  # a small cohort still shows every case that matters most
        people[-1].quirk = "absent"
    for person in people:
        if person.quirk == "copier":
            person.copies = people[0].name
    return people


# -- what a trainee does ---------------------------------------------------------------------------
def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def solutions(source_nb) -> dict[str, str]:
    return {_meta(c)["grade_id"]: SOLUTION_MARKER.sub("", c.source)
            for c in source_nb.cells if _meta(c).get("solution") and c.cell_type == "code"}


def written_answers(source_nb) -> dict[str, str]:
    return {_meta(c)["grade_id"]: SOLUTION_MARKER.sub("", c.source)
            for c in source_nb.cells if _meta(c).get("solution") and c.cell_type == "markdown"}


def questions(source_nb) -> list:
    from course.trainer.grading.sealing import questions_in

    found = []
    for cell in source_nb.cells:
        if cell.cell_type == "code":
            try:
                found += questions_in(cell.source)
            except Exception:  # noqa: BLE001 - not a quiz cell
                continue
    return found


def wrong_response(question):
    """A complete response to ``question`` that its key does not accept."""
    kind = question.kind
    if kind == "single choice":
        return next((o for o in question.options if not question.is_correct(o)), question.options[0])
    if kind == "multiple select":
        return [o for o in question.options if o not in question.answer] or question.options[:1]
    if kind == "numeric":
        return float(question.accepted_responses()[0]) + 10 * question.tolerance + 1000
    if kind == "short text":
        return "no idea"
    if kind == "ordering":
        return list(reversed(question.answer))
    if kind == "matching":
        first, *rest = question.right
        return {left: (rest[0] if rest else first) if question.answer[left] == first else first
                for left in question.left}
    raise ValueError(kind)


def keyed_in_current_world(question):
    """``question`` with its plain answer; a data-dependent key computed in the current world."""
    import dataclasses

    from course.trainer.reference import quiz_keys

    if question.answer is None and question.answer_from:
        question = dataclasses.replace(question, answer=quiz_keys.answer(question.answer_from))
    return question


def commit_first_answer(store, question, wrong: bool) -> None:
    """Commit a right (or a wrong) first answer to a keyed ``question``, as the trainee's widget does."""
    response = wrong_response(question) if wrong else question.accepted_responses()[0]
    # the widget cannot judge a key from the trainee's own data: that is the grader's
    correct = False if question.answer_from else question.is_correct(response)
    store.record(question.qid, response, question.canonical(response), correct)


def commit_quizzes(folder: Path, source_nb, wrong: int) -> None:
    """Commit a first answer to each quiz, in the current world: the last ``wrong`` are wrong."""
    from course.quiz.store import AnswerStore

    store = AnswerStore(folder / "answers.json")
    asked = questions(source_nb)
    for index, question in enumerate(asked):
        commit_first_answer(store, keyed_in_current_world(question), index >= len(asked) - wrong)


def work(person: Simulated, folder: Path, source: Path) -> None:
    """The trainee's work on a fetched module folder, in their own world."""
    for path in sorted(folder.glob("*.ipynb")):
        source_nb = nbformat.read(source / path.name, as_version=4)
        released = nbformat.read(path, as_version=4)
        code, text = solutions(source_nb), written_answers(source_nb)
        solved = sorted(code)[: round(person.code_share * len(code))]
        for cell in released.cells:
            grade_id = _meta(cell).get("grade_id")
            if grade_id in solved:
                cell.source = code[grade_id]
            elif grade_id in text and person.skill in ("strong", "good"):
                cell.source = text[grade_id]
        if person.quirk == "kernel-dies":
            middle = len(released.cells) // 2
            released.cells.insert(middle, nbformat.v4.new_code_cell("import os\nos._exit(1)  # oops"))
        nbformat.write(released, path)
        if person.quirk != "copier":
            commit_quizzes(folder, source_nb, person.wrong_quizzes)
        if person.quirk == "damaged":
            path.write_text(path.read_text(encoding="utf-8")[:2000], encoding="utf-8")


def forge(folder: Path) -> None:
    """Change the first committed answer of the first quiz by hand (the seal no longer fits)."""
    path = folder / "answers.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    qid = next(iter(data["questions"]))
    first = data["questions"][qid][0]
    first["answer"] = f"{first['answer']} (edited)" if isinstance(first["answer"], str) else first["answer"]
    first["canonical"] = str(first.get("canonical")) + " "
    path.write_text(json.dumps(data), encoding="utf-8")


# -- the day ---------------------------------------------------------------------------------------
def trainee_config(api, home: Path, student: str, module: str):
    """What ``nbgrader`` run in a trainee's own folder sees: the course, the exchange, a cache."""
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.course_id = api.course_id
    config.CourseDirectory.root = str(home)
    config.CourseDirectory.student_id = student
    config.CourseDirectory.assignment_id = module
    config.Exchange.root = api.exchange_root
    config.Exchange.cache = str(home / ".nbgrader-cache")
    config.Exchange.assignment_dir = str(home)
    return config


def as_trainee(config, step: str) -> None:
    """``nbgrader fetch_assignment`` or ``nbgrader submit``, through nbgrader's exchange classes."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeFactory

    factory = ExchangeFactory(config=config)
    app = getattr(factory, step)(coursedir=CourseDirectory(config=config),
                                 authenticator=Authenticator(config=config), config=config)
    app.start()


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run_demo(trainees: int = 8, modules: str | None = None, workers: int | None = None,
             keep: str | None = None, repo: Path | None = None) -> int:
    from course.trainer.cohort import cli
    from course.trainer.cohort.api import assignment_names, open_course
    from course.trainer.grading.variants import WorldVariants

    repo = Path(repo or cli.REPO)
    available = assignment_names(repo)
    if modules in (None, ""):
        chosen = ["m5_troubleshooting"] if "m5_troubleshooting" in available else available[:1]
    elif modules == "all":
        chosen = available
    elif modules in available:
        chosen = [modules]
    else:
        raise SystemExit(f"course demo: no module {modules!r} (modules: {', '.join(available)})")
    if keep:
        root = Path(keep).resolve()
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"course demo: {root} is not empty")
        root.mkdir(parents=True, exist_ok=True)
        scratch = None
    else:
        scratch = tempfile.TemporaryDirectory(prefix="etp-demo-")
        root = Path(scratch.name) / "course"
        root.mkdir()
    try:
        with environment(NBGRADER_EXCHANGE=str(root / "exchange"), NBGRADER_DB_URL=f"sqlite:///{root / 'gradebook.db'}"):
            return _day(repo, root, chosen, cohort(trainees), workers, keep is not None, cli,
                        open_course, WorldVariants)
    finally:
        if scratch is not None:
            scratch.cleanup()


@contextlib.contextmanager
def environment(**values: str):
    """Set environment variables for the block, then put back what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _day(repo, root, chosen, people, workers, kept, cli, open_course, WorldVariants) -> int:
    from course.data import world

    print(f"ETP Express Operations Academy: a trainer's day, simulated ({len(people)} trainees, "
          f"{', '.join(chosen)})")
    print(f"Course folder: {root}" + ("" if kept else " (temporary; --keep DIR keeps it)"))
    for module in chosen:
        shutil.copytree(repo / "source" / module, root / "source" / module)
    shutil.copy(repo / "nbgrader_config.py", root)
    course = ["--course", str(root)]
    codes = {}

    heading("python -m course release")
    codes["release"] = cli.main(["release", *course])
    api = open_course(root)
    with api.gradebook as gb:
        for person in people:
            gb.update_or_create_student(person.name, first_name=person.name.capitalize(),
                                        last_name="Trainee", email=f"{person.name}@example.com")

    heading(f"The cohort works ({len(people)} trainees on the roster; each in their own world)")
    variants = WorldVariants(config=api.config)
    desks = root.parent / "trainees" if not kept else root / "trainees"
    on_time = [p for p in people if not p.late and p.quirk != "absent"]
    late = [p for p in people if p.late and p.quirk != "absent"]
    for person in people:
        print(f"  {person.name:<8} {person.describe()}")
    for group, when in ((on_time, "on time"), (late, "late")):
        if group is late:
            due = datetime.now(timezone.utc).replace(tzinfo=None)
            with api.gradebook as gb:
                for module in chosen:
                    gb.update_or_create_assignment(module, duedate=due)
            print(f"  (the due date passes: {due:%H:%M:%S} UTC)")
            time.sleep(1.0)
        for person in sorted(group, key=lambda p: p.quirk == "copier"):  # a copier needs a file to copy
            home = desks / person.name
            home.mkdir(parents=True, exist_ok=True)
            for module in chosen:
                config = trainee_config(api, home, person.name, module)
                as_trainee(config, "FetchAssignment")
                folder = home / module
                with world.using(variants.seed_of(person.name)):
                    work(person, folder, root / "source" / module)
                if person.quirk == "forged":
                    forge(folder)
                if person.copies:
                    shutil.copy(desks / person.copies / module / "answers.json", folder / "answers.json")
                as_trainee(config, "Submit")
        print(f"  {len(group)} trainee(s) submitted {when} with nbgrader submit")

    heading("python -m course status")
    cli.main(["status", *course])
    heading("python -m course collect")
    codes["collect"] = cli.main(["collect", *course])
    heading(f"python -m course autograde --workers {workers or os.cpu_count()}")
    codes["autograde"] = cli.main(["autograde", *course, "--workers", str(workers or os.cpu_count() or 1)])
    print(f"(exit code {codes['autograde']}: "
          + ("a submission could not be graded, as planted)" if codes["autograde"] else "all graded)"))

    heading("The trainer grades the written answers in the formgrader (simulated: full marks for "
            "an answer, none for a blank)")
    graded_by_hand = 0
    with api.gradebook as gb:
        for module in chosen:
            for person in people:
                try:
                    submission = gb.find_submission(module, person.name)
                except Exception:  # noqa: BLE001 - not submitted, or not graded
                    continue
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        if grade.needs_manual_grade:  # what saving a score in the formgrader does
                            grade.manual_score = grade.max_score if person.skill in ("strong", "good") else 0.0
                            grade.needs_manual_grade = False
                            graded_by_hand += 1
        gb.db.commit()
    print(f"  {graded_by_hand} written answer(s) graded")

    heading("python -m course feedback")
    codes["feedback"] = cli.main(["feedback", *course])
    heading("python -m course report")
    codes["report"] = cli.main(["report", *course])
    heading("python -m course status")
    codes["status"] = cli.main(["status", *course])
    print("\nThe day in one line: " + ", ".join(f"{step} exit {code}" for step, code in codes.items()))
    expected = {"autograde": {0, 1}, "feedback": {0, 1}}
    return 0 if all(code in expected.get(step, {0}) for step, code in codes.items()) else 1
