"""Learner and solved copies of the notebooks, from one source.

The notebooks in `notebooks/` are the learner's version: exercise cells hold a
`____`. The solved version replaces each exercise cell (first line
`# exercise: <name>`) with that exercise's reference solution, the same code
`ex.<name>.solution()` shows. `python -m workshop handouts DIR` writes both,
outputs cleared, with the Python files the notebooks import next to them.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from ..errors import WorkshopError
from ..exercises import Exercise, ex00, ex01, ex02, ex03, ex04, exercise_name
from ..settings import COURSE_ROOT


def all_exercises() -> dict[str, Exercise]:
    found: dict[str, Exercise] = {}
    for module in (ex00, ex01, ex02, ex03, ex04):
        for value in vars(module).values():
            if isinstance(value, Exercise):
                if value.name in found:
                    raise WorkshopError(f"two exercises are called {value.name!r}")
                found[value.name] = value
    return found


def exercise_names(notebook: nbformat.NotebookNode) -> list[str]:
    """The exercises a notebook holds, in order."""
    return [name for cell in notebook.cells if cell.cell_type == "code" and (name := exercise_name(cell.source))]


def cleared(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    clean = copy.deepcopy(notebook)
    for cell in clean.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return clean


def solved(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every exercise cell replaced by its reference solution (outputs cleared)."""
    exercises = all_exercises()
    result = cleared(notebook)
    for cell in result.cells:
        name = exercise_name(cell.source) if cell.cell_type == "code" else None
        if name:
            if name not in exercises:
                raise WorkshopError(f"no exercise called {name!r} has a solution")
            cell.source = exercises[name].solution_code
    return result


def write_handouts(destination: Path, source: Path | None = None) -> dict[str, list[Path]]:
    """Write `learner/` and `solved/` copies of every notebook under `destination`."""
    if source is None:
        if COURSE_ROOT is None:
            raise WorkshopError("handouts are made from the course's repository: install it with `pip install -e .` from there")
        source = COURSE_ROOT / "notebooks"
    written: dict[str, list[Path]] = {"learner": [], "solved": []}
    for kind, transform in (("learner", cleared), ("solved", solved)):
        folder = destination / kind
        folder.mkdir(parents=True, exist_ok=True)
        for path in source.iterdir():  # what the notebooks import, serve or read: scripts, prefect.yaml, automations/
            if path.suffix in (".py", ".yaml"):
                shutil.copy2(path, folder / path.name)
            elif path.is_dir() and path.name == "automations":
                shutil.copytree(path, folder / path.name, dirs_exist_ok=True)
        for path in sorted(source.glob("*.ipynb")):
            target = folder / path.name
            nbformat.write(transform(nbformat.read(path, as_version=4)), target)
            written[kind].append(target)
    return written
