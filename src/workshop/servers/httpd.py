"""HTTP plumbing shared by the mock API and the inbox: a threaded server on
loopback with JSON helpers, body limits, a clean stop on SIGTERM, and what a
room adds: each learner's part of a server under `/<learner>/`, and the room's
password (HTTP basic auth) for what only the room may see or change.

The standard library's server is enough for a few dozen learners on loopback
and adds no dependency to the services' start-up.
"""

from __future__ import annotations

import base64
import hmac
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..settings import LEARNER_NAME, RESERVED_NAMES, ROOM_USER

MAX_BODY = 1_000_000  # bytes; a notification is a few hundred


class BodyTooLarge(ValueError):
    pass


# An answer sent before the request's body was read ends its connection (the unread body must not be taken for the
# next request), and says so: a client that keeps connections open, as the hub's proxy does, would otherwise send
# the next request down a closed one ("socket hang up", a 503 for the learner). The header also makes http.server close.
CLOSE = {"Connection": "close"}


class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    extra_headers: dict[str, str] = {}  # sent with every answer

    @property
    def route(self) -> str:
        return urlsplit(self.path).path

    password: str | None = None  # the room's; None on a laptop, where everything is open to this machine only

    def learner_route(self) -> tuple[str, str]:
        """The learner whose part of the server the route is in ('' for none), and the route inside it.

        `/ann/api/` is learner ann's `/api/`. A first segment that is not a learner's name, or a route with
        nothing after it, is the server's own.
        """
        route = self.route
        first, slash, rest = route.lstrip("/").partition("/")
        if slash and LEARNER_NAME.fullmatch(first) and first not in RESERVED_NAMES:
            return first, "/" + rest
        return "", route

    def authorized(self) -> bool:
        """True if this request may go on; else the 401 that makes a browser ask for the room's password is sent."""
        if self.password is None:
            return True
        kind, _, encoded = self.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(encoded, validate=True).decode() if kind.lower() == "basic" else ""
        except ValueError:
            given = ""
        if hmac.compare_digest(given.encode(), f"{ROOM_USER}:{self.password}".encode()):
            return True
        self.send_json(401, {"error": f"This is a room's server: sign in as {ROOM_USER} with the room's password."},
                       {"WWW-Authenticate": 'Basic realm="workshop room", charset="UTF-8"', **CLOSE})
        return False

    @property
    def query(self) -> dict[str, str]:
        # randomuser.me reads the last value of a repeated parameter; so do we.
        return {key: values[-1] for key, values in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}

    def read_body(self) -> bytes:
        """The request body; BodyTooLarge (after answering 413) when it is over MAX_BODY."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_json(413, {"error": f"The body is {length} bytes; at most {MAX_BODY} are accepted."}, CLOSE)
            raise BodyTooLarge(length)
        return self.rfile.read(length) if length else b""

    def read_json(self) -> Any:
        body = self.read_body()
        return json.loads(body) if body else {}

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_body(status, body, "application/json; charset=utf-8", headers)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def make_server(handler: type[JSONHandler], host: str, port: int, password: str | None = None) -> ThreadingHTTPServer:
    bound = type(handler.__name__, (handler,), {"password": password}) if password else handler
    server = ThreadingHTTPServer((host, port), bound)
    server.daemon_threads = True
    return server


def serve_until_stopped(server: ThreadingHTTPServer, banner: str) -> None:
    """Serve in the foreground; SIGTERM (from `python -m workshop down`) stops cleanly."""
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(banner, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
