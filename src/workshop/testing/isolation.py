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
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..supervisor.service import free_port, port_in_use

FORGET = ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_UI_URL", "WORKSHOP_API_URL", "WORKSHOP_MOCK_FIXTURE",
          "WORKSHOP_DATABASE_URL", "WORKSHOP_ROOM", "WORKSHOP_LEARNER", "WORKSHOP_ROOM_PASSWORD", "WORKSHOP_HOST",
          "PREFECT_API_AUTH_STRING", "WORKSHOP_HUB", "WORKSHOP_HUB_URL", "WORKSHOP_HUB_IDLE_MINUTES")


def free_ports(count: int) -> int:
    """The first of `count` consecutive free ports (a hub takes three), below the range the system picks from."""
    for _ in range(200):
        first = random.randrange(20000, 32000)
        if not any(port_in_use(port) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports found between 20000 and 32000")


def course_ports() -> dict[str, str]:
    """Free ports for each of a course's services, all different (the system may hand a released port out again)."""
    ports: list[int] = []
    for _ in range(100):
        if len(ports) == 6:
            break
        if (port := free_port()) not in ports:
            ports.append(port)
    names = ("WORKSHOP_PREFECT_PORT", "WORKSHOP_MOCK_PORT", "WORKSHOP_INBOX_PORT", "WORKSHOP_RUNNER_PORT", "WORKSHOP_WORKER_PORT",
             "WORKSHOP_POSTGRES_PORT")
    # The hub's three come from below the range the system picks from, so they meet none of the others.
    return {**dict(zip(names, map(str, ports), strict=True)), "WORKSHOP_HUB_PORT": str(free_ports(3))}


def enter(prefix: str = "workshop-") -> Path:
    """Point this process (and the processes it starts) at a fresh private course. Returns its folder."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    for variable in FORGET:
        os.environ.pop(variable, None)
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
