"""HTTP plumbing shared by the mock API and the inbox: uvicorn and Starlette, with the course's limits and guards.

uvicorn (installed with Prefect, which serves its own API with it) parses
HTTP: lengths and chunked bodies are checked there, a bad request gets a 400,
and its accept queue holds a burst of hundreds of connections (the standard
library's server held 5, and reset the rest: notifications were lost). What
the course adds, each in one place here:

- `Limits`: the body size, JSON nesting depth, deadlines and queue length;
- `Service`: an app whose subclasses answer `get`, `post`, ... with JSON, and
  `Refusal` for a clear 4xx from anywhere in a handler;
- `Guard`: answers only to the host names the course serves (against DNS
  rebinding) and refuses changes from a page of another origin (a browser
  says where a request comes from in `Origin`; webhooks and scripts send none);
- what a room adds: each learner's part of a server under `/<learner>/`, and
  the room's password (HTTP basic auth) for what only the room may see or change.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import math
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..settings import LEARNER_NAME, RESERVED_NAMES, ROOM_USER

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Limits:
    """What one request may be, and how long a connection may take to send it."""

    body_bytes: int = 1_000_000  # a notification is a few hundred
    json_depth: int = 64  # nesting of a JSON body kept as JSON; deeper is kept as text
    head_seconds: float = 10.0  # for a request's line and headers to arrive
    body_seconds: float = 30.0  # for its body to arrive
    keep_alive_seconds: int = 5  # an idle connection between requests
    head_bytes: int = 16 * 1024  # request line and headers
    backlog: int = 2048  # connections waiting to be accepted: a burst of notifications at once


LIMITS = Limits()


class Refusal(Exception):
    """Stop handling a request and answer `status` with `message` (as `{"error": message}`)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


# A refusal before the request's body was read ends its connection, and says so: a client that keeps connections
# open, as the hub's proxy does, must not send its next request down a connection the server is closing.
CLOSE = {"Connection": "close"}


def dumps(payload: Any) -> bytes:
    """JSON as the course's servers send it: UTF-8, and never NaN or Infinity, which browsers cannot parse."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")


def answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status, headers, media_type="application/json; charset=utf-8")


class NotJSON(ValueError):
    """A body that is not JSON the course can keep as JSON; the message says why."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotJSON(f"the number {text[:20]} is too large for JSON")
    return value


def _no_constants(name: str) -> None:
    raise NotJSON(f"{name} is not a JSON value")


def depth(value: Any) -> int:
    """How deeply `value`'s lists and objects nest (without recursion: a deep body must not exhaust the stack)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(text: str, limits: Limits = LIMITS) -> Any:
    """`text` as JSON, or NotJSON saying why not: not JSON, NaN or an infinite number, an integer of more than
    4,300 digits (Python's limit), or nested deeper than `limits.json_depth`."""
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constants)
    except RecursionError:
        raise NotJSON(f"it nests deeper than {limits.json_depth} levels") from None
    except NotJSON:
        raise
    except ValueError as invalid:  # JSONDecodeError, and int()'s digit limit
        raise NotJSON(str(invalid).split(";")[0]) from None
    if depth(value) > limits.json_depth:
        raise NotJSON(f"it nests deeper than {limits.json_depth} levels")
    return value


async def read_body(request: Request, limits: Limits = LIMITS) -> bytes:
    """The request's body, within `limits`; a Refusal (413, 408) otherwise. uvicorn has checked its framing."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > limits.body_bytes:
        raise Refusal(413, f"The body is {declared} bytes; at most {limits.body_bytes} are accepted.", CLOSE)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.body_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limits.body_bytes:
                    chunks.append(chunk)
                elif size > 4 * limits.body_bytes:
                    break  # read a while, so that a client still sending hears the 413 (not a reset), then stop
    except TimeoutError:
        raise Refusal(408, f"The body did not arrive within {limits.body_seconds:g} s.", CLOSE) from None
    if size > limits.body_bytes:
        raise Refusal(413, f"The body is over {limits.body_bytes} bytes; at most {limits.body_bytes} are accepted.", CLOSE)
    return b"".join(chunks)


def whole_number(raw: str | None, name: str, default: int = 0, low: int = 0, high: int = 2**63 - 1) -> int:
    """A query parameter that is a whole number from `low` to `high`, or a 400 that says so."""
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and low <= int(raw) <= high):
        raise Refusal(400, f"{name} must be a whole number from {low} to {high}, got {raw[:40]!r}")
    return int(raw)


def learner_route(route: str) -> tuple[str, str]:
    """The learner whose part of the server `route` is in ('' for none), and the route inside it.

    `/ann/api/` is learner ann's `/api/`. A first segment that is not a learner's name, or a route with
    nothing after it, is the server's own.
    """
    first, slash, rest = route.lstrip("/").partition("/")
    if slash and LEARNER_NAME.fullmatch(first) and first not in RESERVED_NAMES:
        return first, "/" + rest
    return "", route


def require_password(request: Request, password: str | None) -> None:
    """Go on if the request carries the room's password (or there is none: a laptop); else the 401 that makes a
    browser ask for it."""
    if password is None:
        return
    kind, _, encoded = request.headers.get("Authorization", "").partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode() if kind.lower() == "basic" else ""
    except ValueError:
        given = ""
    if not hmac.compare_digest(given.encode(), f"{ROOM_USER}:{password}".encode()):
        raise Refusal(401, f"This is a room's server: sign in as {ROOM_USER} with the room's password.",
                      {"WWW-Authenticate": 'Basic realm="workshop room", charset="UTF-8"', **CLOSE})


Handler = Callable[[Request], Awaitable[Response]]
METHODS = ("get", "post", "put", "patch", "delete")


class Service:
    """An ASGI app of the course: a subclass answers a method with an `async def get(self, request)` (`post`, ...).

    HEAD is answered as GET without the body, OPTIONS with the methods there are (and no CORS grant), any other
    method with 405; a `Refusal` raised anywhere becomes its JSON answer.
    """

    def __init__(self, *, password: str | None = None, limits: Limits = LIMITS):
        self.password, self.limits = password, limits
        self.methods = [name.upper() for name in METHODS if hasattr(self, name)]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return  # lifespan is off (uvicorn's config); the course's servers speak nothing else
        request = Request(scope, receive)
        method = "get" if request.method == "HEAD" else request.method.lower()
        try:
            if request.method == "OPTIONS":
                response = Response(status_code=204, headers={"Allow": ", ".join(["OPTIONS", "HEAD", *self.methods])})
            elif method in METHODS and hasattr(self, method):
                response = await getattr(self, method)(request)
            else:
                raise Refusal(405, f"{request.method} is not something this server does; it takes "
                                   f"{', '.join(self.methods)}.", {"Allow": ", ".join(self.methods)})
        except Refusal as refused:
            response = answer(refused.status, {"error": refused.message}, refused.headers)
        except ClientDisconnect:
            return  # the client went away mid-request: nothing was kept, nobody to answer
        await response(scope, receive, send)


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port: `127.0.0.1` of `127.0.0.1:4281`."""
    return (urlsplit(f"//{host_header}").hostname or "").lower()


class Guard:
    """ASGI middleware: answer only to `hosts` (a request's Host header), and take changes (any method but GET,
    HEAD, OPTIONS, and WebSockets) only from pages of `origins` or from clients that name no origin.

    `field` is the key of the error in the JSON answer (`detail` for Prefect's API, as FastAPI says it).

    `proxied`: the path under which a JupyterLab whose host the course does not know (Binder's, given as a path)
    passes requests on, with the browser's Host. There any host is answered, and changes are taken from pages of
    that host; a DNS-rebinding page cannot know the path, which holds the JupyterLab's own (Binder's: a random one).
    """

    def __init__(self, app, *, hosts: Iterable[str], origins: Iterable[str], field: str = "error",
                 proxied: str | None = None):
        self.app, self.hosts, self.origins, self.field = app, set(hosts), set(origins), field
        self.proxied = proxied

    def _through_proxy(self, path: str) -> bool:
        return self.proxied is not None and (path == self.proxied or path.startswith(self.proxied + "/"))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            refusal = None
            host = headers.get("host", "")
            proxied = self._through_proxy(scope["path"])
            if host_name(host) not in self.hosts and not proxied:
                refusal = (421, f"This server answers to {', '.join(sorted(self.hosts))}, not to "
                                f"{host[:80] if host else 'a request without a Host header'!r}.")
            elif (origin := headers.get("origin")) is not None and origin not in self.origins and (
                    not proxied or urlsplit(origin).netloc != host) and (
                    scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS):
                refusal = (403, f"A page of {origin[:80]} may not change anything here; the course's own pages "
                                "and programs that are not browsers may.")
            if refusal is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                status, message = refusal
                await answer(status, {self.field: message}, CLOSE)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 with a deadline for each request's line and headers, which uvicorn does not have
    (Kludex/uvicorn#157): without it, a client that sends a request's head slowly, or never, holds its connection."""

    head_seconds = LIMITS.head_seconds
    _head_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.head_seconds, self._head_late)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head has arrived (or the connection is done with)
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's head

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_late(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            text = f"The request's line and headers did not arrive within {self.head_seconds:g} s.".encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(text), text))
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's text says only "Invalid HTTP request received."; say what can be wrong.
        super().send_400_response("This is not a valid HTTP/1.1 request: its request line, a header "
                                  "(Content-Length, Transfer-Encoding) or its chunked body is malformed.")


def uvicorn_config(app, host: str, port: int, limits: Limits = LIMITS, **options):
    """uvicorn's configuration for one of the course's servers, with `limits` (`options` are uvicorn's own)."""
    import uvicorn

    # The default by name: several worker processes get the configuration pickled, which a made class is not.
    protocol = (_Protocol if limits.head_seconds == _Protocol.head_seconds else
                type("Protocol", (_Protocol,), {"head_seconds": limits.head_seconds}))
    chosen = {
        "ws": "none", "lifespan": "off",  # the mock and the inbox speak plain HTTP and start nothing
        "timeout_graceful_shutdown": 2,  # a live inbox page's stream must not hold a stop
        "proxy_headers": False, "server_header": False, **options,
    }
    return uvicorn.Config(app, host=host, port=port, http=protocol, backlog=limits.backlog,
                          timeout_keep_alive=limits.keep_alive_seconds, h11_max_incomplete_event_size=limits.head_bytes,
                          **chosen)


def serve(app, host: str, port: int, banner: str, limits: Limits = LIMITS, **options) -> None:
    """Serve `app` in the foreground until SIGTERM (`python -m workshop down`) or Ctrl-C. With uvicorn's `workers`
    above 1, `app` is the import path of a factory, which each worker process calls."""
    import uvicorn

    config = uvicorn_config(app, host, port, limits, **{"log_level": "info", **options})
    server = uvicorn.Server(config)
    # uvicorn stops on SIGTERM, then raises it again with the handler it found: let that one end the process as
    # a clean stop (exit 0), as `down` asks for one.
    signal.signal(signal.SIGTERM, lambda *_: None)
    print(banner, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        if config.workers > 1:  # as uvicorn.run does it: one socket, a supervisor that restarts a worker that dies
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            server.run()
