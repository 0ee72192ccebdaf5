"""The course's exchange on the hub: ngshare, a JupyterHub service that knows who hands in.

nbgrader's file exchange trusts file names in a world-writable folder: any account can drop an
entry named after a classmate, or create the course's folder before the first release and block
it. ngshare keeps the exchange in a database and files of its own account, and takes the sender
of every request from the hub (the request's token): a submission is stored under its sender's
name only, releases and collection need an instructor, courses are created here alone.

This launcher runs ngshare's own application with what a single-host course needs on top:

- identity through ``HubAuth``, like every hub service: a token must carry
  ``access:services!service=ngshare``; services are named ``service:<name>``, so no user can
  sign up under the formgrader's name and become an instructor;
- the course and its roster mirrored from the hub groups (trainers and the formgrader
  instructors, trainees students), at start and every ``--roster-every`` seconds;
- a request body limit (``--max-upload-mb``) and a stored-bytes quota per trainee
  (``--quota-mb``, every submission counted), so nobody fills the disk;
- its database and files in a folder of its own account, mode 0700;
- releases and hand-ins added to the database session explicitly: ngshare 0.6.0 relies on
  SQLAlchemy 1.x cascading a new assignment or submission in through its course, which
  SQLAlchemy 2 no longer does (both were silently dropped).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections import namedtuple
from pathlib import Path
from urllib.parse import urlparse

import requests
from ngshare import dbutil
from ngshare.database import Assignment, Course, Submission, User
from ngshare.ngshare import DownloadReleaseAssignment, MyApplication, MyRequestHandler, SubmitAssignment
from sqlalchemy.orm import Session
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.log import app_log

SERVICE_NAME = "ngshare"  # the name ngshare-exchange and the Kubernetes files expect
MB = 1_000_000


def identity_name(model: dict) -> str:
    """ngshare's user id for a hub identity: users by name, services as ``service:<name>``."""
    return model["name"] if model.get("kind", "user") == "user" else f"service:{model['name']}"


def hub_identity():
    """``MyRequestHandler.user_for_token``: who holds the token, if it may use this service."""
    from jupyterhub.services.auth import HubAuth

    auth = HubAuth()  # from the JUPYTERHUB_* variables the hub gives its services

    def user_for_token(handler, token: str) -> dict | None:
        model = auth.user_for_token(token)
        if not model or (auth.access_scopes and not auth.check_scopes(auth.access_scopes, model)):
            return None
        return {"name": identity_name(model)}

    return user_for_token


def refuse_anonymous(prepare):
    """``MyRequestHandler.prepare``: a request without a hub identity ends with 403 (ngshare
    itself would fail on it later, with a 500)."""
    def checked(handler) -> None:
        prepare(handler)
        if handler.user is None:
            handler.json_error(403, "Permission denied (no hub token that may use this service)")
    checked.refuses_anonymous = True
    return checked


# -- releases and hand-ins ------------------------------------------------------------------------
def stored_bytes(db: Session, user_id: str) -> int:
    """What a user's submissions hold in the exchange, every one counted."""
    return sum(f.size or 0 for s in db.query(Submission).filter(Submission.student_id == user_id)
               for f in s.files)


class Release(DownloadReleaseAssignment):
    """ngshare's release (instructors only; an existing assignment is refused)."""

    def post(self, course_id, assignment_id):
        course = self.find_course(course_id)
        self.check_course_instructor(course)
        if self.db.query(Assignment).filter(Assignment.id == assignment_id,
                                            Assignment.course == course).one_or_none():
            self.json_error(409, "Assignment already exists")
        assignment = Assignment(assignment_id, course)
        self.db.add(assignment)
        self.json_files_unpack(self.get_argument("files", None), assignment.files)
        self.db.commit()
        self.json_success()


class QuotaSubmit(SubmitAssignment):
    """ngshare's hand-in, stored under its sender (the token's owner, whatever the form says),
    refused once the sender's hand-ins would pass the quota."""

    def post(self, course_id, assignment_id):
        course = self.find_course(course_id)
        self.check_course_user(course)
        assignment = self.find_assignment(course, assignment_id)
        quota = self.settings["etp_quota_bytes"]
        if stored_bytes(self.db, self.user.id) + len(self.request.body) > quota:
            self.json_error(413, f"Your submissions would pass your {quota // MB} MB in the "
                                 "exchange; ask your trainer.")
        submission = Submission(self.user, assignment)
        self.db.add(submission)
        self.json_files_unpack(self.get_body_argument("files", None), submission.files)
        self.db.commit()
        self.json_success(timestamp=self.strftime(submission.timestamp))


# -- the roster -----------------------------------------------------------------------------------
def group_members(name: str) -> list[str]:
    """A hub group's members, asked with this service's token (``read:groups`` on the group)."""
    answer = requests.get(f"{os.environ['JUPYTERHUB_API_URL'].rstrip('/')}/groups/{name}", timeout=30,
                          headers={"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"})
    answer.raise_for_status()
    return list(answer.json()["users"])


def mirror_roster(db: Session, course_id: str, instructors: set[str], students: set[str]) -> None:
    """The course in ngshare, with exactly these instructors and students (an instructor is
    never a student too). Submissions of a removed trainee stay."""
    course = db.query(Course).filter(Course.id == course_id).one_or_none()
    if course is None:
        course = Course(course_id)
        db.add(course)
    students = students - instructors
    for members, wanted in ((course.instructors, instructors), (course.students, students)):
        for user in list(members):
            if user.id not in wanted:
                members.remove(user)
        present = {user.id for user in members}
        for user_id in sorted(wanted - present):
            members.append(User.from_jupyterhub_user({"name": user_id}, db))
    db.commit()


def roster_sync(app: MyApplication, course_id: str, trainer_group: str, trainee_group: str,
                formgrader: str):
    def sync() -> None:
        try:
            instructors = {*group_members(trainer_group), f"service:{formgrader}"}
            students = set(group_members(trainee_group))
        except requests.RequestException as err:  # the hub restarting: next round
            app_log.warning("ngshare roster not read from the hub: %s", err)
            return
        db = app.db_session()
        try:
            mirror_roster(db, course_id, instructors, students)
        finally:
            db.close()
    return sync


# -- the service ----------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="the service's private folder (database, files)")
    parser.add_argument("--course-id", required=True)
    parser.add_argument("--trainer-group", required=True, help="hub group of the instructors")
    parser.add_argument("--trainee-group", required=True, help="hub group of the students")
    parser.add_argument("--formgrader", required=True, help="the formgrader's hub service name")
    parser.add_argument("--max-upload-mb", type=float, default=10.0, help="largest request body")
    parser.add_argument("--quota-mb", type=float, default=100.0, help="stored submissions per trainee")
    parser.add_argument("--roster-every", type=float, default=15.0, help="seconds between roster reads")
    return parser.parse_args(argv)


@contextlib.contextmanager
def loggers_kept():
    """ngshare's migrations load alembic's logging file, whose ``fileConfig`` disables every logger
    made before it (the service's own; in a process that also runs nbgrader, nbgrader's): keep
    them as they were."""
    manager, root = logging.Logger.manager, logging.getLogger()
    disabled = {name: logger.disabled for name, logger in manager.loggerDict.items()
                if isinstance(logger, logging.Logger)}
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for name, was in disabled.items():
            manager.loggerDict[name].disabled = was
        root.setLevel(level)
        root.handlers[:] = handlers


def make_app(data: Path, prefix: str, quota_bytes: int, user_for_token) -> MyApplication:
    """ngshare's application on ``data`` (database and files, made 0700), with this module's
    release, hand-in and identity (``user_for_token(handler, token)``: ``{"name": ...}`` or None)."""
    (data / "files").mkdir(parents=True, exist_ok=True)
    for folder in (data, data / "files"):
        folder.chmod(0o700)
    database, storage = f"sqlite:///{data / 'ngshare.sqlite'}", str(data / "files")
    with loggers_kept():
        dbutil.upgrade(database, cmd_opts=namedtuple("CmdOpts", ["x"])(["data=true", f"storage={storage}"]))
    MyRequestHandler.user_for_token = user_for_token
    if not getattr(MyRequestHandler.prepare, "refuses_anonymous", False):
        MyRequestHandler.prepare = refuse_anonymous(MyRequestHandler.prepare)
    app = MyApplication(prefix, database, storage, admin=[], debug=False, autoreload=False)
    app.settings["etp_quota_bytes"] = quota_bytes
    app.add_handlers(r".*", [(prefix + r"assignment/([^/]+)/([^/]+)", Release),  # before ngshare's own
                             (prefix + r"submission/([^/]+)/([^/]+)", QuotaSubmit)])
    return app


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)  # a folder of its own inside a volume it cannot chmod
    os.chdir(data)
    app = make_app(data, os.environ["JUPYTERHUB_SERVICE_PREFIX"], int(args.quota_mb * MB), hub_identity())
    sync = roster_sync(app, args.course_id, args.trainer_group, args.trainee_group, args.formgrader)
    sync()
    PeriodicCallback(sync, args.roster_every * 1000).start()
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    HTTPServer(app, max_body_size=int(args.max_upload_mb * MB)).listen(url.port, url.hostname)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
