# The course image: the trainer's side (formgrader service, quiz service, grading Jobs). It holds
# the whole course package (reference, trainer, hub) and Bubblewrap for the graded kernels'
# sandbox; it never runs a trainee's server. The course folder itself (source/, gradebook
# settings, submissions) lives on the course volume, not in the image.
#
# It also runs ngshare, the exchange. Pods run it as the base image's user (uid 1000, gid 100), who
# owns source/ (private: the quiz service's keys and the formgrader's first copy of the course).
# JupyterHub is the hub's own version (the pinned chart's, see values.yaml), not requirements.txt's.
#
#   docker build -f deploy/k8s/course.Dockerfile -t ghcr.io/etp-express/etp-academy-course:0.1.0 .
ARG BASE=quay.io/jupyter/minimal-notebook:python-3.11
FROM ${BASE}
ARG JUPYTERHUB_VERSION=5.5.0
LABEL org.opencontainers.image.title="etp-academy-course" \
      org.opencontainers.image.description="ETP Express Operations Academy: formgrader, quiz service, grading"
USER root
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      bubblewrap util-linux \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /opt/etp-academy/src/requirements.txt
RUN grep -v -E '^(pytest|pytest-timeout|pytest-xdist|playwright|kubernetes-validate)==' /opt/etp-academy/src/requirements.txt \
      | sed -E "s/^jupyterhub==.*/jupyterhub==${JUPYTERHUB_VERSION}/" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt ngshare==0.6.0 \
 && pip install --no-cache-dir --no-deps ngshare-exchange==0.5.3 \
 && rm /tmp/requirements.txt
COPY pyproject.toml nbgrader_config.py /opt/etp-academy/src/
COPY course /opt/etp-academy/src/course
COPY --chown=${NB_UID}:${NB_GID} source /opt/etp-academy/src/source
RUN pip install --no-cache-dir --no-deps -e /opt/etp-academy/src \
 && chmod -R u=rwX,go= /opt/etp-academy/src/source
USER ${NB_UID}
WORKDIR /srv/course
