"""Every notebook again, with the reference solutions filled in: every exercise check must pass.

(The shipped notebooks, exercises unanswered, are executed by nbmake from `notebooks/`.)
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from workshop.instructor.handouts import exercise_names, write_handouts

from .test_exercises import SHIPPED


@pytest.fixture(scope="module")
def solved_dir(tmp_path_factory):
    destination = tmp_path_factory.mktemp("handouts")
    write_handouts(destination)
    return destination / "solved"


def _text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", [name for name, notebook in SHIPPED.items() if exercise_names(notebook)])
def test_solved_notebook_passes_every_check(course, solved_dir, name):
    notebook = nbformat.read(solved_dir / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(solved_dir)}}).execute()  # a failed cell raises
    text = _text(notebook)
    assert "Not attempted yet" not in text and "Skipped" not in text
    assert text.count("✓ Correct") >= len(exercise_names(notebook))
