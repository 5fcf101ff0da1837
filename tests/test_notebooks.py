"""Every notebook, as a learner runs it: as shipped (exercises unanswered), then again with the solutions in.

Both copies come from `python -m workshop handouts` (one source), in a folder of this test's own, so that
notebooks running at the same time on other test workers never share a file (`output/`, the scripts). The
two runs of a notebook share one test and one server, one after the other: running a notebook again must
leave one of each automation it made, as a learner who re-runs it expects.
"""

from __future__ import annotations

from collections import Counter

import nbformat
import pytest
from nbclient import NotebookClient

from workshop.instructor.handouts import exercise_names, write_handouts

from .test_exercises import SHIPPED


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    destination = tmp_path_factory.mktemp("handouts")
    write_handouts(destination)
    return destination


def run(folder, name: str) -> str:
    """Execute the notebook in `folder` as Run All does (a failed check or cell raises); return what it printed."""
    notebook = nbformat.read(folder / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", "") or str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_notebook_runs_as_shipped_then_solved_and_leaves_one_of_each(course, handouts, name):
    shipped = run(handouts / "learner", name)
    assert "✓" in shipped, f"{name}: no check printed its ✓"
    exercises = exercise_names(SHIPPED[name])
    assert shipped.count("Not attempted yet") >= len(exercises), "an unanswered exercise must say so, and go on"

    solved = run(handouts / "solved", name)
    assert "Not attempted yet" not in solved and "Skipped" not in solved
    assert solved.count("✓ Correct") >= len(exercises)

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        names = Counter(automation.name for automation in client.read_automations())
    twice = {automation: count for automation, count in names.items() if automation.startswith(course.prefix) and count > 1}
    assert not twice, f"running {name} again duplicated automations: {twice}"
