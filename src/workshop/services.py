"""The three services together: bring them up, report on them, take them down."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field

from . import config, processes, prefect_server
from .config import Settings
from .processes import ServiceSpec
from .deployments import RUNNER
from .inbox import SERVICE_ID as INBOX_ID
from .mock_api import SERVICE_ID as MOCK_ID, MockAPI, data_api_url


def _identifies_as(service_id: str):
    def is_ours(response) -> bool:
        try:
            return response.status_code == 200 and response.json().get("service") == service_id
        except (ValueError, AttributeError):
            return False

    return is_ours


def mock_spec(settings: Settings) -> ServiceSpec:
    command = [sys.executable, "-m", "workshop", "serve", "mock-api", "--port", str(settings.mock_port)]
    if os.environ.get("WORKSHOP_MOCK_FIXTURE"):
        command += ["--fixture", os.path.abspath(os.environ["WORKSHOP_MOCK_FIXTURE"])]
    return ServiceSpec(
        name="mock-api",
        title="mock randomuser API",
        port=settings.mock_port,
        port_variable="WORKSHOP_MOCK_PORT",
        url=f"{settings.mock_url}/api/",
        health_url=f"{settings.mock_url}/_workshop/health",
        is_ours=_identifies_as(MOCK_ID),
        command=command,
    )


def inbox_spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name="inbox",
        title="notification inbox",
        port=settings.inbox_port,
        port_variable="WORKSHOP_INBOX_PORT",
        url=f"{settings.inbox_url}/",
        health_url=f"{settings.inbox_url}/_workshop/health",
        is_ours=_identifies_as(INBOX_ID),
        command=[sys.executable, "-m", "workshop", "serve", "inbox", "--port", str(settings.inbox_port), "--database", str(settings.inbox_db)],
    )


def local_specs(settings: Settings) -> list[ServiceSpec]:
    """The services this course runs itself (the Prefect server only without PREFECT_API_URL)."""
    specs = [mock_spec(settings), inbox_spec(settings)]
    if prefect_server.external_api_url(settings) is None:
        specs.insert(0, prefect_server.local_spec(settings))
    return specs


@dataclass(frozen=True)
class Course:
    """Where everything is. `workshop.start()` returns one."""

    prefect_api_url: str
    prefect_ui_url: str
    data_api_url: str  # what the pipeline calls: the mock's primary site unless WORKSHOP_API_URL says otherwise
    mock_url: str
    mirror_url: str
    inbox_url: str
    external_prefect: bool
    started: list[str] = field(default_factory=list)

    def _repr_markdown_(self) -> str:
        where = "your PREFECT_API_URL" if self.external_prefect else "local, started by the course"
        rows = [
            ("Prefect UI", self.prefect_ui_url, where),
            ("Prefect API", self.prefect_api_url, "PREFECT_API_URL for this kernel"),
            ("Data API", self.data_api_url, "what the pipeline calls"),
            ("Mirror", self.mirror_url, "the alternate data location"),
            ("Inbox", self.inbox_url, "where notifications land"),
        ]
        started = f"Started now: {', '.join(self.started)}." if self.started else "All services were already running."
        table = "\n".join(f"| {name} | [{url}]({url}) | {note} |" for name, url, note in rows)
        return f"| service | URL | |\n| --- | --- | --- |\n{table}\n\n{started}"


def up() -> Course:
    settings = config.settings()
    external = prefect_server.external_api_url(settings)
    if external:
        prefect_server.require_external(external)
    started = [spec.title for spec in local_specs(settings) if processes.ensure(spec, settings)]
    api_url = external or settings.local_prefect_api_url
    mock = MockAPI(settings.mock_url)
    return Course(
        prefect_api_url=api_url,
        prefect_ui_url=prefect_server.ui_url(api_url),
        data_api_url=data_api_url(),
        mock_url=mock.primary_url,
        mirror_url=mock.mirror_url,
        inbox_url=f"{settings.inbox_url}/",
        external_prefect=external is not None,
        started=started,
    )


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    title: str
    url: str
    state: str  # healthy, down, foreign
    detail: str
    pid: int | None  # set when this course started the process

    @property
    def ok(self) -> bool:
        return self.state == "healthy"

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def status() -> list[ServiceStatus]:
    settings = config.settings()
    result = []
    external = prefect_server.external_api_url(settings)
    if external:
        health = prefect_server.check_external(external)
        result.append(ServiceStatus("prefect", "Prefect server (PREFECT_API_URL)", external, health.state, health.detail, None))
    for spec in local_specs(settings):
        health = processes.check(spec)
        result.append(
            ServiceStatus(spec.name, spec.title, spec.url, health.state, health.detail, processes.read_pid(spec, settings))
        )
    return result


def down() -> list[str]:
    """Stop what this course started; a server named by PREFECT_API_URL is never touched."""
    settings = config.settings()
    everything = [prefect_server.local_spec(settings), mock_spec(settings), inbox_spec(settings)]
    names = [(spec.name, spec.title) for spec in everything] + [(RUNNER, "deployment runner")]
    return [title for name, title in names if processes.stop(name, settings, title=title)]


__all__ = ["Course", "ServiceStatus", "up", "status", "down"]
