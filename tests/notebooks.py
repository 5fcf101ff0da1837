"""Run a notebook as JupyterLab's Run All does: what it printed, or which cell failed and with what.

A failed cell's message from nbclient is the whole traceback in terminal colours; a test that runs
several notebooks at once keeps only part of it. `NotebookFailed` names the notebook, the cell and
the error first, without the colours.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

COLOURS = re.compile(r"\x1b\[[0-9;]*m")


class NotebookFailed(AssertionError):
    """A cell of the notebook raised (a failed `check()` included)."""


def run_notebook(path: Path, *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Execute `path` in a new kernel in its own folder; return what its cells printed and showed."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(**({"env": env} if env is not None else {}))  # no env: the kernel inherits ours
    except CellExecutionError as failed:
        cell = next((number for number, cell in enumerate(notebook.cells, 1)
                     if any(output.get("output_type") == "error" for output in cell.get("outputs", []))), "?")
        raise NotebookFailed(f"{path.name}, cell {cell}: {failed.ename}: {failed.evalue}\n"
                             f"{COLOURS.sub('', str(failed))[-3000:]}") from None
    return "\n".join(output.get("text", "") or str(output.get("data", {}).get("text/plain", ""))
                     for cell in notebook.cells for output in cell.get("outputs", []))
