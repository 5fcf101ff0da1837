"""Learner and solved copies of the notebooks, from one source.

The notebooks as shipped (committed in the course's repository) are the learner's
version: exercise cells hold a `____`. They are taken from git's last commit, not
from the working copy, where an instructor who rehearsed has solved the exercises
(the hub's learners and `handouts` would get the answers); `working_copy_changes`
names the notebooks whose working copy differs, to say so. The solved version replaces each exercise cell (first line
`# exercise: <name>`) with that exercise's reference solution, the same code
`ex.<name>.solution()` shows, and each prediction cell (`# prediction: <name>`)
with the right prediction; the lab's reference files (notebook 05) go beside them. `python -m workshop handouts DIR` writes both,
outputs cleared, with the Python files the notebooks import next to them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat

from ..errors import WorkshopError
from ..exercises import Exercise, ex00, ex01, ex02, ex03, ex04, exercise_name, lab
from ..exercises.predictions import Prediction, prediction_name
from ..settings import COURSE_ROOT
from .paths import PATHS

NOTEBOOKS = "notebooks"  # in the course's repository
LAB_SOLUTION = "05_lab_solution"  # in solved/: the lab's reference files (notebook 05)


def all_exercises(kind: type = Exercise) -> dict[str, Exercise]:
    """Every exercise of the course by name (or, with `kind=Prediction`, every prediction)."""
    found: dict = {}
    for module in (ex00, ex01, ex02, ex03, ex04):
        for value in vars(module).values():
            if isinstance(value, kind):
                if value.name in found:
                    raise WorkshopError(f"two {kind.__name__.lower()}s are called {value.name!r}")
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
    exercises, predictions = all_exercises(), all_exercises(Prediction)
    result = cleared(notebook)
    for cell in result.cells:
        if cell.cell_type != "code":
            continue
        if name := exercise_name(cell.source):
            if name not in exercises:
                raise WorkshopError(f"no exercise called {name!r} has a solution")
            cell.source = exercises[name].solution_code
        elif name := prediction_name(cell.source):
            if name not in predictions:
                raise WorkshopError(f"no prediction called {name!r} is defined")
            cell.source = predictions[name].answer_code
    return result


def _course_root() -> Path:
    if COURSE_ROOT is None:
        raise WorkshopError("handouts are made from the course's repository: install it with `pip install -e .` from there")
    return COURSE_ROOT


def _git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done if done.returncode == 0 else None


@contextlib.contextmanager
def shipped_notebooks(root: Path) -> Iterator[Path]:
    """The `notebooks/` folder as last committed, or (not a git checkout) the working copy as it is."""
    archive = _git(root, "archive", "--format=tar", "HEAD", NOTEBOOKS)
    if archive is None:
        yield root / NOTEBOOKS
        return
    with tempfile.TemporaryDirectory(prefix="workshop-shipped-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            # Python 3.11.4 and later take a filter (the archive is our own repository's, either way).
            tar.extractall(folder, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        yield Path(folder) / NOTEBOOKS


def working_copy_changes(root: Path | None = None) -> list[str] | None:
    """The notebooks whose cells (not their outputs) differ from the shipped ones: answers or edits that handouts and
    the hub's learners do not get. None when the folder is not a git checkout (then the working copy is shipped)."""
    root = root or _course_root()
    if _git(root, "rev-parse", "--verify", "HEAD") is None:
        return None
    with shipped_notebooks(root) as shipped:
        return [path.name for path in sorted((root / NOTEBOOKS).glob("*.ipynb"))
                if not (shipped / path.name).is_file() or _cells(shipped / path.name) != _cells(path)]


def _cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nbformat.read(path, as_version=4).cells]


def shipped_note(root: Path | None = None) -> str:
    """What `handouts` and `classroom hub` say about where learners' notebooks come from, when it matters."""
    changed = working_copy_changes(root)
    if changed is None:
        return ("This course folder is not a git checkout: learners get its notebooks as they are now, answers "
                "included if you solved exercises here.")
    if changed:
        return (f"Learners get the notebooks as shipped (the course's last commit), not your working copy of "
                f"{', '.join(changed)}, which differs (answers or edits of yours); to hand out edits, commit them.")
    return ""


def write_handouts(destination: Path, source: Path | None = None, path: str = "day") -> dict[str, list[Path]]:
    """Write `learner/` and `solved/` copies of every notebook under `destination` (of those of one of the PATHS):
    of the notebooks as shipped (git's last commit of the course), or of `source`."""
    if source is None:
        with shipped_notebooks(_course_root()) as shipped:
            return write_handouts(destination, shipped, path)
    wanted = PATHS[path]
    written: dict[str, list[Path]] = {"learner": [], "solved": []}
    for kind, transform in (("learner", cleared), ("solved", solved)):
        folder = destination / kind
        folder.mkdir(parents=True, exist_ok=True)
        for item in source.iterdir():  # what the notebooks import, serve or read: scripts, prefect.yaml, automations/
            if item.suffix in (".py", ".yaml"):
                shutil.copy2(item, folder / item.name)
            elif item.is_dir() and item.name == "automations":
                shutil.copytree(item, folder / item.name, dirs_exist_ok=True)
        for notebook in sorted(source.glob("*.ipynb")):
            if wanted is not None and notebook.name[:2] not in wanted:
                continue
            target = folder / notebook.name
            nbformat.write(transform(nbformat.read(notebook, as_version=4)), target)
            written[kind].append(target)
    # The lab's answer is files the learner writes in a folder of their own: the solved handout has them.
    if wanted is not None and "05" not in wanted:
        return written
    shutil.copytree(lab.SOLUTION, destination / "solved" / LAB_SOLUTION, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return written
