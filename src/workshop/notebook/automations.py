"""Saving automations so that running a cell twice never makes two.

Automation names are not unique on a Prefect server: `acreate()` twice makes
two automations that both fire. `save_automation` looks the name up first and
updates what is there.
"""

from __future__ import annotations

from prefect.automations import Automation
from prefect.client.orchestration import get_client


async def save_automation(automation: Automation) -> Automation:
    """Create `automation`, or replace the one with its name (the latest saved, if several; the others go)."""
    async with get_client() as client:
        existing = await client.read_automations_by_name(automation.name)  # latest updated first
        if not existing:
            return await automation.acreate()
        keep, *duplicates = existing
        for duplicate in duplicates:
            await client.delete_automation(duplicate.id)
    automation.id = keep.id
    await automation.aupdate()
    return automation


async def automations_named(name: str) -> list[Automation]:
    """Every automation on the server with this name (there should be one), as SDK objects: `aenable()`, `adisable()`..."""
    async with get_client() as client:
        found = await client.read_automations_by_name(name)
    return [Automation.model_validate(automation.model_dump()) for automation in found]
