"""A tornado app served on a loopback port from a thread of its own, for the tests of hub services."""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.error
import urllib.request
from typing import Iterator

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets


@contextlib.contextmanager
def serving(make_app) -> Iterator[int]:
    """Serve ``make_app()`` (built inside the server's own event loop) and yield its port."""
    sockets = bind_sockets(0, "127.0.0.1")
    loop, started = asyncio.new_event_loop(), threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        HTTPServer(make_app()).add_sockets(sockets)
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield sockets[0].getsockname()[1]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def call(url: str, token: str | None = None, body=None, method: str | None = None) -> tuple[int, dict]:
    """(status, JSON body) of one request to a served app."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"),
                                     headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
