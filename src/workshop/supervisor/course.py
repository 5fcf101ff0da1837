"""The course's services together: bring them up, report on them, take them down.

| name | service | started by |
| --- | --- | --- |
| prefect | the Prefect server (unless PREFECT_API_URL names another) | `up`, `workshop.start()` |
| mock-api | the mock randomuser API | `up`, `workshop.start()` |
| inbox | the notification inbox | `up`, `workshop.start()` |
| deployments | the process serving notebook 03's deployments | `serve_deployments()` in a notebook |
| hub | a room's JupyterHub, with its proxy and the learners' servers | `classroom hub` |
"""

from __future__ import annotations

import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from ..client import local_session, prefect_session
from ..contract import HEALTH, INBOX_ID, MOCK_API_ID, MOCK_SITES
from ..errors import ServiceError, WorkshopError
from ..settings import HOST, Settings, variable
from . import jupyterhub, prefect_server, process
from .service import Health, Report, ServiceSpec, check, check_url, ensure, readiness, silent

RUNNER = "deployments"
WORKER = "worker"
START_TIMEOUT = 180.0  # the longest a start may wait for another one (a first Prefect start is ~15 s)


def _identifies_as(service_id: str):
    def is_ours(response: requests.Response) -> bool:
        try:
            return response.status_code == 200 and response.json().get("service") == service_id
        except (ValueError, AttributeError):
            return False

    return is_ours


def _runner_answers(response: requests.Response) -> bool:
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
        is_ours=_runner_answers,
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
        is_ours=_runner_answers,
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


@dataclass(frozen=True)
class Course:
    """Where everything is. `workshop.start()` returns one."""

    prefect_api_url: str
    prefect_ui_url: str
    data_api_url: str  # what the pipeline calls: the mock's primary site unless WORKSHOP_API_URL says otherwise
    mock_url: str
    mirror_url: str
    inbox_url: str  # the inbox page, to keep open in a browser tab
    external_prefect: bool
    started: list[str] = field(default_factory=list)
    learner: str | None = None  # in a room: whose part of it this is
    prefix: str = "workshop-"  # what everything this learner creates is named with
    hosts_room: bool = False  # this course folder runs a room (`classroom up`)

    def _repr_markdown_(self) -> str:
        where = ("your PREFECT_API_URL" if self.external_prefect else
                 f"the room's, shared: you are **{self.learner}**" if self.learner else "local, started by the course")
        rows = [
            ("Prefect UI", self.prefect_ui_url, where),
            ("Prefect API", self.prefect_api_url, "PREFECT_API_URL for this kernel"),
            ("Data API", self.data_api_url, "what the pipeline calls"),
            ("Mirror", self.mirror_url, "the alternate data location"),
            ("Inbox", self.inbox_url, "where notifications land: open it beside the UI"),
        ]
        started = f"Started now: {', '.join(self.started)}." if self.started else "All services were already running."
        if self.learner:
            started = f"In the room, everything you create is named `{self.prefix}...`; the inbox shows only yours."
        elif self.hosts_room:
            started += (f"\n\n**This course folder runs the room.** What its notebooks create is named `{self.prefix}...`, "
                        "which every learner's names start with too: its automations would act on everyone's runs, and "
                        "`reset` here clears the whole room. To demo, join the room as a learner from a second copy of "
                        "the course (`python -m workshop join ... --as demo`).")
        table = "\n".join(f"| {name} | [{url}]({url}) | {note} |" for name, url, note in rows)
        return f"| service | URL | |\n| --- | --- | --- |\n{table}\n\n{started}"


def course_for(settings: Settings, started: list[str] | None = None) -> Course:
    api_url = settings.external_prefect_api_url or settings.course_prefect_api_url
    return Course(
        prefect_api_url=api_url,
        prefect_ui_url=prefect_server.ui_url(settings, api_url),
        data_api_url=settings.api_url or settings.mock_url + MOCK_SITES["primary"],
        mock_url=settings.mock_url + MOCK_SITES["primary"],
        mirror_url=settings.mock_url + MOCK_SITES["mirror"],
        inbox_url=settings.inbox_page_url,
        external_prefect=settings.external_prefect_api_url is not None,
        started=started or [],
        learner=settings.learner if settings.in_room else None,
        prefix=settings.prefix,
        hosts_room=settings.hosts_room,
    )


def up(settings: Settings, report: Report = silent) -> Course:
    """Start what is not running (one start at a time across processes) and say where everything is."""
    if settings.mock_fixture:
        from ..servers import recording

        recording.load(settings.mock_fixture)  # a broken recording is reported before anything starts
    if settings.external_prefect_api_url:
        prefect_server.require_external(settings)
    if settings.in_room:
        require_room(settings)
        return course_for(settings)
    started = []
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="starting the course's services"):
        for spec in local_specs(settings):
            if ensure(spec, settings, report):
                started.append(spec.title)
        settings.ports_file.write_text(settings.port_lines(), encoding="utf-8")
    return course_for(settings, started)


def ensure_runner(settings: Settings, script: Path, prefect_api_url: str, *, restart: bool, report: Report = silent) -> bool:
    spec = runner_spec(settings, script, prefect_api_url)
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="starting the deployment runner"):
        if restart and (record := process.live_record(settings.run_dir, RUNNER)):
            process.stop(record, settings.run_dir)
        return ensure(spec, settings, report)


def stop_runner(settings: Settings, name: str = RUNNER) -> bool:
    """Stop the deployment runner (or, `name=WORKER`, the worker) if it runs. True if one was stopped."""
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what=f"stopping the {name}"):
        record = process.live_record(settings.run_dir, name)
        return record is not None and process.stop(record, settings.run_dir)


def ensure_worker(settings: Settings, pool: str, folder: Path, prefect_api_url: str, report: Report = silent) -> bool:
    spec = worker_spec(settings, pool, folder, prefect_api_url)
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="starting the worker"):
        return ensure(spec, settings, report)


def stop_worker(settings: Settings) -> bool:
    return stop_runner(settings, WORKER)


def room_specs(settings: Settings) -> list[ServiceSpec]:
    """The room's services as a learner reaches them (to check, never to start)."""
    return [prefect_server.local_spec(settings), mock_spec(settings), inbox_spec(settings)]


def require_room(settings: Settings) -> None:
    """The room's services answer, and take this learner's password; else say what to do."""
    for spec in room_specs(settings):
        health = check_remote(spec)
        if health.state == "unready":
            raise ServiceError(f"The room's {spec.title} at {spec.url} runs, but {health.detail}")
        if not health.ok:
            raise ServiceError(
                f"The room's {spec.title} does not answer at {spec.url} ({health.detail}). Is the room up "
                "(`python -m workshop classroom status` on the instructor's machine), and is its address right? "
                "To work on this laptop alone again: `python -m workshop leave`."
            )
    try:
        answer = prefect_session().get(f"{settings.course_prefect_api_url}/admin/version", auth=settings.room_auth,
                                       timeout=10)
    except requests.RequestException as trouble:
        raise ServiceError(f"The room's Prefect server at {settings.course_prefect_api_url} stopped answering: {trouble}") from None
    if answer.status_code == 401:
        raise ServiceError("The room's Prefect server refuses this course folder's password: join again with the line "
                           "the instructor gives (`python -m workshop join ...`).")


def check_remote(spec: ServiceSpec) -> Health:
    """A room service's health, from a learner's machine: answering as itself and ready, or not."""
    session = local_session()  # one try: a status says what is, now
    try:
        response = session.get(spec.health_url, timeout=5)
    except requests.RequestException as trouble:
        return Health("down", f"no answer: {type(trouble).__name__}")
    if not spec.is_ours(response):
        return Health("foreign", f"HTTP {response.status_code}, not the course's")
    return readiness(spec, Health("healthy"), session)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    title: str
    url: str
    state: str  # healthy, down, unready, foreign (as Health)
    detail: str
    pid: int | None  # set when this course started the process

    @property
    def ok(self) -> bool:
        return self.state == "healthy"

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def status(settings: Settings) -> list[ServiceStatus]:
    """Each service: where the course's own process runs (whatever this terminal's settings), or what the port holds."""
    rows = []
    if settings.in_room:
        for spec in room_specs(settings):
            health = check_remote(spec)
            rows.append(ServiceStatus(spec.name, f"room's {spec.title}", spec.url, health.state, health.detail, None))
    if settings.external_prefect_api_url:
        health = prefect_server.check_external(settings)
        rows.append(ServiceStatus("prefect", "Prefect server (PREFECT_API_URL)", settings.external_prefect_api_url,
                                  health.state, health.detail, None))
    specs = local_specs(settings)
    for spec in specs:
        record = process.live_record(settings.run_dir, spec.name)
        if record is not None and record.port != spec.port:
            where = urlsplit(spec.health_url)
            health = check_url(where._replace(netloc=f"{where.hostname}:{record.port}").geturl(), record.port, spec.is_ours)
            note = (f"runs on port {record.port}, not {spec.port} as this terminal's settings say: "
                    f"`export {variable(spec.port_field)}={record.port}` here too")
            rows.append(ServiceStatus(spec.name, spec.title, record.url, health.state,
                                      "; ".join(filter(None, [health.detail, note])), record.pid))
            continue
        health = check(spec)
        if health.state in ("healthy", "unready") and record is None:
            health = type(health)("foreign", f"answers as a {spec.title}, but this course folder did not start it")
        rows.append(ServiceStatus(spec.name, spec.title, spec.url, health.state, health.detail,
                                  record.pid if record else None))
    if settings.database_url and not settings.in_room and not settings.external_prefect_api_url:
        rows.append(database_status(settings))
    for name in (RUNNER, WORKER):
        if (runner := process.live_record(settings.run_dir, name)) is not None:
            health = check_url(f"{runner.url}/health", runner.port, _runner_answers)
            rows.append(ServiceStatus(name, runner.title, runner.url, health.state, health.detail, runner.pid))
    return rows


def database_status(settings: Settings) -> ServiceStatus:
    """The PostgreSQL the course's Prefect server keeps its data in: does it take connections?"""
    where = urlsplit(settings.database_url.get_secret_value())
    address = f"{where.hostname}:{where.port or 5432}"
    title = "PostgreSQL (the room's database)" if settings.hosts_room else "PostgreSQL (WORKSHOP_DATABASE_URL)"
    try:
        socket.create_connection((where.hostname, where.port or 5432), timeout=2).close()
    except OSError as trouble:
        hint = ("`python -m workshop classroom up` starts it again" if settings.hosts_room
                else "start it: the Prefect server cannot work without it")
        return ServiceStatus("database", title, address, "down", f"takes no connections ({trouble.strerror or trouble}): "
                                                                  f"{hint}", None)
    return ServiceStatus("database", title, address, "healthy", "", None)


@dataclass(frozen=True)
class Stopped:
    title: str
    pid: int
    error: str = ""  # why it could not be stopped


def down(settings: Settings) -> list[Stopped]:
    """Stop every process this course folder started, whatever settings started it; carry on past trouble."""
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="stopping the course's services"):
        names = process.recorded_names(settings.run_dir)
        records = [record for name in names if (record := process.live_record(settings.run_dir, name))]

        def stop_one(record: process.ProcessRecord) -> Stopped:
            try:
                process.stop(record, settings.run_dir)
            except WorkshopError as trouble:
                return Stopped(record.title, record.pid, str(trouble))
            return Stopped(record.title, record.pid)

        # In parallel: the Prefect server takes a few seconds to wind down, the others need not wait for it.
        with ThreadPoolExecutor(max_workers=len(records) or 1) as pool:
            stopped = list(pool.map(stop_one, records))
        if not any(result.error for result in stopped):
            settings.ports_file.unlink(missing_ok=True)  # the next `up` takes this terminal's ports, or the defaults
        return stopped


__all__ = ["Course", "ServiceStatus", "Stopped", "down", "status", "up"]
