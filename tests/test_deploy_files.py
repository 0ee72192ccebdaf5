"""The deployment files agree with each other and with the code: the Kubernetes values and manifests
parse, and name the same images, groups, roles, services, volumes and trainee environment as
``deploy/jupyterhub/jupyterhub_config.py`` (``course.trainer.hub.deployment``) and the Dockerfiles."""
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from course.data import world
from course.trainer.hub import deployment as hub
from course.trainer.hub.quiz_service import READ_ANSWERS_SCOPE, SERVICE_NAME as QUIZ
from course.trainer.grading import parallel

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
COURSE_ID = world.COURSE_ID
IMAGE_RUNTIME = Path("/opt/etp-academy/trainee")


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(scope="module")
def manifests():
    docs = [d for d in yaml.safe_load_all((K8S / "course.yaml").read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.fixture(scope="module")
def extra_config(values):
    """What the chart's hub runs of ``hub.extraConfig``, on a config object of its own."""
    c = Config()
    for snippet in values["hub"]["extraConfig"].values():
        exec(snippet, {"c": c})  # noqa: S102 - our own values file
    return c


def dockerfile(name: str) -> str:
    return (K8S / name).read_text()


def final_stage(text: str) -> str:
    return text[text.rindex("\nFROM "):]


def label_title(text: str) -> str:
    return re.search(r'org\.opencontainers\.image\.title="([^"]+)"', text).group(1)


def test_every_file_parses():
    assert yaml.safe_load((K8S / "values.yaml").read_text())["singleuser"]
    docs = [d for d in yaml.safe_load_all((K8S / "course.yaml").read_text()) if d]
    assert len(docs) >= 10 and ("Deployment", "ngshare") in {(d["kind"], d["metadata"]["name"]) for d in docs}


def test_roles_groups_and_scopes_are_the_hub_configs(values, extra_config):
    roles = {role["name"]: role for role in hub.roles(COURSE_ID)}
    loaded = values["hub"]["loadRoles"]
    for name, role in roles.items():
        assert {k: v for k, v in loaded[name].items() if k != "description"} == \
            {k: v for k, v in role.items() if k not in ("name", "description")}
    assert set(extra_config.JupyterHub.load_groups) == {hub.trainee_group(COURSE_ID), hub.trainer_group(COURSE_ID)}
    assert set(extra_config.JupyterHub.custom_scopes) == {READ_ANSWERS_SCOPE} == set(hub.custom_scopes())
    assert set(hub.server_token_scopes()) <= set(extra_config.KubeSpawner.server_token_scopes)
    assert extra_config.KubeSpawner.args == hub.trainee_server_args(IMAGE_RUNTIME)
    assert values["hub"]["config"]["NativeAuthenticator"]["open_signup"] is False
    assert extra_config.JupyterHub.authenticator_class.__name__ == "CourseNativeAuthenticator"
    authenticator = extra_config.JupyterHub.authenticator_class
    routes = [route for route, _ in authenticator.get_handlers(object.__new__(authenticator), None)]
    assert "/signup" in routes and "/authorize" in routes and "/login" not in routes


def test_services_point_at_the_pods_that_serve_them(values, manifests):
    services = values["hub"]["services"]
    assert set(services) == {hub.formgrader_service(COURSE_ID), QUIZ, "ngshare"}
    for name in (hub.formgrader_service(COURSE_ID), QUIZ):
        url = urlparse(services[name]["url"])
        service = manifests[("Service", url.hostname)]
        assert url.port in [p["port"] for p in service["spec"]["ports"]]
        pods = [d for (kind, _), d in manifests.items() if kind == "Deployment"
                and all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                        for k, v in service["spec"]["selector"].items())]
        assert len(pods) == 1, f"{name}: no single Deployment behind Service {url.hostname}"
        env = {e["name"]: e for e in pods[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["JUPYTERHUB_SERVICE_PREFIX"]["value"] == f"/services/{name}/"
        assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == f"hub.services.{name}.apiToken"
    quiz_url = values["singleuser"]["extraEnv"]["ETP_QUIZ_SERVICE_URL"]
    assert quiz_url == f"{services[QUIZ]['url']}/services/{QUIZ}/"


def test_images_are_the_dockerfiles(values, manifests):
    trainee, course = dockerfile("trainee.Dockerfile"), dockerfile("course.Dockerfile")
    assert values["singleuser"]["image"]["name"].endswith("/" + label_title(trainee))
    images = {c["image"].rsplit(":", 1)[0] for d in manifests.values()
              for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
              if "etp-academy" in c["image"]}
    assert images == {f"ghcr.io/etp-express/{label_title(course)}"}
    for text in (trainee, course):
        assert text.startswith("#") and "FROM ${BASE}" in text and "quay.io/jupyter/" in text
        assert "-r /tmp/" in text and "requirements.txt" in text and "ngshare-exchange==0.5.3" in text
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert pins and all(re.match(r"^[A-Za-z0-9_.-]+==[0-9][^ ]*$", line) for line in pins)
    # the trainee image's last stage takes the built runtime only: no course code, no source/
    last = final_stage(trainee)
    assert "COPY --from=runtime /opt/etp-academy/trainee /opt/etp-academy/trainee" in last
    assert not re.search(r"^COPY (course|source|\.)\b", last, re.M)


def test_trainee_environment_is_the_hubs(values):
    env = dict(re.findall(r"(\w+)=(\S+)", final_stage(dockerfile("trainee.Dockerfile")).split("ENV ", 1)[1]
                          .split("USER", 1)[0].replace("\\\n", " ")))
    expected = hub.trainee_environment(IMAGE_RUNTIME, COURSE_ID, True, "unused")
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "PYTHONPATH", world.COURSE_ENV, world.VARIANTS_ENV):
        assert env[name] == expected[name], name
    assert values["singleuser"]["extraEnv"][world.COURSE_ENV] == COURSE_ID
    assert values["singleuser"]["defaultUrl"] == "/lab"
    limits = values["singleuser"]["memory"]
    assert limits["guarantee"] and limits["limit"]


def test_volumes_are_defined_and_mounted(manifests):
    claims = {name for kind, name in manifests if kind == "PersistentVolumeClaim"}
    used = set()
    for (kind, name), doc in manifests.items():
        pod = doc.get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{kind} {name}: {mount['name']} is not a volume"
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims
                used.add(volume["persistentVolumeClaim"]["claimName"])
        assert pod.get("automountServiceAccountToken") is False, f"{kind} {name} holds a cluster token"
    assert used == claims


def test_grading_runs_in_an_indexed_job_of_the_course_cli(manifests):
    job = manifests[("Job", "etp-grade-m2")]["spec"]
    assert job["completionMode"] == "Indexed"
    command = job["template"]["spec"]["containers"][0]["command"][-1]
    assert "python -m course autograde" in command
    shard = re.search(r"--shard \$\{JOB_COMPLETION_INDEX\}/(\d+)", command)
    assert shard and int(shard.group(1)) == job["completions"]
    assert parallel.parse_shard(f"{job['completions'] - 1}/{job['completions']}")
    env = {e["name"] for e in job["template"]["spec"]["containers"][0]["env"]}
    assert {"ETP_QUIZ_SERVICE_URL", "ETP_QUIZ_SERVICE_TOKEN", "NBGRADER_DB_URL"} <= env
    policy = manifests[("NetworkPolicy", "etp-grading")]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= job["template"]["metadata"]["labels"].items()
    assert "Egress" in policy["policyTypes"] and all("to" in rule for rule in policy["egress"])


def test_the_single_host_config_names_the_same_things(tmp_path, monkeypatch):
    """deploy/jupyterhub/jupyterhub_config.py, loaded with its folders under a temporary root."""
    for name, value in {"ETP_HUB_ROOT": tmp_path / "hub", "NBGRADER_EXCHANGE": tmp_path / "exchange",
                        "ETP_COURSE_DIR": tmp_path / "course", "ETP_GRADER_USER": "nobody",
                        "ETP_EXCHANGE_USER": "nobody", "ETP_QUIZ_USER": "nobody",
                        "ETP_HUB_CREATE_USERS": "0", "ETP_HUB_TRAINEES": "ana ben",
                        "ETP_HUB_TRAINERS": "tess", "ETP_HUB_ADMINS": "tess",
                        "NBGRADER_DB_URL": "postgresql+psycopg2://etp@db/gradebook"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("ETP_VARIANTS", raising=False)  # the test session's canonical world
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(REPO / "deploy" / "jupyterhub")).load_config()
    assert config.JupyterHub.load_groups == {hub.trainee_group(COURSE_ID): {"users": ["ana", "ben"]},
                                             hub.trainer_group(COURSE_ID): {"users": ["nobody", "tess"]}}
    assert config.JupyterHub.load_roles == hub.roles(COURSE_ID)
    services = {s["name"]: s for s in config.JupyterHub.services}
    assert set(services) == {COURSE_ID, QUIZ, hub.EXCHANGE_SERVICE}
    assert services[COURSE_ID]["environment"]["NBGRADER_DB_URL"].startswith("postgresql")
    assert services[COURSE_ID]["environment"]["JUPYTERHUB_DEFAULT_URL"] == "/formgrader"
    assert config.NativeAuthenticator.open_signup is False
    assert config.JupyterHub.authenticator_class == "course.trainer.hub.auth.ApprovedNativeAuthenticator"
    assert config.Spawner.default_url == "/lab"
    runtime = tmp_path / "hub" / "trainee"
    assert config.Spawner.environment == hub.trainee_environment(
        runtime, COURSE_ID, True, config.Spawner.environment["ETP_QUIZ_SERVICE_URL"])
    assert hub.runtime_course_copy_ok(runtime)
    assert not (tmp_path / "exchange").exists()  # no shared folder: the ngshare service
    assert oct((tmp_path / "hub" / "exchange").stat().st_mode)[-3:] == "700"
    exchange_url = services[COURSE_ID]["environment"]["ETP_NGSHARE_URL"]
    assert exchange_url == f"{services[hub.EXCHANGE_SERVICE]['url']}/services/{hub.EXCHANGE_SERVICE}"
    assert oct((tmp_path / "hub" / "quiz").stat().st_mode)[-3:] == "700"
    assert oct((tmp_path / "course").stat().st_mode)[-3:] == "700"
    spec = (runtime / "jupyter" / "kernels" / "python3" / "kernel.json").read_text()
    assert '"-S"' in spec and '"ETP_COURSE_ID": "etp-ops-academy"' in spec and '"ETP_VARIANTS": "on"' in spec
    trainee_config = (runtime / "config" / "nbgrader_config.py").read_text()
    assert "JupyterHubAuthPlugin" in trainee_config and f"configureExchange(c, {exchange_url!r})" in trainee_config
    if os.geteuid() == 0:  # each server and the formgrader in a jail of their own account
        assert config.JupyterHub.spawner_class == "course.trainer.hub.jail.JailedSpawner"
        assert "bwrap" in services[COURSE_ID]["command"][0] and "user" not in services[COURSE_ID]
        quiz = services[QUIZ]["command"]  # the quiz service as its own account, in its jail
        assert "bwrap" in quiz[0] and "--reuid=65534" in quiz and "user" not in services[QUIZ]
        assert quiz[quiz.index("--course-root") + 1] == str(tmp_path / "hub" / "quiz-source")
        assert (tmp_path / "hub" / "quiz").stat().st_uid == 65534
