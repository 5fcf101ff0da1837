"""My alert: a notification when the primary deployment's run fails, made with Prefect's Python SDK.

    python alert.py          # run it again after a change: it replaces the alert it made before
"""

from prefect.automations import Automation
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture

# --- your values (the lab's brief prints them)
PREFIX = 'workshop-'  # everything you make starts with this
PRIMARY = 'http://127.0.0.1:4280/api/'  # the mock randomuser API's primary site
MIRROR = 'http://127.0.0.1:4280/mirror/api/'  # its mirror
INBOX = 'http://127.0.0.1:4281/lab'  # a channel of the course's inbox, for your alerts
# --- end of your values

NAME = f"{PREFIX}lab-alert"

block = CustomWebhookNotificationBlock(name="lab inbox", url=INBOX, json_data={"subject": "{{subject}}", "body": "{{body}}"})
block_id = block.save(f"{PREFIX}lab-inbox", overwrite=True)

while True:  # a script you can run again: the alert it made before goes first
    try:
        Automation.read(name=NAME).delete()
    except ValueError:  # Prefect's answer when no automation has that name
        break

Automation(
    name=NAME,
    description="Tell someone when a run of the primary deployment fails.",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        # Only the primary's runs: the Failed event's related resources name the run's deployment.
        match_related={"prefect.resource.role": "deployment", "prefect.resource.name": f"{PREFIX}lab-primary"},
        posture=Posture.Reactive,
        threshold=1,
    ),
    actions=[
        SendNotification(
            block_document_id=block_id,
            subject="{{ flow_run.name }} of {{ deployment.name }} failed",
            body="{{ flow_run.state.message }}\n{{ flow_run|ui_url }}",
        )
    ],
).create()
print(f"Saved the automation {NAME} and the block {PREFIX}lab-inbox.")
