"""Run a notebook as JupyterLab's Run All does: what it printed, or which cell failed and with what.

A failed cell's message from nbclient is the whole traceback in terminal colours; a test that runs
several notebooks at once keeps only part of it. `NotebookFailed` names the notebook, the cell and
the error first, without the colours.

`pytest --nbmake notebooks/` runs the shipped notebooks too (workshop.testing.nbmake); this harness stays for what
the tests need beyond it: the solved copies, a room's learners, the text a notebook printed.
"""

from __future__ import annotations

import re
import tempfile
import time
import uuid
import warnings
from datetime import datetime
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from traitlets import default

COURSE_NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Each notebook as shipped, as a run of it left it: the course's website shows these (conftest.py builds it).
EXECUTED = Path(__file__).resolve().parents[1] / "test-artifacts" / "executed"
SHIPPED = {path.name: nbformat.read(path, as_version=4) for path in sorted(COURSE_NOTEBOOKS.glob("*.ipynb"))}
NOTEBOOKS = {name[:2]: name for name in SHIPPED if name[:2].isdigit()}  # "02" -> "02_failure_notifications.ipynb"
# What each learner of the room's test (test_classroom) runs, in order: (notebook, handout). Every notebook in a room;
# 02, 03 and 04 as shipped and then solved by one learner each (a re-run must leave one of each automation), 03 by
# two (their backups). One pair per learner, all at once: the test lasts as long as the longest pair (04's), not
# as one learner's four notebooks (833 s on CI when ann ran 02 and 04).
ROOM_PLANS = {
    "ann": [("04", "learner"), ("04", "solved")],  # then her `reset` (deployments, automations, blocks) is proved
    "bob": [("03", "learner"), ("03", "solved")],
    "cy": [("00", "solved"), ("01", "solved"), ("03", "solved")],
    "gus": [("02", "learner"), ("02", "solved")],
}
# Those the room's learners run as shipped and as solved: test_notebooks leaves them to it where PostgreSQL is installed.
ROOM_NOTEBOOKS = {NOTEBOOKS[number] for number in NOTEBOOKS
                  if {(number, "learner"), (number, "solved")} <= {step for plan in ROOM_PLANS.values() for step in plan}}
COLOURS = re.compile(r"\x1b\[[0-9;]*m")
SLOW = 120.0  # seconds: no cell of the course takes this long on a loaded 2-core machine


def _report_slowness(path: Path, notebook, took: float) -> None:
    """Warn (pytest lists warnings after a passing run too) of a slow cell, or of time spent outside cells."""
    in_cells = 0.0
    for number, cell in enumerate(notebook.cells, 1):
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            seconds = (datetime.fromisoformat(stamps["shell.execute_reply"].replace("Z", "+00:00"))
                       - datetime.fromisoformat(stamps["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
            in_cells += seconds
            if seconds > SLOW:
                first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                warnings.warn(f"{path.name}, cell {number} took {seconds:.0f} s: {first}", stacklevel=3)
    if took - in_cells > SLOW:
        warnings.warn(f"{path.name}: {took:.0f} s in all, {in_cells:.0f} s of them in cells "
                      "(the rest: starting and stopping the kernel)", stacklevel=3)


class _SocketFileKernel(KernelManager):
    """A kernel reached through socket files of its own, not TCP ports: a free port chosen by jupyter_client can be
    taken by another process before the kernel binds it ("Address already in use" while learners start at once)."""

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"

    @default("ip")
    def _ip_default(self) -> str:  # jupyter_client's default, "kernel-ipc" in the cwd, is shared by every kernel
        return str(Path(tempfile.gettempdir()) / f"kernel-{uuid.uuid4().hex}")


def notebook_client(notebook, **options) -> NotebookClient:
    """nbclient's client for `notebook` in a new python3 kernel of its own."""
    return NotebookClient(notebook, kernel_name="python3", kernel_manager_class=_SocketFileKernel, **options)


class NotebookFailed(AssertionError):
    """A cell of the notebook raised (a failed `check()` included)."""


def run_notebook(path: Path, *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Execute `path` in a new kernel in its own folder; return what its cells printed and showed."""
    notebook = nbformat.read(path, as_version=4)
    client = notebook_client(notebook, timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
    began = time.monotonic()
    try:
        client.execute(**({"env": env} if env is not None else {}))  # no env: the kernel inherits ours
    except CellExecutionError as failed:
        cell = next((number for number, cell in enumerate(notebook.cells, 1)
                     if any(output.get("output_type") == "error" for output in cell.get("outputs", []))), "?")
        raise NotebookFailed(f"{path.name}, cell {cell}: {failed.ename}: {failed.evalue}\n"
                             f"{COLOURS.sub('', str(failed))[-3000:]}") from None
    _report_slowness(path, notebook, time.monotonic() - began)
    if path.parent.name == "learner" and path.name in SHIPPED:  # a handout's learner copy: the notebook as shipped
        EXECUTED.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, EXECUTED / path.name)
    return "\n".join(output.get("text", "") or str(output.get("data", {}).get("text/plain", ""))
                     for cell in notebook.cells for output in cell.get("outputs", []))



def assert_checks_ran(name: str, handout: str, printed: str) -> None:
    """What a run of notebook `name` printed: as shipped ("learner"), its checks passed and every exercise said it
    is not attempted yet, and the run went on; solved, every exercise was checked correct; the lab (05), that its check said how many steps are done."""
    from workshop.exercises.ex05 import CHECK_LINE
    from workshop.instructor.handouts import exercise_names

    shipped = nbformat.read(COURSE_NOTEBOOKS / name, as_version=4)
    exercises = exercise_names(shipped)
    if any(cell.source.strip() == CHECK_LINE for cell in shipped.cells):  # the lab: its steps are done in a terminal
        assert re.search(r"\d of \d+ steps done", printed), f"{name}: the lab's check said nothing"
        return
    if handout == "learner":
        assert "✓" in printed, f"{name}: no check printed its ✓"
        assert printed.count("Not attempted yet") >= len(exercises), f"{name}: an unanswered exercise must say so, and go on"
    else:
        assert "Not attempted yet" not in printed and "Skipped" not in printed, f"{name}: an exercise was not checked"
        assert printed.count("✓ Correct") >= len(exercises), f"{name}: not every exercise was checked correct"
