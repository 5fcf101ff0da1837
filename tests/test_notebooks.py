"""Every notebook, as a learner runs it: as shipped (exercises unanswered), then again with the solutions in.

Both copies come from `python -m workshop handouts` (one source), in a folder of this test's own, so that
notebooks running at the same time on other test workers never share a file (`output/`, the scripts). The
two runs of a notebook share one test and one server, one after the other: running a notebook again must
leave one of each automation it made, as a learner who re-runs it expects.

Where PostgreSQL is installed, notebooks 02, 03 and 04 (the longest) run in `test_classroom` instead, as
learners of a room, on shipped and solved handouts and twice by one learner: the same checks, and the
room's isolation with them, without running those notebooks a second time here.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from workshop.supervisor import postgres

from .course_folders import ports_free, private_course
from .notebooks import ROOM_NOTEBOOKS, SHIPPED, assert_checks_ran, run_notebook


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_notebook_runs_as_shipped_then_solved_and_leaves_one_of_each(course, handouts, name):
    if name in ROOM_NOTEBOOKS and postgres.binaries():
        pytest.skip("run as shipped and solved, and again, by the room's learners in test_classroom")
    for handout in ("learner", "solved"):
        assert_checks_ran(name, handout, run_notebook(handouts / handout / name))

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        names = Counter(automation.name for automation in client.read_automations())
    twice = {automation: count for automation, count in names.items() if automation.startswith(course.prefix) and count > 1}
    assert not twice, f"running {name} again duplicated automations: {twice}"


def test_pytest_nbmake_runs_a_handout_against_a_private_course_never_the_learners(handouts, tmp_path):
    """`pytest --nbmake DIR/learner/...` (README) from a learner's shell: the notebook passes against services of
    the run's own, and the learner's course folder and ports are never touched."""
    learner = private_course(tmp_path)  # the learner's own course: a folder and ports of theirs
    notebook = handouts / "learner" / "00_start_here.ipynb"
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", str(notebook)], cwd=notebook.parent, env=learner,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]
    assert "the notebooks run against a private course" in done.stdout, done.stdout[:2000]
    assert not Path(learner["WORKSHOP_HOME"]).exists() and ports_free(learner)
