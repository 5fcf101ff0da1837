"""What the exercise checks do on the real server: save the learner's automation, make runs happen,
and read back what arrived. Safe to call from a notebook cell, where an event loop is running."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from .. import settings
from ..notebook import runs
from ..notebook.automations import save_automation
from ..notebook.inbox import Inbox, Message
from . import _flows

T = TypeVar("T")
CHANNEL = "exercise"  # the exercise checks' messages land in the inbox's /exercise channel


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end on a thread of its own: a notebook's own loop is busy running the cell."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def now() -> datetime:
    return datetime.now(UTC)


def inbox() -> Inbox:
    return Inbox(settings.current().inbox_url)


def block_id():
    """The exercise checks' notification block: the course inbox, channel /exercise."""
    return in_thread(inbox().asave_block(f"{settings.current().prefix}exercise-inbox", channel=CHANNEL))


def with_client(call: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """`await call(client)` with a Prefect client of this kernel's server, on the checks' own thread."""
    async def run() -> T:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return await call(client)

    return in_thread(run())


def save(automation):
    """Create or update the learner's automation (by name), enabled."""
    automation.enabled = True
    return in_thread(save_automation(automation))


def save_fresh(automation):
    """Create the learner's automation anew (removing any of its name), enabled: a new automation has no window
    left open by earlier firings, which an update keeps."""
    async def replace(client):
        for old in await client.read_automations_by_name(automation.name):
            await client.delete_automation(old.id)
        automation.enabled = True
        await automation.acreate()
        return automation

    return with_client(replace)


def pause(automation_id) -> None:
    with_client(lambda client: client.pause_automation(automation_id))


def run_in_thread(function: Callable[[], Any]) -> Any:
    """Run a flow on a thread: a sync flow called in a notebook's loop would otherwise share it."""
    with ThreadPoolExecutor(1) as pool, quiet_console():
        return pool.submit(function).result()


@contextlib.contextmanager
def quiet_console():
    """Keep Prefect's console lines (and the tracebacks of failures a check causes on purpose) out of the cell while
    a check runs its flows, so its verdict is what the learner sees; the logs still reach the server and its UI."""
    handlers = [handler for name in ("", *logging.root.manager.loggerDict) if name == "" or name.startswith("prefect")
                for handler in getattr(logging.getLogger(name), "handlers", []) if "Console" in type(handler).__name__]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def completed_run():
    return runs.flow_run_id(run_in_thread(lambda: _flows.completes(return_state=True)))


def failed_run(**parameters):
    return runs.flow_run_id(run_in_thread(lambda: _flows.fails(**parameters, return_state=True)))


def flow_run(flow, **parameters):
    """The id of a run of one of the exercise flows (`_flows`), run to its end here."""
    return runs.flow_run_id(run_in_thread(lambda: flow(**parameters, return_state=True)))


def crashed_run(timeout: float = 90):
    """A run whose process is stopped with SIGTERM while it runs, as `docker stop` does: it ends Crashed."""
    began = now()
    process = subprocess.Popen([sys.executable, "-m", "workshop.exercises._flows", "120"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = runs.wait_for_run_of(_flows.HANGS, created_after=began, busy=True, timeout=timeout)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    final = runs.wait_for_flow_run(run.id, timeout=30)
    assert final.state.is_crashed(), f"the check's crashed run ended {final.state.name}, not Crashed"  # the course's own doing
    return run.id


def message_about(run_id, *, after: int, timeout: float = 30, channel: str | None = CHANNEL) -> Message | None:
    """The message (of the exercise channel, or of `channel`; None: any) that names `run_id`, once it arrived; None
    if none came in `timeout` s."""
    box = inbox()
    return within(lambda: next((m for m in box.messages(after, channel=channel) if str(run_id) in m.text), None),
                  timeout=timeout)


def action_outcome(automation_id, *, since) -> dict | None:
    """What an automation's own events say its actions did since `since`, once one has ended: `executed`, and the
    `failed` reasons (prefect.automation.action.failed); None while none has ended."""
    resource = f"prefect.automation.{automation_id}"
    done = runs.events("prefect.automation.action.executed", since=since, resource_id=resource)
    failed = runs.events("prefect.automation.action.failed", since=since, resource_id=resource)
    if done or failed:
        return {"executed": bool(done), "failed": [str(e.payload.get("reason", "")) for e in failed]}
    return None


def fired(automation_id, *, since) -> bool:
    """Did the automation fire since `since` (its prefect.automation.triggered event)?"""
    return bool(runs.events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{automation_id}"))


def wait(condition: Callable[[], T], *, timeout: float, what: str) -> T:
    from ..waiting import wait_for

    return wait_for(condition, timeout=timeout, what=what, interval=0.3)


def within(condition: Callable[[], T], *, timeout: float) -> T | None:
    """What `condition` returned once truthy, or None if it never was within `timeout` s (for checks to explain)."""
    from ..errors import WorkshopTimeout

    try:
        return wait(condition, timeout=timeout, what="the check's condition")
    except WorkshopTimeout:
        return None


def automations_named(name: str) -> list:
    from ..notebook.automations import automations_named as named

    return in_thread(named(name))


def resume(automation_id) -> None:
    with_client(lambda client: client.resume_automation(automation_id))


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


def post_automation(payload: dict) -> dict:
    """POST the payload to /automations/ (after removing earlier attempts of that name); the server's answer, or why it refused."""
    from ..notebook.rest import PrefectREST

    api = PrefectREST()
    for old in automations_named(str(payload.get("name"))):
        api.request("DELETE", f"/automations/{old.id}")
    response = api.request("POST", "/automations/", json=payload)
    if response.status_code == 422:
        problems = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in response.json().get("exception_detail", [])]
        raise AssertionError(f"the server refused it (HTTP 422): {'; '.join(problems[:3])}")
    assert response.ok, f"the server answered {response.status_code}: {response.text[:300]}"
    return response.json()
