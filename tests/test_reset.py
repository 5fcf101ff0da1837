"""`reset` removes the course's own objects from the Prefect server and leaves everything else."""

from __future__ import annotations

import requests
from prefect.client.orchestration import get_client
from prefect.client.schemas.sorting import AutomationSort
from prefect.automations import Automation
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.events.actions import DoNothing
from prefect.events.schemas.automations import EventTrigger

from workshop import Inbox
from workshop.reset import reset


def make_automation(name: str) -> Automation:
    trigger = EventTrigger(expect={"workshop.test.never"}, posture="Reactive", threshold=1)
    return Automation(name=name, trigger=trigger, actions=[DoNothing()]).create()


def test_reset_removes_only_what_the_course_named(course):
    ours = make_automation("workshop-test-reset")
    theirs = make_automation("someone-elses-automation")
    CustomWebhookNotificationBlock(name="x", url=Inbox().url()).save("workshop-test-block", overwrite=True)
    CustomWebhookNotificationBlock(name="x", url=Inbox().url()).save("not-the-course", overwrite=True)
    requests.post(Inbox().url(), json={"subject": "to be cleared"}, timeout=5)

    removed = reset()

    assert "workshop-test-reset" in removed["automations"] and "someone-elses-automation" not in removed["automations"]
    assert "workshop-test-block" in removed["blocks"] and "not-the-course" not in removed["blocks"]
    assert Inbox().messages() == []
    with get_client(sync_client=True) as client:
        names = {a.name for a in client.read_automations(limit=200, sort=AutomationSort.NAME_ASC)}
        blocks = {b.name for b in client.read_block_documents(limit=200, offset=0)}
        client.delete_automation(theirs.id)
    assert ours.name not in names and theirs.name in names
    assert "not-the-course" in blocks and "workshop-test-block" not in blocks
