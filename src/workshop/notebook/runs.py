"""Looking at flow runs from a notebook: links into the Prefect UI, task runs, waiting for a run."""

from __future__ import annotations

from uuid import UUID

from .. import settings
from ..errors import WorkshopError
from ..supervisor.prefect_server import ui_url
from ..waiting import wait_for


def flow_run_url(flow_run_id: UUID | str) -> str:
    """The flow run's page in the Prefect UI."""
    current = settings.current()
    if not current.prefect_api_url:
        raise WorkshopError("This kernel has no Prefect server yet: run `course = workshop.start()` first.")
    return f"{ui_url(current, current.prefect_api_url)}/runs/flow-run/{flow_run_id}"


def flow_run_id(state) -> UUID:
    """The id of the flow run a `return_state=True` call produced."""
    return state.state_details.flow_run_id


def task_runs(flow_run_id: UUID | str) -> list:
    """Every task run of a flow run, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(str(flow_run_id))]))
    with get_client(sync_client=True) as client:
        return client.read_task_runs(flow_run_filter=flow_runs, sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)


def retries(flow_run_id: UUID | str) -> int:
    """How many times the flow run's tasks were retried (each extra attempt counts once)."""
    return sum(max(0, task_run.run_count - 1) for task_run in task_runs(flow_run_id))


def flow_run(flow_run_id: UUID | str):
    """The flow run as the server knows it: name, state, timings."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(UUID(str(flow_run_id)))


def wait_for_flow_run(flow_run_id: UUID | str, *, timeout: float = 60.0):
    """Wait until the flow run reaches a final state and return it."""

    def final():
        run = flow_run(flow_run_id)
        return run if run.state and run.state.is_final() else None

    return wait_for(final, timeout=timeout, what=f"flow run {flow_run_id} to finish", interval=0.2)


def artifacts(flow_run_id: UUID | str) -> list:
    """The artifacts (tables, markdown, links) a flow run published: what its Artifacts tab shows."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.sorting import ArtifactSort

    of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(flow_run_id))]))
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=of_run, limit=50, sort=ArtifactSort.CREATED_DESC)


def run_seconds(flow_run_id: UUID | str) -> float:
    """How long the flow run was Running, as the server recorded it (the duration the UI shows)."""
    return flow_run(flow_run_id).total_run_time.total_seconds()


def wait_for_deployment_run(deployment_id: UUID | str, *, created_after, timeout: float = 60.0):
    """Wait for the first flow run of a deployment created after `created_after` (a datetime), and return it.

    This is how a notebook sees that an automation started a deployment.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    of_deployment = DeploymentFilter(id=DeploymentFilterId(any_=[UUID(str(deployment_id))]))

    def started():
        with get_client(sync_client=True) as client:
            recent = client.read_flow_runs(deployment_filter=of_deployment, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=20)
        newer = sorted((run for run in recent if run.created > created_after), key=lambda run: run.created)
        return newer[0] if newer else None

    return wait_for(started, timeout=timeout, what=f"a new run of deployment {deployment_id}", interval=0.2,
                    hint="Is the automation enabled, and is the deployment being served?")


def wait_for_run_of(flow_name: str, *, created_after, states: tuple[str, ...] = ("RUNNING",), busy: bool = False,
                    timeout: float = 120.0):
    """Wait for the newest run of the flow called `flow_name`, created after `created_after`, to be in one of `states`.

    This is how a notebook finds a run that another process started (a script, a runner). `busy=True` waits
    further, until one of its task runs is running: the flow's own code has started, so its process now
    answers a SIGTERM the way Prefect does (the run ends Crashed), not as a process that was just starting.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterStartTime
    from prefect.client.schemas.sorting import FlowRunSort

    of_flow = FlowFilter(name=FlowFilterName(any_=[flow_name]))
    recent = FlowRunFilter(start_time=FlowRunFilterStartTime(after_=created_after))

    def found():
        with get_client(sync_client=True) as client:
            candidates = client.read_flow_runs(flow_filter=of_flow, flow_run_filter=recent,
                                               sort=FlowRunSort.START_TIME_DESC, limit=5)
        run = next((run for run in candidates if run.state and run.state.type.value in states), None)
        if run is not None and busy and not any(t.state and t.state.is_running() for t in task_runs(run.id)):
            return None
        return run

    doing = " and busy" if busy else ""
    return wait_for(found, timeout=timeout, what=f"a run of {flow_name} to be {' or '.join(states).lower()}{doing}", interval=0.2)


def events(name: str, *, since, resource_id: str | None = None, related_id: str | None = None, limit: int = 50) -> list:
    """Events the server recorded since `since` (a datetime): what the UI's Events page lists, oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import (
        EventFilter,
        EventNameFilter,
        EventOccurredFilter,
        EventRelatedFilter,
        EventResourceFilter,
    )

    wanted = EventFilter(
        occurred=EventOccurredFilter(since=since),
        event=EventNameFilter(name=[name]),
        resource=EventResourceFilter(id=[resource_id]) if resource_id else None,
        related=EventRelatedFilter(id=[related_id]) if related_id else None,
    )
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=wanted, limit=limit)
    return sorted(page.events, key=lambda event: event.occurred)


def wait_for_event(name: str, *, since, resource_id: str | None = None, timeout: float = 30.0):
    """The first event called `name` (about `resource_id`) since `since`, once the server has stored it: it stores
    events in batches, a moment after they happen."""
    found = wait_for(lambda: events(name, since=since, resource_id=resource_id), timeout=timeout,
                     what=f"the server to record {name}{' for ' + resource_id if resource_id else ''}", interval=0.3)
    return found[0]


def repeated_firings(automation_id: UUID | str, *, since) -> int:
    """How often the automation fired again on an event it had already fired on, since `since`.

    A design never does that; Prefect 3.9.1 sometimes does on a busy shared server (docs/upstream.md). Each firing
    names its cause, the triggering event.
    """
    fired = events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{automation_id}")
    causes = [related.id for event in fired for related in event.related if related.role == "triggering-event"]
    return len(causes) - len(set(causes))


def inside_a_window(times: list, window: float) -> int:
    """Of firings on events at `times` (datetimes), how many came on an event inside the `window` seconds an earlier
    firing opened (its event's time onwards)."""
    inside, opened = 0, None
    for moment in sorted(times):
        if opened is not None and (moment - opened).total_seconds() < window:
            inside += 1
        else:
            opened = moment
    return inside


def firings_inside_a_window(automation_id: UUID | str, *, since, window: float) -> int:
    """How often the automation, a reactive trigger at threshold 1 with a `within` of `window` seconds, fired on an
    event inside the window an earlier firing of it opened, since `since`. Its design never does that (the window
    absorbs those events); Prefect 3.9.1 sometimes does when two events of a burst are judged at the same moment on a
    busy server (docs/upstream.md). Each firing carries its triggering event, with its time."""
    from datetime import datetime

    fired = events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{automation_id}")
    causes = [(event.payload or {}).get("triggering_event") or {} for event in fired]
    return inside_a_window([datetime.fromisoformat(cause["occurred"]) for cause in causes if cause.get("occurred")], window)


def started_by(automation_id: UUID | str, *, since) -> list[UUID]:
    """The flow runs an automation started since `since`: the server records each in an action.executed event."""
    executed = events("prefect.automation.action.executed", since=since, resource_id=f"prefect.automation.{automation_id}")
    return [
        UUID(related.id.removeprefix("prefect.flow-run."))
        for event in executed
        for related in event.related
        if related.role == "flow-run"
    ]
