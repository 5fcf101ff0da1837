"""A widget that shows the course inbox in a notebook, newest message first, with a link to the inbox page."""

from __future__ import annotations

import html

import ipywidgets as widgets

from .inbox import Inbox, Message


def _row(message: Message) -> str:
    when = message.received_at.astimezone().strftime("%H:%M:%S")
    subject = html.escape(message.subject or "(no subject)")
    content = html.escape(message.content)
    return (
        f"<tr><td style='white-space:nowrap;vertical-align:top;padding-right:8px'>{when}</td>"
        f"<td style='vertical-align:top'><b>{subject}</b><br><span style='white-space:pre-wrap'>{content}</span></td></tr>"
    )


class InboxView(widgets.VBox):
    """The inbox as a table; `refresh()` (or the button) shows what has arrived."""

    def __init__(self, inbox: Inbox | None = None, *, limit: int = 5, channel: str | None = None):
        self.inbox = inbox or Inbox()
        self.limit, self.channel = limit, channel
        self.table = widgets.HTML()
        button = widgets.Button(description="Refresh", icon="refresh")
        button.on_click(lambda _: self.refresh())
        page = html.escape(self.inbox.page_url)
        title = widgets.HTML(
            f"<b>Course inbox</b> · the newest {limit} · "
            f"<a href='{page}' target='_blank' rel='noopener'>open the inbox page</a> (it updates live)"
        )
        super().__init__([widgets.HBox([title, button]), self.table])
        self.refresh()

    def refresh(self) -> None:
        """Show what has arrived (nothing is returned, so a cell ending with it echoes nothing)."""
        messages = self.inbox.messages(channel=self.channel)[-self.limit :][::-1]
        if messages:
            rows = "".join(_row(m) for m in messages)
            self.table.value = f"<table style='border-collapse:collapse'>{rows}</table>"
        else:
            self.table.value = "<i>No messages yet.</i>"
