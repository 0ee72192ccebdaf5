"""Hub-native accounts approved by an admin: NativeAuthenticator, fitted to JupyterHub 6.

NativeAuthenticator 1.3.0 (its latest release) brings its own ``/hub/login`` page, written for
JupyterHub 4: on JupyterHub 5 and 6 its form fails with a server error (it times logins with
``handler.statsd``, which JupyterHub 5 removed). ``ApprovedNativeAuthenticator`` keeps every other
page of NativeAuthenticator (``/hub/signup``, the admin's ``/hub/authorize``, password changes)
and leaves ``/hub/login`` to JupyterHub's own login page, which calls the same ``authenticate``:
a name and password log in only once an admin approved the account. The login page links to the
sign-up page (``JupyterHub.template_vars``, set in ``deploy/jupyterhub/jupyterhub_config.py``).
"""
from __future__ import annotations

from nativeauthenticator import NativeAuthenticator

SIGNUP_NOTE = ('New here? <a href="{base}signup">Ask for an account</a>; you can log in once an '
               "admin has approved it.")


class ApprovedNativeAuthenticator(NativeAuthenticator):
    def get_handlers(self, app):
        return [(pattern, handler) for pattern, handler in super().get_handlers(app)
                if pattern != r"/login"]
