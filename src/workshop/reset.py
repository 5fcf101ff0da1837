"""Remove what the course created on the Prefect server, and nothing else.

Everything the notebooks create is named with the `workshop-` prefix
(`config.PREFIX`): automations, blocks and deployments. Reset deletes those
and empties the inbox; flows, runs and anything else on a shared server stay.
"""

from __future__ import annotations

from .config import PREFIX
from .inbox import Inbox


def reset() -> dict[str, list[str]]:
    """Delete the course's automations, blocks and deployments; empty the inbox. Returns what went."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import AutomationSort, DeploymentSort

    removed: dict[str, list[str]] = {"automations": [], "blocks": [], "deployments": []}
    with get_client(sync_client=True) as client:
        # Prefect 3.8.8's sync client sends unset paging and sorting as null: the server answers 422.
        for automation in client.read_automations(limit=200, sort=AutomationSort.NAME_ASC):
            if automation.name.startswith(PREFIX):
                client.delete_automation(automation.id)
                removed["automations"].append(automation.name)
        for block in client.read_block_documents(limit=200, offset=0):
            if block.name and block.name.startswith(PREFIX):
                client.delete_block_document(block.id)
                removed["blocks"].append(block.name)
        named = DeploymentFilter(name=DeploymentFilterName(like_=PREFIX))
        for deployment in client.read_deployments(deployment_filter=named, limit=200, sort=DeploymentSort.NAME_ASC):
            if deployment.name.startswith(PREFIX):
                client.delete_deployment(deployment.id)
                removed["deployments"].append(deployment.name)
    removed["inbox messages"] = [str(Inbox().clear())]
    return removed
