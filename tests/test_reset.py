"""`reset` removes the course's own objects from the Prefect server and leaves everything else."""

from __future__ import annotations

import requests
from prefect.automations import Automation
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.events.actions import DoNothing
from prefect.events.schemas.automations import EventTrigger

from workshop import Inbox
from workshop.instructor import reset as reset_module
from workshop.instructor.reset import reset


def make_automation(name: str) -> Automation:
    trigger = EventTrigger(expect={"workshop.test.never"}, posture="Reactive", threshold=1)
    return Automation(name=name, trigger=trigger, actions=[DoNothing()]).create()


def test_reset_removes_only_what_the_course_named(course, settings):
    ours = make_automation("workshop-test-reset")
    theirs = make_automation("someone-elses-automation")
    CustomWebhookNotificationBlock(name="x", url=Inbox().url()).save("workshop-test-block", overwrite=True)
    CustomWebhookNotificationBlock(name="x", url=Inbox().url()).save("not-the-course", overwrite=True)
    requests.post(Inbox().url(), json={"subject": "to be cleared"}, timeout=5)

    removed = reset(settings)

    assert "workshop-test-reset" in removed["automations"] and "someone-elses-automation" not in removed["automations"]
    assert "workshop-test-block" in removed["blocks"] and "not-the-course" not in removed["blocks"]
    assert Inbox().messages() == []
    with get_client(sync_client=True) as client:
        names = {a.name for a in client.read_automations()}
        blocks = {b.name for b in client.read_block_documents()}
        client.delete_automation(theirs.id)
    assert ours.name not in names and theirs.name in names
    assert "not-the-course" in blocks and "workshop-test-block" not in blocks


def test_reset_pages_through_more_than_one_page(course, settings, monkeypatch):
    monkeypatch.setattr(reset_module, "PAGE", 2)  # the server's page, made small so that five span three pages
    made = [make_automation(f"workshop-test-page-{n}") for n in range(5)]
    removed = reset(settings)["automations"]
    assert {a.name for a in made} <= set(removed)
