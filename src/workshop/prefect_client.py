"""Point this process's Prefect client, and the processes it starts, at a Prefect server: the one thing the course
writes into the environment (the settings only read it)."""

from __future__ import annotations

import os
import sys

from . import settings


def use_prefect_server(api_url: str) -> None:
    """Point this process's Prefect client, and the processes it starts, at `api_url`.

    Prefect reads PREFECT_API_URL from the environment; a kernel has no other
    place to keep it between cells, and flows it serves inherit it from here.
    """
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("DO_NOT_TRACK", "1")  # the course runs offline: no usage data from this kernel's Prefect
    now = settings.reload()
    # For files that name things with it, as `prefect deploy` fills in {{ $WORKSHOP_PREFIX }} (prefect.yaml).
    os.environ["WORKSHOP_PREFIX"] = now.prefix
    if now.auth_string and api_url == now.course_prefect_api_url:
        os.environ["PREFECT_API_AUTH_STRING"] = now.auth_string  # the room's server asks for its password
    if api_url == now.course_prefect_api_url and (through := now.through_jupyter(now.prefect_port)):
        os.environ.setdefault("PREFECT_UI_URL", through)  # the run links Prefect's own log lines print
    if "prefect.context" in sys.modules:
        # Prefect reads its settings once, at import; tell it the URL changed.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()
