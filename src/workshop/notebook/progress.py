"""The progress board, a kernel's side: in a room, each check tells the room's Prefect server how it went.

`check()` and an exercise's `.check()` call `report(...)`. In a room it sends
one Prefect event (`workshop.check.passed`, `.failed` or `.not-attempted`; see
`workshop.checkpoints`) to the room's server with Prefect's REST API,
`POST /api/events`, where the instructor's board reads it. On a laptop nothing
is sent. A server that does not take the event never stops a check: the event
is dropped and reports pause for a minute, so checks stay quick.
"""

from __future__ import annotations

import linecache
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import requests

from .. import checkpoints
from ..client import local_session
from ..settings import current

PACKAGE = str(Path(__file__).resolve().parents[1])
TIMEOUT = 2.0  # seconds: a check waits this long at most for the room's server
PAUSE = 60.0  # seconds without reports after one was not taken
_paused_until = 0.0


def _notebook_frame() -> FrameType | None:
    """The frame of the notebook cell (or script) whose check this is: the first caller outside the course."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame = frame.f_back
    return frame


def _notebook(frame: FrameType | None) -> str:
    """`"02"` for a check in notebook 02: every course notebook imports its own exercises as `ex`."""
    module_name = getattr(frame.f_globals.get("ex") if frame else None, "__name__", "")
    match = re.fullmatch(r"workshop\.exercises\.ex(\d\d)", module_name)
    return match.group(1) if match else "other"


def report(outcome: str, text: str) -> None:
    """Tell the room's server that the check being run came out as `outcome` (see checkpoints.OUTCOMES)."""
    global _paused_until
    settings = current()
    if not settings.in_room or time.monotonic() < _paused_until:
        return
    frame = _notebook_frame()
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno) if frame else ""
    notebook = _notebook(frame)
    event = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": checkpoints.EVENT_PREFIX + outcome,
        "resource": {"prefect.resource.id": f"workshop.learner.{settings.learner}",
                     "prefect.resource.name": settings.learner},
        "related": [{"prefect.resource.id": f"workshop.notebook.{notebook}", "prefect.resource.role": "notebook"}],
        "payload": {"learner": settings.learner, "notebook": notebook,
                    "checkpoint": checkpoints.key(line or text), "text": text[:500]},
    }
    try:
        local_session().post(f"{settings.local_prefect_api_url}/events", json=[event], auth=settings.room_auth,
                             timeout=TIMEOUT).raise_for_status()
    except requests.RequestException:
        _paused_until = time.monotonic() + PAUSE
