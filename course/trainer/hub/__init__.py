"""The course on JupyterHub (trainer side: never in a trainee's install or a graded kernel).

- ``course.trainer.hub.quiz_service``: the quiz service, a JupyterHub service of its own (its own
  process and storage). Each trainee's widget commits there with the trainee's hub token; the
  service holds the keys, records every attempt with its own clock, answers right or wrong, and
  keeps the first attempt as the graded one.
- ``course.trainer.hub.ledger``: the service's storage (SQLite, in a folder trainees cannot write).
- ``course.trainer.hub.keyring``: the questions and plain keys of the source notebooks, and the keys and
  facts of each trainee's own world.
- ``course.trainer.hub.exchange``: the exchange, ngshare as a hub service: a hand-in is stored under
  its sender's hub name; roster from the hub groups, request limit and quota per trainee.
- ``course.trainer.hub.deployment``: the pieces ``deploy/jupyterhub/jupyterhub_config.py`` is made of
  (groups, roles, services, the trainees' servers, the exchange).

The trainee side of the service is ``course.quiz.service_client`` (keyless, in the trainee parts).
"""
