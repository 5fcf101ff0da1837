"""The course's services, one row each: what they are called, where they answer and how they are known as ours.

Everything else about a service derives from its row: the supervisor's specs (`supervisor.specs`), the ports
`up` records for new terminals, the ports a test's private course takes, a hub learner's environment, `status`.
Each port's number and variable belong to the settings field the row names (`settings.PORT_DEFAULTS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import requests

from .contract import HEALTH, INBOX_ID, MOCK_API_ID, PREFECT_SERVICES_ID
from .settings import PORT_DEFAULTS, Settings, variable

# course: the course's shared services, on a laptop or, in a room, the room's; learner: each learner runs their
# own, in a room too; room: only the machine that runs a room has it, and only when the room asks for it.
Where = Literal["course", "learner", "room"]


@dataclass(frozen=True)
class Service:
    name: str  # file names, the CLI, `status`
    title: str  # what a person calls it
    port_field: str  # the settings field of its port (`settings.variable()` names its variable)
    health_path: str  # answers 200 with `answers_as` its body
    answers_as: Callable[[object], bool]  # does this health answer's JSON body come from this kind of service?
    start: tuple[str, ...]  # what follows `python` to start it (the runner's is the learner's own script)
    where: Where = "course"
    ports: int = 1  # it takes this many ports from its own on

    def is_ours(self, response: requests.Response) -> bool:
        """Does this answer of its health endpoint come from this kind of service?"""
        try:
            return response.status_code == 200 and self.answers_as(response.json())
        except ValueError:
            return False


def _named(service_id: str) -> Callable[[object], bool]:
    return lambda body: isinstance(body, dict) and body.get("service") == service_id


def _prefect_webserver(body: object) -> bool:  # the runner's and the worker's health answer (Prefect's own)
    return body == {"message": "OK"}


PREFECT = Service("prefect", "Prefect server", "prefect_port", "/api/health", lambda body: body is True,
                  ("-m", "workshop.servers.prefect_app"))
MOCK_API = Service("mock-api", "mock randomuser API", "mock_port", HEALTH, _named(MOCK_API_ID),
                   ("-m", "workshop.servers.mock_api"))
INBOX = Service("inbox", "notification inbox", "inbox_port", HEALTH, _named(INBOX_ID), ("-m", "workshop.servers.inbox"))
RUNNER = Service("deployments", "deployment runner", "runner_port", "/health", _prefect_webserver, (), where="learner")
WORKER = Service("worker", "process worker", "worker_port", "/health", _prefect_webserver,
                 ("-m", "prefect", "worker", "start"), where="learner")
# A room in Prefect's scaled mode runs the API in several processes without them, and them in this one.
PREFECT_SERVICES = Service("prefect-services", "Prefect server's background services", "services_port", HEALTH,
                           _named(PREFECT_SERVICES_ID), ("-m", "workshop.servers.prefect_services"), where="room")
# The hub's proxy takes the hub's port, talks to it on the next, and the hub itself listens on the one after.
HUB = Service("hub", "JupyterHub", "hub_port", "/hub/api/", lambda body: isinstance(body, dict) and "version" in body,
              ("-m", "jupyterhub"), where="room", ports=3)

SERVICES = (PREFECT, MOCK_API, INBOX, RUNNER, WORKER, PREFECT_SERVICES, HUB)


def where(kind: Where) -> tuple[Service, ...]:
    return tuple(service for service in SERVICES if service.where == kind)


def port_lines(settings: Settings) -> str:
    """Every port of the course (its services', a room's PostgreSQL and Redis) as `up` records them in `ports.env`,
    for a terminal opened later without the variables."""
    return "".join(f"{variable(field)}={getattr(settings, field)}\n" for field in PORT_DEFAULTS)
