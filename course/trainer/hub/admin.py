"""Hub admins, made by the deployer before sign-ups open: ``python -m course hub-admin NAME``.

An admin of the hub (``ETP_HUB_ADMINS``) must not come from the sign-up page, where whoever asks
first for the name would get it: the authenticator refuses a sign-up for an admin's name, and this
command writes the admin's approved account (NativeAuthenticator's ``users_info``, bcrypt hash)
into the hub's database, creating the database if the hub has not run yet. Run it again to set a
new password.
"""
from __future__ import annotations

import getpass
import os
import re
import sys
from pathlib import Path

import bcrypt

from course.trainer.hub.deployment import USERNAME_PATTERN

MINIMUM_PASSWORD_LENGTH = 10  # c.NativeAuthenticator.minimum_password_length in the hub's config


def hub_database(hub_root: Path) -> str:
    """The hub's SQLite database under ``ETP_HUB_ROOT`` (as deploy/jupyterhub sets it)."""
    return f"sqlite:///{hub_root / 'state' / 'jupyterhub.sqlite'}"


def set_admin_password(db_url: str, name: str, password: str) -> bool:
    """Write ``name``'s approved account with ``password``; True if it was new."""
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo  # its table joins jupyterhub's metadata

    if not re.match(USERNAME_PATTERN, name):
        raise ValueError(f"{name!r} is not a valid hub name ({USERNAME_PATTERN})")
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        raise ValueError(f"the password needs at least {MINIMUM_PASSWORD_LENGTH} characters")
    db = orm.new_session_factory(db_url)()
    try:
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
        info = UserInfo.find(db, name)
        if info is None:
            db.add(UserInfo(username=name, password=hashed, is_authorized=True))
        else:
            info.password, info.is_authorized = hashed, True
        db.commit()
        return info is None
    finally:
        db.close()


def main(name: str, hub_root: str | None, password_stdin: bool) -> int:
    root = Path(hub_root or os.environ.get("ETP_HUB_ROOT", "/srv/etp-academy"))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            print("course: the passwords differ", file=sys.stderr)
            return 1
    (root / "state").mkdir(parents=True, exist_ok=True)
    (root / "state").chmod(0o700)
    try:
        new = set_admin_password(hub_database(root), name, password)
    except ValueError as err:
        print(f"course: {err}", file=sys.stderr)
        return 1
    print(f"{name}: {'admin account made' if new else 'password changed'} in {root / 'state'}; "
          f"name them in ETP_HUB_ADMINS")
    return 0
