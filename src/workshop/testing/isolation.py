"""A private copy of the course's services, for tests and benchmarks.

Inside `isolated()`, the course lives in a temporary folder, on free ports,
with a temporary Prefect home, and forgets any PREFECT_API_URL of the shell:
nothing touches the learner's server, inbox or settings. On exit the services
it started are stopped and the folder removed. Enter it before anything
imports Prefect, so Prefect's settings see the temporary home.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..services import SERVICES
from ..settings import PORT_DEFAULTS, variable
from ..supervisor.service import SPARE_PORTS, spare_ports
from ..supervisor.service import free_port as free_port  # for a test's own server, which binds it at once

FORGET = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_UI_URL", "WORKSHOP_API_URL", "WORKSHOP_MOCK_FIXTURE",
          "WORKSHOP_DATABASE_URL", "WORKSHOP_ROOM", "WORKSHOP_LEARNER", "WORKSHOP_ROOM_PASSWORD", "WORKSHOP_HOST",
          "PREFECT_API_AUTH_STRING", "WORKSHOP_HUB", "WORKSHOP_HUB_URL", "WORKSHOP_HUB_IDLE_MINUTES")


_handed_out: set[int] = set()  # ports this process gave a course that may not listen yet


def _own_ports() -> range:
    """This test process's share of the spare ports: pytest-xdist's workers gw0, gw1, ... never meet."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    share = len(SPARE_PORTS) // 8
    start = SPARE_PORTS.start + (worker % 8) * share
    return range(start, start + share)


def spare_port() -> int:
    """A port for a service that starts later, that no other course of this test run has."""
    port = spare_ports(1, _own_ports(), _handed_out)
    _handed_out.add(port)
    return port


def course_ports() -> dict[str, str]:
    """Ports for each of a course's services, which no other course of this test run has and which the system
    does not hand out meanwhile (see SPARE_PORTS)."""
    # One port for each port setting, the services' table saying which take more (the hub's three).
    widths = {field: 1 for field in PORT_DEFAULTS} | {service.port_field: service.ports for service in SERVICES}
    first = spare_ports(sum(widths.values()), _own_ports(), _handed_out)
    ports, port = {}, first
    for field, width in widths.items():
        ports[variable(field)] = str(port)
        port += width
    _handed_out.update(range(first, port))
    return ports


def enter(prefix: str = "workshop-") -> Path:
    """Point this process (and the processes it starts) at a fresh private course. Returns its folder."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    for name in FORGET:
        os.environ.pop(name, None)
    os.environ.update(
        WORKSHOP_HOME=str(home / "course"),
        PREFECT_HOME=str(home / "prefect-client"),
        **course_ports(),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    return home


def drain_prefect_clients() -> None:
    """Send this process's queued Prefect events and logs now, while the server runs: left for exit, Prefect's
    workers try a server that is gone for over a minute."""
    if "prefect.logging.handlers" not in sys.modules:
        return  # Prefect's client was never used here: nothing is queued
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    EventsWorker.drain_all(timeout=5)


def leave(home: Path) -> None:
    """Stop what the private course started and remove its folder."""
    from .. import settings
    from ..supervisor.course import down

    drain_prefect_clients()
    down(settings.load())
    shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def isolated(prefix: str = "workshop-") -> Iterator[Path]:
    saved = dict(os.environ)
    home = enter(prefix)
    try:
        yield home
    finally:
        leave(home)
        os.environ.clear()
        os.environ.update(saved)
