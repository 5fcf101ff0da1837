"""The learner's own record across the course: every exercise and prediction, done or not yet, and the hints used.

Each notebook's last cell shows that notebook's exercises from the kernel (`summary`); a kernel forgets them when it
stops. So `check()`, `hint()` and a prediction's `reveal()` also note what happened in `record.jsonl` in the course
folder (`.workshop/`, a line of JSON each), on a laptop and in a room alike, and `python -m workshop record` shows
the whole course from it: what a learner can show at the end of a workshop, or the next day.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from ..checkpoints import OUTCOMES, Outcome
from ..settings import Settings, current

RECORD_FILE = "record.jsonl"
NOTEBOOK_MODULES = ("ex00", "ex01", "ex02", "ex03", "ex04")  # the notebooks whose exercises are objects of a module


def _path(settings: Settings) -> Path:
    return settings.home / RECORD_FILE


def _outcome(kept: object) -> Outcome:
    """What the record kept of an exercise, as an outcome: none, or one this version does not know, is not attempted."""
    return Outcome(kept) if kept in OUTCOMES else Outcome.NOT_ATTEMPTED


def note(kind: str, name: str, outcome: str) -> None:
    """Add to the record: an exercise's check came out as `outcome` (passed, failed, not-attempted), a hint was seen
    (`kind="hint"`), or a prediction was right, wrong or not made. A record that cannot be written is left be."""
    line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="seconds"), "kind": kind, "name": name, "outcome": outcome})
    try:
        path = _path(current())
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as record:  # one short line: appends from two kernels do not mix
            record.write(line + "\n")
    except OSError:
        pass  # a full disk or a read-only folder must never fail a check


def _noted(settings: Settings) -> list[dict]:
    try:
        lines = _path(settings).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    noted = []
    for line in lines:
        try:
            noted.append(json.loads(line))
        except ValueError:
            continue  # a line cut off by a kernel that died mid-write
    return noted


def rows(settings: Settings | None = None) -> list[dict]:
    """Every exercise and prediction of notebooks 00-04, in the course's order: its latest outcome and hints seen."""
    import importlib

    from . import Exercise
    from .predictions import Prediction

    latest: dict[tuple[str, str], str] = {}
    hints: dict[str, int] = {}
    for entry in _noted(settings or current()):
        if entry.get("kind") == "hint":
            hints[entry.get("name", "")] = hints.get(entry.get("name", ""), 0) + 1
        else:
            latest[entry.get("kind", ""), entry.get("name", "")] = entry.get("outcome")
    found = []
    for module_name in NOTEBOOK_MODULES:
        module = importlib.import_module(f"{__package__}.{module_name}")
        order = _order_in_notebook(module_name[2:])
        values = [value for value in vars(module).values() if isinstance(value, Exercise | Prediction)]
        for value in sorted(values, key=lambda value: order.get(value.name, len(order))):
            if isinstance(value, Exercise):
                found.append({"notebook": module_name[2:], "kind": "exercise", "name": value.name, "what": value.task,
                              "status": _outcome(latest.get(("exercise", value.name))).mark,
                              "hints seen": hints.get(value.name, 0)})
            elif isinstance(value, Prediction):
                outcome = latest.get(("prediction", value.name))
                found.append({"notebook": module_name[2:], "kind": "prediction", "name": value.name, "what": value.question,
                              "status": {"right": "✓ right", "wrong": "✓ made (the server said otherwise)"}.get(
                                  outcome, "○ not made yet"), "hints seen": 0})
    return found


def _order_in_notebook(number: str) -> dict[str, int]:
    """Each exercise's and prediction's place in its notebook: the first code cell that calls `ex.<name>.`."""
    from ..settings import COURSE_ROOT

    path = next(iter(sorted((COURSE_ROOT / "notebooks").glob(f"{number}_*.ipynb"))), None) if COURSE_ROOT else None
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"] if path else []
    except (OSError, ValueError, KeyError):
        return {}
    order: dict[str, int] = {}
    for place, cell in enumerate(cells):
        source = "".join(cell.get("source", "")) if cell.get("cell_type") == "code" else ""
        for name in re.findall(r"\bex\.(\w+)\.", source):
            order.setdefault(name, place)
    return order


def text(settings: Settings | None = None) -> str:
    """The record as lines a terminal shows: per notebook, each exercise and prediction, then the totals."""
    found = rows(settings)
    lines = []
    for notebook in dict.fromkeys(row["notebook"] for row in found):
        lines.append(f"\nNotebook {notebook}")
        for row in (row for row in found if row["notebook"] == notebook):
            hinted = f"  ({row['hints seen']} hint{'s' if row['hints seen'] != 1 else ''} seen)" if row["hints seen"] else ""
            lines.append(f"  {row['status']:<24} {row['kind']:<10} {row['name']}{hinted}")
    exercises = [row for row in found if row["kind"] == "exercise"]
    predictions = [row for row in found if row["kind"] == "prediction"]
    lines.append(f"\n{sum(row['status'].startswith('✓') for row in exercises)} of {len(exercises)} exercises done, "
                 f"{sum(row['status'].startswith('✓') for row in predictions)} of {len(predictions)} predictions made, "
                 f"{sum(row['hints seen'] for row in exercises)} hints seen. The lab (05): `python -m workshop check 05`.")
    return "\n".join(lines).lstrip("\n")
