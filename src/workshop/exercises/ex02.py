"""Notebook 02: your notification template and your crash trigger, each saved in an automation of yours and tried on real runs."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from . import PREFIX, _effects, _flows, exercise
from ._triggers import STRANGER, describe_scope, event, fires_on, server_model

_SAMPLE = {
    "flow": {"name": f"{PREFIX}users-pipeline"},
    "flow_run": {
        "name": "brave-otter",
        "id": "0b7c2f3e-1111-4d2c-9b1a-3f6e5d4c2b1a",
        "state": {"name": "Failed", "message": "Flow run encountered an exception: TransientAPIError: HTTP 503"},
    },
}
_LINK = f"http://127.0.0.1:4200/runs/flow-run/{_SAMPLE['flow_run']['id']}"
TEMPLATE_ALERT, CRASH_ALERT = f"{PREFIX}my-failure-alert", f"{PREFIX}my-crash-alert"


def _render(template: str) -> str:
    environment = SandboxedEnvironment()
    environment.filters["ui_url"] = lambda obj: _LINK  # the server's filter, for a flow run
    try:
        return environment.from_string(template).render(**_SAMPLE)
    except TemplateSyntaxError as error:
        raise AssertionError(f"the template does not parse: {error}") from None


def _automation(name: str, trigger, subject: str, body: str):
    from prefect.automations import Automation, SendNotification

    return Automation(name=name, description="Made by an exercise check of notebook 02; paused after the check.",
                      trigger=trigger, actions=[SendNotification(block_document_id=_effects.block_id(), subject=subject, body=body)])


def _failures_of(flow_name: str):
    from prefect.automations import EventTrigger, Posture

    return EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                        match_related={"prefect.resource.role": "flow", "prefect.resource.name": flow_name},
                        posture=Posture.Reactive, threshold=1)


@exercise(
    "body_template",
    task="Write a notification body naming the flow, the run, its final state message, and linking to the run",
    hints=[
        "The server fills in {{ ... }} from the triggering event: flow, flow_run, and flow_run.state are there.",
        "The pieces: {{ flow.name }}, {{ flow_run.name }}, {{ flow_run.state.message }}, and {{ flow_run|ui_url }} for the link.",
    ],
    solution='''
# exercise: body_template
body_template = (
    "{{ flow.name }} run {{ flow_run.name }} ended {{ flow_run.state.name }}: {{ flow_run.state.message }}\\n"
    "Open it: {{ flow_run|ui_url }}"
)
''',
)
def body_template(answer):
    assert isinstance(answer, str), f"the template is a string; you gave a {type(answer).__name__}"
    rendered = _render(answer)  # fast feedback first, on a sample failure, before anything runs
    expected = {
        "the flow's name": (_SAMPLE["flow"]["name"], "{{ flow.name }}"),
        "the run's name": ("brave-otter", "{{ flow_run.name }}"),
        "the final state message": ("TransientAPIError: HTTP 503", "{{ flow_run.state.message }}"),
        "a link to the run": (_LINK, "{{ flow_run|ui_url }}"),
    }
    for what, (text, template) in expected.items():
        assert text in rendered, f"for a sample failure your body reads {rendered!r}: it lacks {what} ({template})"

    # Now for real: your template in an automation of yours, a run that fails, your message in the inbox.
    mark = _effects.inbox().last_id()
    saved = _effects.save(_automation(TEMPLATE_ALERT, _failures_of(_flows.FAILS),
                                      subject="exercise: {{ flow_run.name }} ({{ flow_run.id }}) failed", body=answer))
    try:
        run_id = _effects.failed_run()
        message = _effects.message_about(run_id, after=mark)
    finally:
        _effects.pause(saved.id)
    assert message is not None, f"your automation {TEMPLATE_ALERT} sent nothing for the failed run {run_id} within 30 s"
    from ..notebook.runs import flow_run, flow_run_url

    run = flow_run(run_id)
    for what, text in {"the flow's name": _flows.FAILS, "the run's name": run.name,
                       "the final state message": "on purpose", "a link to the run": flow_run_url(run_id)}.items():
        assert text in message.content, f"the message your automation sent lacks {what}:\n{message.content}"
    print(f"  Your automation {TEMPLATE_ALERT} sent this when run {run.name} failed (now paused):\n"
          + "\n".join("    " + line for line in message.content.splitlines()))


@exercise(
    "crash_trigger",
    task="Write a trigger that fires when one of the workshop's flow runs ends Failed or Crashed",
    hints=[
        "Start from the failure trigger in section 2: a Crashed run (its process died) emits prefect.flow-run.Crashed.",
        "expect takes a set of event names: {'prefect.flow-run.Failed', 'prefect.flow-run.Crashed'}; keep match and match_related as in section 2.",
    ],
    solution='''
# exercise: crash_trigger
crash_trigger = EventTrigger(
    expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
    match={"prefect.resource.id": "prefect.flow-run.*"},
    match_related={"prefect.resource.role": "flow", "prefect.resource.name": f"{course.prefix}*"},
    posture=Posture.Reactive,
    threshold=1,
)
''',
)
def crash_trigger(answer):
    trigger = server_model(answer, "an EventTrigger(...)")
    assert type(trigger).__name__ == "EventTrigger", f"use an EventTrigger; this is a {type(trigger).__name__}"
    assert trigger.posture.value == "Reactive", "react to each run as it ends: posture=Posture.Reactive"
    scope = describe_scope(trigger)
    assert fires_on(trigger, event("prefect.flow-run.Failed")), f"it does not fire when a workshop flow run fails ({scope})"
    assert fires_on(trigger, event("prefect.flow-run.Crashed")), f"it does not fire when a workshop flow run crashes ({scope})"
    assert not fires_on(trigger, event("prefect.flow-run.Completed")), f"it fires for runs that Completed too ({scope})"
    assert not fires_on(trigger, event("prefect.flow-run.Failed", flow=STRANGER)), (
        "it fires for flows that are not the course's as well: on a shared server that is everybody's failures. "
        f"Scope it with match_related={{'prefect.resource.role': 'flow', 'prefect.resource.name': '{PREFIX}*'}}"
    )
    assert trigger.threshold == 1, f"with threshold={trigger.threshold}, a single crash would not alert: use threshold=1"

    # Now for real: your trigger in an automation of yours, and three runs: one completes, one fails, one crashes.
    mark = _effects.inbox().last_id()
    saved = _effects.save(_automation(CRASH_ALERT, answer, subject="crash alert: {{ flow_run.name }} ({{ flow_run.id }})",
                                      body="{{ flow.name }} run {{ flow_run.name }} ended {{ flow_run.state.name }}"))
    try:
        fine, failed, crashed = _effects.completed_run(), _effects.failed_run(), _effects.crashed_run()
        heard = {run: _effects.message_about(run, after=mark) for run in (failed, crashed)}
        extra = _effects.message_about(fine, after=mark, timeout=1)  # by now its event is long processed
    finally:
        _effects.pause(saved.id)
    windowed = f" With within={trigger.within}, it fires at most once per window: use within=0." if trigger.within else ""
    assert heard[failed], f"your automation sent nothing when a run failed ({scope}).{windowed}"
    assert heard[crashed], f"your automation sent nothing when a run crashed ({scope}).{windowed}"
    assert extra is None, f"your automation also alerted for a run that completed: {extra.subject}"
    print(f"  Your automation {CRASH_ALERT} alerted for the failed and the crashed run, not for the completed one (now paused):")
    for message in heard.values():
        print(f"    {message.content}")
