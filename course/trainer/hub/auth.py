"""Hub-native accounts approved by an admin: NativeAuthenticator, fitted to JupyterHub 6.

NativeAuthenticator 1.3.0 (its latest release) brings its own ``/hub/login`` page, written for
JupyterHub 4: on JupyterHub 5 and 6 its form fails with a server error (it times logins with
``handler.statsd``, which JupyterHub 5 removed). ``ApprovedNativeAuthenticator`` keeps every other
page of NativeAuthenticator (``/hub/signup``, the admin's ``/hub/authorize``, password changes)
and leaves ``/hub/login`` to JupyterHub's own login page, which calls the same ``authenticate``:
a name and password log in only once an admin approved the account. The login page links to the
sign-up page (``JupyterHub.template_vars``, set in ``deploy/jupyterhub/jupyterhub_config.py``).

Sign-ups are refused for an admin's name (NativeAuthenticator would approve whoever signs it up
first: the deployer creates admins, ``python -m course hub-admin``), for reserved names (root, the
grader account, the hub's services) and for system accounts. Approving a sign-up makes the hub
user at once (so an admin can put them in a group) and, when the hub makes accounts, their Unix
account.
"""
from __future__ import annotations

import pwd

from jupyterhub import orm
from jupyterhub.utils import maybe_future
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import ToggleAuthorizationHandler
from nativeauthenticator.orm import UserInfo
from traitlets import Bool, Set, Unicode

RESERVED_NAMES = frozenset({"root", "admin", "administrator", "hub", "jupyterhub", "api", "user",
                            "users", "services", "proxy", "formgrader", "grader", "nbgrader",
                            "ngshare", "etp-quiz", "nobody"})
LAST_SYSTEM_UID = 999  # login.defs' SYS_UID_MAX on Debian and Ubuntu

SIGNUP_NOTE = ('New here? <a href="{base}signup">Ask for an account</a>; you can log in once an '
               "admin has approved it.")


class ApproveHandler(ToggleAuthorizationHandler):
    """``/hub/authorize/<name>``: once approved, the hub user exists (and their Unix account)."""

    async def get(self, slug):
        await super().get(slug)  # admins only; toggles the approval
        info = UserInfo.find(self.db, slug)
        if info is not None and info.is_authorized:
            user = self.user_from_username(slug)
            await maybe_future(self.authenticator.add_user(user))


class ApprovedNativeAuthenticator(NativeAuthenticator):
    reserved_names = Set(Unicode(), help="Names nobody may sign up with, beside RESERVED_NAMES "
                         "(the grader account, the hub's services)").tag(config=True)
    create_system_users = Bool(False, help="Make a Unix account for each hub user (useradd) when "
                               "the user is added or approved").tag(config=True)
    home_root = Unicode("/home", help="Where new Unix accounts get their home").tag(config=True)

    def get_handlers(self, app):
        handlers = [(pattern, handler) for pattern, handler in super().get_handlers(app)
                    if pattern != r"/login"]
        return [(p, ApproveHandler if h is ToggleAuthorizationHandler else h) for p, h in handlers]

    def signup_refusal(self, name: str) -> str | None:
        """Why nobody may sign up as ``name`` (None: they may)."""
        if name in self.admin_users:
            return "an admin's name (admins are made with python -m course hub-admin)"
        if name in RESERVED_NAMES or name in self.reserved_names:
            return "a reserved name"
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            return None
        if account.pw_uid <= LAST_SYSTEM_UID or account.pw_shell.endswith(("nologin", "false")):
            return "a system account"
        if self.create_system_users and orm.User.find(self.db, name) is None:
            return "a Unix account of this host that is no hub user"
        return None

    def create_user(self, username, password, **kwargs):
        name = self.normalize_username(username)
        why = self.signup_refusal(name)
        if why:
            self.log.warning("Sign-up refused for %r: %s", name, why)
            return None
        return super().create_user(username, password, **kwargs)

    async def add_user(self, user):
        if self.create_system_users:
            from course.trainer.hub.deployment import ensure_system_user

            ensure_system_user(user.name, self.home_root)
        return super().add_user(user)
