"""The notification inbox: where the course's Prefect notifications land, and a page to watch them.

Prefect's notification blocks POST to `http://127.0.0.1:4281/<any path>`: the
path is the message's *channel*. JSON and form bodies are kept as sent, with
their request headers, in SQLite under the course folder (`servers.messages`),
so a kernel restart, another notebook or a restart of the inbox sees the same
messages. A message is acknowledged (200) once it is on disk.

| request | what it does |
| --- | --- |
| `POST`/`PUT`/`PATCH /<channel>` | keep a message (at most 1 MB; larger bodies get 413) |
| `GET /` | the inbox page: messages live, newest first, filters, details |
| `GET /_workshop/messages?after=ID&channel=/c` | the messages as JSON, oldest first |
| `GET /_workshop/messages/ID` | one message |
| `DELETE /_workshop/messages[?channel=/c]` | empty the inbox (or one channel) |
| `GET /_workshop/events?after=ID` | the same messages as server-sent events, live |
| `GET /_workshop/health` | `{"service": "workshop-inbox"}` |
| `GET /_workshop/board`, `/_workshop/board.json`, `/_workshop/board.csv` | a room's progress board (`servers.board`), for its instructor; the CSV is its timings |

In a room, a learner's channels are under `/<learner>/`, and the same requests
under that path (`GET /ann/`, `GET /ann/_workshop/messages`, ...) see and clear
only that learner's messages. Posting stays open (webhooks carry no password),
but not to pages of another origin (`http.Guard`); reading and deleting take
the room's password. A room's JupyterHub routes its `/inbox/` here, path and
all: every request is also answered under `/inbox`.

Chat-style bodies (`{"text": "subject\\nbody"}`, as Prefect's Mattermost block
sends to `/hooks/<token>`) and the course's own `{"subject", "body"}` both get
a subject and a text, so the page and `Inbox()` show them alike.

Run it with `python -m workshop.servers.inbox --port 4281`; the course starts it for you.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ..contract import BOARD, CONTROL, EVENTS, HEALTH, HUB_INBOX, INBOX_ID, MESSAGES
from ..settings import Settings, load
from .board import Board, timings_csv
from .http import LIMITS, Guard, Limits, Refusal, Service, answer, dumps, learner_route, read_body, require_password, whole_number
from .http import serve as serve_app
from .messages import MessageStore, parse_body

HIDDEN_HEADERS = {"authorization", "cookie", "proxy-authorization"}
STREAM_KEEPALIVE = 15.0  # seconds between comments that keep an idle stream open
STREAM_LIFETIME = 3600.0  # a browser reconnects by itself, resuming after the last id


def page(name: str = "inbox_page.html") -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


class Changes:
    """Wakes the live streams when a message arrives or the inbox is emptied."""

    def __init__(self) -> None:
        self.version = 0
        self._changed: asyncio.Condition | None = None  # made in the server's event loop, on first use

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    async def changed(self) -> None:
        async with self._condition():
            self.version += 1
            self._condition().notify_all()

    async def wait(self, seen: int, timeout: float) -> None:
        """Until a change after version `seen`, or `timeout` seconds."""
        async with self._condition():
            try:
                await asyncio.wait_for(self._condition().wait_for(lambda: self.version != seen), timeout)
            except TimeoutError:
                pass


class Inbox(Service):
    def __init__(self, store: MessageStore, *, password: str | None = None, board: Board | None = None,
                 limits: Limits = LIMITS, proxied: str | None = None):
        super().__init__(password=password, limits=limits)
        self.store, self.board, self.changes = store, board, Changes()
        # Where a proxy in front passes requests on with its own path in front: a room's hub, a learner's JupyterLab.
        self.mounts = (HUB_INBOX, *([proxied] if proxied else []))

    def where(self, request: Request) -> tuple[str, str, str, str]:
        """The mount a proxy passed the request on under (`/inbox` through a room's hub, a JupyterLab's proxy path,
        else ''), the path under it (a message's channel), the learner whose part of the inbox that is ('' for
        none), and the route inside their part."""
        path = request.url.path
        mount = next((mount for mount in self.mounts if path == mount or path.startswith(mount + "/")), "")
        inside = path.removeprefix(mount) or "/"
        return (mount, inside, *learner_route(inside))

    async def post(self, request: Request) -> Response:
        _, channel, _, route = self.where(request)
        if route.startswith(CONTROL) or channel == "/":
            raise Refusal(405, "Send notifications to a channel path, such as /alerts.")
        text = (await read_body(request, self.limits)).decode("utf-8", errors="replace")
        content_type = request.headers.get("Content-Type", "")
        headers = {name: "(hidden)" if name.lower() in HIDDEN_HEADERS else value for name, value in request.headers.items()}
        stored = await run_in_threadpool(self.store.add, request.method, channel, content_type, text,
                                         parse_body(content_type, text, self.limits), headers)
        await self.changes.changed()
        return answer(200, {"ok": True, **stored})

    put = patch = post  # a webhook block can be set to PUT or PATCH; keep those too

    async def get(self, request: Request) -> Response:
        mount, inside, learner, route = self.where(request)
        if route == HEALTH:
            return answer(200, {"service": INBOX_ID})
        require_password(request, self.password)
        if route in ("/", "/index.html"):
            return Response(page(), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})
        if route == EVENTS:
            return self._stream(request)
        if route in (BOARD, BOARD + ".json", BOARD + ".csv") and not learner:
            return await self._board(route)
        if route == MESSAGES or route.startswith(MESSAGES + "/"):
            return await self._messages(request, route)
        if not route.startswith(CONTROL):
            # A channel's address opened in a browser: show the page (the learner's), filtered to that channel.
            home = f"{mount}/{learner}/" if learner else f"{mount}/"
            return Response(status_code=303, headers={"Location": f"{home}?channel={inside}"})
        raise Refusal(404, f"No {route}: the inbox page is at /, its messages at {MESSAGES}.")

    async def delete(self, request: Request) -> Response:
        require_password(request, self.password)
        if self.where(request)[3] != MESSAGES:
            raise Refusal(404, f"DELETE {MESSAGES} empties the inbox")
        deleted = await run_in_threadpool(self.store.clear, self._channel(request))
        await self.changes.changed()
        return answer(200, {"deleted": deleted})

    async def _board(self, route: str) -> Response:
        if self.board is None:
            raise Refusal(404, "The progress board is a room's: `python -m workshop classroom up` serves it, "
                               "with the room's inbox.")
        if route.endswith(".json"):
            return answer(200, await run_in_threadpool(self.board.snapshot))
        if route.endswith(".csv"):  # the room's timings, for a spreadsheet (`classroom report` writes the same)
            board = await run_in_threadpool(self.board.snapshot)
            return Response(timings_csv(board["timings"]), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="room-report.csv"', "Cache-Control": "no-store"})
        return Response(page("board_page.html"), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    def _channel(self, request: Request) -> str | None:
        """The channel the request asks about: within the learner's own part of the inbox, in a room."""
        learner = self.where(request)[2]
        asked = request.query_params.get("channel")
        if not learner:
            return asked
        own = f"/{learner}"
        return asked if asked and (asked == own or asked.startswith(own + "/")) else own

    async def _messages(self, request: Request, route: str) -> Response:
        after = whole_number(request.query_params.get("after"), "after")
        one = None
        if route.startswith(MESSAGES + "/"):
            one = whole_number(route.rsplit("/", 1)[1], "A message id", low=1)
        found = await run_in_threadpool(self.store.list, after, self._channel(request), one)
        if one is None:
            return answer(200, found)
        if found:
            return answer(200, found[0])
        raise Refusal(404, f"No message {one} (the inbox may have been emptied).")

    def _stream(self, request: Request) -> Response:
        after = whole_number(request.headers.get("Last-Event-ID") or request.query_params.get("after"), "after")
        channel = self._channel(request)

        async def events() -> AsyncIterator[bytes]:
            nonlocal after
            ends = asyncio.get_running_loop().time() + STREAM_LIFETIME
            generation = self.store.generation
            while asyncio.get_running_loop().time() < ends:
                seen = self.changes.version
                if generation != self.store.generation:
                    generation, after = self.store.generation, 0
                    yield b"event: cleared\ndata: {}\n\n"
                for record in await run_in_threadpool(self.store.list, after, channel):
                    after = record["id"]
                    yield b"id: %d\nevent: message\ndata: %s\n\n" % (after, dumps(record))
                yield b": still here\n\n"
                await self.changes.wait(seen, STREAM_KEEPALIVE)

        return StreamingResponse(events(), media_type="text/event-stream; charset=utf-8",
                                 headers={"Cache-Control": "no-store"})


def make_app(settings: Settings, database: Path, *, board: Board | None = None, limits: Limits = LIMITS):
    """The inbox as an ASGI app, guarded for the host names and origins `settings` serve on its port."""
    password = settings.room_password.get_secret_value() if settings.hosts_room else None
    inbox = Inbox(MessageStore(database), password=password, board=board, limits=limits,
                  proxied=settings.proxied_path(settings.inbox_port))
    return Guard(inbox, hosts=settings.served_hosts, origins=settings.served_origins(settings.inbox_port),
                 proxied=settings.proxied_without_host(settings.inbox_port))


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(prog="python -m workshop.servers.inbox", description=__doc__.split("\n")[0])
    options.add_argument("--port", type=int, help="default: WORKSHOP_INBOX_PORT, 4281")
    options.add_argument("--host", help="the address to listen on (default: WORKSHOP_HOST, 127.0.0.1)")
    options.add_argument("--database", type=Path, help="the SQLite file to keep messages in (default: in WORKSHOP_HOME)")
    args = options.parse_args(argv)
    settings = load()
    host = args.host or settings.host
    if args.port:
        settings = settings.model_copy(update={"inbox_port": args.port})
    database = args.database or settings.inbox_db
    board = None
    if settings.hosts_room:  # a room's inbox also serves its progress board, read from the room's Prefect server
        from ..settings import COURSE_ROOT

        board = Board(settings.course_prefect_api_url, settings.room_auth, COURSE_ROOT / "notebooks" if COURSE_ROOT else None)
    serve_app(make_app(settings, database, board=board), host, settings.inbox_port,
              f"notification inbox on http://{host}:{settings.inbox_port}/ ({database})")


if __name__ == "__main__":
    main()
