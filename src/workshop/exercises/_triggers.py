"""Judging a learner's trigger by what it does, with Prefect's own matching rules.

A checker asks "would this trigger fire for a Failed run of the primary?",
"for a Completed one?", and Prefect's server-side trigger model answers
(`covers` and `expects`, the code the server runs on every event). So every
valid form passes: `match` omitted where `match_related` already scopes,
a list of related filters, a deployment matched by id or by its name, one
event or a wildcard in `expect`. Only what would behave wrongly fails.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from . import PREFIX

# The resources of the sample events: one course flow, its two deployments, and a flow that is not the course's.
FLOW = f"{PREFIX}users-pipeline"
PRIMARY, BACKUP = f"{PREFIX}primary", f"{PREFIX}backup"
STRANGER = "someone-elses-pipeline"


def as_data(model: Any, kind: str) -> dict:
    """A Prefect trigger or automation (or its JSON) as plain data, or a clear complaint."""
    if isinstance(model, dict):
        return model
    dump = getattr(model, "model_dump", None)
    assert dump is not None, f"expected {kind}, got {type(model).__name__} {model!r}"
    return dump(mode="json")


def server_model(answer: Any, kind: str = "a trigger"):
    """The server's view of a trigger (client object or JSON), as the server would build it on create."""
    from prefect.server.events.schemas.automations import ServerTriggerTypes
    from pydantic import TypeAdapter, ValidationError

    data = copy.deepcopy(as_data(answer, kind))  # Prefect's validators change the dict they are given
    try:
        return TypeAdapter(ServerTriggerTypes).validate_python(data)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "the trigger"
        raise AssertionError(f"the server would refuse it: {where}: {first['msg']}") from None


def event(name: str, *, flow: str = FLOW, deployment: str | None = None, deployment_id: UUID | str | None = None,
          resource: dict | None = None, tags: tuple[str, ...] = (), creator: str | None = None):
    """A sample event, shaped as Prefect emits it for a flow run (or for `resource`), with its related resources; a
    run an automation started (`creator`: its name) is related to it with the role `creator`."""
    from prefect.server.events.schemas.events import ReceivedEvent

    related = [{"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow", "prefect.resource.name": flow}]
    if deployment:
        related.append({"prefect.resource.id": f"prefect.deployment.{deployment_id or uuid4()}",
                        "prefect.resource.role": "deployment", "prefect.resource.name": deployment})
    related += [{"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"} for tag in tags]
    if creator:
        related.append({"prefect.resource.id": f"prefect.automation.{uuid4()}", "prefect.resource.role": "creator",
                        "prefect.resource.name": creator})
    run_id = uuid4()
    if resource is None:
        resource = {"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.name": "brave-otter"}
    else:
        related.append({"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"})
    return ReceivedEvent(occurred=datetime.now(UTC), event=name, resource=resource, related=related, id=uuid4())


def fires_on(trigger, sample) -> bool:
    """Would this reactive event trigger count `sample` towards firing? (Prefect's own matching.)"""
    return bool(trigger.covers(sample) and trigger.expects(sample.event))


def describe_scope(trigger) -> str:
    data = trigger.model_dump(mode="json")
    return f"expect={sorted(data.get('expect') or [])}, match={data.get('match')}, match_related={data.get('match_related')}"
