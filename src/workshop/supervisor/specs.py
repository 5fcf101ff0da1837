"""How the supervisor starts each of the course's services (`services.SERVICES` says what each one is).

A child gets the course's settings one way, from the environment (`settings.environment_for_child`) and the course
folder's files, never on its command line: `python -m workshop.servers.inbox` with no arguments is the course's inbox.
"""

from __future__ import annotations

from pathlib import Path

from .. import services
from ..hub import service as hub_service
from ..services import INBOX, MOCK_API, PREFECT, RUNNER, WORKER, Service
from ..settings import HOST, Settings
from . import prefect_server, redis
from .service import ServiceSpec, described


def _room_password(settings: Settings) -> dict[str, str]:
    """What a room adds to the mock API's and the inbox's start: its password."""
    return {"WORKSHOP_ROOM_PASSWORD": settings.room_password.get_secret_value()} if settings.hosts_room else {}


def mock_spec(settings: Settings) -> ServiceSpec:
    fixture = {"WORKSHOP_MOCK_FIXTURE": str(settings.mock_fixture)} if settings.mock_fixture else {}
    return described(settings, MOCK_API, settings.mock_url, url=f"{settings.mock_url}/api/", own_env=fixture,
                     secret_env=_room_password(settings))


def _jupyter_address(settings: Settings) -> dict[str, str]:
    """For a server shown through JupyterLab's proxy: where that JupyterLab is (a change restarts the server)."""
    return {"WORKSHOP_JUPYTER_URL": settings.jupyter_address} if settings.jupyter_address else {}


def inbox_spec(settings: Settings) -> ServiceSpec:
    return described(settings, INBOX, settings.inbox_url, url=f"{settings.inbox_url}/", own_env=_jupyter_address(settings),
                     secret_env=_room_password(settings))


def _learners(settings: Settings, service: Service) -> str:
    """Where one of a learner's own services answers: on this machine, whatever the room's address."""
    return f"http://{HOST}:{getattr(settings, service.port_field)}"


def runner_spec(settings: Settings, script: Path, prefect_api_url: str) -> ServiceSpec:
    """The process that runs `script`, which serves deployments with `prefect.serve(...)`."""
    return described(
        settings, RUNNER, _learners(settings, RUNNER), arguments=(str(script),),
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
    return described(
        settings, WORKER, _learners(settings, WORKER), title=f"{WORKER.title} of {pool}",
        arguments=("--pool", pool, "--type", "process", "--with-healthcheck"),
        own_env={
            "PREFECT_API_URL": prefect_api_url,  # the notebook's server, not a temporary one of its own
            "PREFECT_WORKER_QUERY_SECONDS": "1",  # look for runs every second (default 10 s), as the runner does
            "PREFECT_WORKER_WEBSERVER_HOST": HOST,
            "PREFECT_WORKER_WEBSERVER_PORT": str(settings.worker_port),
        },
        start_timeout=60.0,
        cwd=folder,
    )


def _course_spec(settings: Settings, service: Service) -> ServiceSpec:
    return {PREFECT: prefect_server.local_spec, MOCK_API: mock_spec, INBOX: inbox_spec}[service](settings)


def local_specs(settings: Settings) -> list[ServiceSpec]:
    """The services this course runs itself, in the table's order (the Prefect server only without PREFECT_API_URL
    or WORKSHOP_ROOM_PREFECT_URL, the hub only in a room that has one, Redis and Prefect's services only in a scaled
    room; none for a learner in a room)."""
    if settings.in_room:
        return []
    specs = [_course_spec(settings, service) for service in services.where("course")
             if service is not PREFECT or not (settings.external_prefect_api_url or settings.room_prefect_url)]
    if settings.scaled and specs[0].name == PREFECT.name:  # Redis before the API, Prefect's services after it
        specs[:1] = [redis.spec(settings), specs[0], prefect_server.services_spec(settings)]
    if settings.hosts_room and settings.hub:
        specs.append(hub_service.spec(settings))  # last: it routes to the others
    return specs


def room_specs(settings: Settings) -> list[ServiceSpec]:
    """The room's services as a learner reaches them (to check, never to start)."""
    return [_course_spec(settings, service) for service in services.where("course")]
