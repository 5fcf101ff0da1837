"""Notebook 02: a notification template, and a trigger that also catches crashes."""

from __future__ import annotations

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from . import exercise
from ._automation_checks import as_data, reacts_to, related_filters

_SAMPLE = {
    "flow": {"name": "workshop-users-pipeline"},
    "flow_run": {
        "name": "brave-otter",
        "id": "0b7c2f3e-1111-4d2c-9b1a-3f6e5d4c2b1a",
        "state": {"name": "Failed", "message": "Flow run encountered an exception: TransientAPIError: HTTP 503"},
    },
}
_LINK = f"http://127.0.0.1:4200/runs/flow-run/{_SAMPLE['flow_run']['id']}"


def _render(template: str) -> str:
    environment = SandboxedEnvironment()
    environment.filters["ui_url"] = lambda obj: _LINK  # the server's filter, for a flow run
    try:
        return environment.from_string(template).render(**_SAMPLE)
    except TemplateSyntaxError as error:
        raise AssertionError(f"the template does not parse: {error}") from None


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
    rendered = _render(answer)
    expected = {
        "the flow's name": ("workshop-users-pipeline", "{{ flow.name }}"),
        "the run's name": ("brave-otter", "{{ flow_run.name }}"),
        "the final state message": ("TransientAPIError: HTTP 503", "{{ flow_run.state.message }}"),
        "a link to the run": (_LINK, "{{ flow_run|ui_url }}"),
    }
    for what, (text, template) in expected.items():
        assert text in rendered, f"for a sample failure your body reads {rendered!r}: it lacks {what} ({template})"


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
    match_related={"prefect.resource.role": "flow", "prefect.resource.name": "workshop-*"},
    posture=Posture.Reactive,
    threshold=1,
    within=timedelta(0),
)
''',
)
def crash_trigger(answer):
    trigger = as_data(answer, "an EventTrigger")
    reacts_to(trigger, {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"})
    scoped = any(f.get("prefect.resource.role") == "flow" and f.get("prefect.resource.name") == "workshop-*"
                 for f in related_filters(trigger))
    assert scoped, ("scope it to the course's flows, so others on a shared server do not set it off: "
                    "match_related={'prefect.resource.role': 'flow', 'prefect.resource.name': 'workshop-*'}")
