"""Exercises: not attempted, several right answers, several wrong ones (each with its reason), and the
wrong answers only the real server exposes; one source for the solved notebooks."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from prefect.automations import (
    Automation,
    CompoundTrigger,
    EventTrigger,
    Posture,
    RunDeployment,
    SendNotification,
    SequenceTrigger,
)

from workshop.exercises import ____, ex00, ex01, ex02, ex03, ex04, exercise_name, summary
from workshop.instructor.handouts import all_exercises, exercise_names, solved, write_handouts
from workshop.notebook.checks import CheckFailed

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SHIPPED = {path.name: nbformat.read(path, as_version=4) for path in sorted(NOTEBOOKS.glob("*.ipynb"))}
sys.path.insert(0, str(NOTEBOOKS))

FAILED, CRASHED, COMPLETED = "prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.Completed"
FLOW_RUN = {"prefect.resource.id": "prefect.flow-run.*"}
COURSE_FLOWS = {"prefect.resource.role": "flow", "prefect.resource.name": "workshop-*"}


def right(exercise, answer, **context) -> None:
    exercise.check(answer, **context)
    assert exercise.status == "correct"


def wrong(exercise, answer, words: str, **context) -> str:
    with pytest.raises(CheckFailed, match="Not quite") as failure:
        exercise.check(answer, **context)
    assert words in str(failure.value), str(failure.value)
    assert exercise.status == "not yet right"
    return str(failure.value)


# Not attempted, and the framework

CONTEXTS = {
    "retry_condition": {"task": None, "transient": None, "refused": None},
    "scoped_trigger": {"primary": None, "backup": None},
    "unhealthy_payload": {"primary": None, "backup": None},
    **{name: {"primary": None, "backup": None, "block_id": None} for name in ("failover", "escalation", "recovered", "design")},
}


@pytest.mark.parametrize("name", sorted(all_exercises()))
def test_an_unanswered_exercise_says_not_attempted_and_does_not_stop(name, capsys):
    exercise = all_exercises()[name]
    assert exercise.check(____, **CONTEXTS.get(name, {})) is None  # nothing echoed under the message in a notebook
    assert "Not attempted yet" in capsys.readouterr().out and exercise.status == "not attempted"


def test_a_list_still_holding_a_blank_is_not_attempted(capsys):
    ex04.design.check([____, ____, ____], **CONTEXTS["design"])
    assert "Not attempted yet" in capsys.readouterr().out


def test_a_learner_function_that_raises_is_reported_as_theirs():
    message = wrong(ex01.is_retryable_status, lambda status_code: {429: True}[status_code], "your function raised KeyError(200)")
    assert "when called with status_code=200" in message


def test_an_answer_that_is_not_a_function_is_explained():
    wrong(ex01.is_retryable_status, 5, "should be a function")


def test_exercise_markers_are_read_in_one_place():
    assert exercise_name("# exercise: wait_seconds\ndef f(): ...") == "wait_seconds"
    assert exercise_name("\n# exercise: x \n") == "x"
    assert exercise_name("# exercises: x") is None and exercise_name("x = 1  # exercise: y") is None


def test_hints_come_in_tiers(capsys):
    exercise = ex01.retry_condition
    exercise.hint()
    exercise.hint()
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first.startswith("Hint 1 of 3") and second.startswith("Hint 2 of 3")


def test_the_summary_shows_where_each_exercise_stands():
    with pytest.raises(CheckFailed):
        ex00.failed_event.check("prefect.flow-run.failed")
    shown = summary(ex00).data
    assert "0 of 1 done" in shown and "✗ not yet right" in shown
    ex00.failed_event.check("prefect.flow-run.Failed")
    assert "1 of 1 done" in summary(ex00).data and "✓ done" in summary(ex00).data


# Notebook 00 and 01: plain Python first

def test_failed_event():
    right(ex00.failed_event, "prefect.flow-run.Failed")
    wrong(ex00.failed_event, "prefect.flow-run.failed", "case-sensitive")
    wrong(ex00.failed_event, " prefect.flow-run.Failed", "spaces")
    wrong(ex00.failed_event, "flow-run.Failed", "start with 'prefect.'")
    wrong(ex00.failed_event, 3, "an event name is a string")


def test_is_retryable_status():
    right(ex01.is_retryable_status, lambda status_code: status_code == 429 or status_code >= 500)
    right(ex01.is_retryable_status, lambda status_code: status_code in {429, 500, 502, 503, 504})
    wrong(ex01.is_retryable_status, lambda status_code: status_code >= 400, "[400, 401, 404, 422] would be retried")
    wrong(ex01.is_retryable_status, lambda status_code: status_code >= 500, "[429] would not be retried")
    wrong(ex01.is_retryable_status, lambda status_code: "yes", "return True or False")


@pytest.fixture
def pipeline(course):
    import users_pipeline

    return {"task": users_pipeline.fetch_page, "transient": users_pipeline.TransientAPIError,
            "refused": users_pipeline.APIRequestError, "module": users_pipeline}


def test_retry_condition_right_answers_on_the_real_task(pipeline):
    from users_pipeline import RETRYABLE

    context = {k: pipeline[k] for k in ("task", "transient", "refused")}
    right(ex01.retry_condition, lambda task, task_run, state: isinstance(state.result(raise_on_failure=False), RETRYABLE), **context)
    right(ex01.retry_condition, pipeline["module"].is_retryable, **context)


def test_retry_condition_wrong_answers(pipeline):
    context = {k: pipeline[k] for k in ("task", "transient", "refused")}
    wrong(ex01.retry_condition, lambda task, task_run, state: True, "raised APIRequestError", **context)
    wrong(ex01.retry_condition, lambda task, task_run, state: isinstance(state.result(raise_on_failure=False), pipeline["transient"]),
          "ConnectionError", **context)
    wrong(ex01.retry_condition, lambda task, task_run, state: not isinstance(state.result(raise_on_failure=False), pipeline["refused"]),
          "KeyError('results') would be retried", **context)


def test_retry_condition_that_only_the_real_task_exposes(pipeline):
    """Right on every single attempt the check shows it, wrong over a run: it allows one retry only."""
    from users_pipeline import RETRYABLE

    def one_retry_only(task, task_run, state):
        return isinstance(state.result(raise_on_failure=False), RETRYABLE) and task_run.run_count < 2

    wrong(ex01.retry_condition, one_retry_only, "it made [2] attempts", **{k: pipeline[k] for k in ("task", "transient", "refused")})


# Notebook 02: templates and triggers, in automations of the learner's own

def test_body_template_right_answers(course):
    right(ex02.body_template, "{{ flow.name }} run {{ flow_run.name }} ended {{ flow_run.state.name }}: "
                              "{{ flow_run.state.message }}\nOpen it: {{ flow_run|ui_url }}")
    right(ex02.body_template, "{{ flow_run|ui_url }}\n{% if flow_run.state.message %}{{ flow_run.state.message }}{% endif %} "
                              "({{ flow_run.name }} of {{ flow.name }})")


def test_body_template_wrong_answers(course):
    wrong(ex02.body_template, "{{ flow.name }} {{ flow_run.name }} {{ flow_run.state.message }}", "lacks a link to the run")
    wrong(ex02.body_template, "{{ flow.name ", "does not parse")
    wrong(ex02.body_template, ["{{ flow.name }}"], "the template is a string")


def test_a_template_that_only_reads_right_on_the_sample_fails_on_the_real_run(course):
    """It writes the sample run's name instead of templating it: the message the server sends lacks the real one."""
    wrong(ex02.body_template, "{{ flow.name }} run brave-otter: {{ flow_run.state.message }} {{ flow_run|ui_url }}",
          "the message your automation sent lacks the run's name")


def test_crash_trigger_right_answers(course):
    right(ex02.crash_trigger, EventTrigger(expect={FAILED, CRASHED}, match=FLOW_RUN, match_related=COURSE_FLOWS,
                                           posture=Posture.Reactive, threshold=1))
    # No `match` (match_related already scopes it), and a list of related filters.
    right(ex02.crash_trigger, EventTrigger(expect={FAILED, CRASHED}, match_related=[COURSE_FLOWS], posture=Posture.Reactive))


@pytest.mark.parametrize("trigger, words", [
    (EventTrigger(expect={FAILED}, match=FLOW_RUN, match_related=COURSE_FLOWS, posture=Posture.Reactive), "does not fire when a workshop flow run crashes"),
    (EventTrigger(expect={FAILED, CRASHED}, match=FLOW_RUN, posture=Posture.Reactive), "fires for flows that are not the course's"),
    (EventTrigger(expect={"prefect.flow-run.*"}, match_related=COURSE_FLOWS, posture=Posture.Reactive), "fires for runs that Completed"),
    (EventTrigger(expect={FAILED, CRASHED}, match_related=COURSE_FLOWS, posture=Posture.Reactive, threshold=2), "threshold=1"),
    (EventTrigger(after={"prefect.flow-run.Running"}, expect={FAILED, CRASHED}, match_related=COURSE_FLOWS,
                  posture=Posture.Proactive, within=timedelta(seconds=10)), "posture=Posture.Reactive"),
    ("prefect.flow-run.Crashed", "expected an EventTrigger"),
])
def test_crash_trigger_wrong_answers(trigger, words):
    wrong(ex02.crash_trigger, trigger, words)


def test_a_crash_trigger_with_a_window_misses_the_crash_on_the_real_server(course):
    """Prefect's matching says yes to both events; on the server, the window absorbs the second: the check sees it."""
    windowed = EventTrigger(expect={FAILED, CRASHED}, match_related=COURSE_FLOWS, posture=Posture.Reactive, threshold=1,
                            within=timedelta(seconds=60))
    wrong(ex02.crash_trigger, windowed, "sent nothing when a run crashed")


# Notebook 03: a trigger scoped to a deployment, and a failover of the learner's own through the REST API

@pytest.fixture(scope="module")
def deployments(course):
    from prefect.client.orchestration import get_client

    from workshop import serve_deployments, stop_serving

    serve_deployments(NOTEBOOKS / "failover_deployments.py")
    with get_client(sync_client=True) as client:
        found = {name: client.read_deployment_by_name(f"workshop-users-pipeline/workshop-{name}") for name in ("primary", "backup")}
    yield {name: {"id": str(d.id), "name": d.name, "object": d} for name, d in found.items()}
    stop_serving()


def by_id(deployment: dict) -> dict:
    return {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment['id']}"}


def test_scoped_trigger_right_answers(deployments):
    primary, backup = deployments["primary"], deployments["backup"]
    for related in (by_id(primary), {"prefect.resource.role": "deployment", "prefect.resource.name": "workshop-primary"},
                    [{"prefect.resource.role": "deployment"}, by_id(primary)]):
        right(ex03.scoped_trigger, EventTrigger(expect={FAILED}, match_related=related, posture=Posture.Reactive),
              primary=primary, backup=backup)


@pytest.mark.parametrize("related, expect, words", [
    ("backup", {FAILED}, "does not fire when a primary run fails"),
    (None, {FAILED}, "fires when a backup run fails too"),
    ({"prefect.resource.role": "deployment", "prefect.resource.name": "primary"}, {FAILED}, "does not fire when a primary run fails"),
    ({"prefect.resource.role": "deployment", "prefect.resource.name": "*primary"}, {FAILED}, "any flow's deployment called primary"),
    ("primary", {FAILED, COMPLETED}, "fires when a primary run completes too"),
])
def test_scoped_trigger_wrong_answers(deployments, related, expect, words):
    primary, backup = deployments["primary"], deployments["backup"]
    if related in ("primary", "backup"):
        related = by_id(deployments[related])
    trigger = EventTrigger(expect=expect, match_related=related or {}, posture=Posture.Reactive)
    wrong(ex03.scoped_trigger, trigger, words, primary=primary, backup=backup)


def unhealthy(primary: dict, backup: dict, **changes) -> dict:
    payload = {
        "name": "workshop-failover-on-unhealthy-source",
        "enabled": True,
        "trigger": {"type": "event", "posture": "Reactive", "expect": ["workshop.source.unhealthy"],
                    "match": {"prefect.resource.id": "workshop.source.*"}, "match_related": by_id(primary), "threshold": 1, "within": 0},
        "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": backup["id"]}],
    }
    for key, value in changes.items():
        target = payload["trigger"] if key in payload["trigger"] or key == "matchrelated" else payload
        target[key] = value
    return payload


def test_unhealthy_payload_right_answers_start_the_backup_for_real(deployments):
    primary, backup = deployments["primary"], deployments["backup"]
    right(ex03.unhealthy_payload, unhealthy(primary, backup), primary=primary, backup=backup)
    by_name = unhealthy(primary, backup, match_related={"prefect.resource.role": "deployment", "prefect.resource.name": "workshop-primary"})
    del by_name["trigger"]["match"]  # the event's name is the course's own: match_related scopes it enough
    right(ex03.unhealthy_payload, by_name, primary=primary, backup=backup)


def test_unhealthy_payload_wrong_answers(deployments):
    primary, backup = deployments["primary"], deployments["backup"]
    context = {"primary": primary, "backup": backup}
    wrong(ex03.unhealthy_payload, unhealthy(primary, backup, name="failover"), "name it workshop-", **context)
    wrong(ex03.unhealthy_payload, unhealthy(primary, backup, expect=[FAILED]), "does not fire when the primary reports", **context)
    typo = unhealthy(primary, backup, matchrelated=by_id(primary))
    del typo["trigger"]["match_related"]
    wrong(ex03.unhealthy_payload, typo, "it fires when the backup reports one too", **context)
    wrong(ex03.unhealthy_payload, {**unhealthy(primary, backup), "actions": [{"type": "run-deployment", "source": "selected",
                                                                            "deployment_id": primary["id"]}]}, "one action should run the backup", **context)
    wrong(ex03.unhealthy_payload, {**unhealthy(primary, backup), "enabledd": True}, "the server refused it (HTTP 422): enabledd", **context)


def test_an_unhealthy_payload_that_creates_a_disabled_automation_fails_by_its_effect(deployments):
    primary, backup = deployments["primary"], deployments["backup"]
    wrong(ex03.unhealthy_payload, unhealthy(primary, backup, enabled=False), "started no backup run", primary=primary, backup=backup)


# Notebook 04: the design's parts, and the design played

@pytest.fixture
def capstone(deployments):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from workshop import Inbox

    block_id = CustomWebhookNotificationBlock(name="x", url=Inbox().url("alerts"), json_data={"subject": "{{subject}}"}).save(
        "workshop-inbox", overwrite=True)
    return {"primary": deployments["primary"]["object"], "backup": deployments["backup"]["object"], "block_id": block_id}


def failed_run_of(deployment, expect=FAILED) -> EventTrigger:
    return EventTrigger(expect={expect}, match=FLOW_RUN, posture=Posture.Reactive, threshold=1,
                        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment.id}"})


def note(block_id, subject: str) -> SendNotification:
    return SendNotification(block_document_id=block_id, subject=subject, body="{{ flow_run.name }}")


def failover(c, *, within=30, actions=None, trigger=None) -> Automation:
    run_backup = RunDeployment(source="selected", deployment_id=c["backup"].id, parameters={"n_users": "{{ flow_run.parameters.n_users }}"})
    return Automation(name="workshop-capstone-failover",
                      trigger=trigger or failed_run_of(c["primary"]).model_copy(update={"within": timedelta(seconds=within)}),
                      actions=actions if actions is not None else [note(c["block_id"], "Primary failed: failing over"), run_backup])


def test_failover_right_and_wrong(capstone):
    c = capstone
    right(ex04.failover, failover(c), **c)
    right(ex04.failover, failover(c, within=90), **c)
    wrong(ex04.failover, failover(c, within=0), "lets a flapping source set it off again and again", **c)
    wrong(ex04.failover, failover(c, within=600), "longer than this class can wait", **c)
    wrong(ex04.failover, failover(c, actions=[note(c["block_id"], "Primary failed")]), "one action should run the backup", **c)
    wrong(ex04.failover, failover(c, trigger=failed_run_of(c["backup"]).model_copy(update={"within": timedelta(seconds=30)})),
          "does not fire when the primary fails", **c)
    wrong(ex04.failover, failover(c, trigger=failed_run_of(c["primary"]).model_copy(update={"within": timedelta(seconds=30), "threshold": 2})),
          "threshold=1", **c)


def escalation(c, trigger) -> Automation:
    return Automation(name="workshop-capstone-escalation", trigger=trigger, actions=[note(c["block_id"], "URGENT: both down")])


def test_escalation_right_and_wrong(capstone):
    c = capstone
    primary_failed, backup_failed = failed_run_of(c["primary"]), failed_run_of(c["backup"])
    right(ex04.escalation, escalation(c, SequenceTrigger(triggers=[primary_failed, backup_failed], within=timedelta(minutes=5))), **c)
    right(ex04.escalation, escalation(c, CompoundTrigger(triggers=[backup_failed, primary_failed], require="all",
                                                         within=timedelta(minutes=5))), **c)
    wrong(ex04.escalation, escalation(c, backup_failed), "two must happen", **c)
    wrong(ex04.escalation, escalation(c, SequenceTrigger(triggers=[backup_failed, primary_failed], within=timedelta(minutes=5))),
          "put its trigger first", **c)
    wrong(ex04.escalation, escalation(c, CompoundTrigger(triggers=[primary_failed, backup_failed], require="any",
                                                         within=timedelta(minutes=5))), "require='all'", **c)
    unscoped = EventTrigger(expect={FAILED}, posture=Posture.Reactive)
    wrong(ex04.escalation, escalation(c, SequenceTrigger(triggers=[unscoped, backup_failed], within=timedelta(minutes=5))),
          "a part fires on both failures", **c)


def test_recovered_right_and_wrong(capstone):
    c = capstone
    backup_completed = failed_run_of(c["backup"], COMPLETED)

    def recovered(trigger):
        return Automation(name="workshop-capstone-recovered", trigger=trigger, actions=[note(c["block_id"], "Recovered: data is in")])

    right(ex04.recovered, recovered(backup_completed), **c)
    right(ex04.recovered, recovered(SequenceTrigger(triggers=[failed_run_of(c["primary"]), backup_completed], within=timedelta(minutes=5))), **c)
    wrong(ex04.recovered, recovered(failed_run_of(c["primary"], COMPLETED)), "nothing in it fires when the backup completes", **c)
    wrong(ex04.recovered, recovered(EventTrigger(expect={COMPLETED, FAILED}, match_related=by_id({"id": c["backup"].id}))),
          "fires when the backup fails", **c)
    wrong(ex04.recovered, Automation(name="workshop-capstone-recovered", trigger=backup_completed,
                                     actions=[note(c["block_id"], "Backup done")]), "put 'recovered' in the subject", **c)


def test_a_firing_repeated_on_one_event_is_told_from_firings_on_several(course):
    """The capstone's play gives up on a scenario when the server fired an automation twice on one event (Prefect
    3.9.1 in a busy room); a design that fires on each of several events is not that, and is judged as it is."""
    import uuid
    from datetime import UTC, datetime

    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    from workshop.notebook.runs import repeated_firings
    from workshop.waiting import wait_for

    since = datetime.now(UTC)
    once, twice = uuid.uuid4(), uuid.uuid4()

    def fired(automation, cause):
        emit_event("prefect.automation.triggered", resource={"prefect.resource.id": f"prefect.automation.{automation}"},
                   related=[{"prefect.resource.id": f"prefect.event.{cause}", "prefect.resource.role": "triggering-event"}])

    causes = [uuid.uuid4() for _ in range(3)]
    for cause in causes:
        fired(once, cause)
    for cause in (causes[0], causes[1], causes[0]):
        fired(twice, cause)
    EventsWorker.drain_all(timeout=10)
    wait_for(lambda: repeated_firings(twice, since=since) == 1, timeout=30, what="the emitted events to be stored")
    assert repeated_firings(once, since=since) == 0


def test_a_design_whose_parts_pass_but_whose_backup_cannot_work_fails_when_played(capstone):
    """Each part's check is about triggers; only playing scenario A shows that this failover sends the backup to the
    primary's broken source, by passing on the failed run's api_url."""
    c = capstone
    broken = failover(c, actions=[note(c["block_id"], "Primary failed: failing over"),
                                  RunDeployment(source="selected", deployment_id=c["backup"].id,
                                                parameters={"api_url": "{{ flow_run.parameters.api_url }}"})])
    escalate = escalation(c, SequenceTrigger(triggers=[failed_run_of(c["primary"]), failed_run_of(c["backup"])], within=timedelta(minutes=5)))
    recovered = Automation(name="workshop-capstone-recovered", trigger=failed_run_of(c["backup"], COMPLETED),
                           actions=[note(c["block_id"], "Recovered: data is in")])
    wrong(ex04.design, [broken, escalate, recovered], "A: no message with 'recovered' in its subject arrived after the "
          "backup's end (the backup run ended Failed)", **c)


# One source for the notebooks and their solutions

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
        for needed in ("users_pipeline.py", "failover_deployments.py", "hooked_flow.py", "prefect.yaml",
                       "automations/deployment-health.yaml"):
            assert (tmp_path / kind / needed).exists(), f"{kind}/{needed} is missing"
    learner = nbformat.read(tmp_path / "learner" / "01_data_cleaning.ipynb", as_version=4)
    assert exercise_names(learner) and all("____" in c.source for c in learner.cells if exercise_name(c.source))

