"""Exercises: not attempted, several right answers, several wrong ones (each with its reason), and the
wrong answers only the real server exposes; one source for the solved notebooks."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from prefect.automations import (
    Automation,
    EventTrigger,
    Posture,
    RunDeployment,
    SendNotification,
    SequenceTrigger,
)

from workshop.checkpoints import Outcome
from workshop.exercises import ____, ex00, ex01, ex02, ex03, ex04, exercise_name, summary
from workshop.instructor.handouts import all_exercises, exercise_names, solved, write_handouts
from workshop.notebook.checks import CheckFailed

from .notebooks import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(NOTEBOOKS))

FAILED, CRASHED, COMPLETED = "prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.Completed"
FLOW_RUN = {"prefect.resource.id": "prefect.flow-run.*"}
COURSE_FLOWS = {"prefect.resource.role": "flow", "prefect.resource.name": "workshop-*"}


def right(exercise, answer, **context) -> None:
    exercise.check(answer, **context)
    assert exercise.status is Outcome.PASSED


def wrong(exercise, answer, words: str, **context) -> str:
    with pytest.raises(CheckFailed, match="Not quite") as failure:
        exercise.check(answer, **context)
    assert words in str(failure.value), str(failure.value)
    assert exercise.status is Outcome.FAILED
    return str(failure.value)


# Not attempted, and the framework

CONTEXTS = {
    "retry_condition": {"task": None},
    "scoped_trigger": {"primary": None, "backup": None},
    "circuit_breaker": {"primary": None, "backup": None},
    **{name: {"primary": None, "backup": None, "block_id": None} for name in ("failover", "escalation", "recovered", "design")},
}


@pytest.mark.parametrize("name", sorted(all_exercises()))
def test_an_unanswered_exercise_says_not_attempted_and_does_not_stop(name, capsys):
    exercise = all_exercises()[name]
    assert exercise.check(____, **CONTEXTS.get(name, {})) is None  # nothing echoed under the message in a notebook
    assert "Not attempted yet" in capsys.readouterr().out and exercise.status is Outcome.NOT_ATTEMPTED


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


@pytest.mark.parametrize("name", sorted(all_exercises()))
def test_every_exercise_has_hints_from_a_leading_question_to_the_answer_and_a_solution_that_says_why(name):
    exercise = all_exercises()[name]
    assert len(exercise.hints) >= 3, "three tiers at least: the task's idea, the question that leads to the answer, the answer"
    assert any("?" in hint for hint in exercise.hints[1:-1]), "a middle tier asks the question that leads to the answer"
    assert len(exercise.why) > 200 and "wrong" in exercise.why.lower(), "the solution says why, and what wrong answers miss"
    assert exercise.why in exercise.solution().data


def test_a_prediction_is_answered_and_explained_never_failed(capsys):
    from IPython.display import Markdown

    shown: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("IPython.display.display", lambda thing: shown.append(thing.data if isinstance(thing, Markdown) else thing))
        prediction = ex01.naive_outage
        for guess, outcome, words in ((____, "none", "No prediction made"), ("JSONDecodeError", "right", "and so it was"),
                                      ("jsondecodeerror", "right", "and so it was"), ("HTTPError", "wrong", "You predicted"),
                                      ("a cat", "wrong", "is not one of")):
            assert prediction.reveal(guess, "JSONDecodeError") is None  # nothing raised, nothing echoed
            assert prediction.outcome == outcome and words in shown[-1] and prediction.why in shown[-1], (guess, shown[-1])


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
    wrong(ex01.is_retryable_status, lambda status_code: status_code >= 400, "[400, 401, 403, 404, 422] would be retried")
    wrong(ex01.is_retryable_status, lambda status_code: status_code >= 500, "[429] would not be retried")
    wrong(ex01.is_retryable_status, lambda status_code: "yes", "return True or False")


@pytest.fixture
def fetch_raw(course):
    """Notebook 01's fetch_raw, as its cell writes it."""
    import requests
    from prefect import task

    @task(retries=3, retry_delay_seconds=0.1, task_run_name="fetch raw page {page}")
    def fetch_raw(api_url: str, page: int, results: int = 5, seed: str = "raw") -> list[dict]:
        response = requests.get(api_url, params={"results": results, "page": page, "seed": seed}, timeout=(3.05, 10))
        response.raise_for_status()
        return response.json()["results"]

    return fetch_raw


def worth_it(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def test_retry_condition_right_answers_in_two_forms_on_the_real_task(fetch_raw):
    import requests

    def by_status(task, task_run, state):
        failure = state.result(raise_on_failure=False)
        if isinstance(failure, requests.HTTPError):
            return worth_it(failure.response.status_code)
        return isinstance(failure, (requests.ConnectionError, requests.Timeout))

    def in_one_line(task, task_run, state):
        failure = state.result(raise_on_failure=False)
        return getattr(getattr(failure, "response", None), "status_code", 0) in (429, 500, 502, 503, 504) or \
            isinstance(failure, (requests.ConnectionError, requests.Timeout)) and not isinstance(failure, requests.HTTPError)

    right(ex01.retry_condition, by_status, task=fetch_raw)
    right(ex01.retry_condition, in_one_line, task=fetch_raw)


def test_retry_condition_wrong_answers_say_which_idea_is_missing(fetch_raw):
    import requests

    import users_pipeline

    told = wrong(ex01.retry_condition, users_pipeline.is_retryable, "HTTPError for an answer with status 503 would not be "
                 "retried", task=fetch_raw)  # the notebook's own condition, reused: it never retries an HTTPError
    assert "what in the exception tells this answer from a 404" in told
    wrong(ex01.retry_condition, lambda task, task_run, state: isinstance(state.result(raise_on_failure=False),
          requests.RequestException), "status 404 would be retried", task=fetch_raw)
    wrong(ex01.retry_condition, lambda task, task_run, state: True, "status 404 would be retried", task=fetch_raw)
    wrong(ex01.retry_condition, lambda task, task_run, state: isinstance(state.result(raise_on_failure=False),
          requests.HTTPError), "ConnectionError('connection reset by peer') would not be retried", task=fetch_raw)


def test_retry_condition_that_only_the_real_task_exposes(fetch_raw):
    """Right on every single attempt the check shows it, wrong over a run: it allows one retry only."""
    import requests

    def one_retry_only(task, task_run, state):
        failure = state.result(raise_on_failure=False)
        ok = worth_it(failure.response.status_code) if isinstance(failure, requests.HTTPError) else isinstance(
            failure, (requests.ConnectionError, requests.Timeout))
        return ok and task_run.run_count < 2

    wrong(ex01.retry_condition, one_retry_only, "it made [2] attempts", task=fetch_raw)


# Notebook 02: a template, a task's alert, and three silent automations, each on the real server

def test_body_template_right_answers_in_three_forms(course):
    right(ex02.body_template, "Run {{ flow_run.name }} ended {{ flow_run.state.name }}: {{ flow_run.state.message }}\n"
                              "It ran with {{ flow_run.parameters }}. {{ flow_run|ui_url }}")
    right(ex02.body_template, "{{ flow_run|ui_url }} {{ flow_run.name }}: {{ flow_run.state.message }} "
                              "(n_users={{ flow_run.parameters.n_users }}, seed={{ flow_run.parameters.seed }})")
    right(ex02.body_template, "{{ flow_run.name }} {{ flow_run.state.message }} {{ flow_run|ui_url }}\n"
                              "{% for name, value in flow_run.parameters.items() %}{{ name }}={{ value }} {% endfor %}")


def test_body_template_wrong_answers_name_what_is_missing(course):
    wrong(ex02.body_template, "{{ flow.name }} run {{ flow_run.name }}: {{ flow_run.state.message }} {{ flow_run|ui_url }}",
          "it lacks the parameters it ran with")  # notebook 02's own alert body: what it did not show
    wrong(ex02.body_template, "{{ flow_run.name }} {{ flow_run.state.message }} {{ flow_run|ui_url }} {{ parameters }}",
          "it lacks the parameters it ran with")  # a name the context does not have renders as nothing
    wrong(ex02.body_template, "{{ flow.name ", "does not parse")
    wrong(ex02.body_template, ["{{ flow.name }}"], "the template is a string")


def test_a_template_that_only_reads_right_on_the_sample_fails_on_the_real_runs(course):
    """It writes the sample's parameters out instead of templating them: the real runs were called otherwise."""
    wrong(ex02.body_template, "{{ flow_run.name }}: {{ flow_run.state.message }} {{ flow_run|ui_url }} (37 users, exercise-wren)",
          "lacks its n_users")


TASK_RUN = {"prefect.resource.id": "prefect.task-run.*"}


def test_task_alert_right_answers_in_two_forms(course):
    right(ex02.task_alert, EventTrigger(expect={"prefect.task-run.Failed"}, match={**TASK_RUN, "prefect.resource.name": "load_extra_columns-*"},
                                        match_related=COURSE_FLOWS, posture=Posture.Reactive, threshold=1))
    right(ex02.task_alert, EventTrigger(expect={"prefect.task-run.Failed"}, match={"prefect.resource.name": "load_extra_columns*"},
                                        match_related=[COURSE_FLOWS], posture=Posture.Reactive))


@pytest.mark.parametrize("trigger, words", [
    (EventTrigger(expect={FAILED}, match_related=COURSE_FLOWS, posture=Posture.Reactive), "does not fire when load_extra_columns fails"),
    (EventTrigger(expect={"prefect.task-run.Failed"}, match_related=COURSE_FLOWS, posture=Posture.Reactive), "name the task"),
    (EventTrigger(expect={"prefect.task-run.Failed"}, match={"prefect.resource.name": "load_extra_columns-*"}, posture=Posture.Reactive),
     "tasks of flows that are not the course's"),
    (EventTrigger(expect={"prefect.task-run.*"}, match={"prefect.resource.name": "load_extra_columns-*"}, match_related=COURSE_FLOWS,
                  posture=Posture.Reactive), "fires when the task completes too"),
    (EventTrigger(expect={"prefect.task-run.Failed"}, match_related={"prefect.resource.role": "task", "prefect.resource.name": "load_extra_columns"},
                  posture=Posture.Reactive), "does not fire when load_extra_columns fails"),
])
def test_task_alert_wrong_answers(trigger, words):
    wrong(ex02.task_alert, trigger, words)


def test_the_silent_alerts_really_say_nothing_and_each_repair_is_checked_on_the_server(course):
    import asyncio

    from workshop.notebook.automations import automations_named
    from workshop.notebook.runs import events
    from workshop.waiting import wait_for

    ex02.set_up_silent_alerts()
    since = datetime.now(UTC) - timedelta(seconds=30)
    found = {name: asyncio.run(automations_named(name))[0] for name in ex02.SILENT}
    # Broken as made: the first two never fire on the failed run, the third fires and its action fails.
    wait_for(lambda: events("prefect.automation.action.failed", since=since, resource_id=f"prefect.automation.{found[ex02.SILENT[2]].id}"),
             timeout=30, what="the third silent alert's failed action")
    for name in ex02.SILENT[:2]:
        assert not events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{found[name].id}"), name

    one, two, three = found.values()
    assert ex02.silent_alerts.check([one, two, three]) is None and ex02.silent_alerts.status is Outcome.NOT_ATTEMPTED

    def save(automation):
        asyncio.run(automation.aupdate())

    one.trigger.expect = {FAILED}  # the first repaired, the others as they were
    save(one)
    told = wrong(ex02.silent_alerts, [one, two, three], "not all three deliver yet")
    assert "silent-2 did not fire" in told and "does the run's event have a related resource" in told
    assert "silent-3 fired, but its action failed" in told and "404" in told and "silent-1" not in told

    two.trigger.match_related = {"prefect.resource.role": "flow", "prefect.resource.name": "workshop-exercise-fails"}
    three.actions[0].block_document_id = ex02._inbox.block_id()
    save(two)
    save(three)
    right(ex02.silent_alerts, [one, two, three])


def test_a_second_automation_of_a_silent_alerts_name_is_told_for_what_it_is(course):
    import asyncio

    from workshop.notebook.automations import automations_named

    ex02.set_up_silent_alerts()
    extra = asyncio.run(automations_named(ex02.SILENT[0]))[0].model_copy(update={"id": None})
    asyncio.run(extra.acreate())
    try:
        wrong(ex02.silent_alerts, ["my repairs"], "names are not unique")
    finally:
        ex02.set_up_silent_alerts()  # one of each again


# Notebook 03: a trigger whose related matches all hold, and a circuit breaker through the REST API

@pytest.fixture(scope="module")
def deployments(course):
    from prefect.client.orchestration import get_client

    from workshop import serve_deployments, stop_serving

    serve_deployments(NOTEBOOKS / "failover_deployments.py")
    with get_client(sync_client=True) as client:
        found = {name: client.read_deployment_by_name(f"workshop-users-pipeline/workshop-{name}") for name in ("primary", "backup")}
    yield {name: {"id": str(d.id), "name": d.name, "object": d} for name, d in found.items()}
    stop_serving()


@pytest.fixture
def in_notebooks(monkeypatch):
    monkeypatch.chdir(NOTEBOOKS)  # where a kernel of notebook 03 runs: the checks find the runner's script there


def by_id(deployment: dict) -> dict:
    return {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment['id']}"}


NIGHTLY = {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.nightly"}


def test_scoped_trigger_right_answers_in_two_forms(deployments, in_notebooks):
    primary, backup = deployments["primary"], deployments["backup"]
    right(ex03.scoped_trigger, EventTrigger(expect={FAILED}, match=FLOW_RUN, match_related=[by_id(primary), NIGHTLY],
                                            posture=Posture.Reactive), primary=primary, backup=backup)
    by_name = {"prefect.resource.role": "deployment", "prefect.resource.name": "workshop-primary"}
    right(ex03.scoped_trigger, EventTrigger(expect={FAILED}, match_related=[NIGHTLY, by_name], posture=Posture.Reactive),
          primary=primary, backup=backup)


@pytest.mark.parametrize("related, words", [
    ("primary", "not tagged nightly too"),
    ([NIGHTLY], "fires for the backup's nightly runs too"),
    ("merged", "does not fire when a nightly primary run fails"),
    ([NIGHTLY, {"prefect.resource.role": "deployment", "prefect.resource.name": "*primary"}], "any flow's deployment called primary"),
])
def test_scoped_trigger_wrong_answers(deployments, related, words):
    primary, backup = deployments["primary"], deployments["backup"]
    if related == "primary":
        related = by_id(primary)
    elif related == "merged":  # one filter holding both: a deployment whose id is the tag's
        related = {"prefect.resource.role": "deployment", "prefect.resource.id": "prefect.tag.nightly"}
    wrong(ex03.scoped_trigger, EventTrigger(expect={FAILED}, match_related=related, posture=Posture.Reactive), words,
          primary=primary, backup=backup)


def breaker(primary: dict, **changes) -> dict:
    payload = {
        "name": "workshop-circuit-breaker", "enabled": True,
        "trigger": {"type": "event", "posture": "Reactive", "expect": [FAILED], "match": {"prefect.resource.id": "prefect.flow-run.*"},
                    "match_related": by_id(primary), "threshold": 3, "within": 60},
        "actions": [{"type": "pause-deployment", "source": "inferred"}],
    }
    for key, value in changes.items():
        (payload["trigger"] if key in payload["trigger"] else payload)[key] = value
    return payload


def test_circuit_breaker_right_answers_pause_the_primary_for_real(deployments, in_notebooks):
    """Answered after Run All too: the notebook's clean-up stopped the runner, and the check starts it again."""
    from workshop import stop_serving

    primary, backup = deployments["primary"], deployments["backup"]
    stop_serving()
    right(ex03.circuit_breaker, breaker(primary), primary=primary, backup=backup)
    selected = breaker(primary, actions=[{"type": "pause-deployment", "source": "selected", "deployment_id": primary["id"]}], within=120)
    right(ex03.circuit_breaker, selected, primary=primary, backup=backup)


def test_circuit_breaker_wrong_answers(deployments):
    primary, backup = deployments["primary"], deployments["backup"]
    context = {"primary": primary, "backup": backup}
    wrong(ex03.circuit_breaker, breaker(primary, threshold=1), "trip on the third failure", **context)
    wrong(ex03.circuit_breaker, breaker(primary, within=0), "need a window to be counted in", **context)
    wrong(ex03.circuit_breaker, breaker(primary, match_related=by_id(backup)), "does not count the primary's failures", **context)
    wrong(ex03.circuit_breaker, breaker(primary, actions=[{"type": "pause-automation", "source": "inferred"}]),
          "no action pauses a deployment", **context)
    wrong(ex03.circuit_breaker, breaker(primary, name="breaker"), "name it workshop-", **context)


def test_a_circuit_breaker_the_server_refuses_is_told_its_reason(deployments, in_notebooks):
    primary, backup = deployments["primary"], deployments["backup"]
    both = breaker(primary, actions=[{"type": "pause-deployment", "source": "inferred", "deployment_id": primary["id"]}])
    wrong(ex03.circuit_breaker, both, "the server refused it (HTTP 422)", primary=primary, backup=backup)


# Notebook 04: the design's parts, and the design played

@pytest.fixture
def capstone(deployments):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from workshop import Inbox

    block_id = CustomWebhookNotificationBlock(name="x", url=Inbox().url("alerts"), json_data={"subject": "{{subject}}"}).save(
        "workshop-inbox", overwrite=True)
    return {"primary": deployments["primary"]["object"], "backup": deployments["backup"]["object"], "block_id": block_id}


def failed_run_of(deployment, expect=FAILED, creator: str | None = None) -> EventTrigger:
    related = {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment.id}"}
    return EventTrigger(expect={expect}, match=FLOW_RUN, posture=Posture.Reactive, threshold=1,
                        match_related=[related, {"prefect.resource.role": "creator", "prefect.resource.name": creator}]
                        if creator else related)


def note(block_id, subject: str) -> SendNotification:
    return SendNotification(block_document_id=block_id, subject=subject, body="{{ flow_run.name }}")


def failover(c, *, within=30, actions=None, trigger=None) -> Automation:
    run_backup = RunDeployment(source="selected", deployment_id=c["backup"].id, parameters={"n_users": "{{ flow_run.parameters.n_users }}"})
    return Automation(name="workshop-capstone-failover",
                      trigger=trigger or failed_run_of(c["primary"]).model_copy(update={"within": timedelta(seconds=within)}),
                      actions=actions if actions is not None else [note(c["block_id"], "The primary is down"), run_backup])


def test_failover_right_and_wrong(capstone):
    c = capstone
    right(ex04.failover, failover(c), **c)
    right(ex04.failover, failover(c, within=90), **c)
    wrong(ex04.failover, failover(c, within=0), "lets a flapping source set it off again and again", **c)
    wrong(ex04.failover, failover(c, within=600), "longer than the play can wait", **c)
    wrong(ex04.failover, failover(c, actions=[note(c["block_id"], "Primary failed")]), "one action should run the backup", **c)
    wrong(ex04.failover, failover(c, trigger=failed_run_of(c["backup"]).model_copy(update={"within": timedelta(seconds=30)})),
          "does not fire when the primary fails", **c)
    wrong(ex04.failover, failover(c, trigger=failed_run_of(c["primary"]).model_copy(update={"within": timedelta(seconds=30), "threshold": 2})),
          "threshold=1", **c)
    wrong(ex04.failover, failover(c).model_copy(update={"name": "workshop-my-failover"}), "name it 'workshop-capstone-failover'", **c)


def escalation(c, trigger) -> Automation:
    return Automation(name="workshop-capstone-escalation", trigger=trigger, actions=[note(c["block_id"], "URGENT: both down")])


def test_escalation_right_and_wrong(capstone):
    c = capstone
    right(ex04.escalation, escalation(c, failed_run_of(c["backup"], creator="workshop-capstone-failover")), **c)
    by_name = EventTrigger(expect={FAILED}, posture=Posture.Reactive, match_related=[
        {"prefect.resource.role": "creator", "prefect.resource.name": "workshop-capstone-failover"},
        {"prefect.resource.role": "deployment", "prefect.resource.name": "workshop-backup"}])
    right(ex04.escalation, escalation(c, by_name), **c)
    told = wrong(ex04.escalation, escalation(c, SequenceTrigger(triggers=[failed_run_of(c["primary"]), failed_run_of(c["backup"])],
                                                                within=timedelta(minutes=5))), "does not follow one run", **c)
    assert "SequenceTrigger" in told
    wrong(ex04.escalation, escalation(c, failed_run_of(c["backup"])), "started by hand", **c)
    any_automation = EventTrigger(expect={FAILED}, posture=Posture.Reactive, match_related=[
        {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{c['backup'].id}"},
        {"prefect.resource.role": "creator", "prefect.resource.id": "prefect.automation.*"}])
    wrong(ex04.escalation, escalation(c, any_automation), "backup runs another automation started", **c)
    wrong(ex04.escalation, Automation(name="workshop-capstone-escalation", trigger=failed_run_of(c["backup"], creator="workshop-capstone-failover"),
                                      actions=[note(c["block_id"], "Both down")]), "put 'urgent' in the subject", **c)


def test_recovered_right_and_wrong(capstone):
    c = capstone

    def recovered(trigger, subject="Recovered: data is in"):
        return Automation(name="workshop-capstone-recovered", trigger=trigger, actions=[note(c["block_id"], subject)])

    ours = failed_run_of(c["backup"], COMPLETED, creator="workshop-capstone-failover")
    right(ex04.recovered, recovered(ours), **c)
    wrong(ex04.recovered, recovered(failed_run_of(c["backup"], COMPLETED)), "started by hand", **c)
    wrong(ex04.recovered, recovered(failed_run_of(c["primary"], COMPLETED)), "fires whenever the primary completes", **c)
    wrong(ex04.recovered, recovered(EventTrigger(expect={COMPLETED, FAILED}, posture=Posture.Reactive, match_related=ours.match_related)),
          "fires when the failover's backup fails", **c)
    wrong(ex04.recovered, recovered(ours, subject="Backup done"), "put 'recovered' in the subject", **c)


def test_a_second_firing_inside_the_window_the_first_opened_is_told_from_firings_after_it():
    """Scenario C's four failures inside a 30 s window: a threshold-1 failover fires once on them. A second firing on
    one of them is the server's race (the play then gives up on the scenario); firings on failures after the window
    are the design's, and judged as they are."""
    from datetime import UTC, datetime, timedelta

    from workshop.notebook.runs import inside_a_window

    start = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    at = [start + timedelta(seconds=seconds) for seconds in (0, 2, 31, 33, 70)]
    assert inside_a_window([at[0]], 30) == 0
    assert inside_a_window([at[1], at[0]], 30) == 1  # two of one burst, in any order
    assert inside_a_window([at[0], at[2], at[4]], 30) == 0  # one per window: the design's
    assert inside_a_window(at, 30) == 2  # 2 s after the first, and 2 s after the one at 31 s


def test_a_firing_repeated_on_one_event_is_told_from_firings_on_several(course):
    """The capstone's play gives up on a scenario when the server fired an automation twice on one event (Prefect
    3.9.1 in a busy room); a design that fires on each of several events is not that, and is judged as it is."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    from workshop.notebook.runs import firings_inside_a_window, repeated_firings
    from workshop.waiting import wait_for

    since = datetime.now(UTC)
    once, twice = uuid.uuid4(), uuid.uuid4()

    def fired(automation, cause, seconds=0):
        occurred = (since + timedelta(seconds=seconds)).isoformat()  # as the server records its triggering event
        emit_event("prefect.automation.triggered", resource={"prefect.resource.id": f"prefect.automation.{automation}"},
                   related=[{"prefect.resource.id": f"prefect.event.{cause}", "prefect.resource.role": "triggering-event"}],
                   payload={"triggering_event": {"id": str(cause), "occurred": occurred}})

    causes = [uuid.uuid4() for _ in range(3)]
    for cause, seconds in zip(causes, (0, 40, 80), strict=True):
        fired(once, cause, seconds)
    for cause in (causes[0], causes[1], causes[0]):
        fired(twice, cause)
    EventsWorker.drain_all(timeout=10)
    wait_for(lambda: repeated_firings(twice, since=since) == 1, timeout=30, what="the emitted events to be stored")
    assert repeated_firings(once, since=since) == 0
    # The same firings by their events' times (runs.firings_inside_a_window): one per 30 s window, or not.
    assert firings_inside_a_window(once, since=since, window=30) == 0
    assert firings_inside_a_window(twice, since=since, window=30) == 2


def test_a_design_whose_parts_pass_but_whose_backup_cannot_work_fails_when_played(capstone, in_notebooks):
    """Each part's check is about triggers; only playing scenario A shows that this failover sends the backup to the
    primary's broken source, by passing on the failed run's api_url."""
    c = capstone
    broken = failover(c, actions=[note(c["block_id"], "The primary is down"),
                                  RunDeployment(source="selected", deployment_id=c["backup"].id,
                                                parameters={"api_url": "{{ flow_run.parameters.api_url }}"})])
    escalate = escalation(c, failed_run_of(c["backup"], creator="workshop-capstone-failover"))
    recovered = Automation(name="workshop-capstone-recovered", trigger=failed_run_of(c["backup"], COMPLETED, creator="workshop-capstone-failover"),
                           actions=[note(c["block_id"], "Recovered: data is in")])
    wrong(ex04.design, [broken, escalate, recovered], "A: your failover should fire once and start one backup, which completes", **c)


# One source for the notebooks and their solutions

def test_every_exercise_is_in_exactly_one_notebook_and_every_notebook_exercise_has_a_solution():
    placed = [name for notebook in SHIPPED.values() for name in exercise_names(notebook)]
    assert sorted(placed) == sorted(name for name, e in all_exercises().items() if e.has_cell)
    checked = [name for name, e in all_exercises().items() if not e.has_cell]  # the capstone's play: on the parts above
    assert all(any(f"ex.{name}.check(" in cell.source for notebook in SHIPPED.values() for cell in notebook.cells)
               for name in checked), checked


def test_every_prediction_is_asked_once_and_revealed_after_its_demo():
    from workshop.exercises.predictions import Prediction, prediction_name

    predictions = all_exercises(Prediction)
    asked = [prediction_name(c.source) for notebook in SHIPPED.values() for c in notebook.cells if c.cell_type == "code"]
    assert sorted(name for name in asked if name) == sorted(predictions)
    for name in predictions:
        notebook = next(nb for nb in SHIPPED.values() if any(prediction_name(c.source) == name for c in nb.cells))
        sources = [c.source for c in notebook.cells]
        asked_at = next(i for i, s in enumerate(sources) if prediction_name(s) == name)
        revealed_at = next(i for i, s in enumerate(sources) if f"ex.{name}.reveal(" in s)
        assert asked_at < revealed_at, name
    per_notebook = {number: sum(1 for c in SHIPPED[name].cells if c.cell_type == "code" and prediction_name(c.source))
                    for number, name in ((n[:2], n) for n in SHIPPED)}
    assert per_notebook["01"] >= 1 and all(per_notebook[n] >= 3 for n in ("02", "03", "04")), per_notebook


@pytest.mark.parametrize("name", [name for name, notebook in SHIPPED.items() if exercise_names(notebook)])
def test_the_solved_copy_differs_only_in_exercise_cells(name):
    from workshop.exercises.predictions import Prediction, prediction_name

    shipped, answered = SHIPPED[name], solved(SHIPPED[name])
    assert len(shipped.cells) == len(answered.cells)
    for before, after in zip(shipped.cells, answered.cells, strict=True):
        name = exercise_name(before.source) if before.cell_type == "code" else None
        guess = prediction_name(before.source) if before.cell_type == "code" else None
        if name:
            assert "____" in before.source and "____" not in after.source
            assert after.source == all_exercises()[name].solution_code
        elif guess:
            assert "____" in before.source and after.source == all_exercises(Prediction)[guess].answer_code
        else:
            assert before.source == after.source


def test_learners_get_the_shipped_blanks_after_the_instructor_solved_the_working_copy(tmp_path, monkeypatch, settings):
    """An instructor rehearses in the room's course folder, answers included: `handouts` and a new hub learner still
    get every blank, and both say which notebooks differ."""
    import subprocess

    from workshop.hub import config as hub
    from workshop.instructor import handouts

    root = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(root)], check=True, timeout=120)
    rehearsed = root / "notebooks" / "01_data_cleaning.ipynb"
    nbformat.write(solved(nbformat.read(rehearsed, as_version=4)), rehearsed)
    assert handouts.working_copy_changes(root) == ["01_data_cleaning.ipynb"]
    assert "01_data_cleaning.ipynb" in handouts.shipped_note(root)

    monkeypatch.setattr(handouts, "COURSE_ROOT", root)
    handouts.write_handouts(tmp_path / "handouts")
    hubs_learner = hub.prepare_learner(settings.model_copy(update={"home": tmp_path / "room"}), "zed")
    for folder in (tmp_path / "handouts" / "learner", hubs_learner):
        learner = nbformat.read(folder / rehearsed.name, as_version=4)
        blanks = [c.source for c in learner.cells if exercise_name(c.source)]
        assert blanks and all("____" in source for source in blanks), f"{folder}: an answer where a blank belongs"


def test_handouts_write_learner_and_solved_copies_that_can_run(tmp_path):
    written = write_handouts(tmp_path)
    assert [p.name for p in written["learner"]] == [p.name for p in written["solved"]] == sorted(SHIPPED)
    for kind in ("learner", "solved"):
        for needed in ("users_pipeline.py", "failover_deployments.py", "hooked_flow.py", "prefect.yaml",
                       "automations/deployment-health.yaml"):
            assert (tmp_path / kind / needed).exists(), f"{kind}/{needed} is missing"
    # The lab's answer is files: in the solved handout, never in the learner's.
    assert {p.name for p in (tmp_path / "solved" / "05_lab_solution").iterdir()} == {"flows.py", "alert.py", "stale_data_trigger.json"}
    assert not (tmp_path / "learner" / "05_lab_solution").exists()
    learner = nbformat.read(tmp_path / "learner" / "01_data_cleaning.ipynb", as_version=4)
    assert exercise_names(learner) and all("____" in c.source for c in learner.cells if exercise_name(c.source))



@pytest.mark.slow  # `python -m workshop record` imports every notebook's exercises: seconds of CPU
def test_the_learners_record_keeps_every_notebooks_exercises_from_one_kernel_to_the_next(tmp_path, monkeypatch):
    """A notebook's summary is its kernel's; `python -m workshop record` shows the whole course from the course
    folder's record, after the kernel is gone: done, not yet, hints seen, predictions made."""
    import subprocess

    from workshop import settings as settings_module
    from workshop.exercises import record

    monkeypatch.setattr(settings_module, "_current", settings_module.Settings(home=tmp_path / "course"))
    ex01.is_retryable_status.check(____)
    with pytest.raises(CheckFailed):
        ex01.is_retryable_status.check(lambda status_code: False)
    ex01.is_retryable_status.hint()
    ex01.is_retryable_status.hint()
    ex01.is_retryable_status.check(lambda status_code: status_code == 429 or status_code >= 500)
    ex01.naive_outage.reveal("HTTPError", "JSONDecodeError")
    with pytest.raises(CheckFailed):
        ex00.failed_event.check(lambda: None)
    (tmp_path / "course" / record.RECORD_FILE).open("a").write('{"kind": "exercise", "na')  # a kernel killed mid-line

    shown = subprocess.run([sys.executable, "-m", "workshop", "record"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "WORKSHOP_HOME": str(tmp_path / "course")})
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[-1] if "hint" not in line else line.split("(")[0].split()[-1]: line
             for line in shown.stdout.splitlines() if line.startswith("  ")}
    assert lines["is_retryable_status"].lstrip().startswith("✓ done") and "(2 hints seen)" in lines["is_retryable_status"]
    assert lines["failed_event"].lstrip().startswith("✗ not yet right")
    assert "made (the server said otherwise)" in lines["naive_outage"] and lines["retry_condition"].lstrip().startswith("○")
    assert "1 of " in shown.stdout.splitlines()[-1] and "2 hints seen" in shown.stdout.splitlines()[-1]


def test_handouts_of_a_path_hold_its_notebooks_only(tmp_path):
    from workshop.instructor.paths import PATHS

    written = write_handouts(tmp_path, path="2h")
    assert {p.name[:2] for p in written["learner"]} == {p.name[:2] for p in written["solved"]} == set(PATHS["2h"])
    assert (tmp_path / "learner" / "users_pipeline.py").exists()  # what 02 and 03 import, without notebook 01
    assert not (tmp_path / "solved" / "05_lab_solution").exists()
