"""Checkpoints: the checks of the course's notebooks, as the progress board counts them.

A checkpoint is one check call in a notebook, `check(...)` or
`ex.<name>.check(...)`, known by the first line of that call: the same text
in the notebook file (where the board reads how many a notebook has) and in
the kernel that runs it (where the check reports how it went). A room's
learners report each check as a Prefect event on the room's server:

| event | resource | payload |
| --- | --- | --- |
| `workshop.check.passed`, `.failed`, `.not-attempted` | `workshop.learner.<name>` | learner, notebook (`"02"`), checkpoint, text |
| `workshop.prediction.right`, `.wrong`, `.none` | `workshop.learner.<name>` | learner, notebook, checkpoint (the prediction's name), text |
| `workshop.hint.asked` | `workshop.learner.<name>` | learner, notebook, checkpoint (the exercise's name), text (which hint) |

A prediction is not a check: a wrong one is answered and explained, never counted as a failure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

EVENT_PREFIX = "workshop.check."
OUTCOMES = ("passed", "failed", "not-attempted")
PREDICTION_PREFIX = "workshop.prediction."
PREDICTED = ("right", "wrong", "none")
HINT_EVENT = "workshop.hint.asked"
CHECK_CALL = re.compile(r"^\s*(?:ex\.\w+\.)?check\(")
NOTEBOOK = re.compile(r"^(\d\d)_(\w+)\.ipynb$")
MAX_KEY = 160  # characters of a call's first line: enough to tell two checks apart


def key(line: str) -> str:
    """The checkpoint a check call is, from the first line of the call."""
    return line.strip()[:MAX_KEY]


def notebook_of(path: str) -> str | None:
    """`"02"` for `.../02_failure_notifications.ipynb`; None for a file that is not one of the course's."""
    match = NOTEBOOK.match(Path(path).name)
    return match.group(1) if match else None


def in_notebooks(folder: Path) -> dict[str, dict]:
    """Each course notebook in `folder`: its title and its checkpoints, in the order they come."""
    found = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        number = notebook_of(path.name)
        try:
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue  # a notebook being saved, or not one: the board shows it when it reads
        keys: list[str] = []
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for line in source.splitlines():
                if CHECK_CALL.match(line) and key(line) not in keys:
                    keys.append(key(line))
        found[number] = {"title": path.stem[3:].replace("_", " "), "checkpoints": keys}
    return found
