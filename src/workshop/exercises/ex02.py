"""Notebook 02: a template that reads what the notebook did not show, an alert on a task's failures (which a flow's
alert never hears), three automations that say nothing to be repaired with a Prefect user's tools, and predictions
before the demos that surprise people."""

from __future__ import annotations

import re

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from . import PREFIX, NotAttempted, _automations, _calls, _flows, _inbox, _runs, exercise
from ._triggers import STRANGER, describe_scope, event, fires_on, server_model
from .predictions import prediction

TEMPLATE_ALERT, TASK_ALERT = f"{PREFIX}my-failure-alert", f"{PREFIX}my-task-alert"
SILENT = tuple(f"{PREFIX}silent-{n}" for n in (1, 2, 3))  # the debugging exercise's three automations

_SAMPLE = {
    "flow": {"name": f"{PREFIX}users-pipeline"},
    "flow_run": {
        "name": "brave-otter",
        "id": "0b7c2f3e-1111-4d2c-9b1a-3f6e5d4c2b1a",
        "parameters": {"n_users": 37, "seed": "exercise-wren"},
        "state": {"name": "Failed", "message": "Flow run encountered an exception: TransientAPIError: HTTP 503"},
    },
}
_LINK = f"http://127.0.0.1:4200/runs/flow-run/{_SAMPLE['flow_run']['id']}"


# Predictions, before the demos.

forgets_state = prediction(
    "forgets_state",
    question="report_forgets submits a task that fails, never asks for it again, and returns a string. How does its run end?",
    options=("Completed", "Failed"),
    answer='''
# prediction: forgets_state
forgets_state = "Completed"  # "Completed" or "Failed"?
''',
    why="""
A flow run's final state comes from what the **flow** does: its return value, or an exception it lets out. A failed
task does not fail its flow by itself; `report_forgets` returned a string, so its run is **Completed** and no
flow-run automation hears a thing. `report_counts` returned the task's future, and a flow that returns failed futures
(or raises, or resolves a future with `.result()`) fails. The task's own failure is still an event,
`prefect.task-run.Failed`: exercise 2 listens for it.
""",
)

sigterm_messages = prediction(
    "sigterm_messages",
    question="The report's process gets SIGTERM while it runs. Which messages arrive: the hook's, the automation's, both, or none?",
    options=("hook", "automation", "both", "none"),
    answer='''
# prediction: sigterm_messages
sigterm_messages = "none"  # "hook", "automation", "both" or "none"?
''',
    why="""
Prefect catches the signal and reports the run **Crashed**, not Failed, before the process exits. A crash is not a
failure: the `on_failure` hook does not run (an `on_crashed` hook would, if the process lives long enough), and the
automation expects `prefect.flow-run.Failed`, so it does not fire either. The server did hear the crash:
`prefect.flow-run.Crashed` is in the event feed, for an automation that expects it (section 9 has one).
""",
)

storm_alerts = prediction(
    "storm_alerts",
    question="Six failures in a few seconds; the trigger counts threshold=3 within 60 s. How many counted alerts arrive?",
    options=(0, 1, 2, 6),
    answer='''
# prediction: storm_alerts
storm_alerts = 1  # how many "failing again and again" messages?
''',
    why="""
**One.** The third failure reaches the threshold and the automation fires; the window of 60 s that began with the
first failure then absorbs the fourth, fifth and sixth: they count towards nothing. Two alerts would need six
failures in two windows, the second starting after the first window closed. (At `threshold=1`, `within` is that
absorbing window too: notebook 03 shows three events 2 s apart firing three times with `within=0`, once with
`within=30`.)
""",
)


def _render(template: str) -> str:
    environment = SandboxedEnvironment()
    environment.filters["ui_url"] = lambda obj: _LINK  # the server's filter, for a flow run
    try:
        return environment.from_string(template).render(**_SAMPLE)
    except TemplateSyntaxError as error:
        raise AssertionError(f"the template does not parse: {error}") from None


def _automation(name: str, trigger, subject: str, body: str, block_id=None):
    from prefect.automations import Automation, SendNotification

    return Automation(name=name, description="Made by an exercise check of notebook 02; paused after the check.",
                      trigger=trigger, actions=[SendNotification(block_document_id=block_id or _inbox.block_id(),
                                                                 subject=subject, body=body)])


def _failures_of(flow_name: str, *, expect: str = "prefect.flow-run.Failed", role: str = "flow"):
    from prefect.automations import EventTrigger, Posture

    return EventTrigger(expect={expect}, match={"prefect.resource.id": "prefect.flow-run.*"},
                        match_related={"prefect.resource.role": role, "prefect.resource.name": flow_name},
                        posture=Posture.Reactive, threshold=1)


@exercise(
    "body_template",
    task="Write a notification body naming the run, its final state message and the parameters it ran with, and linking to it",
    hints=[
        "The server fills in {{ ... }} from the triggering event: flow_run is the run as Prefect's REST API returns it, "
        "every field of it.",
        "Where does the API keep what a run was called with? Open the failed run's page in the UI (its Parameters "
        "tab), or look at `runs.flow_run(failed_run.id)`: which field is it, and how does Jinja reach one value in it?",
        "flow_run.parameters is a dict: {{ flow_run.parameters }} shows it whole, {{ flow_run.parameters.n_users }} one "
        "value. With {{ flow_run.name }}, {{ flow_run.state.message }} and {{ flow_run|ui_url }} you have all four.",
    ],
    solution='''
# exercise: body_template
body_template = (
    "Run {{ flow_run.name }} of {{ flow.name }} ended {{ flow_run.state.name }}: {{ flow_run.state.message }}\\n"
    "It ran with {{ flow_run.parameters }}: re-run it with those from the UI.\\n"
    "Open it: {{ flow_run|ui_url }}"
)
''',
    why="""
The template's `flow_run` is the whole flow run as Prefect's API returns it, so whatever its page in the UI shows, a
template can say: `flow_run.parameters` (what the run was called with), `flow_run.tags`, `flow_run.start_time`,
`flow_run.total_run_time`... The person on call then knows how to re-run it without opening anything.

The usual wrong answers: writing the parameters out by hand (`n_users=20`: right for one run only; the check sends
two runs with different parameters), reading `flow.parameters` (a flow has none: its runs do), or
`{{ parameters }}` (no such name in the context: Jinja renders an unknown name as nothing, silently).
""",
)
def body_template(answer):
    assert isinstance(answer, str), f"the template is a string; you gave a {type(answer).__name__}"
    rendered = _render(answer)  # fast feedback first, on a sample failure, before anything runs
    expected = {
        "the run's name": "brave-otter",
        "the final state message": "TransientAPIError: HTTP 503",
        "the parameters it ran with (37 users, seed exercise-wren)": "37",
        "the seed it ran with": "exercise-wren",
        "a link to the run": _LINK,
    }
    for what, text in expected.items():
        assert text in rendered, f"for a sample failure your body reads {rendered!r}: it lacks {what}"

    # Now for real: your template in an automation of yours, two runs that fail with other parameters each.
    mark = _inbox.inbox().last_id()
    saved = _automations.save(_automation(TEMPLATE_ALERT, _failures_of(_flows.FAILS),
                                      subject="exercise: {{ flow_run.name }} ({{ flow_run.id }}) failed", body=answer))
    try:
        sent = {(users, seed): _runs.failed_run(n_users=users, seed=seed)
                for users, seed in ((41, "exercise-finch"), (53, "exercise-heron"))}
        heard = {key: _inbox.message_about(run_id, after=mark) for key, run_id in sent.items()}
    finally:
        _automations.pause(saved.id)
    from ..notebook.runs import flow_run, flow_run_url

    for (users, seed), run_id in sent.items():
        message = heard[users, seed]
        assert message is not None, f"your automation {TEMPLATE_ALERT} sent nothing for the failed run {run_id} within 30 s"
        run, link = flow_run(run_id), flow_run_url(run_id)
        # The run's id and link hold digits of their own: n_users must stand as a number in what is left.
        rest = message.content.replace(link, " ").replace(str(run_id), " ")
        for what, found in {"the run's name": run.name in rest, "the final state message": "on purpose" in rest,
                            "its n_users": re.search(rf"(?<![\w-]){users}(?![\w-])", rest) is not None,
                            "its seed": seed in rest, "a link to the run": link in message.content}.items():
            assert found, f"the message your automation sent for run {run.name} lacks {what}:\n{message.content}"
    shown = heard[41, "exercise-finch"].content
    print(f"  Your automation {TEMPLATE_ALERT} sent this for a run called with n_users=41 (now paused):\n"
          + "\n".join("    " + line for line in shown.splitlines()))


def _task_events(name: str, *, task: str = _flows.EXTRA, flow: str = f"{PREFIX}report-forgets"):
    return event(name, flow=flow, resource={"prefect.resource.id": "prefect.task-run.0199a4c2-0000-7000-8000-000000000001",
                                            "prefect.resource.name": f"{task}-a1b"})


@exercise(
    "task_alert",
    task="Alert when the load_extra_columns task fails in one of the workshop's flows, whatever its flow run does",
    hints=[
        "A failed task is an event of its own, whatever its flow run does next. What is that event called?",
        "In the event feed, open the prefect.task-run.Failed event of report_forgets' task: what is its resource, and "
        "what is the resource's name? Which related resource names the flow?",
        "expect={'prefect.task-run.Failed'}, match={'prefect.resource.name': 'load_extra_columns-*'} (a task run is "
        "named after its task), match_related={'prefect.resource.role': 'flow', 'prefect.resource.name': "
        "f'{course.prefix}*'}, posture=Posture.Reactive, threshold=1.",
    ],
    solution='''
# exercise: task_alert
task_alert = EventTrigger(
    expect={"prefect.task-run.Failed"},
    match={"prefect.resource.id": "prefect.task-run.*", "prefect.resource.name": "load_extra_columns-*"},
    match_related={"prefect.resource.role": "flow", "prefect.resource.name": f"{course.prefix}*"},
    posture=Posture.Reactive,
    threshold=1,
)
''',
    why="""
A task run has states and events of its own: when `load_extra_columns` fails, the server records
`prefect.task-run.Failed` for the **task run**, named after its task (`load_extra_columns-a1b`), related to its flow
run and its flow. That event exists whether or not the flow later fails, so this alert hears the failure
`report_forgets` swallowed. `match` picks the task by its run's name; `match_related` keeps it to the workshop's flows.

The usual wrong answers: expecting `prefect.flow-run.Failed` (the flow completed: nothing to hear); matching the task
in `match_related` (a task run's event has no related "task" resource: its own resource is the task run); leaving
the task's name out (then every failing task of every workshop flow alerts, `fetch page` included).
""",
)
def task_alert(answer):
    trigger = server_model(answer, "an EventTrigger(...)")
    assert type(trigger).__name__ == "EventTrigger", f"use an EventTrigger; this is a {type(trigger).__name__}"
    assert trigger.posture.value == "Reactive", "react to each failure as it happens: posture=Posture.Reactive"
    assert trigger.threshold == 1, f"with threshold={trigger.threshold}, a single failure would not alert: threshold=1"
    scope = describe_scope(trigger)
    assert fires_on(trigger, _task_events("prefect.task-run.Failed")), (
        f"it does not fire when load_extra_columns fails in report_forgets ({scope}). Which event does a failed task "
        "emit, and what is that event's resource?")
    assert not fires_on(trigger, _task_events("prefect.task-run.Completed")), f"it fires when the task completes too ({scope})"
    assert not fires_on(trigger, _task_events("prefect.task-run.Failed", task="fetch page 3")), (
        f"it fires when any task fails, fetch page included: name the task ({scope})")
    assert not fires_on(trigger, _task_events("prefect.task-run.Failed", flow=STRANGER)), (
        f"it fires for tasks of flows that are not the course's too: on a shared server that is everybody's ({scope})")
    assert not fires_on(trigger, event("prefect.flow-run.Failed")), f"it fires on a flow run's failure: that is section 2's alert ({scope})"

    # Now for real: your trigger in an automation of yours, a flow whose task fails but which completes, and one
    # whose task completes.
    mark = _inbox.inbox().last_id()
    saved = _automations.save(_automation(TASK_ALERT, answer, subject="task alert: {{ task_run.name }} in {{ flow_run.name }} ({{ flow_run.id }})",
                                      body="{{ flow.name }}: {{ task_run.state.message }} {{ task_run|ui_url }}"))
    try:
        swallowed, fine = _runs.flow_run(_flows.forgets), _runs.flow_run(_flows.keeps)
        heard = _inbox.message_about(swallowed, after=mark)
        extra = _inbox.message_about(fine, after=mark, timeout=1)  # by now its events are long processed
    finally:
        _automations.pause(saved.id)
    from ..notebook.runs import flow_run

    assert flow_run(swallowed).state.is_completed(), "the check's run should have completed (the course's doing)"
    assert heard, f"your automation sent nothing when load_extra_columns failed in a run that completed ({scope})"
    assert extra is None, f"your automation also alerted for a run whose task completed: {extra.subject}"
    print(f"  Your automation {TASK_ALERT} heard the failed task of a run that ended Completed, and nothing of the run "
          f"whose task completed (now paused):\n    {heard.subject}\n    {heard.content}")


# The debugging exercise: three automations that should tell the inbox when exercise-fails fails, and say nothing.

def _broken_automations(block_id):
    return [
        _automation(SILENT[0], _failures_of(_flows.FAILS, expect="prefect.flow-run.failed"),
                    "[silent-1] {{ flow_run.name }} ({{ flow_run.id }}) failed", "{{ flow_run.state.message }}", block_id),
        _automation(SILENT[1], _failures_of(_flows.FAILS, role="flow-run"),
                    "[silent-2] {{ flow_run.name }} ({{ flow_run.id }}) failed", "{{ flow_run.state.message }}", block_id),
        _automation(SILENT[2], _failures_of(_flows.FAILS),
                    "[silent-3] {{ flow_run.name }} ({{ flow_run.id }}) failed", "{{ flow_run.state.message }}", block_id),
    ]


def set_up_silent_alerts():
    """Make the three silent automations anew (and the block the third one uses, deleted again), then a run of
    exercise-fails that each of them should have reported. Returns that run's id."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    async def a_block_that_goes():
        from prefect.client.orchestration import get_client

        gone = CustomWebhookNotificationBlock(name="gone", url=_inbox.inbox().url("nowhere"),
                                              json_data={"subject": "{{subject}}", "body": "{{body}}"})
        block_id = await gone.asave(f"{PREFIX}silent-block", overwrite=True)
        async with get_client() as client:
            await client.delete_block_document(block_id)
        return block_id

    deleted = _calls.in_thread(a_block_that_goes())
    broken = _broken_automations(_inbox.block_id())
    broken[2].actions[0].block_document_id = deleted
    for automation in broken:
        _automations.save_fresh(automation)
    return _runs.failed_run(n_users=3, seed="silent")


def _unchanged(found) -> bool:
    """Is this automation still as set_up_silent_alerts made it (its trigger and its action's block)?"""
    data = found.model_dump(mode="json")
    trigger = data["trigger"]
    number = SILENT.index(found.name)
    if number == 0:
        return sorted(trigger["expect"]) == ["prefect.flow-run.failed"]
    if number == 1:
        related = trigger["match_related"]
        return isinstance(related, dict) and related.get("prefect.resource.role") == "flow-run"
    from prefect.client.orchestration import get_client

    async def block_exists(block_id) -> bool:
        async with get_client() as client:
            try:
                await client.read_block_document(block_id)
                return True
            except Exception:  # ObjectNotFound: the block the action names is gone
                return False

    return not any(_calls.in_thread(block_exists(action["block_document_id"])) for action in data["actions"]
                   if action.get("block_document_id"))


@exercise(
    "silent_alerts",
    task="Find out why three alerts say nothing when exercise-fails fails, and repair them on the server",
    hints=[
        "Work down the checklist for each: did the event happen (the event feed)? Did the automation fire (its "
        "prefect.automation.triggered event)? Did its action run, or fail, and why (action.executed, action.failed)?",
        "Two of them never fired: compare what each expects and matches, read back from the server (`prefect "
        "automation inspect NAME --json`), with the failed run's event in the feed. Is the name exactly the one that "
        "occurs? Is the flow's name under the role that the related resource really has? And the third: what does "
        "the reason in its prefect.automation.action.failed event say is missing?",
        "silent-1 expects 'prefect.flow-run.failed', which never occurs: {'prefect.flow-run.Failed'}. silent-2 looks "
        "for the flow's name under role 'flow-run': the flow's role is 'flow'. silent-3's block was deleted (its "
        "action failed with a 404): point its action at block_id.",
    ],
    solution='''
# exercise: silent_alerts
one, two, three = [(await automations_named(name))[0] for name in SILENT]
one.trigger.expect = {"prefect.flow-run.Failed"}  # event names are exact: Failed, capitalised
two.trigger.match_related = {"prefect.resource.role": "flow", "prefect.resource.name": f"{course.prefix}exercise-fails"}
three.actions[0].block_document_id = block_id  # its block was deleted: its action failed with a 404
for automation in (one, two, three):
    await automation.aupdate()
repaired = [one, two, three]
''',
    why="""
Each stopped at another step of the chain, which is why the checklist goes in its order:

1. `silent-1` never fired: it expects `prefect.flow-run.failed`, and event names are exact. The event feed shows
   the name that occurs, `prefect.flow-run.Failed`; no automation warns about a name that never occurs.
2. `silent-2` never fired either: the run's event is related to its flow with the role `flow`, and the trigger looked
   for the flow's name under the role `flow-run`. The event's related resources, in the feed, say which role
   carries which name.
3. `silent-3` fired (`prefect.automation.triggered`, then `action.triggered`), and its action **failed**:
   `prefect.automation.action.failed` says why, here a 404, because the block it names no longer exists.

The usual wrong answers: recreating an automation under the same name (names are not unique: now there are two, and
the broken one still runs), fixing the first and stopping (the others fail on other steps), or editing the object
in the notebook without `aupdate()`, which leaves the server's copy as it was.
""",
)
def silent_alerts(answer):
    from ..notebook import runs

    found = {name: _automations.automations_named(name) for name in SILENT}
    missing = [name for name, copies in found.items() if not copies]
    assert not missing, f"{', '.join(missing)} is not on the server any more: run the cell that sets the exercise up again"
    twice = [name for name, copies in found.items() if len(copies) > 1]
    assert not twice, (f"there are now {len(found[twice[0]])} automations named {twice[0]}: names are not unique, so a "
                       "new one with the same name is one more. Repair the one that exists (aupdate), or delete the others")
    current = {name: copies[0] for name, copies in found.items()}
    if all(_unchanged(automation) for automation in current.values()):
        raise NotAttempted  # nothing repaired on the server yet
    began, mark = _calls.now(), _inbox.inbox().last_id()
    for automation in current.values():
        _automations.resume(automation.id)
    try:
        run_id = _runs.failed_run(n_users=3, seed="silent-check")
        outcomes = _calls.within(lambda: (done := {name: _automations.action_outcome(a.id, since=began)
                                                     for name, a in current.items()}) and all(done.values()) and done,
                                   timeout=20) or {name: _automations.action_outcome(a.id, since=began) for name, a in current.items()}
        heard = _inbox.message_about(run_id, after=mark, channel=None, timeout=5)
    finally:
        for automation in current.values():
            _automations.pause(automation.id)
    problems = []
    for name, automation in current.items():
        outcome = outcomes.get(name)
        if outcome is None and not _automations.fired(automation.id, since=began):
            problems.append(f"{name} did not fire on the failed run {runs.flow_run(run_id).name}: does the event it "
                            "expects occur under that name, and does the run's event have a related resource with the "
                            "role and the name it asks for? Compare it, read back from the server, with the event feed")
        elif outcome is None:
            problems.append(f"{name} fired, but its action has not ended within 20 s: look for its "
                            "prefect.automation.action.* events in the event feed")
        elif outcome["failed"]:
            problems.append(f"{name} fired, but its action failed: \"{outcome['failed'][0]}\". What does that reason "
                            "say is missing?")
    assert not problems, "\n  ".join(["not all three deliver yet:", *problems])
    assert heard, f"the three delivered, says the server, but no message about run {run_id} reached the inbox"
    print(f"  All three fired on failed run {runs.flow_run(run_id).name} and delivered (now paused); one of the messages:\n"
          f"    {heard.subject}")
