"""``python -m course trainee add | due | extend | regrade``: the roster, the calendar and a fixed
key, each one command on nbgrader's gradebook (``cli.parser`` registers them)."""
from __future__ import annotations

from datetime import timedelta


def _say(text: str = "") -> None:
    print(text, flush=True)


def cmd_trainee(args) -> int:
    from course.trainer.cohort.api import open_course
    from course.trainer.cohort.cli import course_root
    from course.trainer.cohort.roster import add_trainee, write_trainee_config

    root = course_root(args.course)
    api = open_course(root)
    try:
        with api.gradebook as gb:
            add_trainee(gb, args.id, args.name or "", args.email or "")
            student = gb.find_student(args.id)
            shown = " ".join(filter(None, [student.first_name, student.last_name])) or "no name"
    except ValueError as err:
        raise SystemExit(f"course: {err}") from None
    path = write_trainee_config(root, args.id, api.coursedir.course_id)
    _say(f"{args.id}: on the roster ({shown}{', ' + student.email if student.email else ''})")
    _say(f"  their nbgrader settings: {path}")
    _say("  copy it to ~/.jupyter/nbgrader_config.py in their account: `nbgrader submit` then hands in "
         f"under {args.id}")
    _say(f"  without JupyterHub: python -m course bundle --student {args.id} (their own world)")
    return 0


def cmd_due(args) -> int:
    from course.trainer.cohort.api import open_course
    from course.trainer.cohort.cli import course_root, modules_of
    from course.trainer.cohort.schedule import late_policy, parse_due, reassess, set_due

    root = course_root(args.course)
    [module] = modules_of(root, args.module)
    try:
        due = None if args.when.lower() == "none" else parse_due(args.when)
    except ValueError as err:
        raise SystemExit(f"course: {err}") from None
    api = open_course(root)
    with api.gradebook as gb:
        set_due(gb, module, due)
        late = reassess(gb, api.config, module)  # graded submissions: late or not, by the new date
    _say(f"{module}: due {due:%Y-%m-%d %H:%M} UTC" if due else f"{module}: no due date (nobody is late)")
    _say(f"  {late_policy(api.config)}")
    if late:
        _say(f"  graded submissions now late: {', '.join(late)}")
    return 0


def cmd_extend(args) -> int:
    from course.trainer.cohort.api import open_course
    from course.trainer.cohort.cli import course_root, modules_of
    from course.trainer.cohort.schedule import grant, reassess, student_due

    root = course_root(args.course)
    [module] = modules_of(root, args.module)
    hours = args.hours + 24 * args.days
    api = open_course(root)
    with api.gradebook as gb:
        try:
            gb.find_student(args.student)
        except Exception:  # noqa: BLE001 - MissingEntry: say it in the course's words
            raise SystemExit(f"course: no trainee {args.student!r} on the roster "
                             f"(python -m course trainee add {args.student})") from None
        try:
            on_submission = grant(root, gb, module, args.student, hours)
        except ValueError as err:
            raise SystemExit(f"course: {err}") from None
        due = student_due(gb, root, module, args.student)
        if on_submission:
            reassess(gb, api.config, module, [args.student])  # its late penalty, by the new date
    if not hours:
        _say(f"{module}: {args.student}'s extension removed")
    else:
        until = f", due {due:%Y-%m-%d %H:%M} UTC for them" if due else " (the module has no due date yet)"
        _say(f"{module}: {args.student} has {timedelta(hours=hours)} more{until}")
    _say("  on their graded submission now, its late penalty assessed again" if on_submission else
         "  applied when their submission is graded (autograde)")
    return 0


def cmd_regrade(args) -> int:
    from course.trainer.cohort.api import open_course
    from course.trainer.cohort.cli import course_root, modules_of
    from course.trainer.cohort.regrade import NotRegradable, regrade_question

    root = course_root(args.course)
    [module] = modules_of(root, args.module)
    api = open_course(root)
    try:
        result = regrade_question(api, root, module, args.question, args.student)
    except NotRegradable as why:
        raise SystemExit(f"course: {why}") from None
    for line in result.lines():
        _say(line)
    return 1 if result.failed else 0


def register(sub) -> None:
    """The verbs' parsers, on ``cli.parser``'s subparsers."""
    from course.trainer.cohort.cli import add_course_option

    p = sub.add_parser("trainee", help="add a trainee to the roster and write their nbgrader settings",
                       description="Add a trainee to the roster (nbgrader's gradebook), or update their "
                       "name and email, and write the nbgrader settings that make them hand in under "
                       "their id (trainees/<id>/nbgrader_config.py, for their ~/.jupyter/).")
    verb = p.add_subparsers(dest="action", required=True, metavar="action")
    add = verb.add_parser("add", help="add or update one trainee")
    add.add_argument("id", help="the trainee id they hand in under (their hub name on JupyterHub)")
    add.add_argument("--name", help='their full name, e.g. "Ana Lima"')
    add.add_argument("--email", help="their email")
    add_course_option(add)
    add.set_defaults(run=cmd_trainee)

    p = sub.add_parser("due", help="set a module's due date (nbgrader's assignment duedate)",
                       description="Set a module's due date: UTC unless an offset or a zone is given "
                       "(2026-12-20T17:00, 2026-12-20T17:00-03:00); 'none' removes it.")
    p.add_argument("module")
    p.add_argument("when", help="2026-12-20T17:00 (UTC), 2026-12-20T17:00-03:00, or none")
    add_course_option(p)
    p.set_defaults(run=cmd_due)

    p = sub.add_parser("extend", help="give one trainee more time for a module (nbgrader's extension)",
                       description="Give one trainee more time for a module: their due date is the "
                       "module's plus the extension (not added to an earlier one: it replaces it; 0 "
                       "removes it).")
    p.add_argument("module")
    p.add_argument("student")
    p.add_argument("--hours", type=float, default=0.0, help="hours of extension")
    p.add_argument("--days", type=float, default=0.0, help="days of extension (added to --hours)")
    add_course_option(p)
    p.set_defaults(run=cmd_extend)

    p = sub.add_parser("regrade", help="judge one quiz again for every submission, after its key is fixed",
                       description="Judge one quiz cell again, for every graded submission of the module "
                       "(or --student), with the key now in source/; every other cell, manual grades "
                       "and comments stay as they are.")
    p.add_argument("module")
    p.add_argument("--question", required=True, metavar="GRADE_ID", help="the quiz cell's grade id")
    p.add_argument("--student", help="one trainee id (default: every graded submission)")
    add_course_option(p)
    p.set_defaults(run=cmd_regrade)
