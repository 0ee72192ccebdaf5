"""Feedback steps of the course: no page for unfinished grading, and release one trainee at a time.

- ``RequireManualGrades`` (a generate_feedback step): a notebook with written answers not
  graded yet gets no feedback page, and the run says which trainee and which answers (nbgrader
  goes on with the others and exits with an error). A page made anyway would show those answers
  as 0 points. ``--RequireManualGrades.allow_ungraded=True`` makes the pages anyway.
- ``ReleaseFeedback`` (``c.ExchangeFactory.release_feedback``): nbgrader's release_feedback, where a
  submission without the ``submission_secret.txt`` that ``nbgrader submit`` writes (a folder put
  into ``submitted/`` by hand, for instance) is reported and skipped, instead of stopping the
  release for the whole cohort. The secret is read beside the graded notebook, since the
  feedback folder keeps the HTML pages only.
"""
from __future__ import annotations

import glob
import os
import re
import shutil

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import notebook_hash
from traitlets import Bool

SECRET_FILE = "submission_secret.txt"  # both written by `nbgrader submit` beside the notebooks
TIMESTAMP_FILE = "timestamp.txt"


class UngradedAnswers(Exception):
    """Feedback refused: some answers of the notebook still wait for the trainer's grade."""


class RequireManualGrades(NbGraderPreprocessor):
    """Refuse feedback for a notebook whose manually graded answers are not all graded."""

    allow_ungraded = Bool(
        False, help="Generate feedback even where written answers are not graded yet "
                    "(they show 0 points)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        ungraded = ungraded_answers(info["db_url"], info["assignment"], info["student"],
                                    info["notebook"], nb)
        if not ungraded:
            return nb, resources
        where = f"{info['student']} ({info['assignment']}/{info['notebook']})"
        answers = f"{len(ungraded)} answer(s) not graded yet: {', '.join(ungraded)}"
        if self.allow_ungraded:
            self.log.warning("feedback for %s made with %s (shown as 0 points)", where, answers)
            return nb, resources
        message = (f"feedback NOT generated for {where}: {answers}. Grade them in the formgrader, "
                   "or make the page anyway with --RequireManualGrades.allow_ungraded=True")
        self.log.error(message)
        raise UngradedAnswers(message)


def ungraded_answers(db_url: str, assignment: str, student: str, notebook: str, nb=None) -> list[str]:
    """The cells of a submitted notebook that still need a manual grade, in notebook order."""
    with Gradebook(db_url) as gb:
        try:
            submitted = gb.find_submission_notebook(notebook, assignment, student)
        except MissingEntry:
            return []
        waiting = {grade.name for grade in submitted.grades if grade.needs_manual_grade}
    order = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in (nb.cells if nb else [])]
    return [name for name in order if name in waiting] + sorted(waiting - set(order))


class ReleaseFeedback(ExchangeReleaseFeedback):
    """Release each trainee's pages on their own; a submission lacking its secret is skipped
    with a message naming it, and the run ends with an error after the others are released."""

    def copy_files(self):
        excluded = set(filter(None, (self.coursedir.student_id_exclude or "").split(",")))
        pattern = re.escape(os.path.sep).join([
            self.coursedir.format_path(self.coursedir.feedback_directory, "(?P<student_id>.*)",
                                       self.coursedir.assignment_id, escape=True),
            "(?P<notebook_id>.*).html"])
        skipped = []
        for page in sorted(glob.glob(os.path.join(self.src_path, "*.html"))):
            match = re.match(pattern, page)
            if match is None:
                self.log.error("Could not match '%s' with regexp '%s'", page, pattern)
                continue
            student, notebook = match.group("student_id"), match.group("notebook_id")
            if student in excluded:
                continue
            secret, timestamp = self.submission_files(student, os.path.dirname(page))
            if secret is None:
                skipped.append(f"{student} ({self.coursedir.assignment_id}/{notebook})")
                self.log.error("feedback NOT released for %s: its submission has no %s (it was "
                               "not handed in with `nbgrader submit`, so the trainee could not "
                               "fetch it)", skipped[-1], SECRET_FILE)
                continue
            self.log.info("Releasing feedback for student '%s' on assignment '%s/%s/%s' (%s)",
                          student, self.coursedir.course_id, self.coursedir.assignment_id,
                          notebook, timestamp or "submission time unknown")
            checksum = notebook_hash(secret=secret, notebook_id=notebook)
            temporary, released = (os.path.join(self.dest_path, f"{checksum}{end}")
                                   for end in ("-tmp.html", ".html"))
            shutil.copy(page, temporary)
            shutil.move(temporary, released)  # a trainee fetching meanwhile gets a whole page
            self.log.info("Feedback released to: %s", released)
        if skipped:
            self.fail(f"feedback NOT released for {len(skipped)} submission(s) without {SECRET_FILE}: "
                      f"{', '.join(skipped)}; the others were released")

    def submission_files(self, student: str, feedback_folder: str) -> tuple[str | None, str | None]:
        """(secret, timestamp) of the submission a feedback page was made from: beside the page
        as nbgrader leaves them, else beside the graded notebook; None where missing."""
        graded = self.coursedir.format_path(self.coursedir.autograded_directory, student,
                                            self.coursedir.assignment_id)
        found = {}
        for name in (SECRET_FILE, TIMESTAMP_FILE):
            for folder in (feedback_folder, graded):
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    with open(path, encoding="utf-8") as fh:
                        found[name] = fh.read()
                    break
        return found.get(SECRET_FILE) or None, found.get(TIMESTAMP_FILE)
