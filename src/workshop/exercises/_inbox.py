"""The inbox as the checks use it: their own channel, their notification block, the message about a run."""

from __future__ import annotations

from .. import settings
from ..notebook.inbox import Inbox, Message
from ._calls import in_thread, within

CHANNEL = "exercise"  # the exercise checks' messages land in the inbox's /exercise channel


def inbox() -> Inbox:
    return Inbox(settings.current().inbox_url)


def block_id():
    """The exercise checks' notification block: the course inbox, channel /exercise."""
    return in_thread(inbox().asave_block(f"{settings.current().prefix}exercise-inbox", channel=CHANNEL))


def message_about(run_id, *, after: int, timeout: float = 30, channel: str | None = CHANNEL) -> Message | None:
    """The message (of the exercise channel, or of `channel`; None: any) that names `run_id`, once it arrived; None
    if none came in `timeout` s."""
    box = inbox()
    return within(lambda: next((m for m in box.messages(after, channel=channel) if str(run_id) in m.text), None),
                  timeout=timeout)
