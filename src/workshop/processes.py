"""Start, find and stop the course's background services.

Each service runs as a detached process (its own session, so it outlives the
kernel or shell that started it and one Ctrl-C does not take it down), logs to
`<home>/logs/<name>.log`, and leaves a pid file in `<home>/run/`. A service is
found again by asking its health endpoint, never by trusting the pid file
alone, so a second start reuses what runs and a stale pid file is harmless.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import requests

from .config import HOST, Settings
from .errors import WorkshopError
from .http_service import local_session
from .waiting import wait_for

try:  # one start at a time across kernels and shells; POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # short name: file names and the CLI
    title: str  # what a person calls it
    port: int
    port_variable: str  # the environment variable that moves it
    url: str  # where a person or a client reaches it
    health_url: str
    is_ours: Callable[[requests.Response], bool]  # does this health answer come from us?
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    start_timeout: float = 30.0
    cwd: Path | None = None  # where the process runs; the course folder unless said


@dataclass(frozen=True)
class Health:
    state: str  # "healthy", "down", "foreign" (the port answers, but not as this service)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "healthy"


def check(spec: ServiceSpec, timeout: float = 2.0) -> Health:
    try:
        response = local_session().get(spec.health_url, timeout=timeout)
    except requests.ConnectionError:
        if port_in_use(spec.port):
            return Health("foreign", f"port {spec.port} is taken but does not answer HTTP")
        return Health("down", "nothing is listening")
    except requests.Timeout:
        return Health("foreign", f"port {spec.port} accepts connections but does not answer")
    if spec.is_ours(response):
        return Health("healthy")
    return Health("foreign", f"port {spec.port} answers as something else (HTTP {response.status_code})")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers themselves do: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def busy_port_error(spec: ServiceSpec, detail: str) -> WorkshopError:
    return WorkshopError(
        f"Cannot start the {spec.title}: {detail}. Another program holds 127.0.0.1:{spec.port}. "
        f"Stop that program, or give the course another port before starting it, e.g. "
        f"`export {spec.port_variable}={spec.port + 10}` (set it the same way for JupyterLab "
        f"and for `python -m workshop`)."
    )


def ensure(spec: ServiceSpec, settings: Settings) -> bool:
    """Make sure `spec` is running, healthy and as configured now. Returns True if this call started it."""
    if check(spec).ok and not _outdated(spec, settings):
        return False
    with _start_lock(settings, spec):
        # Another kernel may have started it while we waited for the lock.
        pid = read_pid(spec, settings)
        if pid is not None:
            _wait_healthy(spec, settings, pid)
            return False
        if _outdated(spec, settings):
            # Ours, but started with other settings (another port, fixture or script): replace it.
            stop(spec.name, settings, title=spec.title)
        health = check(spec)
        if health.ok:
            return False  # healthy and not ours to judge (a server someone else started): reuse it
        if health.state == "foreign":
            raise busy_port_error(spec, health.detail)
        pid = _spawn(spec, settings)
        _wait_healthy(spec, settings, pid)
        return True


def _outdated(spec: ServiceSpec, settings: Settings) -> bool:
    record = _recorded_process(spec.name, settings)
    return record is not None and not _same_command(record[1], spec.command)


def _same_command(recorded: list[str], wanted: list[str]) -> bool:
    # Compare the arguments only: a kernel and a terminal of the same environment may name
    # its interpreter differently (python, python3, a resolved path).
    return recorded[1:] == wanted[1:]


def stop(name: str, settings: Settings, *, title: str = "", timeout: float = 20.0) -> bool:
    """Stop the course's process for the service called `name` (even one started with other ports).

    Returns True if a process was stopped.
    """
    title = title or name
    record = _recorded_process(name, settings)
    pid_file = _pid_file(name, settings)
    if record is None:
        pid_file.unlink(missing_ok=True)
        return False
    pid = record[0]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    try:
        wait_for(lambda: not _alive(pid), timeout=timeout, what=f"the {title} to stop")
    except WorkshopError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        wait_for(lambda: not _alive(pid), timeout=5, what=f"the {title} to be killed")
    pid_file.unlink(missing_ok=True)
    return True


def read_pid(spec: ServiceSpec, settings: Settings) -> int | None:
    """The pid of the course's process for `spec` as configured now, if it is alive."""
    record = _recorded_process(spec.name, settings)
    return record[0] if record and _same_command(record[1], spec.command) else None


def _recorded_process(name: str, settings: Settings) -> tuple[int, list[str]] | None:
    """The live process the pid file names, with the command it was started with."""
    try:
        record = json.loads(_pid_file(name, settings).read_text())
        pid, command = int(record["pid"]), list(record["command"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(pid) or not _runs_command(pid, command):
        return None
    return pid, command


def log_file(spec: ServiceSpec, settings: Settings) -> Path:
    return settings.log_dir / f"{spec.name}.log"


def log_tail(spec: ServiceSpec, settings: Settings, lines: int = 15) -> str:
    try:
        text = log_file(spec, settings).read_text(errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def _pid_file(name: str, settings: Settings) -> Path:
    return settings.run_dir / f"{name}.json"


def _spawn(spec: ServiceSpec, settings: Settings) -> int:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **spec.env}
    with open(log_file(spec, settings), "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(spec.command)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            spec.command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=spec.cwd or settings.home,
            start_new_session=True,
        )
    record = {"pid": process.pid, "port": spec.port, "url": spec.url, "command": spec.command}
    _pid_file(spec.name, settings).write_text(json.dumps(record))
    return process.pid


def _wait_healthy(spec: ServiceSpec, settings: Settings, pid: int) -> None:
    def ready() -> bool:
        if check(spec, timeout=1.0).ok:
            return True
        if not _alive(pid):
            raise WorkshopError(
                f"The {spec.title} exited while starting. Last lines of "
                f"{log_file(spec, settings)}:\n{log_tail(spec, settings)}"
            )
        return False

    wait_for(
        ready,
        timeout=spec.start_timeout,
        what=f"the {spec.title} to answer at {spec.health_url}",
        interval=0.2,
        hint=(
            f"`python -m workshop down` then `up` restarts it. Last lines of {log_file(spec, settings)}:\n"
            + log_tail(spec, settings)
        ),
    )


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child if it exited
        if finished == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall through to the signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runs_command(pid: int, command: list[str]) -> bool:
    """Guard against a reused pid: on Linux, compare the process's command line."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists() or not command:
        return True
    return cmdline.read_bytes().split(b"\0")[:-1] == [part.encode() for part in command]


@contextlib.contextmanager
def _start_lock(settings: Settings, spec: ServiceSpec) -> Iterator[None]:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.run_dir / f"{spec.name}.lock", "w") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
