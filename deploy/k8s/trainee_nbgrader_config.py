"""nbgrader settings of every trainee's server on Kubernetes (baked into the trainee image).

The exchange is the ngshare service; the course is one. ngshare-exchange reads the trainee's
name from the hub's environment (JUPYTERHUB_USER) and talks to ngshare with their hub token.
"""
import os

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = os.environ.get("ETP_COURSE_ID", "etp-ops-academy")
os.environ.setdefault("USER", os.environ.get("JUPYTERHUB_USER", "jovyan"))  # ngshare-exchange needs USER
configureExchange(c, os.environ.get("ETP_NGSHARE_URL",
                                    "http://ngshare.etp-academy.svc.cluster.local:8080/services/ngshare"))
