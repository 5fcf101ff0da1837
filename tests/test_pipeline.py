"""The pipeline of notebook 01 (`notebooks/users_pipeline.py`) and the course's automation helper,
tested directly rather than only through the notebooks."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))


class Scripted(BaseHTTPRequestHandler):
    """Answers with the next (status, headers, body) of `script`, and notes when each request came.
    A header's value may be a function: it is called when the answer is sent."""

    script: list[tuple[int, dict, bytes]]
    seen: list[float]

    def do_GET(self):
        self.seen.append(time.monotonic())
        status, headers, body = self.script[min(len(self.seen), len(self.script)) - 1]
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value() if callable(value) else value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


OK = (200, {}, b'{"results": [{"name": "x"}], "info": {}}')


@pytest.fixture
def scripted(serve_in_thread, free_port, course):
    def serve(*script):
        handler = type("Script", (Scripted,), {"script": list(script), "seen": []})
        return serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port), handler)) + "/api/", handler.seen

    return serve


def attempts_of(flow_state) -> list[int]:
    from workshop import runs

    return [task.run_count for task in runs.task_runs(runs.flow_run_id(flow_state))]


def fetch_once(url: str):
    from prefect import flow

    from users_pipeline import fetch_page

    @flow(name="workshop-test-fetch")
    def fetch():
        return fetch_page(url, page=1, results=1, seed="s")

    return fetch(return_state=True)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(scripted, status):
    url, seen = scripted((status, {}, b"oops"), OK)
    state = fetch_once(url)
    assert state.is_completed() and len(seen) == 2 and attempts_of(state) == [2]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(scripted, status):
    url, seen = scripted((status, {}, b'{"error": "your request"}'), OK)
    state = fetch_once(url)
    assert state.is_failed() and "APIRequestError" in state.message and len(seen) == 1 and attempts_of(state) == [1]


@pytest.mark.parametrize("answer", [(200, {}, b'{"error": "Uh oh"}'), (200, {}, b'{"results": [')], ids=["error answer", "broken JSON"])
def test_error_answers_with_http_200_are_retried(scripted, answer):
    url, seen = scripted(answer, OK)
    assert fetch_once(url).is_completed() and len(seen) == 2


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize("retry_after", ["2", "http-date"], ids=["seconds", "HTTP date"])
def test_retry_after_is_honoured_in_both_its_forms(scripted, retry_after):
    # A date has whole seconds: 3 s from the moment of answering is 2 s or more away (on a loaded machine, the
    # first request can come seconds after the test starts).
    header = (lambda: http_date(3)) if retry_after == "http-date" else retry_after
    url, seen = scripted((429, {"Retry-After": header}, b'{"error": "slow down"}'), OK)
    state = fetch_once(url)
    assert state.is_completed() and len(seen) == 2
    assert seen[1] - seen[0] >= 1.9  # it waited what the server asked before trying again


def test_retry_after_parsing():
    from users_pipeline import LONGEST_WAIT, retry_after_seconds

    assert retry_after_seconds("7") == 7 and retry_after_seconds("0.5") == 0.5
    assert 8 <= retry_after_seconds(http_date(10)) <= 10
    assert retry_after_seconds(http_date(-30)) == 0  # a date in the past: go now
    assert retry_after_seconds("soon") == 1.0 and retry_after_seconds(None) == 1.0
    assert retry_after_seconds("86400") == LONGEST_WAIT


def run_pipeline_noting_events(monkeypatch, **parameters) -> tuple[object, list[str]]:
    import users_pipeline

    reported = []
    monkeypatch.setattr(users_pipeline, "report_unhealthy_source", lambda url, failure: reported.append(type(failure).__name__))
    return users_pipeline.users_pipeline(return_state=True, **parameters), reported


def test_an_unhealthy_source_is_reported_when_the_source_is_at_fault(monkeypatch, course):
    from workshop import MockAPI

    with MockAPI().faulty(outage=True):
        state, reported = run_pipeline_noting_events(monkeypatch, n_users=5, page_size=5)
    assert state.is_failed() and reported == ["TransientAPIError"]


def test_no_unhealthy_source_for_a_request_of_ours_that_is_wrong(monkeypatch, course):
    state, reported = run_pipeline_noting_events(monkeypatch, n_users=5, page_size=5, nat="XX")  # the mock answers 400
    assert state.is_failed() and "APIRequestError" in state.message and reported == []


def test_no_unhealthy_source_for_a_bug_in_our_code(monkeypatch, course):
    import users_pipeline

    def broken(*args, **kwargs):
        raise AttributeError("a bug of ours")

    monkeypatch.setattr(users_pipeline.requests, "get", broken)
    state, reported = run_pipeline_noting_events(monkeypatch, n_users=5, page_size=5)
    assert state.is_failed() and "a bug of ours" in state.message and reported == []


def test_save_automation_creates_then_updates_and_removes_duplicates(course):
    from prefect.automations import Automation, EventTrigger
    from prefect.events.actions import DoNothing

    from workshop import automations_named, save_automation

    def automation(description: str) -> Automation:
        trigger = EventTrigger(expect={"workshop.test.never"}, posture="Reactive", threshold=1)
        return Automation(name="workshop-test-save", description=description, trigger=trigger, actions=[DoNothing()])

    async def scenario():
        first = await save_automation(automation("first"))
        assert [a.id for a in await automations_named("workshop-test-save")] == [first.id]
        duplicate = await automation("a duplicate, as acreate() twice would make").acreate()
        assert len(await automations_named("workshop-test-save")) == 2
        second = await save_automation(automation("second"))
        named = await automations_named("workshop-test-save")
        assert [(a.id, a.description) for a in named] == [(second.id, "second")] and second.id in (first.id, duplicate.id)
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            await client.delete_automation(named[0].id)

    asyncio.run(scenario())

