"""One background service: how to start it, how to tell it is healthy and ours, and what to do in each state.

Starting a service looks at two things, the process record the course left
(is our process alive? with the command wanted now?) and the service's health
endpoint (does the port answer as this service?), and lands in one state:

| state | what it means | what `ensure` does |
| --- | --- | --- |
| NOT_RUNNING | no process of ours, the port is free | start it |
| HEALTHY | our process, as configured now, answers | reuse it |
| OUTDATED | our process, started with other settings (port, fixture, script) | stop it, start it anew |
| UNHEALTHY | our process, as configured now, does not answer | give it a moment, else restart it |
| FOREIGN | the port is held by a program the course did not start | stop and say what to do |
"""

from __future__ import annotations

import enum
import hashlib
import random
import socket
import sys
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import requests

from ..client import local_session
from ..errors import PortBusy, ServiceError, WorkshopTimeout
from ..services import Service
from ..settings import HOST, Settings, environment_for_child, variable
from ..waiting import wait_for
from . import process
from .process import ProcessRecord

Report = Callable[[str], None]


def silent(_: str) -> None:
    pass


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # short name: file names and the CLI
    title: str  # what a person calls it
    port: int
    port_field: str  # the settings field of its port (`variable()` names the environment variable that moves it)
    url: str  # where a person or a client reaches it
    command: list[str]
    health_url: str = ""
    is_ours: Callable[[requests.Response], bool] | None = None  # does this health answer come from this kind of service?
    probe: Callable[[float], Health] | None = None  # how to ask a service that does not speak HTTP (Redis), instead
    own_env: dict[str, str] = field(default_factory=dict)  # variables that make it this service (with the command)
    secret_env: dict[str, str] = field(default_factory=dict)  # the same, holding passwords: recorded by digest only
    start_timeout: float = 30.0
    cwd: Path | None = None  # where the process runs; the course home unless said
    start_note: str = ""  # said while starting, e.g. how long a first start takes
    foreign_hint: str = ""  # what else to do when another program holds the port
    before_start: Callable[[], None] | None = None  # once, before a start of ours
    after_start: Callable[[], None] | None = None  # once, when a start of ours first answers
    ready_url: str = ""  # answers 200 once the service can serve, not only answer (Prefect's /api/ready)
    unready_hint: str = ""  # what to do when it answers but is not ready


def described(settings: Settings, service: Service, base: str, *, url: str | None = None,
              arguments: tuple[str, ...] = (), **how) -> ServiceSpec:
    """`service`'s spec from its row (name, title, port, health check, start) and where this course has it: `base`
    is its root address, `arguments` follow its start, `how` is the rest of ServiceSpec.

    The service reads its port and address from the environment, as every child does; they are in `own_env` too,
    so that a process started with others is restarted."""
    port = getattr(settings, service.port_field)
    identity = {variable(service.port_field): str(port)}
    if service.where != "learner":  # a learner's own services listen on loopback, whatever the room's address
        identity[variable("host")] = settings.host
    return ServiceSpec(name=service.name, title=how.pop("title", service.title), port=port, port_field=service.port_field,
                       url=url or base, health_url=base + service.health_path, is_ours=service.is_ours,
                       command=[sys.executable, *service.start, *arguments],
                       own_env={**identity, **how.pop("own_env", {})}, **how)


def recorded_env(spec: ServiceSpec) -> dict[str, str]:
    """What the process record keeps of the variables that make `spec`: a secret's digest, never the secret."""
    digests = {name: "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16] for name, value in spec.secret_env.items()}
    return {**spec.own_env, **digests}


class State(enum.Enum):
    NOT_RUNNING = "start it"
    HEALTHY = "reuse it"
    OUTDATED = "stop it and start it with the settings of now"
    UNHEALTHY = "wait for it a moment, else restart it"
    FOREIGN = "leave it alone and say what to do"


# "healthy"; "down"; "unready" (it answers as this service, but cannot serve: Prefect's database is down);
# "foreign" (the port answers, but not as this service)
Answer = Literal["healthy", "down", "unready", "foreign"]


@dataclass(frozen=True)
class Health:
    """What a service's port answered (the supervisor's own view of a service is its `State`)."""

    answer: Answer
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.answer == "healthy"


def check(spec: ServiceSpec, timeout: float = 2.0) -> Health:
    """Ask the service's health endpoint, then whether it is ready."""
    if spec.probe is not None:
        return spec.probe(timeout)
    health = check_url(spec.health_url, spec.port, spec.is_ours, timeout)
    return readiness(spec, health, local_session(), timeout)


def readiness(spec: ServiceSpec, health: Health, session: requests.Session, timeout: float = 2.0) -> Health:
    """`health`, or "unready" when the service answers as itself but its ready endpoint says it cannot serve."""
    if not (health.ok and spec.ready_url):
        return health
    try:
        answer = session.get(spec.ready_url, timeout=max(timeout, 5.0))
    except requests.RequestException as trouble:
        return Health("unready", f"it answers, but not whether it is ready ({type(trouble).__name__})")
    if answer.status_code == 200:
        return health
    try:
        said = answer.json().get("message") or answer.json()["detail"]
    except (ValueError, AttributeError, KeyError):
        said = answer.text[:200]
    return Health("unready", f"it answers, but cannot serve: {said} (HTTP {answer.status_code})"
                             f"{'. ' + spec.unready_hint if spec.unready_hint else ''}")


def check_url(health_url: str, port: int, is_ours: Callable[[requests.Response], bool], timeout: float = 2.0) -> Health:
    try:
        response = local_session().get(health_url, timeout=timeout)
    except requests.ConnectionError:
        if port_in_use(port):
            return Health("foreign", f"port {port} is taken but does not answer HTTP")
        return Health("down", "nothing is listening")
    except requests.Timeout:
        return Health("foreign", f"port {port} accepts connections but does not answer within {timeout:g} s")
    if is_ours(response):
        return Health("healthy")
    return Health("foreign", f"port {port} answers as something else (HTTP {response.status_code})")


def free_port() -> int:
    """A port nothing listens on now, on 127.0.0.1 (the system picks it), for a server that binds it at once."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# The system gives ports from 32768 up (Linux; 49152 up on macOS and Windows) to outgoing connections and to
# whatever binds port 0, as a Jupyter kernel does for its channels: a port picked there for a service that starts
# later may be a kernel's by then. Such ports come from below that range.
SPARE_PORTS = range(20000, 32000)


def spare_ports(count: int = 1, within: range = SPARE_PORTS, taken: Container[int] = ()) -> int:
    """The first of `count` consecutive ports in `within` that nothing listens on now and `taken` does not hold."""
    for _ in range(200):
        first = random.randrange(within.start, within.stop - count + 1)
        block = range(first, first + count)
        if not any(port in taken or port_in_use(port) for port in block):
            return first
    raise ServiceError(f"No {count} consecutive free ports between {within.start} and {within.stop - 1} on {HOST}.")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves do: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def plan(spec: ServiceSpec, settings: Settings) -> tuple[State, ProcessRecord | None, Health | None]:
    """Which state `spec` is in now, with our record of it (if any) and its health (unknown when OUTDATED)."""
    record = process.live_record(settings.run_dir, spec.name)
    if record is not None and not record.same_setup(spec.command, recorded_env(spec)):
        return State.OUTDATED, record, None
    health = check(spec)
    if record is not None:
        return (State.HEALTHY if health.ok else State.UNHEALTHY), record, health
    if health.answer == "down":
        return State.NOT_RUNNING, None, health
    if health.ok:
        health = Health("foreign", f"port {spec.port} answers as a {spec.title}, but not one this course folder started")
    return State.FOREIGN, None, health


def ensure(spec: ServiceSpec, settings: Settings, report: Report = silent) -> bool:
    """Bring `spec` to HEALTHY (call it under `process.exclusive`). True if this call started it."""
    state, record, health = plan(spec, settings)
    if state is State.HEALTHY:
        return False
    if state is State.FOREIGN:
        raise busy_port_error(spec, health.detail)
    if state is State.UNHEALTHY and health.answer == "unready":  # starting it again would not help
        try:  # its database may have just come back (`classroom up` starts the room's first)
            wait_for(lambda: check(spec).ok, timeout=15, what=f"the {spec.title} to be ready", interval=0.5)
            return False
        except WorkshopTimeout:
            raise ServiceError(f"The {spec.title} runs (pid {record.pid}), but {check(spec).detail}") from None
    if state is State.UNHEALTHY:
        try:
            wait_for(lambda: check(spec, timeout=1.0).ok, timeout=10, what=f"the {spec.title} to answer", interval=0.3)
            return False
        except WorkshopTimeout:
            report(f"The {spec.title} (pid {record.pid}) is not answering: restarting it.")
            process.stop(record, settings.run_dir)
    if state is State.OUTDATED:
        report(f"The {spec.title} (pid {record.pid}) was started with other settings ({_difference(record, spec)}): "
               "restarting it.")
        process.stop(record, settings.run_dir)
        if check(spec).answer != "down":
            raise busy_port_error(spec, check(spec).detail)
    start(spec, settings, report)
    return True


def start(spec: ServiceSpec, settings: Settings, report: Report = silent) -> ProcessRecord:
    report(f"Starting the {spec.title} on {spec.url}{' (' + spec.start_note + ')' if spec.start_note else ''}…")
    began = time.monotonic()
    if spec.before_start:
        spec.before_start()
    record = process.spawn(
        spec.name, spec.title, spec.command, port=spec.port, url=spec.url, own_env=recorded_env(spec),
        env=environment_for_child(settings, {**spec.own_env, **spec.secret_env}),
        cwd=spec.cwd or settings.home, run_dir=settings.run_dir, log=log_file(spec.name, settings),
    )

    def ready() -> bool:
        if check(spec, timeout=1.0).ok:
            return True
        if record.process() is None:
            raise ServiceError(
                f"The {spec.title} exited while starting. Last lines of {log_file(spec.name, settings)}:\n"
                f"{log_tail(spec.name, settings)}"
            )
        return False

    try:
        wait_for(ready, timeout=spec.start_timeout, what=f"the {spec.title} to answer at {spec.health_url}", interval=0.2)
    except WorkshopTimeout:
        process.stop(record, settings.run_dir)
        raise WorkshopTimeout(
            f"The {spec.title} did not answer within {spec.start_timeout:g} s, so it was stopped again. "
            f"Last lines of {log_file(spec.name, settings)}:\n{log_tail(spec.name, settings)}"
        ) from None
    if spec.after_start:
        try:
            spec.after_start()
        except Exception:
            process.stop(record, settings.run_dir)  # answering but not ready for use: the next start tries again
            raise
    report(f"  ready after {time.monotonic() - began:.1f} s")
    return record


def _difference(record: ProcessRecord, spec: ServiceSpec) -> str:
    was = set(record.command[1:]) | {f"{k}={v}" for k, v in (record.own_env or {}).items()}
    wanted = set(spec.command[1:]) | {f"{k}={v}" for k, v in recorded_env(spec).items()}
    return f"it has {' '.join(sorted(was - wanted)) or 'fewer options'}, now wanted: {' '.join(sorted(wanted - was)) or 'fewer options'}"


def busy_port_error(spec: ServiceSpec, detail: str) -> PortBusy:
    return PortBusy(
        f"Cannot start the {spec.title}: {detail}. Another program holds 127.0.0.1:{spec.port}. "
        f"Stop that program, or give the course another port before starting it, e.g. "
        f"`export {variable(spec.port_field)}={spec.port + 10}` (set it the same way for JupyterLab "
        f"and for `python -m workshop`).{' ' + spec.foreign_hint if spec.foreign_hint else ''}"
    )


def log_file(name: str, settings: Settings) -> Path:
    return settings.log_dir / f"{name}.log"


def log_tail(name: str, settings: Settings, lines: int = 15) -> str:
    try:
        text = log_file(name, settings).read_text(errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
