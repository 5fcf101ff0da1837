"""What the automation exercises have in common: reading a trigger or an automation back as plain data."""

from __future__ import annotations

from typing import Any


def as_data(model: Any, kind: str) -> dict:
    """A Prefect trigger or automation as JSON-like data, or a clear complaint."""
    dump = getattr(model, "model_dump", None)
    assert dump is not None, f"expected {kind}, got a {type(model).__name__}"
    return dump(mode="json")


def related_filters(trigger: dict) -> list[dict]:
    related = trigger.get("match_related") or []
    return related if isinstance(related, list) else [related]


def scoped_to_deployment(trigger: dict, deployment_id: str) -> None:
    filters = related_filters(trigger)
    by_name = any(f.get("prefect.resource.role") == "deployment" and "prefect.resource.name" in f and
                  "prefect.resource.id" not in f for f in filters)
    assert not by_name, "a deployment's name is only unique within its flow: match its id, prefect.deployment.<id>"
    wanted = {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment_id}"}
    assert any(all(f.get(k) == v for k, v in wanted.items()) for f in filters), (
        f"match_related should pick the deployment: {wanted}; yours is {trigger.get('match_related')}"
    )


def reacts_to(trigger: dict, events: set[str]) -> None:
    assert trigger.get("type") == "event", "use an EventTrigger"
    expect = set(trigger.get("expect") or [])
    missing, extra = events - expect, expect - events
    assert not missing, f"expect is missing {sorted(missing)}"
    assert not extra, f"expect has {sorted(extra)} too, which should not fire this automation"
    assert trigger.get("posture") == "Reactive", "this reacts to events as they happen: posture Reactive"
    assert trigger.get("threshold") == 1, "fire on every single matching event: threshold 1"
    assert trigger.get("match", {}).get("prefect.resource.id") == "prefect.flow-run.*", (
        "match the flow run itself: match={'prefect.resource.id': 'prefect.flow-run.*'}"
    )
