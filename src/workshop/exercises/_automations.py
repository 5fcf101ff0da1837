"""The learner's automation on the real server, as a check handles it: saved, paused and resumed, read back, and
what its own events say it did."""

from __future__ import annotations

from ..notebook import runs
from ..notebook.automations import automations_named as _named
from ..notebook.automations import save_automation
from ._calls import in_thread, with_client


def save(automation):
    """Create or update the learner's automation (by name), enabled."""
    automation.enabled = True
    return in_thread(save_automation(automation))


def save_fresh(automation):
    """Create the learner's automation anew (removing any of its name), enabled: a new automation has no window
    left open by earlier firings, which an update keeps."""
    async def replace(client):
        for old in await client.read_automations_by_name(automation.name):
            await client.delete_automation(old.id)
        automation.enabled = True
        await automation.acreate()
        return automation

    return with_client(replace)


def pause(automation_id) -> None:
    with_client(lambda client: client.pause_automation(automation_id))


def resume(automation_id) -> None:
    with_client(lambda client: client.resume_automation(automation_id))


def automations_named(name: str) -> list:
    return in_thread(_named(name))


def post_automation(payload: dict) -> dict:
    """POST the payload to /automations/ (after removing earlier attempts of that name); the server's answer, or why it refused."""
    from ..notebook.rest import PrefectREST

    api = PrefectREST()
    for old in automations_named(str(payload.get("name"))):
        api.request("DELETE", f"/automations/{old.id}")
    response = api.request("POST", "/automations/", json=payload)
    if response.status_code == 422:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in response.json().get("exception_detail", [])]
        raise AssertionError(f"the server refused it (HTTP 422): {'; '.join(problems[:3])}")
    assert response.ok, f"the server answered {response.status_code}: {response.text[:300]}"
    return response.json()


def action_outcome(automation_id, *, since) -> dict | None:
    """What an automation's own events say its actions did since `since`, once one has ended: `executed`, and the
    `failed` reasons (prefect.automation.action.failed); None while none has ended."""
    resource = f"prefect.automation.{automation_id}"
    done = runs.events("prefect.automation.action.executed", since=since, resource_id=resource)
    failed = runs.events("prefect.automation.action.failed", since=since, resource_id=resource)
    if done or failed:
        return {"executed": bool(done), "failed": [str(e.payload.get("reason", "")) for e in failed]}
    return None


def fired(automation_id, *, since) -> bool:
    """Did the automation fire since `since` (its prefect.automation.triggered event)?"""
    return bool(runs.events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{automation_id}"))
