"""What the notebooks say about Prefect, checked on the pinned release where no notebook cell shows it.

When Prefect is upgraded, a failure here names the sentence of a notebook (or
the course workaround) that has to change. The facts a notebook shows in a cell
(the notebook trap, a Completed flow with a failed task, Crashed on SIGTERM,
actions_on_resolve silent, what the open-source server accepts) are checked there.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect import flow, task
from prefect.settings import get_current_settings

from workshop.notebook import runs
from workshop.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = get_current_settings()



class TriggerCanary:
    """Says when the server's trigger service has loaded every automation made before the canary and evaluated every
    event sent before each `caught_up()`. No API says so; the service takes automation changes, and events, in the
    order they come: the canary, an automation of its own, is pinged until a ping's firing is recorded."""

    def __enter__(self) -> TriggerCanary:
        from prefect.automations import Automation, EventTrigger
        from prefect.events.actions import DoNothing

        self.marker = f"workshop.fact.canary.{time.time_ns()}"
        self.since = datetime.now(UTC) - timedelta(minutes=1)
        self.automation = Automation(name="workshop-fact-canary", actions=[DoNothing()], trigger=EventTrigger(
            expect={self.marker}, match={"prefect.resource.id": self.marker}, posture="Reactive", threshold=1)).create()
        return self

    def caught_up(self, timeout: float = 60) -> None:
        from prefect.events import emit_event
        from prefect.events.worker import EventsWorker

        pings: set[str] = set()

        def fired_on_a_ping() -> bool:
            pings.add(f"prefect.event.{emit_event(self.marker, resource={'prefect.resource.id': self.marker}).id}")
            EventsWorker.drain_all(timeout=10)
            fired = runs.events("prefect.automation.triggered", since=self.since,
                                resource_id=f"prefect.automation.{self.automation.id}")
            return any(related.id in pings for event in fired for related in event.related
                       if related.role == "triggering-event")

        wait_for(fired_on_a_ping, timeout=timeout, what="the server's trigger service to catch up", interval=1.0)

    def __exit__(self, *_) -> None:
        self.automation.delete()


def triggers_caught_up() -> None:
    """Until the automations made so far are loaded (the server's trigger service loads a new one on its notification)."""
    with TriggerCanary() as canary:
        canary.caught_up()


def test_the_defaults_the_notebooks_quote():
    """02: proactive triggers every 5 s; heartbeats every 180 s. 03: runners poll every 10 s; not ready after 60 s; Late after 15 s."""
    assert DEFAULTS.server.events.proactive_granularity == timedelta(seconds=5)
    assert DEFAULTS.flows.heartbeat_frequency == 180
    assert DEFAULTS.runner.poll_frequency == 10
    assert DEFAULTS.server.services.foreman.deployment_last_polled_timeout_seconds == 60
    assert DEFAULTS.server.services.late_runs.after_seconds == timedelta(seconds=15)


def test_running_flows_send_heartbeat_events():
    """02: 'every running flow sends a prefect.flow-run.heartbeat event'."""
    import prefect.flow_engine

    assert '"prefect.flow-run.heartbeat"' in inspect.getsource(prefect.flow_engine)


def test_a_proactive_trigger_needs_a_window_of_ten_seconds_at_least():
    from prefect.server.events.schemas.automations import EventTrigger
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 10 seconds"):
        EventTrigger(posture="Proactive", expect={"x"}, within=timedelta(seconds=5))


@task
def broken():
    raise ValueError("broken on purpose")


@flow(name="workshop-fact-waits")
def waits_for_its_task():
    broken.submit().wait()
    return "done"


@flow(name="workshop-fact-resolves")
def resolves_its_task():
    return broken.submit().result()


def test_waiting_for_a_failed_task_does_not_fail_the_flow_but_resolving_it_does(course):
    """02, section 4: `future.wait()` only waits; `future.result()` raises the task's exception in the flow."""
    assert waits_for_its_task(return_state=True).is_completed()
    resolved = resolves_its_task(return_state=True)
    assert resolved.is_failed() and "broken on purpose" in resolved.message


def test_a_failed_task_run_emits_its_own_event(course):
    """02, section 4: 'an automation on prefect.task-run.Failed works the same way'."""
    began = datetime.now(UTC)
    waits_for_its_task(return_state=True)
    events = wait_for(lambda: runs.events("prefect.task-run.Failed", since=began), timeout=30, what="the task-run event")
    assert events[0].resource.id.startswith("prefect.task-run.")


def test_on_crashed_runs_for_a_sigterm_but_on_failure_does_not(course, tmp_path):
    """02, section 6: 'on_failure does not run (an on_crashed hook would)'."""
    script = tmp_path / "hooks.py"
    script.write_text(
        "import sys, time\nfrom prefect import flow, task\n"
        f"def note(kind):\n    return lambda f, r, s: open({str(tmp_path / 'heard')!r}, 'a').write(kind + '\\n')\n"
        "@flow(name='workshop-fact-hooks', on_failure=[note('on_failure')], on_crashed=[note('on_crashed')])\n"
        "def hooked():\n    busy()\n"
        "@task\ndef busy():\n    time.sleep(120)\n"
        "hooked()\n"
    )
    began = datetime.now(UTC)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = runs.wait_for_run_of("workshop-fact-hooks", created_after=began, busy=True)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert runs.wait_for_flow_run(run.id, timeout=30).state.is_crashed()
    assert (tmp_path / "heard").read_text().split() == ["on_crashed"]


def test_a_task_timeout_cannot_stop_a_blocking_call_in_a_worker_thread(course):
    """01: 'Prefect's timeout_seconds cannot interrupt a blocking call in a worker thread': the call runs its whole
    course, and only then is the task TimedOut. The reason fetch_page gives requests a timeout of its own."""
    returned = []

    @task(timeout_seconds=1)
    def blocking():
        try:
            time.sleep(3)  # a socket read that hangs, in short
        finally:
            returned.append(time.monotonic())

    seen = []

    @flow(name="workshop-fact-timeout")
    def with_a_timeout():
        future = blocking.submit()  # on a worker thread, as fetch_page's runs are
        future.wait()
        seen.append(future.state)

    began = time.monotonic()
    with_a_timeout()
    wait_for(lambda: returned, timeout=10, what="the blocking call to return")
    assert seen[0].name == "TimedOut"
    assert returned[0] - began >= 3  # the 1-second timeout did not cut the 3-second call short


def test_automation_names_are_not_unique(course):
    """02 and 03: 'automation names are not unique on a Prefect server'."""
    from prefect.automations import Automation, EventTrigger
    from prefect.client.orchestration import get_client
    from prefect.events.actions import DoNothing

    async def twice():
        made = [await Automation(name="workshop-fact-twice", trigger=EventTrigger(expect={"x"}, posture="Reactive", threshold=1),
                                 actions=[DoNothing()]).acreate() for _ in range(2)]
        async with get_client() as client:
            found = await client.read_automations_by_name("workshop-fact-twice")
            for automation in made:
                await client.delete_automation(automation.id)
        return made, found

    made, found = asyncio.run(twice())
    assert len({a.id for a in made}) == 2 and len(found) == 2


def test_state_result_in_a_running_loop_is_a_coroutine(course):
    """The pipeline reads exceptions with state.result() on task threads only: in a loop it returns a coroutine."""
    state = waits_for_its_task(return_state=True)

    async def in_a_loop():
        result = state.result(raise_on_failure=False)
        shape = inspect.iscoroutine(result)
        if shape:
            result.close()
        return shape

    assert asyncio.run(in_a_loop()) is True


def test_a_reactive_trigger_fires_once_per_window_and_the_next_window_follows_on(course):
    """04: 'with within it absorbs what follows for the rest of that window ... The next window opens where that one
    ends, so a failure after it fires again: one firing per window, at most.' (Windows follow on from the first firing,
    not from each: events at 0, 1, 6 and 10.5 s with a 5-second window fire three times, not two.)"""
    from prefect.automations import Automation, EventTrigger
    from prefect.events import emit_event
    from prefect.events.actions import DoNothing
    from prefect.events.worker import EventsWorker

    resource = {"prefect.resource.id": f"workshop.fact.window.{time.time_ns()}"}
    automation = Automation(name="workshop-fact-window", actions=[DoNothing()], trigger=EventTrigger(
        expect={"workshop.fact.ping"}, match=resource, posture="Reactive", threshold=1, within=timedelta(seconds=5),
    )).create()
    # One canary for both waits: another automation saved while the pings are evaluated would make Prefect 3.9.1
    # evaluate them again, and fire again (runs.repeated_firings).
    with TriggerCanary() as canary:
        try:
            canary.caught_up()
            start = datetime.now(UTC) - timedelta(seconds=30)
            for sent, offset in enumerate((0, 1, 6, 10.5), start=1):
                emit_event("workshop.fact.ping", resource=resource, occurred=start + timedelta(seconds=offset))
                EventsWorker.drain_all(timeout=10)
                # The server may evaluate events sent together in any order: send the next once this one is recorded.
                wait_for(lambda n=sent: len(runs.events("workshop.fact.ping", since=start - timedelta(minutes=1),
                                                        resource_id=resource["prefect.resource.id"])) >= n or None,
                         timeout=30, what=f"ping {sent} to be recorded")

            def firings() -> list[str]:
                triggered = runs.events("prefect.automation.triggered", since=start - timedelta(minutes=1),
                                        resource_id=f"prefect.automation.{automation.id}")
                return [str(event.payload["triggering_event"]["occurred"]) for event in triggered]

            wait_for(lambda: len(firings()) >= 3 or None, timeout=30, what=f"three firings (so far {firings()})")
            canary.caught_up()  # every ping evaluated: a fourth firing would be recorded by now
            assert len(firings()) == 3
        finally:
            automation.delete()


def test_the_server_imports_integrations_before_it_looks_a_block_class_up():
    """02, section 1: 'Before it looks a block class up, Prefect's server imports the integration packages installed
    in its environment'."""
    from prefect.blocks.core import Block

    assert "load_prefect_collections()" in inspect.getsource(Block.get_block_class_from_key)


def test_flows_have_an_on_running_hook_and_tasks_have_hooks_too():
    """02, section 7: 'on_crashed, on_completion, on_cancellation and on_running likewise, and tasks have hooks too'."""
    assert {"on_running", "on_crashed", "on_completion", "on_cancellation", "on_failure"} <= set(inspect.signature(flow).parameters)
    assert {"on_completion", "on_failure"} <= set(inspect.signature(task).parameters)


def test_ctrl_c_sends_sigint_and_the_run_still_ends_crashed(course, tmp_path):
    """02, section 7: 'A Ctrl-C in a terminal sends SIGINT instead; the run ends the same way.'"""
    script = tmp_path / "interrupted.py"
    script.write_text("import time\nfrom prefect import flow, task\n@task\ndef busy():\n    time.sleep(120)\n"
                      "@flow(name='workshop-fact-sigint')\ndef interrupted():\n    busy()\ninterrupted()\n")
    began = datetime.now(UTC)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run = runs.wait_for_run_of("workshop-fact-sigint", created_after=began, busy=True)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert runs.wait_for_flow_run(run.id, timeout=30).state.is_crashed()


def test_a_template_that_does_not_parse_is_refused_and_an_unknown_name_renders_as_nothing(course):
    """02, section 10: 'A template that does not parse is refused when you save the automation, with a 422; but a name
    the context does not have renders as nothing'."""
    from prefect.automations import Automation, EventTrigger, SendNotification
    from prefect.events import emit_event
    from prefect.exceptions import PrefectHTTPStatusError

    from workshop import Inbox

    inbox = Inbox()
    block_id = asyncio.run(inbox.asave_block("workshop-fact-inbox", channel="facts"))
    with pytest.raises(PrefectHTTPStatusError, match="422"):
        Automation(name="workshop-fact-unparsed", trigger=EventTrigger(expect={"workshop.fact.never"}, posture="Reactive"),
                   actions=[SendNotification(block_document_id=block_id, body="{{ flow_run.name }")]).create()
    marker = f"workshop.fact.template.{time.time_ns()}"
    automation = Automation(name="workshop-fact-hole", trigger=EventTrigger(expect={marker}, posture="Reactive", threshold=1),
                            actions=[SendNotification(block_document_id=block_id, subject=marker,
                                                      body="[{{ flow_run.paramters }}]")]).create()
    try:
        triggers_caught_up()
        emit_event(marker, resource={"prefect.resource.id": "workshop.fact"})
        message, _ = inbox.wait_for(marker, timeout=30)
        assert message.content == "[]"
    finally:
        automation.delete()


def test_several_actions_run_independently_the_second_need_not_wait_for_the_first(course):
    """03, section 7, and 04: 'the server publishes them in order, but runs each one independently, up to two at once:
    the second can finish before the first, and a first action that fails does not stop the second'."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prefect.automations import Automation, CallWebhook, EventTrigger, SendNotification
    from prefect.blocks.webhook import Webhook
    from prefect.events import emit_event

    from workshop import Inbox
    from workshop.testing.isolation import free_port

    answered: list[float] = []

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(4)
            self.send_response(200)
            self.end_headers()
            answered.append(time.time())

        def log_message(self, *args):
            pass

    slow = ThreadingHTTPServer(("127.0.0.1", free_port()), Slow)
    threading.Thread(target=slow.serve_forever, daemon=True).start()
    inbox = Inbox()
    marker = f"workshop.fact.actions.{time.time_ns()}"
    hook_id = Webhook(method="POST", url=f"http://127.0.0.1:{slow.server_address[1]}/").save("workshop-fact-slow", overwrite=True)
    block_id = asyncio.run(inbox.asave_block("workshop-fact-inbox", channel="facts"))
    automation = Automation(name="workshop-fact-actions", trigger=EventTrigger(expect={marker}, posture="Reactive", threshold=1),
                            actions=[CallWebhook(block_document_id=hook_id, payload="{}"),
                                     SendNotification(block_document_id=block_id, subject=marker, body="second")]).create()
    try:
        triggers_caught_up()
        emit_event(marker, resource={"prefect.resource.id": "workshop.fact"})
        message, _ = inbox.wait_for(marker, timeout=30)
        wait_for(lambda: answered, timeout=30, what="the slow endpoint to answer")
        assert message.received_at.timestamp() < answered[0] - 1, "the second action waited for the first"
    finally:
        automation.delete()
        slow.shutdown()


def test_automation_create_from_file_drops_an_unknown_field_silently(course, tmp_path):
    """03, section 8: '--from-file drops unknown fields as silently as the API does'."""
    import json

    name = f"workshop-fact-file-{time.time_ns()}"
    path = tmp_path / "typo.yaml"
    path.write_text(f"name: {name}\nenabled: false\ntrigger:\n  type: event\n  posture: Reactive\n  expect: [prefect.flow-run.Failed]\n"
                    "  matchrelated:\n    prefect.resource.role: deployment\n  threshold: 1\n  within: 0\n"
                    "actions:\n  - type: do-nothing\n")
    prefect = [sys.executable, "-m", "prefect"]
    created = subprocess.run([*prefect, "automation", "create", "--from-file", str(path)], capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    shown = subprocess.run([*prefect, "automation", "inspect", name, "--json"], capture_output=True, text=True, timeout=120)
    stored = json.loads(shown.stdout)
    stored = stored[0] if isinstance(stored, list) else stored
    subprocess.run([*prefect, "--no-prompt", "automation", "delete", name], capture_output=True, timeout=120)
    assert "matchrelated" not in json.dumps(stored) and stored["trigger"]["match_related"] in ({}, [])


def test_read_events_default_limit_is_more_than_the_server_gives(course):
    """docs/upstream.md, and notebook 02's `limit=50`: the client's default of 100 is refused."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    with get_client(sync_client=True) as client, pytest.raises(PrefectHTTPStatusError, match="less than or equal to 50"):
        client.read_events()
