"""Checkpoints: the checks of the course's notebooks, as the progress board counts them.

A checkpoint is one check call in a notebook, `check(...)` or
`ex.<name>.check(...)`. Its key is what the call is, not how it is laid out: an
exercise's check is `ex.<name>` (an exercise's name is unique in the course), a
plain check the digest of the call's syntax tree, so a learner who reflows a
check, or adds a comment to it, keeps their place on the board. Its title is
what an instructor reads: the exercise's name, or what the check says when it
passes. The kernel (`notebook.progress`, from the cell running the check) and
the board (from the notebook files) both use `in_source` and `at` below. A
room's learners report each check as a Prefect event on the room's server:

| event | resource | payload |
| --- | --- | --- |
| `workshop.check.passed`, `.failed`, `.not-attempted` | `workshop.learner.<name>` | learner, notebook (`"02"`), checkpoint, title, text |
| `workshop.prediction.right`, `.wrong`, `.none` | `workshop.learner.<name>` | learner, notebook, checkpoint (the prediction's name), text |
| `workshop.hint.asked` | `workshop.learner.<name>` | learner, notebook, checkpoint (the exercise's name), text (which hint) |

A prediction is not a check: a wrong one is answered and explained, never counted as a failure.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

EVENT_PREFIX = "workshop.check."


class Outcome(enum.StrEnum):
    """How a check came out: the events' names (`workshop.check.<outcome>`), the exercises' status, the record."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_ATTEMPTED = "not-attempted"

    @property
    def mark(self) -> str:
        """As a learner's summary and record show it."""
        return {"passed": "✓ done", "failed": "✗ not yet right", "not-attempted": "○ not attempted yet"}[self.value]


OUTCOMES = tuple(Outcome)
PREDICTION_PREFIX = "workshop.prediction."
PREDICTED = ("right", "wrong", "none")
HINT_EVENT = "workshop.hint.asked"
NOTEBOOK = re.compile(r"^(\d\d)_(\w+)\.ipynb$")
MAX_TITLE = 120  # characters of a title on the board


@dataclass(frozen=True)
class Checkpoint:
    key: str  # "ex.<name>", or "check-" and a digest of the call
    title: str  # what the board shows
    lines: tuple[int, int]  # the call's first and last line in its cell


def _check_call(node: ast.AST) -> str | None:
    """"check" for `check(...)`, the exercise's name for `ex.<name>.check(...)`, else None."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id == "check":
        return "check"
    if isinstance(func, ast.Attribute) and func.attr == "check" and isinstance(func.value, ast.Attribute) \
            and isinstance(func.value.value, ast.Name) and func.value.value.id == "ex":
        return func.value.attr
    return None


def _said(node: ast.expr | None) -> str:
    """A message argument as a reader sees it: a string, or an f-string with its values as "…"."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else "…" for part in node.values)
    return ""


def _checkpoint(call: ast.Call, which: str) -> Checkpoint:
    lines = (call.lineno, call.end_lineno or call.lineno)
    if which != "check":
        return Checkpoint(f"ex.{which}", which, lines)
    passed = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "passed"), None)
    digest = hashlib.sha1(ast.dump(call).encode()).hexdigest()[:10]  # the same call, however it is laid out
    return Checkpoint(f"check-{digest}", (_said(passed) or ast.unparse(call))[:MAX_TITLE], lines)


def in_source(source: str) -> list[Checkpoint]:
    """The check calls of one cell's (or file's) source, IPython's `!command` and `%magic` lines included, in order;
    none if it is not Python."""
    from IPython.core.inputtransformer2 import TransformerManager  # the kernel's own reading of a cell

    try:
        tree = compile(TransformerManager().transform_cell(source), "<cell>", "exec",
                       ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return []  # a cell being written: its checks count once it runs
    found = [(node, which) for node in ast.walk(tree) if (which := _check_call(node))]
    return [_checkpoint(node, which) for node, which in sorted(found, key=lambda item: (item[0].lineno, item[0].col_offset))]


def at(source: str, line: int) -> Checkpoint | None:
    """The check call of `source` running at `line` (the innermost, if one holds another)."""
    around = [point for point in in_source(source) if point.lines[0] <= line <= point.lines[1]]
    return min(around, key=lambda point: point.lines[1] - point.lines[0]) if around else None


def notebook_of(path: str) -> str | None:
    """`"02"` for `.../02_failure_notifications.ipynb`; None for a file that is not one of the course's."""
    match = NOTEBOOK.match(Path(path).name)
    return match.group(1) if match else None


_read: dict[Path, tuple[int, dict[str, str]]] = {}  # a notebook's checkpoints, as of its file's modification time


def _checkpoints_of(path: Path) -> dict[str, str] | None:
    """A notebook file's checkpoints, key to title, in order; None if it cannot be read now."""
    try:
        changed = path.stat().st_mtime_ns
        if path in _read and _read[path][0] == changed:
            return _read[path][1]
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None  # a notebook being saved, or not one: the board shows it when it reads
    titles: dict[str, str] = {}
    for cell in cells:
        if cell.get("cell_type") == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            for point in in_source(source):
                titles.setdefault(point.key, point.title)
    _read[path] = (changed, titles)
    return titles


def in_notebooks(folder: Path) -> dict[str, dict]:
    """Each course notebook in `folder`: its title, and its checkpoints' keys and titles, in the order they come."""
    found = {}
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        titles = _checkpoints_of(path)
        if titles is not None:
            found[notebook_of(path.name)] = {"title": path.stem[3:].replace("_", " "), "checkpoints": list(titles),
                                             "titles": titles}
    return found
