"""The course holds up when things go wrong: a flaky or dead API, broken records,
killed services, and it keeps to loopback and to no secrets."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
import requests

from workshop import Inbox, MockAPI
from workshop.supervisor import course as supervisor
from workshop.supervisor import process, service, specs
from workshop.supervisor.service import check
from workshop.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))


@pytest.fixture
def pipeline(course):
    import users_pipeline

    yield users_pipeline
    MockAPI().clear_faults()


def test_the_robust_flow_returns_every_user_through_chaos(pipeline):
    mock = MockAPI()
    mock.set_faults(server_errors=0.3, rate_limits=0.1, retry_after=1, latency=0.02, seed=11)
    result = pipeline.users_pipeline(n_users=120, page_size=10, seed="chaos", name="chaos")
    assert len(result.users) == 120 and result.users.user_id.is_unique
    seen = mock.stats()
    assert seen["server_error"] > 0 and seen["rate_limit"] > 0  # the chaos was real


def test_a_dead_api_fails_the_flow_clearly_and_the_alert_fires(pipeline):
    from prefect.automations import Automation, EventTrigger, Posture, SendNotification

    inbox = Inbox()
    block_id = asyncio.run(inbox.asave_block("workshop-test-inbox", channel="reliability"))
    alert = Automation(
        name="workshop-test-alert-on-failure",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                             match_related={"prefect.resource.role": "flow", "prefect.resource.name": "workshop-users-pipeline"},
                             posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=[SendNotification(block_document_id=block_id, subject="failed {{ flow_run.id }}", body="{{ flow_run.state.message }}")],
    ).create()
    try:
        mark = inbox.last_id()
        MockAPI().set_faults(outage=True)
        state = pipeline.users_pipeline(n_users=10, page_size=10, return_state=True)
        assert state.is_failed() and "HTTP 503" in state.message  # says what went wrong, not a JSON error
        message, _ = inbox.wait_for(str(state.state_details.flow_run_id), after=mark, timeout=30)
        assert "HTTP 503" in message.content
    finally:
        alert.delete()


def _record(**changes):
    from workshop.servers.fake_users import make_users

    user = dict(make_users("records", 1, 1, ("FR",), None)[0])
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = user
        for key in parents:
            target[key] = dict(target[key])
            target = target[key]
        if value is KeyError:
            target.pop(leaf)
        else:
            target[leaf] = value
    return user


def test_broken_records_are_quarantined_with_reasons_and_none_is_lost(pipeline):
    records = [
        _record(),
        _record(email=KeyError),
        _record(dob__date="yesterday"),
        _record(location__coordinates={"latitude": "north", "longitude": "1.0"}),
        _record(name=None),
        _record(dob="1990-01-01"),  # wrong type: a string where an object belongs
        _record(id={"name": "", "value": None}),  # a null id is real randomuser.me data: kept
        _record(name={"title": "Mr", "first": "آرمین", "last": "Гузій"}),  # non-Latin names: kept
        _record(location__postcode="SK1N 7GF"),
    ]
    users, quarantined = pipeline.clean_users.fn(records)
    assert len(users) + len(quarantined) == len(records)
    assert list(quarantined.position) == [1, 2, 3, 4, 5]
    reasons = list(quarantined.reason)
    assert reasons[0] == "missing email" and "not a date" in reasons[1] and "not a number" in reasons[2]
    assert reasons[3] == "missing name" and reasons[4] == "dob is not an object: '1990-01-01'"
    assert "آرمین Гузій" in set(users.full_name) and set(users.postcode) >= {"SK1N 7GF"}


def test_a_killed_service_is_reported_and_up_brings_it_back(course, settings):
    spec = specs.mock_spec(settings)
    os.kill(process.live_record(settings.run_dir, "mock-api").pid, signal.SIGKILL)
    wait_for(lambda: not check(spec).ok, timeout=10, what="the mock to be gone")
    assert {row.name: row.state for row in supervisor.status(settings)}["mock-api"] == "down"
    assert supervisor.up(settings).started == ["mock randomuser API"]
    assert all(row.ok for row in supervisor.status(settings))


def test_the_inbox_process_keeps_messages_across_a_restart(course, settings):
    requests.post(Inbox().url("durability"), json={"subject": "survives restarts"}, timeout=5)
    process.stop(process.live_record(settings.run_dir, "inbox"), settings.run_dir)
    assert supervisor.up(settings).started == ["notification inbox"]
    assert "survives restarts" in [m.subject for m in Inbox().messages()]


def test_a_busy_prefect_server_is_asked_again_and_a_lesson_s_503_is_not(serve_in_thread, free_port):
    """Prefect answers 503 while SQLite is busy (seen on a fresh server in CI): the course's own calls to its REST API
    try again as Prefect's client does. The mock API's 503s are the lesson, so its client gets each one as it is."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from workshop.client import local_session, prefect_session

    seen = []

    class BusyTwice(BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.path)
            body = b'{"exception_message": "Service Unavailable"}' if len(seen) % 3 else b'{"id": "x"}'
            self.send_response(503 if len(seen) % 3 else 201)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    url = serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port), BusyTwice)) + "/api/block_documents/"
    response = prefect_session().post(url, json={}, timeout=5)
    assert response.status_code == 201 and len(seen) == 3  # a POST too: a 503 means Prefect rolled it back
    seen.clear()
    assert local_session().post(url, json={}, timeout=5).status_code == 503 and len(seen) == 1
    with pytest.raises(requests.ConnectionError):  # a server that is down is said at once, not after 30 s
        prefect_session().get(f"http://127.0.0.1:{service.free_port()}/api/health", timeout=5)


def test_nothing_listens_beyond_loopback(course, settings):
    pids = [row.pid for row in supervisor.status(settings) if row.pid]
    listening = []
    for pid in pids:
        parent = psutil.Process(pid)
        for member in [parent, *parent.children(recursive=True)]:
            listening += [c.laddr.ip for c in member.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening and set(listening) == {"127.0.0.1"}, listening


SECRETS = {
    "Prefect API key": re.compile(r"pnu_[A-Za-z0-9]{20,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/"),
    "Slack token": re.compile(r"xox[abp]-[0-9A-Za-z-]{10,}"),
    "AWS key": re.compile(r"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    # A password in a URL; the docs' placeholder (USER:PASSWORD@) and code that fills one in ({password}@) are not.
    "token in a URL": re.compile(r"https?://[^\s/:@]+:(?!PASSWORD@|\{)[^\s/@]+@"),
}


@pytest.mark.slow
def test_no_secret_or_token_is_committed():
    skip = {".git", ".venv", ".workshop", "__pycache__", ".ipynb_checkpoints", "output"}
    files = [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    found = [
        f"{path.relative_to(ROOT)}: {kind}"
        for path in files
        for kind, pattern in SECRETS.items()
        if pattern.search(path.read_text(errors="ignore"))
    ]
    assert len(files) > 20 and not found, found
