"""A widget that shows the course inbox in a notebook, newest message first."""

from __future__ import annotations

import html

import ipywidgets as widgets

from .inbox import Inbox, Message


def _row(message: Message) -> str:
    when = message.received_at.astimezone().strftime("%H:%M:%S")
    subject = html.escape(message.subject or "(no subject)")
    body = html.escape(str(message.data.get("body", "")) if isinstance(message.data, dict) else message.body)
    return (
        f"<tr><td style='white-space:nowrap;vertical-align:top'>{when}</td>"
        f"<td style='vertical-align:top'><b>{subject}</b><br><span style='white-space:pre-wrap'>{body}</span></td></tr>"
    )


class InboxView(widgets.VBox):
    """The inbox as a table; `refresh()` (or the button) shows what has arrived."""

    def __init__(self, inbox: Inbox | None = None, *, limit: int = 5):
        self.inbox = inbox or Inbox()
        self.limit = limit
        self.table = widgets.HTML()
        button = widgets.Button(description="Refresh", icon="refresh")
        button.on_click(lambda _: self.refresh())
        title = widgets.HTML(f"<b>Course inbox</b> · {html.escape(self.inbox.base_url)}")
        super().__init__([widgets.HBox([title, button]), self.table])
        self.refresh()

    def refresh(self) -> list[Message]:
        messages = self.inbox.messages()[-self.limit :][::-1]
        if messages:
            rows = "".join(_row(m) for m in messages)
            self.table.value = f"<table style='border-collapse:collapse'>{rows}</table>"
        else:
            self.table.value = "<i>No messages yet.</i>"
        return messages
