"""The notification inbox: where the course's Prefect notifications land, and a page to watch them.

Prefect's notification blocks POST to `http://127.0.0.1:4281/<any path>`: the
path is the message's *channel*. JSON and form bodies are kept as sent, with
their request headers, in SQLite under the course folder, so a kernel restart,
another notebook or a restart of the inbox sees the same messages.

| request | what it does |
| --- | --- |
| `POST`/`PUT`/`PATCH /<channel>` | keep a message (at most 1 MB; larger bodies get 413) |
| `GET /` | the inbox page: messages live, newest first, filters, details |
| `GET /_workshop/messages?after=ID&channel=/c` | the messages as JSON, oldest first |
| `GET /_workshop/messages/ID` | one message |
| `DELETE /_workshop/messages[?channel=/c]` | empty the inbox (or one channel) |
| `GET /_workshop/events?after=ID` | the same messages as server-sent events, live |
| `GET /_workshop/health` | `{"service": "workshop-inbox"}` |
| `GET /_workshop/board`, `/_workshop/board.json` | a room's progress board (`servers.board`), for its instructor |

In a room, a learner's channels are under `/<learner>/`, and the same requests
under that path (`GET /ann/`, `GET /ann/_workshop/messages`, ...) see and clear
only that learner's messages. Posting stays open (webhooks carry no password);
reading and deleting take the room's password. A room's JupyterHub routes its
`/inbox/` here, path and all: every request is also answered under `/inbox`.

Chat-style bodies (`{"text": "subject\\nbody"}`, as Prefect's Mattermost block
sends to `/hooks/<token>`) and the course's own `{"subject", "body"}` both get
a subject and a text, so the page and `Inbox()` show them alike.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..settings import HOST
from . import INBOX_ID
from .board import Board
from .httpd import BodyTooLarge, JSONHandler, make_server, serve_until_stopped

CONTROL = "/_workshop/"
HUB_MOUNT = "/inbox"  # where a room's hub shows the inbox (its proxy keeps the path)
HIDDEN_HEADERS = {"authorization", "cookie", "proxy-authorization"}
STREAM_KEEPALIVE = 15.0  # seconds between comments that keep an idle stream open
STREAM_LIFETIME = 3600.0  # a browser reconnects by itself, resuming after the last id


def summarise(data: Any, body: str) -> tuple[str, str]:
    """The subject and text of a message, whichever format it arrived in."""
    if isinstance(data, dict):
        if "subject" in data or "body" in data:
            return str(data.get("subject") or ""), str(data.get("body") or "")
        for key in ("text", "message", "content"):  # chat webhooks: the first line is the title
            if isinstance(data.get(key), str):
                first, _, rest = data[key].replace("\r\n", "\n").partition("\n")
                return first.strip().strip("*"), rest
        return str(data.get("title") or ""), json.dumps(data, ensure_ascii=False, indent=1)
    return "", body


def parse_body(content_type: str, raw: bytes) -> Any:
    """JSON bodies become objects, form bodies dicts; anything else stays text."""
    text = raw.decode("utf-8", errors="replace")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


class MessageStore:
    """Messages in SQLite; `wait_after` lets a stream sleep until something changes."""

    COLUMNS = ("id", "received_at", "method", "path", "content_type", "body", "data", "headers")

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._changed = threading.Condition()
        self.generation = 0  # goes up on every clear, so a stream knows to start over
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL,"
            " path TEXT NOT NULL, content_type TEXT NOT NULL, body TEXT NOT NULL, data TEXT)"
        )
        have = {row[1] for row in self._db.execute("PRAGMA table_info(messages)")}
        for column, kind in (("method", "TEXT NOT NULL DEFAULT 'POST'"), ("headers", "TEXT NOT NULL DEFAULT '{}'")):
            if column not in have:  # an inbox file from an earlier version of the course
                self._db.execute(f"ALTER TABLE messages ADD COLUMN {column} {kind}")

    def add(self, method: str, path: str, content_type: str, body: str, data: Any, headers: dict[str, str]) -> dict:
        received = time.time()
        with self._changed:
            cursor = self._db.execute(
                "INSERT INTO messages (received_at, method, path, content_type, body, data, headers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (received, method, path, content_type, body, json.dumps(data, ensure_ascii=False), json.dumps(headers)),
            )
            self._changed.notify_all()
        return {"id": cursor.lastrowid, "received_at": received}

    def list(self, after: int = 0, channel: str | None = None, message_id: int | None = None) -> list[dict]:
        query, args = f"SELECT {', '.join(self.COLUMNS)} FROM messages WHERE id > ?", [after]
        if channel:
            query += " AND (path = ? OR path LIKE ?)"
            args += [channel, channel.rstrip("/") + "/%"]
        if message_id is not None:
            query += " AND id = ?"
            args.append(message_id)
        with self._changed:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [self._record(row) for row in rows]

    def _record(self, row: tuple) -> dict:
        record = dict(zip(self.COLUMNS, row, strict=True))
        record["data"], record["headers"] = json.loads(record["data"]), json.loads(record["headers"])
        record["subject"], record["text"] = summarise(record["data"], record["body"])
        return record

    def clear(self, channel: str | None = None) -> int:
        with self._changed:
            if channel:
                deleted = self._db.execute(
                    "DELETE FROM messages WHERE path = ? OR path LIKE ?", (channel, channel.rstrip("/") + "/%")
                ).rowcount
            else:
                deleted = self._db.execute("DELETE FROM messages").rowcount
            self.generation += 1
            self._changed.notify_all()
        return deleted

    def wait_after(self, after: int, generation: int, timeout: float) -> None:
        """Sleep until a message newer than `after` arrives, the inbox is cleared, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.generation != generation
                or self._db.execute("SELECT 1 FROM messages WHERE id > ? LIMIT 1", (after,)).fetchone(),
                timeout=timeout,
            )


def page(name: str = "inbox_page.html") -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


class InboxHandler(JSONHandler):
    server_version = "workshop-inbox/2"
    store: MessageStore  # set on the subclass made by `make_inbox_server`
    board: Board | None = None  # a room's; a laptop has none

    @property
    def mount(self) -> str:
        """`/inbox` for a request through a room's hub, else ''."""
        path = super().route
        return HUB_MOUNT if path == HUB_MOUNT or path.startswith(HUB_MOUNT + "/") else ""

    @property
    def route(self) -> str:
        return super().route.removeprefix(self.mount) or "/"

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.route.startswith(CONTROL) or self.route == "/":
            return self.send_json(405, {"error": "Send notifications to a channel path, such as /alerts."})
        try:
            raw = self.read_body()
        except BodyTooLarge:
            return
        content_type = self.headers.get("Content-Type", "")
        headers = {name: "(hidden)" if name.lower() in HIDDEN_HEADERS else value for name, value in self.headers.items()}
        stored = self.store.add(self.command, self.route, content_type, raw.decode("utf-8", errors="replace"),
                                parse_body(content_type, raw), headers)
        self.send_json(200, {"ok": True, **stored})

    do_PUT = do_POST  # noqa: N815 - a webhook block can be set to PUT or PATCH; keep those too
    do_PATCH = do_POST  # noqa: N815

    def do_GET(self) -> None:  # noqa: N802
        learner, route = self.learner_route()
        if route == CONTROL + "health":
            return self.send_json(200, {"service": INBOX_ID})
        if not self.authorized():
            return
        if route in ("/", "/index.html"):
            return self.send_body(200, page(), "text/html; charset=utf-8", {"Cache-Control": "no-store"})
        if route == CONTROL + "events":
            return self._stream()
        if route in (CONTROL + "board", CONTROL + "board.json") and not learner:
            return self._board(route)
        if route == CONTROL + "messages" or route.startswith(CONTROL + "messages/"):
            return self._messages(route)
        if not route.startswith(CONTROL):
            # A channel's address opened in a browser: show the page (the learner's), filtered to that channel.
            home = f"{self.mount}/{learner}/" if learner else f"{self.mount}/"
            return self.send_body(303, b"", "text/plain", {"Location": f"{home}?channel={self.route}"})
        self.send_json(404, {"error": f"No {route}: the inbox page is at /, its messages at {CONTROL}messages."})

    def _board(self, route: str) -> None:
        if self.board is None:
            return self.send_json(404, {"error": "The progress board is a room's: `python -m workshop classroom up` "
                                                 "serves it, with the room's inbox."})
        if route.endswith(".json"):
            return self.send_json(200, self.board.snapshot())
        self.send_body(200, page("board_page.html"), "text/html; charset=utf-8", {"Cache-Control": "no-store"})

    def _channel(self) -> str | None:
        """The channel the request asks about: within the learner's own part of the inbox, in a room."""
        learner, _ = self.learner_route()
        asked = self.query.get("channel")
        if not learner:
            return asked
        own = f"/{learner}"
        return asked if asked and (asked == own or asked.startswith(own + "/")) else own

    def _messages(self, route: str) -> None:
        try:
            after = int(self.query.get("after") or 0)
            one = int(route.rsplit("/", 1)[1]) if route.startswith(CONTROL + "messages/") else None
        except ValueError:
            return self.send_json(400, {"error": "after and message ids are whole numbers"})
        found = self.store.list(after, self._channel(), one)
        if one is None:
            return self.send_json(200, found)
        if found:
            return self.send_json(200, found[0])
        self.send_json(404, {"error": f"No message {one} (the inbox may have been emptied)."})

    def _stream(self) -> None:
        try:
            after = int(self.headers.get("Last-Event-ID") or self.query.get("after") or 0)
        except ValueError:
            return self.send_json(400, {"error": "after is a message id (a whole number)"})
        channel = self._channel()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")  # the stream ends with its connection
        self.end_headers()
        ends = time.monotonic() + STREAM_LIFETIME
        generation = self.store.generation
        try:
            while time.monotonic() < ends:
                if generation != self.store.generation:
                    generation, after = self.store.generation, 0
                    self.wfile.write(b"event: cleared\ndata: {}\n\n")
                for record in self.store.list(after, channel):
                    after = record["id"]
                    self.wfile.write(f"id: {after}\nevent: message\ndata: {json.dumps(record, ensure_ascii=False)}\n\n".encode())
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
                self.store.wait_after(after, generation, STREAM_KEEPALIVE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed

    def do_DELETE(self) -> None:  # noqa: N802
        if not self.authorized():
            return
        if self.learner_route()[1] != CONTROL + "messages":
            return self.send_json(404, {"error": f"DELETE {CONTROL}messages empties the inbox"})
        self.send_json(200, {"deleted": self.store.clear(self._channel())})


def make_inbox_server(port: int, database: Path, host: str = HOST, password: str | None = None,
                      board: Board | None = None):
    handler = type("BoundInboxHandler", (InboxHandler,), {"store": MessageStore(database), "board": board})
    return make_server(handler, host, port, password)


def serve(port: int, database: Path, host: str = HOST, password: str | None = None, board: Board | None = None) -> None:
    server = make_inbox_server(port, database, host, password, board)
    serve_until_stopped(server, f"notification inbox on http://{host}:{port}/ ({database})")
