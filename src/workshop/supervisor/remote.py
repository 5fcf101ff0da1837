"""The room's services as a learner's machine reaches them: whether they answer, and take this learner's password."""

from __future__ import annotations

import requests

from ..client import local_session, prefect_session
from ..errors import ServiceError
from ..settings import Settings
from .service import Health, ServiceSpec, readiness
from .specs import room_specs


def require_room(settings: Settings) -> None:
    """The room's services answer, and take this learner's password; else say what to do."""
    for spec in room_specs(settings):
        health = check_remote(spec)
        if health.answer == "unready":
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
