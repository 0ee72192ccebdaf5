"""The training guide's certification checklist: its items, the rule that proposes each one, and
the trainee's own (unofficial) view of it.

**The tool proposes, the trainer decides.** ``course.trainer.cohort.certification`` (``python -m course
certify``) builds the checklist of every trainee of a cohort from the nbgrader gradebook and
proposes *ready for sign-off* or *not yet* (with the reason of every item not met); the trainer
signs *Approved* (the trainee is then *certified*) or *Needs Review*, with notes. What a trainee
builds here, from the files in their own workspace, is a preview: it can only know what their
fetched feedback pages and their own notebooks say.

The items (the guide's "Certification Checklist"; the rule is docs/certification.md's):

- *Knowledge verification*, one per module 1 to 6: the module's score is at least ``THRESHOLD``
  (80 % by default, ``c.Certification.threshold``) of its points, the cells of its optional sections
  (a heading that says "optional") left out.
- *Practical skills*: Exercises 1.1, 2.1, 3.1, 3.2, 5.1 and 6.1. Each is mapped, step by step, to
  the cells and quizzes that assess the guide's own steps and validation questions
  (``GUIDE_STEPS``; ``EXERCISES`` is the resulting list of grade ids per exercise). An exercise is
  met when its cells earned at least ``PRACTICAL_THRESHOLD`` (80 % by default,
  ``c.Certification.practical_threshold``) of their points: one slip does not fail an item.
- *Access verification*: Railway, Sentry, GitHub and the Discord ops channel, confirmed by the
  trainer (in the trainee's preview, ticked by the trainee).
- *Sign-off*: trainee, trainer, date, Approved or Needs Review, notes: the trainer's decision,
  never computed.

Each item is **met**, **not met**, **needs review** (its module was graded with problems, or waits
for a written answer to be graded) or **not started** (nothing submitted for it), with its reason.
A trainee is **certified** (the trainer signed Approved), **ready for sign-off** (every item met)
or **not yet** (with the reason of each item not met, or the trainer's Needs Review).

``checklist`` holds the items, their rules and the rendering; ``workspace`` the trainee's
preview and where the notebook runs. The folder also holds the checklist's notebook, ``m7_certification.ipynb``: in a trainee's
workspace it builds this preview and writes the checklist to hand in; in the course folder it
builds the cohort's checklists from the gradebook (``where_it_runs`` tells the two apart).
``python -m course.certification`` copies it into a workspace.
"""
from course.certification.checklist import *  # noqa: F401,F403
from course.certification.workspace import *  # noqa: F401,F403
