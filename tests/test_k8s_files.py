"""The Kubernetes files would start, checked without a cluster.

- ``values.yaml``, merged with the pinned chart's defaults as Helm merges them, passes the chart's
  own values schema (Zero to JupyterHub 4.4.0, vendored in tests/data); the images install the
  chart's JupyterHub.
- ``course.yaml`` passes ``kubernetes-validate --strict`` for the chart's oldest and the newest
  Kubernetes; its NetworkPolicies let each course pod be reached only by the pods that need it.
- The course image's entrypoints, run as the pods run them (uid 1000, gid 100) on its files laid
  out as ``course.Dockerfile`` lays them and on fresh volumes as the kubelet hands them over
  (fsGroup 100): the quiz service loads every quiz, the formgrader's init copies the course,
  ngshare answers on a read-only root. Each runs in Bubblewrap with the manifest's own command.
"""
import copy
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from course.trainer.hub.keyring import Keyring

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
CHART_VERSION, CHART_HUB = "4.4.0", "5.5.0"  # the chart's appVersion (tests/data/z2jh-4.4.0)
CHART = REPO / "tests" / "data" / f"z2jh-{CHART_VERSION}"
KUBERNETES = ("1.28.0", kubernetes_validate.latest_version())  # the chart's kubeVersion floor
POD_UID, POD_GID = 1000, 100  # the Jupyter Docker Stacks' NB_UID and NB_GID; course.yaml's pods
IMAGE_ARGS = {"NB_UID": str(POD_UID), "NB_GID": str(POD_GID)}


def load_manifests() -> dict:
    docs = [d for d in yaml.safe_load_all((K8S / "course.yaml").read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(scope="module")
def manifests():
    return load_manifests()


def helm_merge(defaults, overrides):
    """Helm's merge of a values file over the chart's: maps merge, anything else replaces, null deletes."""
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = helm_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def schema_errors(values: dict) -> list[str]:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    merged = helm_merge(yaml.safe_load((CHART / "values.yaml").read_text()), values)
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(merged)]


# -- values and the chart -----------------------------------------------------------------------
def test_values_pass_the_pinned_charts_schema(values):
    assert schema_errors(values) == []
    misspelt = copy.deepcopy(values)
    misspelt["hub"]["existingSecrets"] = misspelt["hub"].pop("existingSecret")
    assert any("existingSecrets" in error for error in schema_errors(misspelt))
    wrong_type = copy.deepcopy(values)
    wrong_type["singleuser"]["networkPolicy"]["egress"] = {"to": []}
    assert schema_errors(wrong_type)


def test_chart_version_is_pinned_and_the_images_run_its_hub():
    install = re.compile(r"helm upgrade --install \S+ jupyterhub/jupyterhub --version (\S+)")
    for text in ((K8S / "values.yaml").read_text(), (REPO / "docs" / "hub.md").read_text()):
        assert install.findall(text) and set(install.findall(text)) == {CHART_VERSION}
    assert "--set" not in (K8S / "values.yaml").read_text()
    for name in ("course.Dockerfile", "trainee.Dockerfile"):
        text = (K8S / name).read_text()
        assert f"ARG JUPYTERHUB_VERSION={CHART_HUB}\n" in text, name
        # the image's own requirement step, run on the pinned requirements.txt
        step = re.search(r"RUN (grep -v -E .*?\| sed -E .*?) > (/tmp/\S+)", text, re.S)
        pipeline = step.group(1).replace("\\\n", " ").replace("/opt/etp-academy/src/requirements.txt",
                                                               "/tmp/requirements.txt")
        out = subprocess.run(["sh", "-c", pipeline.replace("/tmp/requirements.txt", "requirements.txt")],
                             cwd=REPO, env={"JUPYTERHUB_VERSION": CHART_HUB, "PATH": os.environ["PATH"]},
                             capture_output=True, text=True, check=True).stdout.splitlines()
        assert f"jupyterhub=={CHART_HUB}" in out and not any(p.startswith(("pytest", "kubernetes-validate")) for p in out), name
        assert len([p for p in out if p.startswith("jupyterhub==")]) == 1


def test_ngshare_token_is_a_secret_the_hub_and_ngshare_both_read(values, manifests):
    secret = values["hub"]["existingSecret"]
    assert "apiToken" not in values["hub"]["services"]["ngshare"]
    pod = manifests[("Deployment", "ngshare")]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": secret, "key": "hub.services.ngshare.apiToken"}  # the key the chart's hub reads
    guide = (REPO / "docs" / "hub.md").read_text()
    assert f"create secret generic {secret}" in guide and "hub_api_token" not in guide


# -- manifests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", KUBERNETES)
def test_manifests_pass_kubernetes_validate_strict(manifests, version):
    for doc in manifests.values():
        kubernetes_validate.validate(doc, version, strict=True)
    broken = copy.deepcopy(manifests[("NetworkPolicy", "etp-gradebook")])
    broken["spec"]["ingress"][0]["form"] = broken["spec"]["ingress"][0].pop("from")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


CHART_PODS = {"hub": {"app": "jupyterhub", "component": "hub"},
              "proxy": {"app": "jupyterhub", "component": "proxy"},
              "trainee": {"app": "jupyterhub", "component": "singleuser-server"}}
COURSE_PODS = {"quiz": ("Deployment", "etp-quiz"), "formgrader": ("Deployment", "etp-formgrader"),
               "gradebook": ("StatefulSet", "etp-gradebook"), "ngshare": ("Deployment", "ngshare"),
               "grading": ("Job", "etp-grade-m2")}


def matches(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def who_reaches(manifests, pods: dict, target: str) -> set[str]:
    """The pods whose connections to ``target``'s container ports the ingress policies admit."""
    policies = [d["spec"] for (kind, _), d in manifests.items() if kind == "NetworkPolicy"
                and "Ingress" in d["spec"]["policyTypes"] and matches(d["spec"]["podSelector"], pods[target])]
    if not policies:
        return set(pods)  # no policy selects it: open to every pod
    spec = pods_spec(manifests, target)
    ports = {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
    allowed = set()
    for rule in (r for policy in policies for r in policy.get("ingress", [])):
        assert {p["port"] for p in rule.get("ports", [])} <= ports, f"{target}: a rule names no port of it"
        allowed |= {name for name, labels in pods.items()
                    if any(matches(peer["podSelector"], labels) for peer in rule.get("from", []))}
    return allowed


def pods_spec(manifests, name):
    return manifests[COURSE_PODS[name]]["spec"]["template"]["spec"]


def test_each_course_pod_is_reached_only_by_the_pods_that_need_it(manifests, values):
    pods = dict(CHART_PODS, **{n: manifests[k]["spec"]["template"]["metadata"]["labels"]
                                for n, k in COURSE_PODS.items()})
    assert who_reaches(manifests, pods, "gradebook") == {"formgrader", "grading"}
    assert who_reaches(manifests, pods, "formgrader") == {"hub", "proxy"}
    assert who_reaches(manifests, pods, "quiz") == {"hub", "proxy", "trainee", "formgrader", "grading"}
    assert who_reaches(manifests, pods, "ngshare") == {"hub", "proxy", "trainee", "formgrader"}
    assert who_reaches(manifests, pods, "grading") == set()
    # the trainees' egress (values.yaml) names the quiz service's and ngshare's own pods
    egress = values["singleuser"]["networkPolicy"]["egress"]
    reached = {name for rule in egress for peer in rule["to"] for name in ("quiz", "ngshare")
               if matches(peer["podSelector"], pods[name])}
    assert reached == {"quiz", "ngshare"}


# -- the course image's entrypoints as uid 1000 ---------------------------------------------------
needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("bwrap"),
                                reason="lays files out with the image's owners (root) and runs them in Bubblewrap")


def image_layout(root: Path) -> Path:
    """course.Dockerfile's COPY and chmod steps of /opt/etp-academy/src, replayed under ``root``:
    COPY makes root's files with the checkout's modes unless --chown says otherwise."""
    text = (K8S / "course.Dockerfile").read_text().replace("\\\n", " ")
    for chown, sources, dest in re.findall(r"^COPY (?:--chown=(\S+) )?((?:\S+ )+)(/opt/etp-academy/src/\S*)$",
                                           text, re.M):
        for source in sources.split():
            target = root / dest.lstrip("/")
            if dest.endswith("/"):
                target = target / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(REPO / source, target)
            owner = re.sub(r"\$\{(\w+)\}", lambda m: IMAGE_ARGS[m.group(1)], chown) if chown else "0:0"
            subprocess.run(["chown", "-R", owner, target], check=True)
    for spec, path in re.findall(r"chmod -R (\S+) (/opt/etp-academy/src/\S*)", text):
        subprocess.run(["chmod", "-R", spec, root / path.lstrip("/")], check=True)
    return root / "opt" / "etp-academy"


def fresh_volume(node: Path, name: str) -> Path:
    """A new volume as the kubelet mounts it for fsGroup 100: root's, group 100, setgid, g+rwx."""
    path = Path(tempfile.mkdtemp(prefix=name, dir=node))
    os.chown(path, 0, POD_GID)
    path.chmod(0o2775)
    return path


PROBE = r"""
import subprocess, sys, time, urllib.request, urllib.error
url, command = sys.argv[1], sys.argv[2:]
child = subprocess.Popen(command)
deadline, status = time.monotonic() + 90, None
while status is None and child.poll() is None and time.monotonic() < deadline:
    try:
        status = urllib.request.urlopen(url, timeout=2).status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        time.sleep(0.3)
print(f"PROBE {status} exit={child.poll()}", flush=True)
child.terminate()
child.wait(10)
"""


def run_in_pod(pod: dict, image: Path, volumes: dict, container: dict, probe: str | None = None,
               read_only_root: bool = False) -> subprocess.CompletedProcess:
    """``container``'s command as the pod runs it: its uid and gid, the image at /opt/etp-academy,
    the volumes at their mount paths, no network but its own loopback; secrets are stand-ins."""
    security = pod["securityContext"]
    uid, gid = security["runAsUser"], security["runAsGroup"]
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": "/opt/etp-academy/src",
           "HOME": "/tmp", "LANG": "C.UTF-8"}
    env.update({e["name"]: e.get("value", "stand-in-secret") for e in container.get("env", [])})
    python = Path(sys.base_prefix).resolve()  # may lie in root's private home: shown alone
    sandbox = ["bwrap", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent",
               "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
               "--perms", "1777", "--tmpfs", "/dev/shm", "--tmpfs", "/root"]  # a container's /dev/shm
    for parent in reversed(python.parents[:-1]):
        if parent.is_relative_to("/root") and parent != Path("/root"):
            sandbox += ["--perms", "0755", "--dir", str(parent)]
    sandbox += ["--ro-bind", str(python), str(python), "--tmpfs", "/opt", "--tmpfs", "/srv",
               "--ro-bind" if read_only_root else "--bind", str(image), "/opt/etp-academy", "--clearenv"]
    if not read_only_root:
        sandbox += ["--perms", "1777", "--tmpfs", "/tmp"]  # HOME too, as /home/jovyan is the user's
        venv = Path(sys.prefix).resolve()
        if venv.is_relative_to("/tmp"):  # a checkout under /tmp: its environment shown again
            for parent in reversed(venv.parents[:-2]):  # walkable by the pod's uid
                sandbox += ["--perms", "0755", "--dir", str(parent)]
            sandbox += ["--ro-bind", str(venv), str(venv)]
    for mount in container.get("volumeMounts", []):
        sandbox += ["--bind", str(volumes[mount["name"]]), mount["mountPath"]]
    for name, value in env.items():
        sandbox += ["--setenv", name, value]
    sandbox += ["--chdir", container.get("workingDir", "/")]
    command = container["command"]
    if probe:
        command = [sys.executable, "-c", PROBE, probe, *command]
    drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"]
    return subprocess.run(sandbox + ["--"] + drop + command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def node():
    """A folder the pods' uid can walk to (pytest's own temporary folders are root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="etp-k8s-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def image(node):
    return image_layout(node / "course-image")


@needs_root
def test_image_keeps_source_private_to_the_pods_user(image):
    source = image / "src" / "source"
    for path in [source, *source.rglob("*")]:
        info = path.stat()
        assert (info.st_uid, info.st_mode & 0o077) == (POD_UID, 0), path
    assert (image / "src" / "course").stat().st_uid == 0  # the code stays root's


@needs_root
def test_quiz_service_loads_every_quiz_as_uid_1000(image, manifests, node):
    pod = manifests[("Deployment", "etp-quiz")]["spec"]["template"]["spec"]
    volume = fresh_volume(node, "quiz-data")
    result = run_in_pod(pod, image, {"quiz-data": volume}, pod["containers"][0],
                        probe="http://127.0.0.1:10101/services/etp-quiz/api/status")
    log = result.stdout + result.stderr
    assert "PROBE " in result.stdout and "PROBE None" not in result.stdout, log[-3000:]
    loaded = re.search(r"(\d+) quizzes of course etp-ops-academy", log)
    assert loaded and int(loaded.group(1)) == len(Keyring(REPO).entries) > 0, log[-3000:]
    data = Path(re.search(r"--data (\S+)", shlex.join(pod["containers"][0]["command"])).group(1))
    ledger = volume / data.relative_to("/srv/quiz")
    assert (ledger.stat().st_uid, ledger.stat().st_mode & 0o777) == (POD_UID, 0o700)
    assert any(ledger.iterdir())


@needs_root
def test_formgrader_init_copies_the_course_onto_its_volume(image, manifests, node):
    pod = manifests[("Deployment", "etp-formgrader")]["spec"]["template"]["spec"]
    volume = fresh_volume(node, "course")
    for attempt in (1, 2):  # a restart of the pod runs it again over the copy
        result = run_in_pod(pod, image, {"course": volume}, pod["initContainers"][0])
        assert result.returncode == 0, (attempt, result.stderr[-2000:])
    notebooks = sorted(p.relative_to(volume / "source") for p in (volume / "source").glob("*/*.ipynb"))
    assert notebooks == sorted(p.relative_to(REPO / "source") for p in (REPO / "source").glob("*/*.ipynb"))
    assert notebooks and all((volume / "source" / n).stat().st_uid == POD_UID for n in notebooks)
    assert (volume / "nbgrader_config.py").read_text() == (REPO / "nbgrader_config.py").read_text()


@needs_root
def test_ngshare_answers_on_a_read_only_root_as_uid_1000(image, manifests, node):
    pod = manifests[("Deployment", "ngshare")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volume = fresh_volume(node, "ngshare")
    result = run_in_pod(pod, image, {"ngshare-data": volume}, container,
                        probe=f"http://127.0.0.1:{container['ports'][0]['containerPort']}/healthz",
                        read_only_root=True)
    assert "PROBE 200" in result.stdout, (result.stdout + result.stderr)[-3000:]
    data = Path(re.search(r"--data (\S+)", shlex.join(container["command"])).group(1))
    folder = volume / data.relative_to("/srv/ngshare")
    assert (folder.stat().st_uid, folder.stat().st_mode & 0o777) == (POD_UID, 0o700)
    assert (folder / "ngshare.sqlite").stat().st_uid == POD_UID


@needs_root
@pytest.mark.parametrize("mode, usable", [(0o2770, True), (0o2775, False)])
def test_quiz_data_folder_it_cannot_chmod_is_used_only_if_private(image, node, mode, usable):
    """A volume's root (root's, group 100) cannot be made 0700 by uid 1000: the quiz service uses
    it when other accounts have no access, and refuses it with the reason otherwise."""
    volume = fresh_volume(node, "quiz-root")
    volume.chmod(mode)
    check = ("from pathlib import Path; from course.trainer.hub.ledger import Ledger, prepare; "
             "Ledger(prepare(Path('/srv/quiz'))); print('ready')")
    pod = {"securityContext": {"runAsUser": POD_UID, "runAsGroup": POD_GID}}
    container = {"command": ["python", "-c", check], "volumeMounts": [{"name": "q", "mountPath": "/srv/quiz"}]}
    result = run_in_pod(pod, image, {"q": volume}, container)
    if usable:
        assert result.stdout.strip() == "ready", result.stderr[-2000:]
        assert volume.stat().st_mode & 0o7777 == mode  # left as the cluster made it
    else:
        assert result.returncode != 0 and "open to every account (mode 2775)" in result.stderr
