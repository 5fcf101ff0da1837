"""One of the course's apps served on a thread of the test's own process, on loopback, as its server would serve it.

`python -m workshop.servers.<name>` serves an app in a process of its own; a
test that wants to look inside (the store, the board) or to start many serves
it here instead, with the same uvicorn configuration and limits.
"""

from __future__ import annotations

import threading

from ..servers.http import LIMITS, Limits, uvicorn_config
from ..settings import HOST
from ..waiting import wait_for


class Served:
    """`with Served(app, port) as url:` the app answers at `url` until the block ends."""

    def __init__(self, app, port: int, limits: Limits = LIMITS):
        import uvicorn

        self.server = uvicorn.Server(uvicorn_config(app, HOST, port, limits, log_level="warning"))
        self.url = f"http://{HOST}:{port}"
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        wait_for(lambda: self.server.started or not self._thread.is_alive(), timeout=10, what=f"a server at {self.url}")
        if not self.server.started:
            raise RuntimeError(f"the server for {self.url} did not start (is the port taken?)")
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(10)
