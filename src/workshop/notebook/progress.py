"""The progress board, a kernel's side: in a room, each check tells the room's Prefect server how it went.

`check()` and an exercise's `.check()` call `report_check(...)`, its `.hint()` `report_hint(...)`. In a room it sends
one Prefect event (`workshop.check.passed`, `.failed` or `.not-attempted`; see
`workshop.checkpoints`) to the room's server with Prefect's REST API,
`POST /api/events`, where the instructor's board reads it. On a laptop nothing
is sent. A check never waits for the room's server: a thread of the kernel
sends the events in order, tries each a few times (a busy room's server may
answer late), and at the kernel's exit is given a few seconds to send the rest.
"""

from __future__ import annotations

import atexit
import hashlib
import linecache
import queue
import re
import sys
import threading
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
TIMEOUT = 10.0  # seconds for the room's server to take one event
ATTEMPTS = 3  # per event, RETRY_AFTER seconds apart; then the board misses it and the next one is tried
RETRY_AFTER = 2.0
AT_EXIT = 5.0  # seconds a closing kernel waits, at most, for its last events to go
_outbox: queue.Queue = queue.Queue(maxsize=1000)  # a room's server gone for long: what is beyond this is dropped
_sender: threading.Thread | None = None
_sender_lock = threading.Lock()


def _notebook_frame() -> FrameType | None:
    """The frame of the notebook cell (or script) whose check this is: the first caller outside the course."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE):
        frame = frame.f_back
    return frame


def _notebook(frame: FrameType | None, checkpoint: str) -> str:
    """`"02"` for a check in notebook 02: every course notebook imports its own exercises as `ex`. Checks that come
    before that import (notebook 00's environment checks) are found among the checks of the notebooks in the
    kernel's folder, where JupyterLab starts it."""
    module_name = getattr(frame.f_globals.get("ex") if frame else None, "__name__", "")
    if match := re.fullmatch(r"workshop\.exercises\.ex(\d\d)", module_name):
        return match.group(1)
    owners = [number for number, notebook in checkpoints.in_notebooks(Path.cwd()).items() if checkpoint in notebook["checkpoints"]]
    return owners[0] if len(owners) == 1 else "other"


def _running_check(frame: FrameType | None, text: str) -> tuple[str, str]:
    """The key and title of the check call the notebook's `frame` is running (checkpoints.at, on the cell's source,
    which IPython keeps in linecache), or of `text` where the source cannot be read."""
    source = "".join(linecache.getlines(frame.f_code.co_filename)) if frame else ""
    point = checkpoints.at(source, frame.f_lineno) if source else None
    if point is None:
        return f"text-{hashlib.sha1(text.encode()).hexdigest()[:10]}", text[: checkpoints.MAX_TITLE]
    return point.key, point.title


def report_check(outcome: str, text: str, *, prediction: str | None = None, notebook: str | None = None,
           checkpoint: str | None = None) -> None:
    """Tell the room's server that the check being run came out as `outcome` (see checkpoints.OUTCOMES), or that the
    learner's `prediction` (its name) was right, wrong or not made (checkpoints.PREDICTED). An exercise's check
    names its `checkpoint` (`ex.<name>`), as the lab's, run from a terminal, names its `notebook` too."""
    if not current().in_room:
        return
    frame = _notebook_frame()
    if prediction or checkpoint:
        key = title = prediction or checkpoint
        title = title.removeprefix("ex.")
    else:
        key, title = _running_check(frame, text)
    name = (checkpoints.PREDICTION_PREFIX if prediction else checkpoints.EVENT_PREFIX) + outcome
    _post(name, notebook or _notebook(frame, key), key, text, title)


def report_hint(exercise: str, text: str, *, notebook: str | None = None) -> None:
    """Tell the room's server that the learner asked for a hint of `exercise` (`text` says which one)."""
    if current().in_room:
        _post(checkpoints.HINT_EVENT, notebook or _notebook(_notebook_frame(), exercise), exercise, text, exercise)


def _post(name: str, notebook: str, checkpoint: str, text: str, title: str) -> None:
    settings = current()
    event = {
        "id": str(uuid.uuid4()),
        "occurred": datetime.now(UTC).isoformat(),
        "event": name,
        "resource": {"prefect.resource.id": f"workshop.learner.{settings.learner}",
                     "prefect.resource.name": settings.learner},
        "related": [{"prefect.resource.id": f"workshop.notebook.{notebook}", "prefect.resource.role": "notebook"}],
        "payload": {"learner": settings.learner, "notebook": notebook,
                    "checkpoint": checkpoint, "title": title, "text": text[:500]},
    }
    _start_sender()
    try:
        _outbox.put_nowait((f"{settings.course_prefect_api_url}/events", settings.room_auth, event))
    except queue.Full:
        pass  # the room's server has not taken anything for a long while: the checks go on without the board


def _start_sender() -> None:
    global _sender
    with _sender_lock:
        if _sender is None or not _sender.is_alive():
            _sender = threading.Thread(target=_send, name="workshop-progress", daemon=True)
            _sender.start()


def _send() -> None:
    while True:  # a daemon thread: it waits for the next event as long as the kernel lives
        url, auth, event = _outbox.get()
        for attempt in range(ATTEMPTS):
            try:
                local_session().post(url, json=[event], auth=auth, timeout=TIMEOUT).raise_for_status()
                break
            except requests.RequestException:
                if attempt + 1 < ATTEMPTS:
                    time.sleep(RETRY_AFTER)
        _outbox.task_done()


@atexit.register
def flush(timeout: float = AT_EXIT) -> bool:
    """Wait until every reported event was sent (or given up), `timeout` seconds at most. True if none is left."""
    deadline = time.monotonic() + timeout
    while _outbox.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _outbox.unfinished_tasks
