"""Notebook 04 (capstone): the three notifications around an automatic failover."""

from __future__ import annotations

from . import exercise
from ._automation_checks import as_data, reacts_to, scoped_to_deployment


def _notifying_automation(answer, *, on: str, deployment_id: str, block_id: str, subject_has: str, what: str) -> None:
    automation = as_data(answer, "an Automation(...)")
    assert automation.get("name", "").startswith("workshop-"), "name it workshop-... so `python -m workshop reset` knows it is the course's"
    trigger = automation["trigger"]
    reacts_to(trigger, {on})
    scoped_to_deployment(trigger, deployment_id)
    actions = automation.get("actions") or []
    assert len(actions) == 1 and actions[0].get("type") == "send-notification", "one action: SendNotification(...)"
    action = actions[0]
    assert str(action.get("block_document_id")) == str(block_id), "send through the inbox block: block_document_id=block_id"
    assert subject_has.lower() in action.get("subject", "").lower(), f"{what}: put {subject_has!r} in the subject"
    assert "{{" in action.get("subject", "") + action.get("body", ""), (
        "say which run it is about: template the subject or body, e.g. {{ flow_run.name }}"
    )


_SKELETON = (
    "Automation(name='workshop-...', trigger=EventTrigger(expect=..., match=..., match_related=..., "
    "posture=Posture.Reactive, threshold=1), actions=[SendNotification(block_document_id=block_id, subject=..., body=...)])"
)


@exercise(
    "alert_primary_failed",
    task="Notify the inbox when a run of the primary deployment fails",
    hints=[
        f"The shape: {_SKELETON}",
        "The trigger is notebook 03's failover trigger (Failed, related to the primary deployment by id); the action is notebook 02's notification.",
    ],
    solution='''
# exercise: alert_primary_failed
alert_primary_failed = Automation(
    name="workshop-capstone-primary-failed",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary.id}"},
        posture=Posture.Reactive,
        threshold=1,
    ),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="FAILED: primary run {{ flow_run.name }}",
        body="{{ flow_run.state.message }}\\nFailing over to the mirror. {{ flow_run|ui_url }}",
    )],
)
''',
)
def alert_primary_failed(answer, *, primary_id: str, backup_id: str, block_id: str):
    _notifying_automation(answer, on="prefect.flow-run.Failed", deployment_id=primary_id, block_id=block_id,
                          subject_has="failed", what="the on-call person scans subjects")


@exercise(
    "alert_recovered",
    task="Notify the inbox when the backup run has recovered the data",
    hints=[
        f"The shape: {_SKELETON}",
        "Recovered means: a run of the backup deployment Completed. Expect prefect.flow-run.Completed, related to the backup deployment by id.",
    ],
    solution='''
# exercise: alert_recovered
alert_recovered = Automation(
    name="workshop-capstone-recovered",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Completed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{backup.id}"},
        posture=Posture.Reactive,
        threshold=1,
    ),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="Recovered: backup run {{ flow_run.name }} delivered the data",
        body="The mirror served {{ flow_run.parameters.n_users }} users. {{ flow_run|ui_url }}",
    )],
)
''',
)
def alert_recovered(answer, *, primary_id: str, backup_id: str, block_id: str):
    _notifying_automation(answer, on="prefect.flow-run.Completed", deployment_id=backup_id, block_id=block_id,
                          subject_has="recovered", what="tell people they can relax")


@exercise(
    "alert_backup_failed",
    task="Notify the inbox, loudly, when the backup fails too",
    hints=[
        f"The shape: {_SKELETON}",
        "The backup deployment's runs, Failed; start the subject with URGENT so nobody mistakes it for the first alert.",
    ],
    solution='''
# exercise: alert_backup_failed
alert_backup_failed = Automation(
    name="workshop-capstone-backup-failed",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{backup.id}"},
        posture=Posture.Reactive,
        threshold=1,
    ),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="URGENT: the backup failed too, run {{ flow_run.name }}",
        body="Both sources are down; no data today until someone steps in.\\n{{ flow_run.state.message }}\\n{{ flow_run|ui_url }}",
    )],
)
''',
)
def alert_backup_failed(answer, *, primary_id: str, backup_id: str, block_id: str):
    _notifying_automation(answer, on="prefect.flow-run.Failed", deployment_id=backup_id, block_id=block_id,
                          subject_has="urgent", what="it must stand out")
