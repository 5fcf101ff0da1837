"""The notification inbox: where the course's Prefect notifications land.

A Prefect webhook notification block (`CustomWebhookNotificationBlock`)
POSTs to `http://127.0.0.1:4281/<any path>`, with a JSON or a form body. The
inbox keeps every message in SQLite under the course folder, so a kernel
restart, another notebook or a restart of the inbox itself sees the same
messages. `Inbox()` lists them and waits for one that matches.

Run it with `python -m workshop serve inbox --port 4281`; the course starts it for you.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl

import requests

from . import config
from .errors import WorkshopError
from .http_service import JSONHandler, local_session, make_server, serve_until_stopped
from .waiting import wait_for

SERVICE_ID = "workshop-inbox"
CONTROL = "/_workshop/"


class MessageStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL,"
            " path TEXT NOT NULL, content_type TEXT NOT NULL, body TEXT NOT NULL, data TEXT)"
        )

    def add(self, path: str, content_type: str, body: str, data: Any) -> dict:
        received = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO messages (received_at, path, content_type, body, data) VALUES (?, ?, ?, ?, ?)",
                (received, path, content_type, body, json.dumps(data, ensure_ascii=False)),
            )
        return {"id": cursor.lastrowid, "received_at": received}

    def list(self, after: int = 0) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, received_at, path, content_type, body, data FROM messages WHERE id > ? ORDER BY id", (after,)
            ).fetchall()
        keys = ("id", "received_at", "path", "content_type", "body", "data")
        return [{**dict(zip(keys, row)), "data": json.loads(row[5])} for row in rows]

    def clear(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM messages").rowcount


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


class InboxHandler(JSONHandler):
    server_version = "workshop-inbox/1"
    store: MessageStore  # set on the subclass made by `make_inbox_server`

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        if self.route.startswith(CONTROL):
            return self.send_json(405, {"error": "POST notifications to any path outside /_workshop/"})
        content_type = self.headers.get("Content-Type", "")
        raw = self.read_body()
        stored = self.store.add(self.route, content_type, raw.decode("utf-8", errors="replace"), parse_body(content_type, raw))
        self.send_json(200, {"ok": True, **stored})

    do_PUT = do_POST  # a webhook block can be set to PUT or PATCH; keep those too
    do_PATCH = do_POST

    def do_GET(self) -> None:  # noqa: N802
        if self.route == CONTROL + "health":
            return self.send_json(200, {"service": SERVICE_ID})
        if self.route == CONTROL + "messages":
            try:
                after = int(self.query.get("after", 0))
            except ValueError:
                return self.send_json(400, {"error": "after must be a message id (a whole number)"})
            return self.send_json(200, self.store.list(after))
        self.send_json(404, {"error": f"GET {CONTROL}messages lists the messages; POST anywhere else to send one"})

    def do_DELETE(self) -> None:  # noqa: N802
        if self.route != CONTROL + "messages":
            return self.send_json(404, {"error": f"DELETE {CONTROL}messages empties the inbox"})
        self.send_json(200, {"deleted": self.store.clear()})


def make_inbox_server(port: int, database: Path):
    handler = type("BoundInboxHandler", (InboxHandler,), {"store": MessageStore(database)})
    return make_server(handler, port)


@dataclass(frozen=True)
class Message:
    id: int
    received_at: datetime
    path: str
    content_type: str
    body: str  # the raw body, as text
    data: Any  # the body parsed: a dict for JSON objects and forms

    @property
    def subject(self) -> str:
        return str(self.data.get("subject", "")) if isinstance(self.data, dict) else ""

    @property
    def text(self) -> str:
        """Everything the message says, for matching and display."""
        if isinstance(self.data, dict):
            return "\n".join(str(value) for value in self.data.values())
        return self.body

    @classmethod
    def from_json(cls, record: dict) -> "Message":
        return cls(
            id=record["id"],
            received_at=datetime.fromtimestamp(record["received_at"], tz=timezone.utc),
            path=record["path"],
            content_type=record["content_type"],
            body=record["body"],
            data=record["data"],
        )


class Inbox:
    """The course inbox, seen from a notebook."""

    def __init__(self, base_url: str | None = None):
        self.base_url = (base_url or config.settings().inbox_url).rstrip("/")

    def url(self, channel: str = "workshop") -> str:
        """Where a notification block should send: one path per channel keeps sources apart."""
        return f"{self.base_url}/{channel}"

    async def asave_block(self, name: str = "workshop-inbox", channel: str = "alerts"):
        """Save a Prefect notification block that delivers here, as notebook 02 builds it; return its id."""
        from prefect.blocks.notifications import CustomWebhookNotificationBlock

        block = CustomWebhookNotificationBlock(
            name="course inbox", url=self.url(channel), json_data={"subject": "{{subject}}", "body": "{{body}}"}
        )
        return await block.asave(name, overwrite=True)

    def messages(self, after: int = 0) -> list[Message]:
        records = self._call("GET", "/_workshop/messages", params={"after": after})
        if not isinstance(records, list):
            raise WorkshopError(f"The inbox at {self.base_url} answered something that is not a message list.")
        return [Message.from_json(record) for record in records]

    def last_id(self) -> int:
        """Mark the inbox now: pass it as `after=` to see only what arrives later."""
        messages = self.messages()
        return messages[-1].id if messages else 0

    def clear(self) -> int:
        return self._call("DELETE", "/_workshop/messages")["deleted"]

    def wait_for(
        self,
        match: str | Callable[[Message], bool] = "",
        *,
        after: int = 0,
        timeout: float = 30.0,
    ) -> tuple[Message, float]:
        """Wait until a message matches and return it with the seconds waited.

        `match` is text the message must contain, or a function of a Message.
        Only messages with an id above `after` count (see `last_id`).
        """
        matches = match if callable(match) else (lambda message: match in message.text)
        started = time.monotonic()

        def found() -> Message | None:
            return next((m for m in self.messages(after) if matches(m)), None)

        description = f"a notification containing {match!r}" if isinstance(match, str) else "a matching notification"
        message = wait_for(
            found,
            timeout=timeout,
            what=f"{description} in the inbox at {self.base_url}",
            hint="Check that the automation is enabled and its block points at this inbox.",
        )
        return message, time.monotonic() - started

    def _call(self, method: str, path: str, **kwargs):
        try:
            response = local_session().request(method, self.base_url + path, timeout=10, **kwargs)
            response.raise_for_status()
            return response.json()
        except requests.ConnectionError:
            raise WorkshopError(
                f"The inbox is not answering at {self.base_url}. Run `workshop.start()` in the notebook "
                "or `python -m workshop up` in a terminal."
            ) from None
        except (requests.HTTPError, ValueError) as exc:
            raise WorkshopError(f"The inbox at {self.base_url} gave a bad answer to {method} {path}: {exc}") from None


def main(argv: list[str] | None = None) -> None:
    settings = config.settings()
    parser = argparse.ArgumentParser(prog="python -m workshop serve inbox", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=settings.inbox_port)
    parser.add_argument("--database", type=Path, default=settings.inbox_db)
    args = parser.parse_args(argv)
    server = make_inbox_server(args.port, args.database)
    serve_until_stopped(server, f"notification inbox on http://{config.HOST}:{args.port}/ ({args.database})")

