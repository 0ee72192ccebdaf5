"""Hub accounts: admins made by the deployer, names nobody may sign up with, the servers' PATH,
and the jail's command line (no hub needed)."""
from __future__ import annotations

import os
import pwd
import secrets
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
from jupyterhub import orm
from nativeauthenticator.orm import UserInfo

from course.trainer.hub import admin, deployment, jail
from course.trainer.hub.auth import ApprovedNativeAuthenticator

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "a-long-enough-Pa55word"


@pytest.fixture
def db(tmp_path):
    session = orm.new_session_factory(f"sqlite:///{tmp_path / 'hub.sqlite'}")()
    yield session
    session.close()


def authenticator(db, **settings) -> ApprovedNativeAuthenticator:
    return ApprovedNativeAuthenticator(_deprecated_db_session=db, admin_users={"ana"},
                                       reserved_names={"grader-etp-ops-academy"}, **settings)


def test_signup_is_refused_for_admins_reserved_and_system_names(db):
    auth = authenticator(db)
    for name in ("ana", "root", "admin", "etp-quiz", "grader-etp-ops-academy", "daemon", "nobody"):
        assert auth.create_user(name, PASSWORD) is None, name
        assert UserInfo.find(db, name) is None, name
    made = auth.create_user("bea", PASSWORD)
    assert made is not None and not made.is_authorized  # an ordinary name waits for approval


def test_an_existing_unix_account_that_is_no_hub_user_is_refused_when_the_hub_makes_accounts(db):
    if os.geteuid() != 0:
        pytest.skip("useradd needs root")
    name = f"etpt-acct-{secrets.token_hex(2)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/bash", name], check=True)
    try:
        assert authenticator(db, create_system_users=True).create_user(name, PASSWORD) is None
        assert authenticator(db).create_user(name, PASSWORD) is not None  # the admin made it for them
        db.query(UserInfo).filter_by(username=name).delete()
        db.add(orm.User(name=name))  # a hub user (e.g. named in ETP_HUB_TRAINEES) may sign up
        db.commit()
        assert authenticator(db, create_system_users=True).create_user(name, PASSWORD) is not None
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_hub_admin_makes_an_approved_admin_the_hub_can_start_on(tmp_path):
    done = subprocess.run([sys.executable, "-m", "course", "hub-admin", "ana", "--hub-root", str(tmp_path),
                           "--password-stdin"], input=PASSWORD + "\n", capture_output=True, text=True,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert oct((tmp_path / "state").stat().st_mode)[-3:] == "700"
    db = orm.new_session_factory(admin.hub_database(tmp_path))()  # the hub's own check of its schema
    info = UserInfo.find(db, "ana")
    assert info.is_authorized and bcrypt.checkpw(PASSWORD.encode(), info.password)
    assert authenticator(db).create_user("ana", "another-long-password") is None
    assert admin.set_admin_password(admin.hub_database(tmp_path), "ana", "a-new-password-1") is False
    db.close()
    with pytest.raises(ValueError):
        admin.set_admin_password(admin.hub_database(tmp_path), "ana", "short")
    with pytest.raises(ValueError):
        admin.set_admin_password(admin.hub_database(tmp_path), "Not A Name", PASSWORD)


def test_servers_get_their_own_path_not_the_hubs():
    env = deployment.trainee_environment(Path("/srv/x"), "etp-ops-academy", True, "http://q/")
    assert env["PATH"] == f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"


def test_the_jail_has_private_tmp_and_shm_and_its_own_pids():
    account = pwd.getpwuid(0).pw_name
    args = jail.jail_command(account, [], [], die_with_parent=False)
    assert "--unshare-pid" in args and "--die-with-parent" not in args
    assert ["--perms", "1777", "--tmpfs", "/dev/shm"] == args[args.index("/dev/shm") - 3:args.index("/dev/shm") + 1]
    assert jail.RUNTIME_DIR.startswith("/tmp/") and jail.KERNEL_ENV["JUPYTER_RUNTIME_DIR"] == jail.RUNTIME_DIR
    assert "--die-with-parent" in jail.jail_command(account, [], [], host_proc=True)
