"""Starting, finding and stopping the services; what the learner sees when something is wrong."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from workshop import config, processes, services
from workshop.errors import WorkshopError
from workshop.http_service import make_server
from workshop.prefect_server import local_spec


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workshop", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_three_services_are_healthy(course):
    rows = services.status()
    assert [row.name for row in rows] == ["prefect", "mock-api", "inbox"]
    assert all(row.ok and row.pid for row in rows), rows
    assert course.prefect_api_url == config.settings().local_prefect_api_url
    assert os.environ["PREFECT_API_URL"] == course.prefect_api_url


def test_a_second_start_reuses_everything_quickly(course):
    pids = [row.pid for row in services.status()]
    began = time.monotonic()
    again = services.up()
    assert again.started == []
    assert time.monotonic() - began < 1.0
    assert [row.pid for row in services.status()] == pids


def test_cli_status_and_up(course):
    status = run_cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"state": "healthy"' in status.stdout and status.stdout.count('"ok": true') == 3
    up = run_cli("up")
    assert up.returncode == 0 and "nothing started" in up.stdout


def test_cli_status_fails_when_a_service_is_down(course, free_port):
    result = run_cli("status", WORKSHOP_INBOX_PORT=str(free_port))
    assert result.returncode == 1
    assert "DOWN notification inbox" in result.stdout and "python -m workshop up" in result.stdout


def test_a_service_can_be_stopped_and_started_again(monkeypatch, free_port, tmp_path):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    monkeypatch.setenv("WORKSHOP_MOCK_PORT", str(free_port))
    settings = config.settings()
    spec = services.mock_spec(settings)
    try:
        assert processes.ensure(spec, settings) is True
        assert processes.ensure(spec, settings) is False  # idempotent
        assert processes.check(spec).ok
    finally:
        assert processes.stop(spec.name, settings) is True
    assert processes.check(spec).state == "down"
    assert processes.read_pid(spec, settings) is None


@pytest.mark.parametrize("make_spec, variable", [(local_spec, "WORKSHOP_PREFECT_PORT"), (services.inbox_spec, "WORKSHOP_INBOX_PORT")])
def test_a_port_held_by_another_program_is_explained(monkeypatch, serve_in_thread, free_port, tmp_path, make_spec, variable):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    serve_in_thread(make_server(NotFound, free_port))
    monkeypatch.setenv(variable, str(free_port))
    settings = config.settings()
    with pytest.raises(WorkshopError) as error:
        processes.ensure(make_spec(settings), settings)
    message = str(error.value)
    assert f"127.0.0.1:{free_port}" in message and f"export {variable}=" in message


def test_a_bad_port_setting_is_explained(monkeypatch):
    monkeypatch.setenv("WORKSHOP_MOCK_PORT", "eighty")
    with pytest.raises(WorkshopError, match="WORKSHOP_MOCK_PORT='eighty' is not a usable port"):
        config.settings()


def test_an_unreachable_prefect_api_url_is_explained(course, free_port):
    result = run_cli("up", PREFECT_API_URL=f"http://127.0.0.1:{free_port}/api")
    assert result.returncode == 2
    assert "does not answer" in result.stderr and "unset PREFECT_API_URL" in result.stderr


def test_an_answering_prefect_api_url_is_used_and_not_started(course):
    other = course.prefect_api_url.replace("127.0.0.1", "localhost")  # the same server, named differently
    result = run_cli("status", PREFECT_API_URL=other)
    assert result.returncode == 0, result.stdout
    assert "Prefect server (PREFECT_API_URL)" in result.stdout and other in result.stdout


def test_cli_faults_reports_and_rejects_bad_values(course):
    try:
        changed = run_cli("faults", "--site", "mirror", "--latency", "0.05")
        assert changed.returncode == 0 and "'latency': 0.05" in changed.stdout
        wrong = run_cli("faults", "--server-errors", "3")
        assert wrong.returncode == 2 and "from 0 to 1" in wrong.stderr
    finally:
        run_cli("faults", "--clear")


def test_a_service_started_with_other_settings_is_replaced(monkeypatch, free_port, tmp_path):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    monkeypatch.setenv("WORKSHOP_MOCK_PORT", str(free_port))
    settings = config.settings()
    fixture = str(Path(__file__).parent / "fixtures" / "randomuser_sample.json")
    try:
        assert processes.ensure(services.mock_spec(settings), settings) is True
        monkeypatch.setenv("WORKSHOP_MOCK_FIXTURE", fixture)
        replaying = services.mock_spec(settings)
        assert processes.ensure(replaying, settings) is True  # the fixture changed: restarted with it
        assert requests.get(replaying.health_url, timeout=5).json()["fixture"] == fixture
    finally:
        processes.stop("mock-api", settings)
