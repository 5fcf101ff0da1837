"""Runs a check makes happen on the real server, so that the learner's automation meets them: flows run here, and
deployment runs started as the UI's Run button starts them."""

from __future__ import annotations

from ..notebook import runs
from . import _flows
from ._calls import in_thread, run_in_thread, with_client


def failed_run(**parameters):
    return runs.flow_run_id(run_in_thread(lambda: _flows.fails(**parameters, return_state=True)))


def flow_run(flow, **parameters):
    """The id of a run of one of the exercise flows (`_flows`), run to its end here."""
    return runs.flow_run_id(run_in_thread(lambda: flow(**parameters, return_state=True)))


def run_deployment(deployment_id, *, tags: list[str] | None = None, **parameters):
    """Start a run of the deployment (as the UI's Run button does) and return it at once."""
    from uuid import UUID

    from prefect.deployments import arun_deployment

    return in_thread(arun_deployment(UUID(str(deployment_id)), parameters=parameters, tags=tags, timeout=0))


def cancel_unfinished(run_ids) -> None:
    """Cancel the runs a check started that have not ended (a check that gave up must not leave runs to run late)."""
    async def cancel(client) -> None:
        from prefect.states import Cancelled

        for run_id in run_ids:
            run = await client.read_flow_run(run_id)
            if run.state and not run.state.is_final():
                await client.set_flow_run_state(run_id, Cancelled(message="Cancelled by the exercise check that started it."),
                                                force=True)

    with_client(cancel)


def deployment_paused(deployment_id) -> bool:
    async def read(client) -> bool:
        return (await client.read_deployment(deployment_id)).paused

    return with_client(read)


def resume_deployment(deployment_id) -> None:
    with_client(lambda client: client.resume_deployment(deployment_id))
