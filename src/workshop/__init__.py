"""Helpers for the Prefect automations course: the plumbing, so the notebooks can show Prefect.

In a notebook:

    import workshop
    course = workshop.start()   # Prefect server, mock API and inbox, all on 127.0.0.1

From a terminal: `python -m workshop up | status | down | reset | faults | lab`.
"""

from __future__ import annotations

import os
import sys

from .checks import CheckFailed, check
from .config import PREFIX
from .errors import WorkshopError
from .inbox import Inbox, Message
from .mock_api import MockAPI, data_api_url
from .services import Course
from .source import show_source


def start() -> Course:
    """Make sure the three services run, and point this process's Prefect at the course server.

    Safe to call in every notebook and again after a kernel restart: what runs
    is reused, so a second call takes well under a second.
    """
    from .services import up

    course = up()
    os.environ["PREFECT_API_URL"] = course.prefect_api_url
    if "prefect.context" in sys.modules:
        # Prefect reads its settings once, at import; tell it the URL changed.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
    return course


__all__ = [
    "CheckFailed", "Course", "Inbox", "Message", "MockAPI", "PREFIX", "WorkshopError",
    "check", "data_api_url", "show_source", "start",
]
