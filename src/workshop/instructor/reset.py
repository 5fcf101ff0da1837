"""Remove what the course created on the Prefect server, and nothing else.

Everything the notebooks create is named with the course prefix (`workshop-`;
in a room, `workshop-<learner>-`): automations, blocks, deployments and work pools. Reset
deletes those and empties the inbox (a learner's: their own channels); flows,
runs and anything else on a shared server stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from ..notebook.inbox import Inbox
from ..settings import Settings

T = TypeVar("T")
PAGE = 200  # the most a Prefect server returns per request


def _every(read_page: Callable[[int], list[T]]) -> Iterator[T]:
    """Everything a paged read returns, page after page."""
    offset = 0
    while True:
        page = read_page(offset)
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def reset(settings: Settings) -> dict[str, list[str]]:
    """Delete the course's automations, blocks and deployments; empty the inbox. Returns what went."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import AutomationSort, DeploymentSort

    removed: dict[str, list[str]] = {"automations": [], "blocks": [], "deployments": [], "work pools": []}
    prefix = settings.prefix
    named = DeploymentFilter(name=DeploymentFilterName(like_=prefix))
    with get_client(sync_client=True) as client:
        # Collect first, then delete: deleting while paging would shift the pages.
        automations = [a for a in _every(lambda at: client.read_automations(limit=PAGE, offset=at, sort=AutomationSort.NAME_ASC))
                       if a.name.startswith(prefix)]
        blocks = [b for b in _every(lambda at: client.read_block_documents(limit=PAGE, offset=at))
                  if b.name and b.name.startswith(prefix)]
        deployments = [d for d in _every(lambda at: client.read_deployments(
            deployment_filter=named, limit=PAGE, offset=at, sort=DeploymentSort.NAME_ASC)) if d.name.startswith(prefix)]
        for automation in automations:
            client.delete_automation(automation.id)
            removed["automations"].append(automation.name)
        for block in blocks:
            client.delete_block_document(block.id)
            removed["blocks"].append(block.name)
        for deployment in deployments:
            client.delete_deployment(deployment.id)
            removed["deployments"].append(deployment.name)
        for pool in client.read_work_pools(limit=PAGE):  # notebook 03's process pool
            if pool.name.startswith(prefix):
                client.delete_work_pool(pool.name)
                removed["work pools"].append(pool.name)
    removed["inbox messages"] = [str(Inbox(settings.inbox_url).clear())]
    return removed
