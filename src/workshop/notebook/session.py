"""`workshop.start()`: the first call of every notebook."""

from __future__ import annotations

from .. import settings
from ..prefect_client import use_prefect_server
from ..supervisor import course
from ..supervisor.addresses import Course
from ..supervisor.course import ServiceStatus


def start() -> Course:
    """Make sure the course's services run, and point this kernel's Prefect at the course's server.

    Safe to call in every notebook and again after a kernel restart: what runs
    is reused, so a second call takes well under a second. A first start says
    what it is doing as it goes.
    """
    current = settings.reload()
    started = course.up(current, report=print)
    use_prefect_server(started.prefect_api_url)
    return started


def status() -> list[ServiceStatus]:
    """Each of the course's services: its URL, its health, and the course's process for it."""
    return course.status(settings.current())
