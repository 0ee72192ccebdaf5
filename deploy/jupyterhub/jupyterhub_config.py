"""JupyterHub for a team taking ETP Express Operations Academy (one host).

    sudo ETP_HUB_ADMINS=ana ETP_HUB_TRAINERS=ana .venv/bin/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

Run as root from this checkout, with configurable-http-proxy on the PATH (docs/hub.md).
Settings come from the environment (defaults in brackets):

  ETP_HUB_ROOT        hub state, trainee runtime, quiz answers      [/srv/etp-academy]
  ETP_HUB_BIND_URL    public address                                [http://:8000]
  ETP_HUB_ADMINS      hub admins (approve sign-ups, manage groups)  [none: set one]
  ETP_HUB_TRAINERS    trainers, loaded into formgrade-<course_id>   []
  ETP_HUB_TRAINEES    trainees, loaded into nbgrader-<course_id>    []
  ETP_COURSE_DIR      the trainer's course folder                   [/srv/nbgrader/etp-ops-academy]
  ETP_GRADER_USER     system account the formgrader runs as         [grader-etp-ops-academy]
  ETP_EXCHANGE_USER   system account the ngshare exchange runs as   [exchange-<course_id>]
  ETP_EXCHANGE_MAX_UPLOAD_MB  largest hand-in (one request)         [10]
  ETP_EXCHANGE_QUOTA_MB       a trainee's stored hand-ins, all told [100]
  ETP_QUIZ_USER       system account the quiz service runs as       [quiz-etp-ops-academy]
  NBGRADER_DB_URL     the gradebook (PostgreSQL URL)                [SQLite in the course folder]
  ETP_VARIANTS        "off": one world for all                      [on]
  ETP_HUB_CREATE_USERS  "0": system accounts are made by the admin  [1]
  ETP_HUB_JAIL        "0": plain LocalProcessSpawner (servers see the whole host)  [1]
  ETP_HUB_SUBDOMAIN_HOST  e.g. https://hub.example.org: per-user subdomains, so the formgrader
                      panel can be framed inside the trainers' Lab safely              [unset]

Who is who: trainees are the hub group ``nbgrader-etp-ops-academy``, trainers
``formgrade-etp-ops-academy`` (nbgrader's names). The formgrader is the hub service
``etp-ops-academy`` (trainers only); the quiz service ``etp-quiz`` records quiz answers where no
trainee can write; the exchange is the hub service ``ngshare`` (``course.trainer.hub.exchange``: a
hand-in is stored under its sender's hub name, only instructors release and collect). Authentication: NativeAuthenticator, sign-ups approved by an admin
(``open_signup = False``); any other JupyterHub authenticator can replace it below.
"""
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from course.data import world  # noqa: E402
from course.trainer.hub import deployment as hub  # noqa: E402
from course.trainer.hub.auth import SIGNUP_NOTE  # noqa: E402

c = get_config()  # noqa: F821 (provided by JupyterHub's config loader)

COURSE_ID = os.environ.get(world.COURSE_ENV) or world.COURSE_ID
ROOT = Path(os.environ.get("ETP_HUB_ROOT", "/srv/etp-academy"))
COURSE_DIR = Path(os.environ.get("ETP_COURSE_DIR", f"/srv/nbgrader/{COURSE_ID}"))
GRADER = os.environ.get("ETP_GRADER_USER", f"grader-{COURSE_ID}")
EXCHANGE_USER = os.environ.get("ETP_EXCHANGE_USER", f"exchange-{COURSE_ID}")
QUIZ_USER = os.environ.get("ETP_QUIZ_USER", f"quiz-{COURSE_ID}")
VARIANTS = os.environ.get(world.VARIANTS_ENV, "on").strip().lower() not in ("off", "0", "false", "no")
AS_ROOT = os.geteuid() == 0
CREATE_USERS = os.environ.get("ETP_HUB_CREATE_USERS", "1") != "0" and AS_ROOT
HOME_ROOT = os.environ.get("ETP_HUB_HOME_ROOT", "/home")
JAIL = os.environ.get("ETP_HUB_JAIL", "1") != "0" and AS_ROOT  # each server in a Bubblewrap jail
SUBDOMAIN_HOST = os.environ.get("ETP_HUB_SUBDOMAIN_HOST", "")
BIND_URL = os.environ.get("ETP_HUB_BIND_URL", "http://:8000")
FORMGRADER_PORT = int(os.environ.get("ETP_FORMGRADER_PORT", "9999"))
QUIZ_PORT = int(os.environ.get("ETP_QUIZ_SERVICE_PORT", "10101"))
EXCHANGE_PORT = int(os.environ.get("ETP_EXCHANGE_PORT", "10102"))
PROXY_PORT = int(os.environ.get("ETP_PROXY_API_PORT", "8001"))
HUB_PORT = int(os.environ.get("ETP_HUB_API_PORT", "8081"))
# Where trainee kernels and the formgrader reach the quiz service: straight to the service.
QUIZ_URL = os.environ.get("ETP_QUIZ_SERVICE_URL", f"http://127.0.0.1:{QUIZ_PORT}/services/{hub.QUIZ_SERVICE}/")
EXCHANGE_URL = f"http://127.0.0.1:{EXCHANGE_PORT}/services/{hub.EXCHANGE_SERVICE}"  # ngshare-exchange's form

ROOT.mkdir(parents=True, exist_ok=True)
ROOT.chmod(0o755)
for private in ("state", "quiz"):
    (ROOT / private).mkdir(exist_ok=True)
    (ROOT / private).chmod(0o700)

# -- the hub ---------------------------------------------------------------------------------------
c.JupyterHub.bind_url = BIND_URL
c.JupyterHub.hub_port = HUB_PORT
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PROXY_PORT}"
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'state' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "state" / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(ROOT / "state" / "jupyterhub-proxy.pid")
c.JupyterHub.default_url = "/hub/home"
if SUBDOMAIN_HOST:
    c.JupyterHub.subdomain_host = SUBDOMAIN_HOST  # enables per-user and per-service subdomains

# -- authentication: hub-native accounts, each approved by an admin ---------------------------------
c.JupyterHub.authenticator_class = "course.trainer.hub.auth.ApprovedNativeAuthenticator"  # NativeAuthenticator
c.JupyterHub.template_vars = {"announcement_login": SIGNUP_NOTE.format(base="/hub/")}
c.NativeAuthenticator.open_signup = False          # a sign-up waits for an admin at /hub/authorize
c.NativeAuthenticator.minimum_password_length = 10
c.NativeAuthenticator.check_common_password = True
c.NativeAuthenticator.allowed_failed_logins = 5    # then a pause before the next try
c.NativeAuthenticator.seconds_before_next_try = 600
c.Authenticator.allow_all = True                   # everyone the authenticator lets in: approved ones
c.Authenticator.admin_users = set(hub.names(os.environ.get("ETP_HUB_ADMINS")))
c.Authenticator.username_pattern = hub.USERNAME_PATTERN
# admins come from `python -m course hub-admin`; nobody signs up as them, a reserved or system name
c.ApprovedNativeAuthenticator.reserved_names = {GRADER, hub.formgrader_service(COURSE_ID), hub.QUIZ_SERVICE}
c.ApprovedNativeAuthenticator.create_system_users = CREATE_USERS  # at approval: groups can name them
c.ApprovedNativeAuthenticator.home_root = HOME_ROOT

# -- who is a trainee, who is a trainer ----------------------------------------------------------
c.JupyterHub.load_groups = hub.groups(COURSE_ID, hub.names(os.environ.get("ETP_HUB_TRAINEES")),
                                      hub.names(os.environ.get("ETP_HUB_TRAINERS")), GRADER)
c.JupyterHub.custom_scopes = hub.custom_scopes()
c.JupyterHub.load_roles = hub.roles(COURSE_ID)

# -- the trainer's course folder; the exchange's private folder -----------------------------------
if CREATE_USERS:
    hub.ensure_system_user(GRADER, HOME_ROOT, system=True)
    hub.ensure_system_user(EXCHANGE_USER, HOME_ROOT, system=True)
    hub.ensure_system_user(QUIZ_USER, HOME_ROOT, system=True)
if AS_ROOT:  # the services that import this checkout may read it when it is the grader's (chmod 750)
    hub.join_group(GRADER, [QUIZ_USER, EXCHANGE_USER])
hub.prepare_exchange_data(ROOT / "exchange", EXCHANGE_USER if AS_ROOT else None)
hub.prepare_course_dir(COURSE_DIR, GRADER if AS_ROOT else None)
QUIZ_SOURCE = hub.prepare_quiz_service(ROOT / "quiz", ROOT / "quiz-source", COURSE_DIR,
                                       QUIZ_USER if AS_ROOT else None)

# -- services: the formgrader (trainers), the quiz service, the exchange ----------------------------
c.JupyterHub.services = hub.services(
    course_id=COURSE_ID, course_dir=COURSE_DIR, grader=GRADER if AS_ROOT else None,
    formgrader_port=FORMGRADER_PORT, quiz_port=QUIZ_PORT, quiz_data=ROOT / "quiz",
    quiz_url=QUIZ_URL, exchange_url=EXCHANGE_URL, variants=VARIANTS,
    db_url=os.environ.get("NBGRADER_DB_URL"), jail=JAIL,
    quiz_user=QUIZ_USER if AS_ROOT else None, quiz_source=QUIZ_SOURCE,
    formgrader_config=hub.prepare_formgrader_config(ROOT / "formgrader-config", bool(SUBDOMAIN_HOST)))
c.JupyterHub.services.append(hub.exchange_service(
    course_id=COURSE_ID, port=EXCHANGE_PORT, data=ROOT / "exchange",
    account=EXCHANGE_USER if AS_ROOT else None, jail=JAIL,
    max_upload_mb=float(os.environ.get("ETP_EXCHANGE_MAX_UPLOAD_MB", "10")),
    quota_mb=float(os.environ.get("ETP_EXCHANGE_QUOTA_MB", "100"))))

# -- every trainee's server: JupyterLab on the trainee install --------------------------------------
RUNTIME = hub.prepare_trainee_runtime(ROOT / "trainee", COURSE_ID, EXCHANGE_URL, VARIANTS)
if JAIL:  # the server sees the system, the Python install, the runtime, its home
    c.JupyterHub.spawner_class = "course.trainer.hub.jail.JailedSpawner"
    c.JailedSpawner.read_only = [str(RUNTIME)]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
c.Spawner.args = hub.trainee_server_args(RUNTIME)
c.Spawner.environment = hub.trainee_environment(RUNTIME, COURSE_ID, VARIANTS, QUIZ_URL)
c.Spawner.server_token_scopes = hub.server_token_scopes()
c.Spawner.pre_spawn_hook = hub.pre_spawn_hook(CREATE_USERS, HOME_ROOT)
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.JupyterHub.shutdown_on_logout = False
c.JupyterHub.cleanup_servers = False  # a hub restart keeps servers and kernels (found again by pid)
