"""The course's services together: bring them up, report on them, take them down (what each one is: `specs`)."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .. import services
from ..errors import WorkshopError
from ..settings import Settings, variable
from . import prefect_server, process
from .addresses import Course, course_for
from .remote import check_remote, require_room
from .service import Answer, Report, check, check_url, ensure, silent
from .specs import local_specs, room_specs, runner_spec, worker_spec

START_TIMEOUT = 180.0  # the longest a start may wait for another one (a first Prefect start is ~15 s)


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
        settings.ports_file.write_text(services.port_lines(settings), encoding="utf-8")
    return course_for(settings, started)


def ensure_runner(settings: Settings, script: Path, prefect_api_url: str, *, restart: bool, report: Report = silent) -> bool:
    spec = runner_spec(settings, script, prefect_api_url)
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="starting the deployment runner"):
        if restart and (record := process.live_record(settings.run_dir, services.RUNNER.name)):
            process.stop(record, settings.run_dir)
        return ensure(spec, settings, report)


def stop_runner(settings: Settings, name: str = services.RUNNER.name) -> bool:
    """Stop the deployment runner (or, given the worker's name, the worker) if it runs. True if one was stopped."""
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what=f"stopping the {name}"):
        record = process.live_record(settings.run_dir, name)
        return record is not None and process.stop(record, settings.run_dir)


def ensure_worker(settings: Settings, pool: str, folder: Path, prefect_api_url: str, report: Report = silent) -> bool:
    spec = worker_spec(settings, pool, folder, prefect_api_url)
    with process.exclusive(settings.run_dir, timeout=START_TIMEOUT, what="starting the worker"):
        return ensure(spec, settings, report)


def stop_worker(settings: Settings) -> bool:
    return stop_runner(settings, services.WORKER.name)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    title: str
    url: str
    state: Answer  # what its port answered (Health.answer); `status --json` calls it "state"
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
            rows.append(ServiceStatus(spec.name, f"room's {spec.title}", spec.url, health.answer, health.detail, None))
    if settings.external_prefect_api_url:
        health = prefect_server.check_external(settings)
        rows.append(ServiceStatus("prefect", "Prefect server (PREFECT_API_URL)", settings.external_prefect_api_url,
                                  health.answer, health.detail, None))
    specs = local_specs(settings)
    for spec in specs:
        record = process.live_record(settings.run_dir, spec.name)
        if record is not None and record.port != spec.port:
            where = urlsplit(spec.health_url)
            health = check_url(where._replace(netloc=f"{where.hostname}:{record.port}").geturl(), record.port, spec.is_ours)
            note = (f"runs on port {record.port}, not {spec.port} as this terminal's settings say: "
                    f"`export {variable(spec.port_field)}={record.port}` here too")
            rows.append(ServiceStatus(spec.name, spec.title, record.url, health.answer,
                                      "; ".join(filter(None, [health.detail, note])), record.pid))
            continue
        health = check(spec)
        if health.answer in ("healthy", "unready") and record is None:
            health = type(health)("foreign", f"answers as a {spec.title}, but this course folder did not start it")
        rows.append(ServiceStatus(spec.name, spec.title, spec.url, health.answer, health.detail,
                                  record.pid if record else None))
    if settings.database_url and not settings.in_room and not settings.external_prefect_api_url:
        rows.append(database_status(settings))
    for service in services.where("learner"):  # started by a notebook, not `up`: shown only while they run
        if (runner := process.live_record(settings.run_dir, service.name)) is not None:
            health = check_url(runner.url + service.health_path, runner.port, service.is_ours)
            rows.append(ServiceStatus(service.name, runner.title, runner.url, health.answer, health.detail, runner.pid))
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
