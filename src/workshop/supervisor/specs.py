"""What each of the course's services is: how it is started, where it answers, how it is known as the course's.

| name | service | started by |
| --- | --- | --- |
| prefect | the Prefect server (unless PREFECT_API_URL names another; `prefect_server.local_spec`) | `up`, `workshop.start()` |
| mock-api | the mock randomuser API | `up`, `workshop.start()` |
| inbox | the notification inbox | `up`, `workshop.start()` |
| deployments | the process serving notebook 03's deployments | `serve_deployments()` in a notebook |
| worker | notebook 03's process worker | `start_worker()` in a notebook |
| hub | a room's JupyterHub, with its proxy and the learners' servers (`jupyterhub.spec`) | `classroom hub` |
"""

from __future__ import annotations

import sys
from pathlib import Path

import requests

from ..contract import HEALTH, INBOX_ID, MOCK_API_ID
from ..settings import HOST, Settings
from . import jupyterhub, prefect_server
from .service import ServiceSpec

RUNNER = "deployments"
WORKER = "worker"


def _identifies_as(service_id: str):
    def is_ours(response: requests.Response) -> bool:
        try:
            return response.status_code == 200 and response.json().get("service") == service_id
        except (ValueError, AttributeError):
            return False

    return is_ours


def runner_answers(response: requests.Response) -> bool:
    try:
        return response.status_code == 200 and response.json() == {"message": "OK"}
    except ValueError:
        return False


def _room_options(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """What a room adds to the mock API's and the inbox's start: the address to listen on, the password."""
    if not settings.hosts_room:
        return [], {}
    return ["--host", settings.host], {"WORKSHOP_ROOM_PASSWORD": settings.room_password.get_secret_value()}


def mock_spec(settings: Settings) -> ServiceSpec:
    options, secrets = _room_options(settings)
    command = [sys.executable, "-m", "workshop.servers.mock_api", "--port", str(settings.mock_port), *options]
    if settings.mock_fixture:
        command += ["--fixture", str(settings.mock_fixture)]
    return ServiceSpec(
        name="mock-api",
        title="mock randomuser API",
        port=settings.mock_port,
        port_field="mock_port",
        url=f"{settings.mock_url}/api/",
        health_url=settings.mock_url + HEALTH,
        is_ours=_identifies_as(MOCK_API_ID),
        command=command,
        secret_env=secrets,
    )


def _jupyter_address(settings: Settings) -> dict[str, str]:
    """For a server shown through JupyterLab's proxy: where that JupyterLab is (a change restarts the server)."""
    return {"WORKSHOP_JUPYTER_URL": settings.jupyter_address} if settings.jupyter_address else {}


def inbox_spec(settings: Settings) -> ServiceSpec:
    options, secrets = _room_options(settings)
    return ServiceSpec(
        name="inbox",
        title="notification inbox",
        port=settings.inbox_port,
        port_field="inbox_port",
        url=f"{settings.inbox_url}/",
        health_url=settings.inbox_url + HEALTH,
        is_ours=_identifies_as(INBOX_ID),
        command=[sys.executable, "-m", "workshop.servers.inbox", "--port", str(settings.inbox_port),
                 "--database", str(settings.inbox_db), *options],
        own_env=_jupyter_address(settings),
        secret_env=secrets,
    )


def runner_spec(settings: Settings, script: Path, prefect_api_url: str) -> ServiceSpec:
    """The process that runs `script`, which serves deployments with `prefect.serve(...)`."""
    return ServiceSpec(
        name=RUNNER,
        title="deployment runner",
        port=settings.runner_port,
        port_field="runner_port",
        url=f"http://{HOST}:{settings.runner_port}",
        health_url=f"http://{HOST}:{settings.runner_port}/health",
        is_ours=runner_answers,
        command=[sys.executable, str(script)],
        own_env={
            # Without the same API URL the runner would start a temporary server of its own.
            "PREFECT_API_URL": prefect_api_url,
            # Check for new runs every second (default 10 s): automation-started runs begin at once.
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_RUNNER_SERVER_ENABLE": "true",
            "PREFECT_RUNNER_SERVER_HOST": HOST,
            "PREFECT_RUNNER_SERVER_PORT": str(settings.runner_port),
        },
        start_timeout=60.0,
        cwd=script.parent,
    )


def worker_spec(settings: Settings, pool: str, folder: Path, prefect_api_url: str) -> ServiceSpec:
    """A process worker of `pool`, as `prefect worker start` runs one, in `folder` (where the deployments' code is)."""
    return ServiceSpec(
        name=WORKER,
        title=f"process worker of {pool}",
        port=settings.worker_port,
        port_field="worker_port",
        url=f"http://{HOST}:{settings.worker_port}",
        health_url=f"http://{HOST}:{settings.worker_port}/health",
        is_ours=runner_answers,
        command=[sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process", "--with-healthcheck"],
        own_env={
            "PREFECT_API_URL": prefect_api_url,  # the notebook's server, not a temporary one of its own
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # look for runs every second (default 10 s), as the runner does
            "PREFECT_WORKER_WEBSERVER_HOST": HOST,
            "PREFECT_WORKER_WEBSERVER_PORT": str(settings.worker_port),
        },
        start_timeout=60.0,
        cwd=folder,
    )


def local_specs(settings: Settings) -> list[ServiceSpec]:
    """The services this course runs itself (the Prefect server only without PREFECT_API_URL; none in a room)."""
    if settings.in_room:
        return []
    specs = [mock_spec(settings), inbox_spec(settings)]
    if settings.external_prefect_api_url is None:
        specs.insert(0, prefect_server.local_spec(settings))
    if settings.hosts_room and settings.hub:
        specs.append(jupyterhub.spec(settings))  # last: it routes to the others
    return specs


def room_specs(settings: Settings) -> list[ServiceSpec]:
    """The room's services as a learner reaches them (to check, never to start)."""
    return [prefect_server.local_spec(settings), mock_spec(settings), inbox_spec(settings)]
