"""Notebook 03: scope a trigger to one deployment; fail over on your own automation, created through the REST API."""

from __future__ import annotations

from . import PREFIX, _effects, exercise
from ._triggers import PRIMARY, STRANGER, as_data, describe_scope, event, fires_on, server_model

COURSE_FAILOVER = f"{PREFIX}failover-on-failure"  # the failover the backup deployment carries (failover_deployments.py)
SCOPED_ALERT = f"{PREFIX}my-scoped-alert"


def _samples(primary: dict, backup: dict, name: str) -> dict:
    return {
        "primary": event(name, deployment=primary["name"], deployment_id=primary["id"]),
        "backup": event(name, deployment=backup["name"], deployment_id=backup["id"]),
        "a stranger's 'primary'": event(name, flow=STRANGER, deployment="primary"),
    }


@exercise(
    "scoped_trigger",
    task="Write the trigger that fires when a run of the primary deployment (and only that one) fails",
    hints=[
        "A failed run's event is related to its deployment: match_related can pick that deployment.",
        "Pick it by id, {'prefect.resource.role': 'deployment', 'prefect.resource.id': f\"prefect.deployment.{primary['id']}\"}, "
        "or by its name, unique on this server: 'prefect.resource.name': primary['name'].",
    ],
    solution='''
# exercise: scoped_trigger
scoped_trigger = EventTrigger(
    expect={"prefect.flow-run.Failed"},
    match={"prefect.resource.id": "prefect.flow-run.*"},
    match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary['id']}"},
    posture=Posture.Reactive,
    threshold=1,
)
''',
)
def scoped_trigger(answer, *, primary: dict, backup: dict):
    trigger = server_model(answer, "an EventTrigger(...)")
    assert type(trigger).__name__ == "EventTrigger", f"use an EventTrigger; this is a {type(trigger).__name__}"
    assert trigger.posture.value == "Reactive", "fail over as soon as the run fails: posture=Posture.Reactive"
    assert trigger.threshold == 1, f"with threshold={trigger.threshold}, a single failure would not fail over: threshold=1"
    scope = describe_scope(trigger)
    failed = _samples(primary, backup, "prefect.flow-run.Failed")
    assert fires_on(trigger, failed["primary"]), f"it does not fire when a primary run fails ({scope})"
    assert not fires_on(trigger, failed["backup"]), f"it fires when a backup run fails too: only the primary's failures count ({scope})"
    assert not fires_on(trigger, failed["a stranger's 'primary'"]), (
        f"it fires for any flow's deployment called primary: match the deployment's id, or its full name {PRIMARY!r} ({scope})"
    )
    completed = _samples(primary, backup, "prefect.flow-run.Completed")
    assert not fires_on(trigger, completed["primary"]), f"it fires when a primary run completes too ({scope})"
    _alert_on_real_failures(answer, primary, backup)


def _paused_course_failover():
    """Pause the course's failover for a check (only the learner's automation may act), and give back a way to resume it."""
    found = _effects.automations_named(COURSE_FAILOVER)
    for automation in found:
        _effects.pause(automation.id)
    return lambda: [_effects.resume(automation.id) for automation in found if automation.enabled]


def _alert_on_real_failures(trigger, primary: dict, backup: dict) -> None:
    """Your trigger in an automation of yours; a primary run and a backup run both fail for real; only one may alert."""
    from prefect.automations import Automation, SendNotification

    from ..notebook import runs
    from ..notebook.mock import MockAPI

    mark, mock = _effects.inbox().last_id(), MockAPI()
    saved = _effects.save(Automation(
        name=SCOPED_ALERT, description="Made by notebook 03's first exercise check; paused after the check.", trigger=trigger,
        actions=[SendNotification(block_document_id=_effects.block_id(), body="{{ flow_run.state.message }}",
                                  subject="scoped alert: {{ deployment.name }} run {{ flow_run.name }} ({{ flow_run.id }})")]))
    resume = _paused_course_failover()  # no backup run of its own in between
    try:
        with mock.faulty("primary", outage=True), mock.faulty("mirror", outage=True):
            failing = {side: _effects.run_deployment(d["id"], n_users=10, seed="exercise-scope") for side, d in
                       (("primary", primary), ("backup", backup))}
            for run in failing.values():
                runs.wait_for_flow_run(run.id, timeout=120)
        heard_primary = _effects.message_about(failing["primary"].id, after=mark)
        heard_backup = _effects.message_about(failing["backup"].id, after=mark, timeout=2)
    finally:
        _effects.pause(saved.id)
        resume()
    assert heard_primary, f"on the server, your automation sent nothing when primary run {failing['primary'].name} failed"
    assert heard_backup is None, f"on the server, your automation also alerted for backup run {failing['backup'].name}"
    print(f"  On the server, your trigger (in {SCOPED_ALERT}, now paused) alerted for failed primary run "
          f"{failing['primary'].name}, and not for failed backup run {failing['backup'].name}.")


@exercise(
    "unhealthy_payload",
    task="POST an automation that runs the backup as soon as the primary reports an unhealthy source",
    hints=[
        "Start from failover_payload in section 2: the action is the same; only the trigger changes.",
        "The trigger expects your custom event, 'workshop.source.unhealthy'. Its resource is the source; "
        "match_related picks the primary deployment (by id or by name), as before.",
        "Keep 'type': 'event', 'posture': 'Reactive', 'threshold': 1 in the trigger, and name the automation f\"{course.prefix}...\" (workshop-..., in a classroom workshop-<your name>-...).",
    ],
    solution='''
# exercise: unhealthy_payload
unhealthy_payload = {
    "name": f"{course.prefix}failover-on-unhealthy-source",
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
def unhealthy_payload(answer, *, primary: dict, backup: dict):
    assert isinstance(answer, dict), f"the payload is a dict that becomes the request's JSON body; you gave a {type(answer).__name__}"
    assert str(answer.get("name", "")).startswith(PREFIX), f"name it {PREFIX}... so that `python -m workshop reset` knows it is the course's"
    trigger = server_model(answer.get("trigger"), "a trigger")
    scope = describe_scope(trigger)
    source = {"prefect.resource.id": "workshop.source.127.0.0.1:4280/api/", "prefect.resource.name": "http://127.0.0.1:4280/api/"}
    unhealthy = {side: event("workshop.source.unhealthy", deployment=d["name"], deployment_id=d["id"], resource=source)
                 for side, d in (("primary", primary), ("backup", backup))}
    assert fires_on(trigger, unhealthy["primary"]), f"it does not fire when the primary reports an unhealthy source ({scope})"
    assert not fires_on(trigger, unhealthy["backup"]), f"it fires when the backup reports one too: only the primary's count ({scope})"
    assert not fires_on(trigger, event("prefect.flow-run.Failed", deployment=PRIMARY, deployment_id=primary["id"])), (
        f"it fires on the primary's failed runs: that is the failover we already have; expect the custom event ({scope})"
    )
    runs_backup = [a for a in as_data(answer, "a payload").get("actions") or []
                   if isinstance(a, dict) and a.get("type") == "run-deployment" and str(a.get("deployment_id")) == str(backup["id"])]
    assert runs_backup, "one action should run the backup: {'type': 'run-deployment', 'source': 'selected', 'deployment_id': backup['id']}"
    _fail_over_for_real(answer, primary, backup)


def _fail_over_for_real(payload: dict, primary: dict, backup: dict) -> None:
    """POST your payload, take the primary's source down, run the primary, and find the backup run your automation started."""
    from ..notebook import runs
    from ..notebook.mock import MockAPI

    created = _effects.post_automation(payload)  # refused with the server's reason, or created
    began, mock = _effects.now(), MockAPI()
    resume = _paused_course_failover()  # only yours may start a backup during the check
    try:
        with mock.faulty(outage=True):
            primary_run = _effects.run_deployment(primary["id"], n_users=20, seed="exercise")
            started = _effects.within(lambda: runs.started_by(created["id"], since=began), timeout=60)
        assert started, (f"the primary failed and reported its source, but your automation started no backup run within 60 s"
                         f"{': it was created disabled (enabled: false)' if not created.get('enabled') else ''}")
        backup_run = runs.wait_for_flow_run(started[0], timeout=90)
    finally:
        _effects.pause(created["id"])
        resume()
    assert backup_run.deployment_id and str(backup_run.deployment_id) == str(backup["id"]), "your automation started a run, but not of the backup"
    assert backup_run.state.is_completed(), f"the backup run your automation started ended {backup_run.state.name}"
    primary_final = runs.wait_for_flow_run(primary_run.id, timeout=90)
    print(f"  Your automation {payload['name']} (created through POST /automations/) started backup run {backup_run.name} "
          f"while primary run {primary_final.name} was failing; the backup completed from the mirror. "
          "Your automation is paused now, so it does not start a second backup in the sections below.")
