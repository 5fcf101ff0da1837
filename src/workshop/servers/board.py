"""The instructor's progress board: who is where, from the checks' events on the room's Prefect server.

The room's inbox serves it (`/_workshop/board`, and its data at
`/_workshop/board.json`). Each read asks Prefect's REST API for the
`workshop.check.*` events since the last read (`POST /api/events/filter`,
then its next pages), keeps each learner's latest outcome per checkpoint, and
counts them against the checkpoints in the course's notebooks.

It also keeps what an instructor takes away after a workshop (`timings`): per
learner and notebook, the time from their first to their last check there, the
checks passed, the hints asked for and the predictions made; per notebook, the
median and the spread of those times over the room. `python -m workshop
classroom report` writes it as CSV; the board's page shows the per-notebook part.
"""

from __future__ import annotations

import csv
import io
import statistics
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from .. import checkpoints
from ..client import prefect_session
from ..settings import LEARNER_NAME

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
        self._predictions: dict[tuple[str, str, str], str] = {}  # (learner, notebook, prediction) -> right, wrong or none
        self._hints: Counter[tuple[str, str]] = Counter()  # (learner, notebook) -> hints asked for
        self._spans: dict[tuple[str, str], tuple[str, str]] = {}  # (learner, notebook) -> (first, last) check's time
        self.skipped = 0  # events under the checks' prefix that are not a course check's (a learner's own, say)

    def _read(self) -> None:
        until = datetime.now(UTC) + timedelta(minutes=1)  # a learner's clock may run a little ahead
        body = {"filter": {"event": {"prefix": [checkpoints.EVENT_PREFIX, checkpoints.PREDICTION_PREFIX,
                                                checkpoints.HINT_EVENT]}, "order": "ASC",
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
        payload = event.get("payload") if isinstance(event.get("payload"), dict) else {}
        learner, notebook, checkpoint = payload.get("learner"), payload.get("notebook"), payload.get("checkpoint")
        when, name = event["occurred"], event["event"]
        predicted, hinted = name.startswith(checkpoints.PREDICTION_PREFIX), name == checkpoints.HINT_EVENT
        outcome = name.removeprefix(checkpoints.PREDICTION_PREFIX if predicted else checkpoints.EVENT_PREFIX)
        if not all(isinstance(value, str) and value for value in (learner, notebook, checkpoint)) \
                or not hinted and outcome not in (checkpoints.PREDICTED if predicted else checkpoints.OUTCOMES):
            self.skipped += 1  # anyone may emit an event of this name (notebook 03 teaches custom events)
            return
        occurred = datetime.fromisoformat(when.replace("Z", "+00:00"))
        self._since = max(self._since, occurred - SLACK)
        if hinted:
            self._hints[learner, notebook] += 1
            return
        if predicted:  # the latest of each prediction counts; it never makes a learner's row "stuck"
            self._predictions[learner, notebook, checkpoint] = outcome
            return
        first, last = self._spans.get((learner, notebook), (when, when))
        self._spans[learner, notebook] = (min(first, when), max(last, when))
        if self._latest.get((learner, notebook, checkpoint), ("",))[0] <= when:
            self._latest[learner, notebook, checkpoint] = (when, outcome)
        if self._last.get(learner, {}).get("occurred", "") <= when:
            self._last[learner] = {"learner": learner, "notebook": notebook, "checkpoint": checkpoint,
                                   "title": str(payload.get("title") or checkpoint)[:checkpoints.MAX_TITLE],
                                   "text": str(payload.get("text", "")), "occurred": when, "outcome": outcome}

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
                    tally = counts.setdefault(notebook, dict.fromkeys(checkpoints.Outcome, 0))
                    tally[outcome] = tally.get(outcome, 0) + 1
                made = [outcome for (learner, _, _), outcome in self._predictions.items() if learner == name]
                last = dict(self._last[name])  # titled as the notebook says, where it is one of its checks
                last["title"] = notebooks.get(last["notebook"], {}).get("titles", {}).get(last["checkpoint"], last["title"])
                learners.append({"name": name, "notebooks": counts, "last": last,
                                 "predictions": {"made": sum(o != "none" for o in made), "right": made.count("right")}})
            return {
                "notebooks": [{"number": number, "title": about["title"], "checkpoints": len(about["checkpoints"])}
                              for number, about in notebooks.items()],
                "learners": learners,
                "error": self._error or (f"{self.skipped} event{'s' if self.skipped != 1 else ''} named "
                                         f"{checkpoints.EVENT_PREFIX}* did not come from a course check and "
                                         f"{'were' if self.skipped != 1 else 'was'} left out." if self.skipped else None),
                "skipped": self.skipped,
                "timings": self._timings(notebooks),
                "now": datetime.now(UTC).isoformat(),
            }

    def _timings(self, notebooks: dict[str, dict]) -> dict[str, list[dict]]:
        """Per learner and notebook, and per notebook over the room (see the module's docstring)."""
        rows = []
        for (learner, notebook), (first, last) in sorted(self._spans.items()):
            if not LEARNER_NAME.fullmatch(learner) or (notebooks and notebook not in notebooks):
                continue  # anyone in the room may send such events: a report row is a course notebook's, a learner's
            known = notebooks.get(notebook, {}).get("checkpoints")
            passed = sum(outcome == checkpoints.Outcome.PASSED for (who, where, checkpoint), (_, outcome) in self._latest.items()
                         if who == learner and where == notebook and (not known or checkpoint in known))
            rows.append({"learner": learner, "notebook": notebook, "first check": first, "last check": last,
                         "minutes": round((_moment(last) - _moment(first)).total_seconds() / 60, 1),
                         "checks passed": passed, "checks in the notebook": len(known) if known else None,
                         "hints asked": self._hints[learner, notebook],
                         "predictions made": sum(outcome != "none" for (who, where, _), outcome in self._predictions.items()
                                                 if who == learner and where == notebook)})
        per_notebook = []
        for notebook in sorted({row["notebook"] for row in rows}):
            minutes = [row["minutes"] for row in rows if row["notebook"] == notebook]
            quartiles = statistics.quantiles(minutes, n=4) if len(minutes) > 1 else [minutes[0]] * 3
            per_notebook.append({"notebook": notebook, "learners": len(minutes), "median minutes": statistics.median(minutes),
                                 "quartiles": [round(quartiles[0], 1), round(quartiles[2], 1)],
                                 "fastest": min(minutes), "slowest": max(minutes)})
        return {"learners": rows, "notebooks": per_notebook}


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def timings_csv(timings: dict[str, list[dict]]) -> str:
    """The per-learner rows of `timings`, as CSV (a spreadsheet's; the per-notebook figures follow from them)."""
    out = io.StringIO()
    rows = timings["learners"]
    writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["learner", "notebook"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
