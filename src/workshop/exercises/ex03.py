"""Notebook 03: scope a trigger to one deployment; build a REST payload by hand."""

from __future__ import annotations

from pydantic import ValidationError

from . import exercise
from ._automation_checks import as_data, reacts_to, scoped_to_deployment


@exercise(
    "scoped_trigger",
    task="Write the trigger that fires when a run of the primary deployment (and only that one) fails",
    hints=[
        "A failed run's event is related to its deployment: match_related can pick that deployment.",
        "Match the deployment by id: {'prefect.resource.role': 'deployment', 'prefect.resource.id': f\"prefect.deployment.{primary['id']}\"}.",
    ],
    solution='''
# exercise: scoped_trigger
scoped_trigger = EventTrigger(
    expect={"prefect.flow-run.Failed"},
    match={"prefect.resource.id": "prefect.flow-run.*"},
    match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary['id']}"},
    posture=Posture.Reactive,
    threshold=1,
    within=timedelta(0),
)
''',
)
def scoped_trigger(answer, *, deployment_id: str):
    trigger = as_data(answer, "an EventTrigger")
    reacts_to(trigger, {"prefect.flow-run.Failed"})
    scoped_to_deployment(trigger, deployment_id)


@exercise(
    "unhealthy_payload",
    task="Build the REST payload of an automation that runs the backup as soon as the primary reports an unhealthy source",
    hints=[
        "Start from failover_payload in section 2; only the trigger changes, and the action needs no templated parameters (the backup's defaults will do).",
        "The trigger expects your custom event, 'workshop.source.unhealthy'; match its resource, 'workshop.source.*'; match_related the primary deployment by id.",
        "Keep 'type': 'event', 'posture': 'Reactive', 'threshold': 1 in the trigger, and name the automation 'workshop-...'.",
    ],
    solution='''
# exercise: unhealthy_payload
unhealthy_payload = {
    "name": "workshop-failover-on-unhealthy-source",
    "enabled": True,
    "trigger": {
        "type": "event",
        "posture": "Reactive",
        "expect": ["workshop.source.unhealthy"],
        "match": {"prefect.resource.id": "workshop.source.*"},
        "match_related": {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary['id']}"},
        "threshold": 1,
        "within": 0,
    },
    "actions": [{"type": "run-deployment", "source": "selected", "deployment_id": backup["id"]}],
}
''',
)
def unhealthy_payload(answer, *, primary_id: str, backup_id: str):
    # The server's own schema for POST /automations/: it refuses unknown fields and action types.
    from prefect.server.events.schemas.automations import AutomationCreate

    assert isinstance(answer, dict), f"the payload is a dict that becomes the request's JSON body; you gave a {type(answer).__name__}"
    try:
        automation = AutomationCreate.model_validate(answer)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise AssertionError(f"the server would refuse it (HTTP 422): {where}: {first['msg']}") from None
    payload = as_data(automation, "an automation")
    assert payload["name"].startswith("workshop-"), "name it workshop-... so `python -m workshop reset` knows it is the course's"
    trigger = payload["trigger"]
    assert set(trigger.get("expect") or []) == {"workshop.source.unhealthy"}, "expect your custom event: ['workshop.source.unhealthy']"
    assert trigger.get("match", {}).get("prefect.resource.id") == "workshop.source.*", (
        "match the event's own resource, the source: {'prefect.resource.id': 'workshop.source.*'}"
    )
    assert trigger.get("posture") == "Reactive", "act as soon as the event arrives: posture Reactive"
    scoped_to_deployment(trigger, primary_id)
    actions = payload["actions"]
    assert len(actions) == 1 and actions[0]["type"] == "run-deployment", "one action: {'type': 'run-deployment', ...}"
    assert actions[0].get("source") == "selected" and str(actions[0].get("deployment_id")) == backup_id, (
        "run the backup deployment: 'source': 'selected', 'deployment_id': backup['id']"
    )
