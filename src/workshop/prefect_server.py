"""Which Prefect server the course talks to, and how to start the local one.

If `PREFECT_API_URL` is set (a classroom server, Prefect Cloud), the course
uses it and starts nothing. Otherwise it runs the open-source server on
127.0.0.1 with SQLite under the course folder and analytics off, shared by
every notebook, kernel and terminal.
"""

from __future__ import annotations

import os
import sys

import requests

from .config import HOST, Settings
from .errors import WorkshopError
from .processes import Health, ServiceSpec


def _answers_health(response: requests.Response) -> bool:
    try:
        return response.status_code == 200 and response.json() is True
    except ValueError:
        return False


def local_spec(settings: Settings) -> ServiceSpec:
    return ServiceSpec(
        name="prefect",
        title="Prefect server",
        port=settings.prefect_port,
        port_variable="WORKSHOP_PREFECT_PORT",
        url=f"http://{HOST}:{settings.prefect_port}",
        health_url=f"{settings.local_prefect_api_url}/health",
        is_ours=_answers_health,
        command=[sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(settings.prefect_port)],
        env={
            "PREFECT_HOME": str(settings.prefect_home),
            "PREFECT_API_URL": settings.local_prefect_api_url,
            # Offline laptops: no telemetry attempts, no error in the log about them.
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        },
        # A first start creates the SQLite database: about 16 s on a 2-core machine.
        start_timeout=120.0,
    )


def external_api_url(settings: Settings) -> str | None:
    """The server the learner chose with PREFECT_API_URL, unless it is the course's own."""
    url = os.environ.get("PREFECT_API_URL", "").strip().rstrip("/")
    if not url or url == settings.local_prefect_api_url:
        return None
    return url


def check_external(url: str) -> Health:
    headers = {}
    if os.environ.get("PREFECT_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['PREFECT_API_KEY']}"
    # A remote server may sit behind the learner's proxy, so this one request trusts the environment.
    try:
        response = requests.get(f"{url}/health", headers=headers, timeout=5)
    except requests.RequestException as exc:
        return Health("down", f"no answer ({type(exc).__name__})")
    if _answers_health(response):
        return Health("healthy")
    return Health("foreign", f"HTTP {response.status_code} from {url}/health")


def require_external(url: str) -> None:
    health = check_external(url)
    if not health.ok:
        raise WorkshopError(
            f"PREFECT_API_URL is set to {url}, but that Prefect server does not answer ({health.detail}). "
            "Start that server or fix the URL, or unset PREFECT_API_URL to let the course run its own "
            "server on this laptop."
        )


def ui_url(api_url: str) -> str:
    return os.environ.get("PREFECT_UI_URL") or api_url.removesuffix("/api")
