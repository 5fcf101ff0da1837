"""The instructor's progress board: who is where, from the checks' events on the room's Prefect server.

The room's inbox serves it (`/_workshop/board`, and its data at
`/_workshop/board.json`). Each read asks Prefect's REST API for the
`workshop.check.*` events since the last read (`POST /api/events/filter`,
then its next pages), keeps each learner's latest outcome per checkpoint, and
counts them against the checkpoints in the course's notebooks.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from .. import checkpoints
from ..client import prefect_session

REREAD_AFTER = 2.0  # seconds: pages open in several tabs share one read
SLACK = timedelta(minutes=2)  # events are stored a moment after they occur: read that far back again
FIRST_LOOK_BACK = timedelta(hours=12)  # a board started mid-workshop still sees the morning
MAX_PAGES = 200  # of 50 events: a bound on one read, far beyond a day's room
TIMEOUT = 10.0


class Board:
    """Learners × checkpoints, read from `prefect_api_url` (with the room's `auth`)."""

    def __init__(self, prefect_api_url: str, auth: tuple[str, str] | None, notebooks: Path | None):
        self.api, self.auth, self.notebooks = prefect_api_url.rstrip("/"), auth, notebooks
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._latest: dict[tuple[str, str, str], tuple[str, str]] = {}  # (learner, notebook, checkpoint) -> (when, outcome)
        self._last: dict[str, dict] = {}  # learner -> their latest event's payload, with when and outcome
        self._since = datetime.now(UTC) - FIRST_LOOK_BACK
        self._read_at = 0.0
        self._error: str | None = None

    def _read(self) -> None:
        until = datetime.now(UTC) + timedelta(minutes=1)  # a learner's clock may run a little ahead
        body = {"filter": {"event": {"prefix": [checkpoints.EVENT_PREFIX]}, "order": "ASC",
                           "occurred": {"since": self._since.isoformat(), "until": until.isoformat()}},
                "limit": 50}
        response = prefect_session().post(f"{self.api}/events/filter", json=body, auth=self.auth, timeout=TIMEOUT)
        for _ in range(MAX_PAGES):
            response.raise_for_status()
            page = response.json()
            for event in page["events"]:
                self._fold(event)
            if not page.get("next_page"):
                break
            response = prefect_session().get(page["next_page"], auth=self.auth, timeout=TIMEOUT)

    def _fold(self, event: dict) -> None:
        if event["id"] in self._seen:
            return
        self._seen.add(event["id"])
        payload = event.get("payload") or {}
        learner, notebook, checkpoint = payload.get("learner"), payload.get("notebook"), payload.get("checkpoint")
        if not (learner and notebook and checkpoint):
            return  # not a course check's event
        when, outcome = event["occurred"], event["event"].removeprefix(checkpoints.EVENT_PREFIX)
        occurred = datetime.fromisoformat(when.replace("Z", "+00:00"))
        self._since = max(self._since, occurred - SLACK)
        if self._latest.get((learner, notebook, checkpoint), ("",))[0] <= when:
            self._latest[learner, notebook, checkpoint] = (when, outcome)
        if self._last.get(learner, {}).get("occurred", "") <= when:
            self._last[learner] = {**payload, "occurred": when, "outcome": outcome}

    def snapshot(self) -> dict[str, Any]:
        """The board as JSON: the notebooks and their checkpoints, each learner's counts and latest check."""
        with self._lock:
            if time.monotonic() - self._read_at > REREAD_AFTER:
                try:
                    self._read()
                    self._error = None
                except (requests.RequestException, ValueError, KeyError) as failed:
                    self._error = f"Could not read the room's Prefect server at {self.api}: {failed}"
                self._read_at = time.monotonic()
            notebooks = checkpoints.in_notebooks(self.notebooks) if self.notebooks else {}
            learners = []
            for name in sorted(self._last):
                counts: dict[str, dict[str, int]] = {}
                for (learner, notebook, checkpoint), (_, outcome) in self._latest.items():
                    known = notebooks.get(notebook, {}).get("checkpoints")
                    if learner != name or (known and checkpoint not in known):
                        continue  # another learner's, or a check the learner wrote themselves
                    tally = counts.setdefault(notebook, {"passed": 0, "failed": 0, "not-attempted": 0})
                    tally[outcome] = tally.get(outcome, 0) + 1
                learners.append({"name": name, "notebooks": counts, "last": self._last[name]})
            return {
                "notebooks": [{"number": number, "title": about["title"], "checkpoints": len(about["checkpoints"])}
                              for number, about in notebooks.items()],
                "learners": learners,
                "error": self._error,
                "now": datetime.now(UTC).isoformat(),
            }
