# The trainee image: JupyterLab on the Jupyter Docker Stacks with the course's pinned packages and
# the trainee install alone (course/ without course/trainer: quiz, data, checks, hand-over...). No
# course/trainer/reference, course/trainer, source/ or gradebook ever enters a layer of this image: the
# trainee runtime is built in a first stage from the whole checkout, and only its result is copied.
#
#   docker build -f deploy/k8s/trainee.Dockerfile -t ghcr.io/etp-express/etp-academy-trainee:0.1.0 .
#
# Both stages use the same base, so the kernelspec's Python and site-packages paths hold in the
# final image. Pin the base by digest when you build for a cohort.
ARG BASE=quay.io/jupyter/minimal-notebook:python-3.11

FROM ${BASE} AS runtime
USER root
COPY course /tmp/checkout/course
COPY nbgrader_config.py /tmp/checkout/
COPY source /tmp/checkout/source
RUN cd /tmp/checkout && python -c "from pathlib import Path; \
from course.trainer.hub.deployment import prepare_trainee_runtime; \
prepare_trainee_runtime(Path('/opt/etp-academy/trainee'), 'etp-ops-academy', Path('/srv/nbgrader/exchange'), True)"

FROM ${BASE}
ARG JUPYTERHUB_VERSION=5.5.0
LABEL org.opencontainers.image.title="etp-academy-trainee" \
      org.opencontainers.image.description="ETP Express Operations Academy: a trainee's JupyterLab"
USER root
# The pinned environment without the test tools, with the hub's own JupyterHub (the pinned chart's,
# see values.yaml); ngshare-exchange without its dependencies (its pin jupyter-core<4.11.2 cannot
# live with JupyterLab 4; it works with nbgrader 0.9.6 and jupyter-core 5.9).
COPY requirements.txt /tmp/requirements.txt
RUN grep -v -E '^(pytest|pytest-timeout|pytest-xdist|playwright|kubernetes-validate)==' /tmp/requirements.txt \
      | sed -E "s/^jupyterhub==.*/jupyterhub==${JUPYTERHUB_VERSION}/" > /tmp/trainee-requirements.txt \
 && pip install --no-cache-dir -r /tmp/trainee-requirements.txt \
 && pip install --no-cache-dir --no-deps ngshare-exchange==0.5.3 \
 && rm /tmp/requirements.txt /tmp/trainee-requirements.txt
COPY --from=runtime /opt/etp-academy/trainee /opt/etp-academy/trainee
# On Kubernetes the exchange is ngshare: the trainees' nbgrader settings say so.
COPY deploy/k8s/trainee_nbgrader_config.py /opt/etp-academy/trainee/config/nbgrader_config.py
RUN chmod -R a+rX,go-w /opt/etp-academy
# What deploy/jupyterhub gives each trainee's server (course.trainer.hub.deployment.trainee_environment).
ENV JUPYTER_PATH=/opt/etp-academy/trainee/jupyter \
    JUPYTER_CONFIG_PATH=/opt/etp-academy/trainee/config \
    PYTHONPATH=/opt/etp-academy/trainee/server \
    ETP_COURSE_ID=etp-ops-academy \
    ETP_VARIANTS=on
USER ${NB_UID}
WORKDIR /home/${NB_USER}
