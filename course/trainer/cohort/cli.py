"""``python -m course <command>``: the trainer's day on nbgrader's Python API.

    release    generate the student version of each module and release it to the exchange
    collect    collect the trainees' submissions from the exchange into submitted/
    autograde  grade them in parallel, sandboxed; a summary; exit 1 if any could not be graded
    feedback   feedback pages for graded submissions, released to each trainee
    report     scores per module and per trainee, then per question (item analysis; --html FILE)
    status     what is released, submitted, collected, graded and fed back, per module
    bundle     a zip for a trainee without JupyterHub: released modules and the trainee install
    certify    the guide's checklist per trainee: "ready for sign-off" or "not yet" (why), and the
               trainer's sign-off (--approve / --needs-review STUDENT --notes "...")
    demo       a simulated cohort through the whole day, in a temporary course folder
    trainee    trainee add ID --name --email: the roster, and the settings they hand in under
    due        due MODULE 2026-12-20T17:00: a module's due date
    extend     extend MODULE STUDENT --hours 48: one trainee's extension
    regrade    regrade MODULE --question GRADE_ID: one quiz judged again after its key is fixed
    hub-admin  a JupyterHub admin's account and password, made by the deployer (deploy/jupyterhub)

``--module`` narrows a command to one module (default: every module in source/), ``--student``
to one trainee (default: the cohort). Each command runs nbgrader's own steps (``NbGraderAPI``
with the course's ``nbgrader_config.py``); see docs/trainer.md.
"""
from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path

from course.trainer.cohort.api import assignment_names, open_course

REPO = Path(__file__).resolve().parents[3]


def say(text: str = "") -> None:
    print(text, flush=True)


def course_root(text: str | None) -> Path:
    """The course folder: ``--course``, else this folder when it has an nbgrader_config.py,
    else the checkout this package belongs to."""
    if text:
        root = Path(text).resolve()
    elif (Path.cwd() / "nbgrader_config.py").is_file():
        root = Path.cwd().resolve()
    else:
        root = REPO
    if not (root / "nbgrader_config.py").is_file():
        raise SystemExit(f"course: {root} has no nbgrader_config.py (use --course <course folder>)")
    return root


def modules_of(root: Path, wanted: str | None) -> list[str]:
    names = assignment_names(root)
    if wanted is None:
        if not names:
            raise SystemExit(f"course: no module in {root / 'source'}")
        return names
    if wanted not in names:
        raise SystemExit(f"course: no module {wanted!r} in {root / 'source'} "
                         f"(modules: {', '.join(names) or 'none'})")
    return [wanted]


def folder_exchange(api) -> bool:
    """True with nbgrader's folder exchange, where a feedback page is released under the secret
    of the submission; False with ngshare (the hub), which files it under the trainee and the
    hand-in's time and keeps it out of this folder's reach."""
    from nbgrader.exchange.default import ExchangeReleaseFeedback
    from traitlets.utils.importstring import import_item

    chosen = api.config.ExchangeFactory.get("release_feedback", ExchangeReleaseFeedback)
    return issubclass(import_item(chosen) if isinstance(chosen, str) else chosen, ExchangeReleaseFeedback)


def _first_error(result: dict) -> str:
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("[ERROR]")]
    return (errors[0][len("[ERROR] "):] if errors else (lines[-1] if lines else "no message"))[:300]


@contextlib.contextmanager
def _student(api, student: str | None):
    """nbgrader's own ``--student`` for the steps that take it from the course directory."""
    from nbgrader.utils import temp_attrs

    with temp_attrs(api.coursedir, student_id=student or "*"):
        yield


# -- release --------------------------------------------------------------------------------------
def cmd_release(args) -> int:
    root = course_root(args.course)
    api = open_course(root)
    released = set(api.get_released_assignments())
    failed = 0
    for module in modules_of(root, args.module):
        made = api.generate_assignment(module, force=True)
        if not made["success"]:
            failed += 1
            say(f"{module}: NOT generated: {_first_error(made)}")
            continue
        if module in released and not args.force:
            say(f"{module}: student version generated; already released (--force releases it again)")
            continue
        if module in released:
            api.unrelease(module)
        done = api.release_assignment(module)
        if done["success"]:
            say(f"{module}: student version generated and released to "
                f"{api.exchange_root if folder_exchange(api) else 'the exchange (ngshare)'}")
        else:
            failed += 1
            say(f"{module}: NOT released: {_first_error(done)}")
    return 1 if failed else 0


# -- collect --------------------------------------------------------------------------------------
def cmd_collect(args) -> int:
    root = course_root(args.course)
    api = open_course(root)
    failed = 0
    for module in modules_of(root, args.module):
        with _student(api, args.student):
            result = api.collect(module)
        log = result.get("log") or ""
        new = log.count("Collecting submission:")
        updated = log.count("Updating submission:")
        if not result["success"]:
            failed += 1
            say(f"{module}: collect FAILED: {_first_error(result)}")
            continue
        students = sorted(api.get_submitted_students(module))
        if args.student:
            students = [s for s in students if s == args.student]
        late = late_submissions(api, module, students)
        say(f"{module}: {new} new, {updated} updated; {len(students)} submission(s) in submitted/, "
            f"{len(late)} after the due date{': ' + ', '.join(late) if late else ''}")
    return 1 if failed else 0


def late_submissions(api, module: str, students: list[str]) -> list[str]:
    """Trainees whose submission time is after their due date (nbgrader's gradebook, extensions)."""
    from course.trainer.cohort.schedule import student_due

    root = Path(api.coursedir.root)
    with api.gradebook as gb:
        dues = {s: student_due(gb, root, module, s) for s in students}  # extensions included
    return [s for s in students if dues[s] is not None
            and (stamp := api.get_submitted_timestamp(module, s)) and stamp > dues[s]]


# -- autograde ------------------------------------------------------------------------------------
def cmd_autograde(args) -> int:
    from course.trainer.grading import parallel

    root = course_root(args.course)
    try:
        shard = parallel.parse_shard(args.shard)
    except ValueError as err:
        raise SystemExit(f"course: {err}") from None
    api = open_course(root)
    modules = modules_of(root, args.module)
    from course.trainer.grading.sandbox import Sandbox, SandboxUnavailable

    try:  # said once here, not once per submission by every worker
        Sandbox(config=api.config).ensure()
    except SandboxUnavailable as err:
        say(str(err))
        return 2
    from course.trainer.grading.preflight import kernel_problem

    problem = kernel_problem(api.config)  # before the first trainee, not in each of their checks
    if problem:
        say(problem)
        return 2
    progress = False if args.no_progress else None
    run = parallel.grade(api, root, modules, student=args.student, shard=shard, force=args.force,
                         workers=args.workers, progress=progress,
                         cache_references=not args.no_reference_cache,
                         config=parallel.worker_config())
    if not run.plan.count and not run.interrupted:
        kept = sum(len(v) for v in run.plan.kept.values())
        say(f"nothing to grade: {kept} submission(s) already graded (--force grades them again)")
    for line in parallel.summary_lines(parallel.module_counts(api, run), run):
        say(line)
    if run.interrupted:
        return 130
    not_graded = any(not o.graded for o in run.outcomes) or any(
        "could not be graded" in why for *_, why in run.not_graded_rows)
    return 1 if not_graded or run.plan.unknown else 0


# -- feedback -------------------------------------------------------------------------------------
def cmd_feedback(args) -> int:
    from traitlets.config import Config

    from course.trainer.cohort.feedback import SECRET_FILE

    root = course_root(args.course)
    overrides = Config()
    if args.allow_ungraded:
        overrides.RequireManualGrades.allow_ungraded = True
    api = open_course(root, overrides)
    secrets_needed = folder_exchange(api)  # ngshare releases a page without the submission's secret
    trouble = 0
    for module in modules_of(root, args.module):
        graded = sorted(api.get_autograded_students(module))
        if args.student:
            graded = [s for s in graded if s == args.student]
        made, waiting, broken = [], [], []
        for student in graded:
            result = api.generate_feedback(module, student)
            if result["success"]:
                made.append(student)
            elif "not graded yet" in (result.get("log") or ""):
                waiting.append(student)
            else:
                broken.append(f"{student} ({_first_error(result)})")
        released, unreleased = [], []
        for student in made:
            secret = Path(api.coursedir.format_path(api.coursedir.autograded_directory, student, module)) / SECRET_FILE
            if secrets_needed and not secret.is_file():
                unreleased.append(student)
                continue
            result = api.release_feedback(module, student)
            (released if result["success"] else unreleased).append(student)
        say(f"{module}: {len(made)} feedback page(s) made, {len(released)} released to the trainees")
        if waiting:
            say(f"  waiting for written answers to be graded (formgrader), no page: {', '.join(waiting)}")
        if broken:
            say(f"  NOT made: {'; '.join(broken)}")
        if unreleased:
            say(f"  NOT released (handed in without `nbgrader submit`: send the page yourself, "
                f"feedback/<trainee>/{module}/): {', '.join(unreleased)}")
        trouble += len(waiting) + len(broken) + len(unreleased)
    if trouble:
        say("Some feedback is not out yet (see above); run `python -m course feedback` again when it is ready"
            + ("" if args.allow_ungraded else ", or --allow-ungraded to show ungraded answers as 0 points"))
    return 1 if trouble else 0


# -- report ---------------------------------------------------------------------------------------
def cmd_report(args) -> int:
    root = course_root(args.course)
    api = open_course(root)
    modules = modules_of(root, args.module)
    header, rows = report_table(api, root, modules, args.student)
    if not rows:
        say("no trainee in the gradebook yet (python -m course autograde adds them)")
        return 0
    from course.trainer.cohort.schedule import late_policy

    say(f"Scores from the gradebook ({late_policy(api.config)}; - : not submitted; not graded: "
        "autograde could not grade it)")
    _print_table(header, rows)
    from course.trainer.cohort.item_analysis import report_items

    return report_items(api, root, modules, say, html=args.html)


def report_table(api, root: Path, modules: list[str], student: str | None = None):
    """(header, rows): per trainee, per module its total and status, then the total; from the
    grade sheet of ``nbgrader export`` (``export.grade_sheet``)."""
    from nbgrader.api import MissingEntry

    from course.trainer.cohort.export import grade_sheet

    with api.gradebook as gb:
        known = {a.name for a in gb.assignments}
        modules = [m for m in modules if m in known]
        sheet_header, sheet_rows = grade_sheet(gb, modules, [student] if student else [],
                                               root / api.coursedir.source_directory)
        column = {name: index for index, name in enumerate(sheet_header)}
        header = ["trainee"]
        totals = {}
        for module in modules:
            [total] = [name for name in sheet_header if name.startswith(f"{module} total (max")]
            totals[module] = column[total]
            header.append(f"{module} ({total.split('(', 1)[1].rstrip(')')})")
        overall = [name for name in sheet_header if name.startswith("total (max")][0]
        header.append(overall)
        graded = {module: api.get_autograded_students(module) for module in modules}
        rows = []
        for sheet_row in sheet_rows:
            trainee = sheet_row[0]
            row = [trainee]
            for module in modules:
                status = sheet_row[column[f"{module} status"]]
                score = sheet_row[totals[module]]
                if status == "not submitted":
                    row.append("-")
                    continue
                if status == "not graded" or trainee not in graded[module]:
                    row.append("not graded")
                    continue
                marks = [] if status == "graded" else [status]
                with contextlib.suppress(MissingEntry):
                    if (gb.find_submission(module, trainee).total_seconds_late or 0) > 0:
                        marks.append("late")
                row.append(f"{score}" + (f" ({', '.join(marks)})" if marks else ""))
            row.append(sheet_row[column[overall]] or "-")
            rows.append(row)
    return header, rows


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        say("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


# -- status ---------------------------------------------------------------------------------------
def inbound_students(api, module: str, student: str | None = None) -> set[str]:
    """Trainees with a submission of ``module`` waiting in the exchange (nbgrader's inbound)."""
    from nbgrader.utils import temp_attrs

    with temp_attrs(api.coursedir, assignment_id=module, student_id=student or "*"):
        lister = api.exchange.List(coursedir=api.coursedir, authenticator=api.authenticator, parent=api)
        lister.inbound = True
        try:  # nbgrader's file-system exchange; another exchange lists its own way
            lister.init_dest()
            return {lister.parse_assignment(path)["student_id"] for path in lister.assignments}
        except Exception:  # noqa: BLE001 - the status says "?" rather than fail
            return None


def feedback_state(api, module: str, student: str) -> tuple[bool, bool]:
    """(page made, page released to the trainee: None when the exchange cannot be looked at
    from here, ngshare's) for one submission."""
    from nbgrader.utils import notebook_hash

    from course.trainer.cohort.feedback import SECRET_FILE

    coursedir = api.coursedir
    pages = sorted(Path(coursedir.format_path(coursedir.feedback_directory, student, module)).glob("*.html"))
    if not pages:
        return False, False
    secret = Path(coursedir.format_path(coursedir.autograded_directory, student, module)) / SECRET_FILE
    if not folder_exchange(api):
        return True, None
    if not secret.is_file():
        return True, False
    outbound = Path(api.exchange_root) / api.course_id / "feedback"
    key = secret.read_text()
    released = all((outbound / f"{notebook_hash(secret=key, notebook_id=page.stem)}.html").is_file()
                   for page in pages)
    return True, released


def cmd_status(args) -> int:
    root = course_root(args.course)
    api = open_course(root)
    modules = modules_of(root, args.module)
    released = set(api.get_released_assignments())
    header = ["module", "released", "in exchange", "collected", "graded", "feedback made",
              "feedback released"]
    rows = []
    for module in modules:
        collected = set(api.get_submitted_students(module))
        graded = set(api.get_autograded_students(module))
        inbound = inbound_students(api, module, args.student)
        if args.student:
            collected &= {args.student}
            graded &= {args.student}
        states = {s: feedback_state(api, module, s) for s in graded}
        made = sum(1 for m, _ in states.values() if m)
        out = "?" if None in [r for _, r in states.values()] else sum(1 for _, r in states.values() if r)
        if args.student:
            yes = lambda flag: "?" if flag is None else ("yes" if flag else "no")  # noqa: E731
            made_, out_ = states.get(args.student, (False, False))
            rows.append([module, yes(module in released), yes(inbound), yes(collected), yes(graded),
                         yes(made_), yes(out_)])
        else:
            rows.append([module, "yes" if module in released else "no",
                         "?" if inbound is None else str(len(inbound)),
                         str(len(collected)), str(len(graded)), str(made), str(out)])
    say(f"Course {api.course_id} in {root}" + (f", trainee {args.student}" if args.student else ""))
    _print_table(header, rows)
    return 0


# -- bundle ---------------------------------------------------------------------------------------
def cmd_bundle(args) -> int:
    from course.trainer.cohort.bundle import make_bundle

    root = course_root(args.course)
    api = open_course(root)
    modules = modules_of(root, args.module)
    output = Path(args.output or f"etp-ops-academy{'-' + args.student if args.student else ''}.zip").resolve()
    try:
        path, names = make_bundle(api, root, modules, output, args.student)
    except FileNotFoundError as err:
        raise SystemExit(f"course: {err}") from None
    say(f"{path}: {', '.join(modules)} and the trainee install ({len(names)} files); "
        "the trainee reads README.md in it")
    return 0


# -- certify --------------------------------------------------------------------------------------
def cmd_certify(args) -> int:
    from course import certification as cert
    from course.trainer.cohort.certification import NotReady, certify_cohort, sign

    root = course_root(args.course)
    student = args.approve or args.needs_review
    if student:
        decision = cert.APPROVED if args.approve else cert.NEEDS_REVIEW
        try:
            record = sign(root, student, decision, notes=args.notes or "", trainer=args.trainer or "",
                          day=args.date or "", force=args.force)
        except KeyError:
            raise SystemExit(f"course: no trainee {student!r} in the gradebook") from None
        except NotReady as why:
            missing = why.args[0]
            say(f"{student}: NOT approved: not ready for sign-off ({len(missing)} of {len(cert.ITEMS)} items "
                "not met, below). Sign --needs-review with your notes, or --approve --force if you approve anyway.")
            for reason in missing:
                say(f"    - {reason}")
            return 1
        forced = " (forced: not ready for sign-off)" if record["forced"] else ""
        say(f"{student}: signed {decision} by {record['trainer']} on {record['date']}{forced}"
            + (f"; notes: {record['notes']}" if record["notes"] else ""))
    cohort = certify_cohort(root)  # the whole cohort's files, whatever is printed
    table = cohort.table
    if table.empty:
        say("no trainee in the gradebook yet (python -m course autograde adds them)")
        return 0
    if args.student:
        if args.student not in cohort.checklists:
            raise SystemExit(f"course: no trainee {args.student!r} in the gradebook")
        table = table[table["student_id"] == args.student]
    if student:
        checklist = cohort.checklists[student]
        say(f"{student}: {checklist.result}; printable checklist: "
            f"{_shown(cohort.paths[student + '.html'], root)}")
        return 0
    say(f"Certification of {root.name}: knowledge >= {cohort.threshold:.0%} of a module's points, a practical "
        f"exercise >= {cohort.practical_threshold:.0%} of its cells' points (docs/certification.md), access "
        "confirmed by the trainer")
    modules = [c for c in table.columns if c.endswith(" %")]
    header = ["trainee", "result", "items", "knowledge", "practical", "access",
              *[c.split("_", 1)[0] + " %" for c in modules], "signed"]
    rows = []
    for row in table.to_dict("records"):
        signed = f"{row['decision']} ({row['signed_by']}, {row['signed_on']})" if row["decision"] else "-"
        rows.append([row["student_id"], row["result"], f"{row['items_met']}/{len(cert.ITEMS)}", row["knowledge"],
                     row["practical"], row["access"],
                     *["-" if _missing(row[c]) else f"{row[c]:g}" for c in modules], signed])
    _print_table(header, rows)
    waiting = [s for s in table["student_id"] if cohort.checklists[s].result == cert.NOT_YET]
    if waiting:
        say("")
        say("Not yet, and why:")
        for name in waiting:
            say(f"  {name}:")
            for reason in cohort.checklists[name].reasons:
                say(f"    - {reason}")
    counts = {result: int((table["result"] == result).sum()) for result in cert.RESULTS}
    say("")
    say(f"{counts[cert.CERTIFIED]} certified, {counts[cert.READY]} ready for sign-off, {counts[cert.NOT_YET]} "
        f"not yet, of {len(table)}. Printable checklists: {_shown(cohort.paths['cohort'].parent, root)}/")
    if counts[cert.READY] or counts[cert.NOT_YET]:
        say('You decide: python -m course certify --approve STUDENT --notes "..." '
            '(or --needs-review STUDENT --notes "...")')
    return 0


def _missing(value) -> bool:
    return value is None or value != value  # None or NaN


def _shown(path: Path, root: Path) -> str:
    """``path`` relative to the course folder when it is inside it."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# -- demo -----------------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    from course.trainer.cohort.demo import run_demo

    return run_demo(trainees=args.trainees, modules=args.module, workers=args.workers,
                    keep=args.keep, repo=course_root(args.course))


def cmd_hub_admin(args) -> int:
    from course.trainer.hub import admin

    return admin.main(args.name, args.hub_root, args.password_stdin)


# -- the command line ------------------------------------------------------------------------------
def add_course_option(parser: argparse.ArgumentParser) -> None:
    """``--course``: the course folder a command works on (see ``course_root``)."""
    parser.add_argument("--course", help="course folder (default: this folder, else the checkout)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m course",
                                  description=__doc__.split("\n\n")[0].replace("``", ""),
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog=__doc__.split("\n\n", 1)[1].split("``--module``")[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="command")

    def command(name: str, help_text: str, student: bool = True,
                module: str = "one module (default: every module in source/)"):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_course_option(p)
        p.add_argument("--module", help=module)
        if student:
            p.add_argument("--student", help="one trainee id (default: the cohort)")
        return p

    p = command("release", "generate each module's student version and release it to the exchange",
                student=False)
    p.add_argument("--force", action="store_true", help="release again a module already released")
    p.set_defaults(run=cmd_release)

    p = command("collect", "collect submissions from the exchange into submitted/")
    p.set_defaults(run=cmd_collect)

    p = command("autograde", "grade submissions in parallel sandboxed workers, into the one gradebook")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="grading processes (default: one per core, %(default)s here)")
    p.add_argument("--shard", help="i/n: grade only the trainees of shard i of n (several machines)")
    p.add_argument("--force", action="store_true", help="grade again what is already graded")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-reference-cache", action="store_true",
                   help="compute the reference for every check (to measure what the cache saves)")
    p.set_defaults(run=cmd_autograde)

    p = command("feedback", "make feedback pages of graded submissions and release them to trainees")
    p.add_argument("--allow-ungraded", action="store_true",
                   help="make pages even where written answers are not graded yet (shown as 0 points)")
    p.set_defaults(run=cmd_feedback)

    p = command("report", "scores per module and per trainee, then per question, from the gradebook")
    p.add_argument("--html", metavar="FILE", help="also write a page with the tables and plots of the cohort")
    p.set_defaults(run=cmd_report)

    p = command("status", "released, submitted, collected, graded and fed back, per module")
    p.set_defaults(run=cmd_status)

    p = command("bundle", "a zip for a trainee without JupyterHub (released modules, trainee install)")
    p.add_argument("--output", help="the zip to write (default: etp-ops-academy[-<trainee>].zip here)")
    p.set_defaults(run=cmd_bundle)

    p = sub.add_parser("certify", help="the guide's checklist per trainee and the trainer's sign-off",
                       description="Propose per trainee: certified (you signed Approved), ready for sign-off "
                       "(every item met, access confirmed) or not yet (the reason of each item). You decide "
                       "and sign with --approve or --needs-review.")
    add_course_option(p)
    p.add_argument("--student", help="one trainee id (default: the cohort)")
    decide = p.add_mutually_exclusive_group()
    decide.add_argument("--approve", metavar="STUDENT", help="sign Approved for this trainee (ready for sign-off)")
    decide.add_argument("--needs-review", metavar="STUDENT", help="sign Needs Review for this trainee")
    p.add_argument("--notes", help="the sign-off's notes")
    p.add_argument("--trainer", help="your name on the sign-off (default: c.Certification.trainer_name, "
                                     "else your login)")
    p.add_argument("--date", help="the sign-off's date (default: today)")
    p.add_argument("--force", action="store_true", help="--approve a trainee who is not ready for sign-off")
    p.set_defaults(run=cmd_certify)

    p = sub.add_parser("hub-admin", help="a hub admin's account and password (before sign-ups open)",
                       description="Make a JupyterHub admin's approved account in the hub's database "
                       "(deploy/jupyterhub), or set a new password. Run as root on the hub's host.")
    p.add_argument("name", help="the admin's hub name (also listed in ETP_HUB_ADMINS)")
    p.add_argument("--hub-root", help="the hub's folder (default: $ETP_HUB_ROOT, else /srv/etp-academy)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(run=cmd_hub_admin)

    p = command("demo", "a simulated cohort through the trainer's whole day, in a temporary folder",
                student=False, module="one module, or all (default: m5_troubleshooting if there, "
                                      "else the first); --course: where the modules come from")
    p.add_argument("--trainees", type=int, default=8, help="cohort size (default %(default)s, at least 6)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="grading processes")
    p.add_argument("--keep", help="keep the demo's course folder here instead of a temporary one")
    p.set_defaults(run=cmd_demo)

    from course.trainer.cohort.verbs import register

    register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)
