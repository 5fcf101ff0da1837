"""The notification inbox, seen from a notebook: list its messages, wait for one, save a block that sends there."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .. import settings
from ..client import ServiceClient
from ..contract import MESSAGES
from ..errors import ServiceError
from ..waiting import wait_for


@dataclass(frozen=True)
class Message:
    """One notification, as the inbox received it."""

    id: int
    received_at: datetime
    path: str  # the channel it was sent to, e.g. /alerts
    subject: str
    content: str  # the message without its subject
    body: str  # the raw body, as text
    data: Any  # the body parsed: a dict for JSON objects and forms
    content_type: str = ""
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        """Everything the message says, for matching and display."""
        return f"{self.subject}\n{self.content}" if self.subject else self.content

    @classmethod
    def from_json(cls, record: dict) -> Message:
        return cls(
            id=record["id"],
            received_at=datetime.fromtimestamp(record["received_at"], tz=UTC),
            path=record["path"],
            subject=record.get("subject", ""),
            content=record.get("text", record["body"]),
            body=record["body"],
            data=record["data"],
            content_type=record.get("content_type", ""),
            method=record.get("method", "POST"),
            headers=record.get("headers", {}),
        )


class Inbox(ServiceClient):
    """The course inbox: `messages()`, `wait_for(...)`, and `page_url` to keep open in a browser tab."""

    title = "inbox"

    def __init__(self, base_url: str | None = None):
        current = settings.current()
        super().__init__(base_url or current.inbox_url, auth=current.room_auth)

    @property
    def page_url(self) -> str:
        """The inbox page: messages arrive there live. The course's own as the browser reaches it (through a room's
        hub or the JupyterLab's proxy, where one is in between)."""
        current = settings.current()
        return current.inbox_page_url if self.base_url == current.inbox_url else f"{self.base_url}/"

    def url(self, channel: str = "workshop") -> str:
        """Where a notification block should send: one path per channel keeps sources apart."""
        return f"{self.base_url}/{channel.strip('/')}"

    async def asave_block(self, name: str | None = None, channel: str = "alerts"):
        """Save the Prefect notification block of notebook 02 (delivering here) and return its id."""
        from prefect.blocks.notifications import CustomWebhookNotificationBlock

        block = CustomWebhookNotificationBlock(
            name="course inbox", url=self.url(channel), json_data={"subject": "{{subject}}", "body": "{{body}}"}
        )
        return await block.asave(name or f"{settings.current().prefix}inbox", overwrite=True)

    def messages(self, after: int = 0, channel: str | None = None, *, repeats: bool = True) -> list[Message]:
        """The messages with an id above `after` (all by default), oldest first; one channel's if given (`"alerts"`:
        the channel `url("alerts")` sends to, in a room the learner's own).

        `repeats=False` keeps only the first of messages with the same channel, subject and text: a busy shared
        Prefect server can send one alert twice.
        """
        params: dict = {"after": after}
        if channel:  # a channel of this inbox: in a room, of the learner's part of it (/ann/alerts for "alerts")
            params["channel"] = f"{urlsplit(self.base_url).path.rstrip('/')}/{channel.strip('/')}"
        records = self._call("GET", MESSAGES, params=params)
        if not isinstance(records, list):
            raise ServiceError(f"The inbox at {self.base_url} answered something that is not a message list.")
        found = [Message.from_json(record) for record in records]
        if repeats:
            return found
        kept, seen = [], set()
        for message in found:
            if (key := (message.path, message.subject, message.content)) not in seen:
                seen.add(key)
                kept.append(message)
        return kept

    def last_id(self) -> int:
        """Mark the inbox now: pass it as `after=` to see only what arrives later."""
        messages = self.messages()
        return messages[-1].id if messages else 0

    def clear(self) -> int:
        """Delete every message; returns how many went."""
        return self._call("DELETE", MESSAGES)["deleted"]

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
            what=f"{description} in the inbox",
            hint=f"Is the automation enabled, and does its block send to {self.base_url}? The inbox page: {self.page_url}",
        )
        return message, time.monotonic() - started
