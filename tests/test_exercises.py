"""Exercises: not attempted, wrong with a reason, right; and one source for the solved notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from workshop.exercises import ____, ex01, ex02, ex03, exercise_name
from workshop.instructor.handouts import all_exercises, exercise_names, solved, write_handouts
from workshop.notebook.checks import CheckFailed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SHIPPED = {path.name: nbformat.read(path, as_version=4) for path in sorted(NOTEBOOKS.glob("*.ipynb"))}


@pytest.mark.parametrize("name", sorted(all_exercises()))
def test_an_unanswered_exercise_says_not_attempted_and_does_not_stop(name, capsys):
    context = {"deployment_id": "x"} if name == "scoped_trigger" else {}
    if name in ("unhealthy_payload", "alert_primary_failed", "alert_recovered", "alert_backup_failed"):
        context = {"primary_id": "p", "backup_id": "b"} | ({} if name == "unhealthy_payload" else {"block_id": "k"})
    exercise = all_exercises()[name]
    assert exercise.check(____, **context) is None  # nothing echoed under the message in a notebook
    assert "Not attempted yet" in capsys.readouterr().out and exercise.status == "not attempted"


def test_a_function_that_still_returns_the_blank_is_not_attempted(capsys):
    ex01.wait_seconds.check(lambda response, attempt: ____)
    assert "Not attempted yet" in capsys.readouterr().out


def test_a_learner_function_that_raises_is_reported_as_theirs():
    with pytest.raises(CheckFailed) as failure:
        ex01.wait_seconds.check(lambda response, attempt: float(response.headers["retry-after"]))
    message = str(failure.value)
    assert "your function raised KeyError('retry-after') when called with a 503 response without a Retry-After header" in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_an_answer_that_is_not_a_function_is_explained():
    with pytest.raises(CheckFailed, match="should be a function"):
        ex01.is_retryable_status.check(5)


def test_exercise_markers_are_read_in_one_place():
    assert exercise_name("# exercise: wait_seconds\ndef f(): ...") == "wait_seconds"
    assert exercise_name("\n# exercise: x \n") == "x"
    assert exercise_name("# exercises: x") is None and exercise_name("x = 1  # exercise: y") is None


@pytest.mark.parametrize(
    "exercise, answer, context, words",
    [
        (ex01.is_retryable_status, lambda code: code >= 400, {}, "[400, 401, 404, 422] would be retried"),
        (ex01.wait_seconds, lambda response, attempt: response.headers.get("Retry-After", 0.1 * 2**attempt), {},
         "the header is text"),
        (ex02.body_template, "{{ flow.name }} {{ flow_run.name }} {{ flow_run.state.message }}", {}, "lacks a link to the run"),
        (ex02.body_template, "{{ flow.name ", {}, "does not parse"),
        (ex03.unhealthy_payload, {"name": "workshop-x", "trigger": {"type": "event", "posture": "Reactive"},
                                  "actions": [{"type": "nope"}]},
         {"primary_id": "p", "backup_id": "b"}, "the server would refuse it"),
    ],
)
def test_a_wrong_answer_says_what_is_wrong(exercise, answer, context, words):
    with pytest.raises(CheckFailed, match="Not quite") as failure:
        exercise.check(answer, **context)
    assert words in str(failure.value)


def test_hints_come_in_tiers(capsys):
    exercise = ex01.wait_seconds
    exercise.hint()
    exercise.hint()
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.startswith("Hint 1 of 3") and second.startswith("Hint 2 of 3")


def test_every_exercise_is_in_exactly_one_notebook_and_every_notebook_exercise_has_a_solution():
    placed = [name for notebook in SHIPPED.values() for name in exercise_names(notebook)]
    assert sorted(placed) == sorted(all_exercises())


@pytest.mark.parametrize("name", [name for name, notebook in SHIPPED.items() if exercise_names(notebook)])
def test_the_solved_copy_differs_only_in_exercise_cells(name):
    shipped, answered = SHIPPED[name], solved(SHIPPED[name])
    assert len(shipped.cells) == len(answered.cells)
    for before, after in zip(shipped.cells, answered.cells, strict=True):
        name = exercise_name(before.source) if before.cell_type == "code" else None
        if name:
            assert "____" in before.source and "____" not in after.source
            assert after.source == all_exercises()[name].solution_code
        else:
            assert before.source == after.source


def test_handouts_write_learner_and_solved_copies_that_can_run(tmp_path):
    written = write_handouts(tmp_path)
    assert [p.name for p in written["learner"]] == [p.name for p in written["solved"]] == sorted(SHIPPED)
    for kind in ("learner", "solved"):
        assert (tmp_path / kind / "users_pipeline.py").exists() and (tmp_path / kind / "failover_deployments.py").exists()
    learner = nbformat.read(tmp_path / "learner" / "01_data_cleaning.ipynb", as_version=4)
    assert exercise_names(learner) and all("____" in c.source for c in learner.cells if exercise_name(c.source))
