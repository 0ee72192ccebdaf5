"""The hub's exchange service (``course.trainer.hub.exchange``: ngshare with the course's additions), on
its HTTP API in this process: who a hand-in belongs to, releases that persist, the quota, the
roster. The bearer of ``token <name>`` is hub user ``<name>`` here; the live test
(``test_hub_exchange_live.py``) asks a real hub."""
from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode

from tornado.testing import AsyncHTTPTestCase

from course.trainer.hub import exchange

PREFIX = "/services/ngshare/"
COURSE = "etp-ops-academy"
QUOTA = 3000
MADE_BEFORE = logging.getLogger("etp-made-before-the-exchange")  # as nbgrader's are in a trainer's process


def token_is_name(handler, token: str) -> dict | None:
    return {"name": token} if token else None


def files(**contents: bytes) -> str:
    return json.dumps([{"path": path, "content": base64.b64encode(data).decode()}
                       for path, data in contents.items()])


class ExchangeApi(AsyncHTTPTestCase):
    def get_app(self):
        self.folder = Path(tempfile.mkdtemp(prefix="etp-ngshare-"))
        self.addCleanup(shutil.rmtree, self.folder, ignore_errors=True)
        env = {"JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api", "JUPYTERHUB_API_TOKEN": "x",
               "JUPYTERHUB_CLIENT_ID": "service-ngshare", "JUPYTERHUB_SERVICE_PREFIX": PREFIX}
        with mock.patch.dict(os.environ, env):
            self.app = exchange.make_app(self.folder / "exchange", PREFIX, QUOTA, token_is_name)
        db = self.app.db_session()
        exchange.mirror_roster(db, COURSE, {"tess", "service:etp-ops-academy"}, {"ana", "mallory", "tess"})
        db.close()
        return self.app

    def api(self, who: str, method: str, path: str, **fields):
        body = urlencode(fields) if method == "POST" else None
        headers = {"Authorization": f"token {who}"} if who else {}
        answer = self.fetch(PREFIX.rstrip("/") + path, method=method, body=body, headers=headers)
        return answer.code, json.loads(answer.body or b"{}")

    def release(self, module: str = "m2") -> None:
        code, body = self.api("tess", "POST", f"/assignment/{COURSE}/{module}", files=files(**{"m2.ipynb": b"{}"}))
        assert code == 200, body

    def test_loggers_made_before_stay_enabled(self):
        assert not MADE_BEFORE.disabled  # ngshare's migrations would disable them (fileConfig)

    def test_a_release_persists_and_only_an_instructor_releases(self):
        assert self.api("mallory", "POST", f"/assignment/{COURSE}/m2", files=files(x=b"1"))[0] == 403
        self.release()
        code, body = self.api("ana", "GET", f"/assignment/{COURSE}/m2")
        assert code == 200 and base64.b64decode(body["files"][0]["content"]) == b"{}"
        assert self.api("tess", "POST", f"/assignment/{COURSE}/m2", files=files(x=b"1"))[0] == 409
        assert self.api("mallory", "POST", f"/course/{COURSE}")[0] == 403  # no course made here

    def test_a_hand_in_is_its_senders_whatever_the_request_says(self):
        self.release()
        assert self.api("ana", "POST", f"/submission/{COURSE}/m2", files=files(a=b"alice's"))[0] == 200
        code, _ = self.api("mallory", "POST", f"/submission/{COURSE}/m2", user="ana", student_id="ana",
                           files=files(a=b"forged"))
        assert code == 200
        theirs = {}
        for student in ("ana", "mallory"):
            code, body = self.api("tess", "GET", f"/submission/{COURSE}/m2/{student}")
            theirs[student] = base64.b64decode(body["files"][0]["content"])
        assert theirs == {"ana": b"alice's", "mallory": b"forged"}
        assert self.api("mallory", "GET", f"/submission/{COURSE}/m2/ana")[0] == 403
        assert self.api("mallory", "GET", f"/submissions/{COURSE}/m2/ana")[0] == 403

    def test_the_quota_counts_every_hand_in(self):
        self.release()
        chunk = files(a=b"x" * 1000)
        codes = [self.api("mallory", "POST", f"/submission/{COURSE}/m2", files=chunk)[0] for _ in range(4)]
        assert codes == [200, 200, 413, 413]  # 2000 stored + the next body (1.4 kB) would pass 3000
        assert self.api("ana", "POST", f"/submission/{COURSE}/m2", files=chunk)[0] == 200  # hers apart

    def test_no_identity_no_access(self):
        self.release()
        assert self.api("", "GET", f"/assignments/{COURSE}")[0] == 403
        assert self.api("", "POST", f"/submission/{COURSE}/m2", files=files(a=b"1"))[0] == 403
        assert self.api("stranger", "GET", f"/assignment/{COURSE}/m2")[0] == 403  # not on the roster


def test_the_roster_mirrors_the_hub_groups(tmp_path):
    from ngshare.database import Course
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from ngshare.database import Base

    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    db = sessionmaker(bind=engine)()
    exchange.mirror_roster(db, COURSE, {"tess"}, {"ana", "ben", "tess"})
    exchange.mirror_roster(db, COURSE, {"tess", "ted"}, {"ana", "tess"})  # ben left, ted joined
    course = db.query(Course).filter(Course.id == COURSE).one()
    assert sorted(u.id for u in course.instructors) == ["ted", "tess"]
    assert sorted(u.id for u in course.students) == ["ana"]  # a trainer is never a student too
    db.close()


def test_services_are_named_apart_from_users():
    assert exchange.identity_name({"kind": "user", "name": "etp-ops-academy"}) == "etp-ops-academy"
    assert exchange.identity_name({"kind": "service", "name": "etp-ops-academy"}) == "service:etp-ops-academy"
