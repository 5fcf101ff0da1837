"""The inbox's messages: kept in SQLite, each listed whatever it holds.

A message is stored as it arrived (its body as text, its headers) with its
body parsed: a JSON body that the course can safely parse again becomes an
object, a form a dict; anything else (not JSON, NaN, a number too large,
nesting deeper than the limit) is kept as text. A row that cannot be read
back (written by an older course, or damaged) is listed with its body as
text, never hiding the others.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from .http import LIMITS, Limits, NotJSON, parse_json


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


def parse_body(content_type: str, text: str, limits: Limits = LIMITS) -> Any:
    """JSON bodies become objects, form bodies dicts; anything else, and JSON that cannot be kept as JSON, text."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return parse_json(text, limits)
        except NotJSON:
            return text
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


class MessageStore:
    """Messages in SQLite, for the threads of one server process (one connection, one lock)."""

    COLUMNS = ("id", "received_at", "method", "path", "content_type", "body", "data", "headers")

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
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
        """Keep a message; when this returns, it is on disk."""
        received = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO messages (received_at, method, path, content_type, body, data, headers)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (received, method, path, content_type, body, json.dumps(data, ensure_ascii=False, allow_nan=False),
                 json.dumps(headers, ensure_ascii=False)),
            )
        return {"id": cursor.lastrowid, "received_at": received}

    def list(self, after: int = 0, channel: str | None = None, message_id: int | None = None) -> list[dict]:
        query, args = f"SELECT {', '.join(self.COLUMNS)} FROM messages WHERE id > ?", [after]
        if channel:
            query += " AND (path = ? OR path LIKE ?)"
            args += [channel, channel.rstrip("/") + "/%"]
        if message_id is not None:
            query += " AND id = ?"
            args.append(message_id)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [self._record(row) for row in rows]

    def newest_id(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]

    @staticmethod
    def _record(row: tuple) -> dict:
        record = dict(zip(MessageStore.COLUMNS, row, strict=True))
        try:
            record["data"] = parse_json(record["data"]) if record["data"] is not None else None
        except NotJSON:
            record["data"] = record["body"]  # a row this version would not have written: show what arrived
        try:
            headers = parse_json(record["headers"])
            record["headers"] = headers if isinstance(headers, dict) else {}
        except NotJSON:
            record["headers"] = {}
        record["subject"], record["text"] = summarise(record["data"], record["body"])
        return record

    def clear(self, channel: str | None = None) -> int:
        with self._lock:
            if channel:
                deleted = self._db.execute(
                    "DELETE FROM messages WHERE path = ? OR path LIKE ?", (channel, channel.rstrip("/") + "/%")
                ).rowcount
            else:
                deleted = self._db.execute("DELETE FROM messages").rowcount
            self.generation += 1
        return deleted
