"""Which Prefect server the course talks to, and how to start the local one.

If `PREFECT_API_URL` is set (a classroom server, Prefect Cloud), the course
uses it and starts nothing. Otherwise it runs the open-source server on
127.0.0.1 with SQLite under the course folder (or the PostgreSQL database
WORKSHOP_DATABASE_URL names) and analytics off, shared by every notebook,
kernel and terminal.
"""

from __future__ import annotations

import subprocess
import sys

import requests

from ..client import prefect_session
from ..contract import UI_BASE_IN_HUB
from ..errors import ServiceError
from ..services import PREFECT, PREFECT_SERVICES
from ..settings import HOST, Settings, environment_for_child
from . import redis
from .service import Health, ServiceSpec, described


def create_encryption_key(settings: Settings) -> None:
    """Have the server make its key for block secrets now, before anyone saves a block: Prefect 3.9.1 makes it in
    the first save, and concurrent first saves then fail (docs/upstream.md). Saving one anonymous block document
    makes the key; anonymous documents emit no event and the UI lists none."""
    api, auth = settings.course_prefect_api_url, settings.room_auth
    http = prefect_session()

    def answer(response: requests.Response):
        if not response.ok:
            raise ServiceError(f"The Prefect server started but refused {response.request.method} "
                               f"{response.request.path_url}: HTTP {response.status_code} {response.text[:300]}. "
                               "It was stopped again; `python -m workshop up` starts it anew.")
        return response.json() if response.content else None

    block_type = answer(http.get(f"{api}/block_types/slug/secret", auth=auth, timeout=10))
    schemas = answer(http.post(f"{api}/block_schemas/filter", auth=auth, timeout=10,
                               json={"block_schemas": {"block_type_id": {"any_": [block_type["id"]]}}, "limit": 1}))
    document = answer(http.post(f"{api}/block_documents/", auth=auth, timeout=10, json={
        "block_type_id": block_type["id"], "block_schema_id": schemas[0]["id"], "data": {"value": None},
        "is_anonymous": True}))
    answer(http.delete(f"{api}/block_documents/{document['id']}", auth=auth, timeout=10))


SQLITE_FILE = "prefect.db"  # Prefect's database in PREFECT_HOME when no other is set


def _behind_hub(settings: Settings) -> dict[str, str]:
    """A room's server reached through its JupyterHub: the UI under /prefect/, notifications linking there."""
    if not (settings.hosts_room and settings.hub):
        return {}
    return {
        "PREFECT_SERVER_UI_SERVE_BASE": UI_BASE_IN_HUB,
        "PREFECT_UI_API_URL": "/api",  # relative: the hub routes its /api/ to this server, whose own API is there too
        "PREFECT_UI_URL": settings.hub_address + UI_BASE_IN_HUB,
        # Its own copy of the UI's files: Prefect rewrites the base path into a copy kept in its installation,
        # shared by every server of that installation, so the next server started for "/" would break this one's.
        "PREFECT_UI_STATIC_DIRECTORY": str(settings.prefect_home / "ui-under-prefect"),
    }


def _through_jupyter(settings: Settings) -> dict[str, str]:
    """The course's server reached through the JupyterLab it runs in (Binder, a JupyterHub, a dev container):
    the UI at the path JupyterLab's proxy passes on whole, its API calls and notifications' links through it too."""
    through = settings.through_jupyter(settings.prefect_port)
    if through is None:
        return {}
    path = settings.proxied_path(settings.prefect_port)
    return {
        "PREFECT_SERVER_UI_SERVE_BASE": path,
        "PREFECT_UI_API_URL": f"{path}/api",  # servers.prefect_app answers the API there as at /api
        "PREFECT_UI_URL": through,
        "PREFECT_UI_STATIC_DIRECTORY": str(settings.prefect_home / "ui-through-jupyter"),  # as _behind_hub says
        "WORKSHOP_JUPYTER_URL": settings.jupyter_address,  # for the course's guard in front of it
    }


def _first_start_note(settings: Settings) -> str:
    """Said when a start makes the database's tables (about 15 s on a 2-core machine), and only then."""
    if settings.database_url:  # whether a PostgreSQL database has them is the server's to find out
        return "if its PostgreSQL database is new, this start makes its tables: about 15 s"
    return "" if (settings.prefect_home / SQLITE_FILE).exists() else "the first start creates its database: about 15 s"


def _secrets(settings: Settings) -> dict[str, str]:
    secrets = {}
    if settings.database_url:
        secrets["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = settings.database_url.get_secret_value()
    if settings.hosts_room:
        # Basic auth for the room; /api/health and /api/ready stay open (checked in 3.9.1), which `status` uses.
        secrets["PREFECT_SERVER_API_AUTH_STRING"] = secrets["PREFECT_API_AUTH_STRING"] = settings.auth_string
    if settings.scaled:
        secrets.update(redis.prefect_settings(settings)[1])
    return secrets


def _scaled(settings: Settings) -> dict[str, str]:
    """Prefect's scaled mode, as `prefect server start --workers N` sets it up: events on the room's Redis, and the
    database made ready once before the API's processes start (`_prepare`), not by each of them at once."""
    if not settings.scaled:
        return {}
    return {**redis.prefect_settings(settings)[0], "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false"}


def _own_env(settings: Settings) -> dict[str, str]:
    """What makes a Prefect server process of the course's: its API and, in the scaled mode, its services."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": settings.course_prefect_api_url,
        # Offline laptops: no telemetry attempts, no error in the log about them.
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # The root opens the classic UI (V1), where every run link the course and Prefect's `ui_url` print leads,
        # and which loads nothing from elsewhere (the V2 UI asks amplitude.com: docs/upstream.md); V2 is at /v2/.
        "PREFECT_SERVER_UI_V2_ENABLED": "false",
        # Pages of other origins may not read its answers (Prefect allows every origin by default).
        "PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS": ",".join(sorted(settings.served_origins(settings.prefect_port))),
        # A deployment nobody serves turns "not ready" after 15 s, checked every 5 s (60 s and 15 s by
        # default): notebook 03 shows it within a lesson. Everything else is Prefect's default.
        "PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS": "5",
        # Events are readable 1 s after they arrive, not 5 s: the event feed, the board and the checks see them sooner.
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "1",
        "PREFECT_SERVER_SERVICES_FOREMAN_DEPLOYMENT_LAST_POLLED_TIMEOUT_SECONDS": "15",
        **_behind_hub(settings),
        **_through_jupyter(settings),
        **_scaled(settings),
    }


def _prepare(settings: Settings, environment: dict[str, str]) -> None:
    """Bring the database's tables and block types up to date, as one server process does at its start."""
    done = subprocess.run([sys.executable, *PREFECT.start, "--prepare-database"], capture_output=True, text=True,
                          env=environment_for_child(settings, environment), cwd=settings.home, timeout=300)
    if done.returncode != 0:
        raise ServiceError(f"The room's database could not be made ready for Prefect: {(done.stderr or done.stdout)[-800:]}")


def local_spec(settings: Settings) -> ServiceSpec:
    secrets = _secrets(settings)
    own = _own_env(settings)
    if settings.scaled:  # the API in several processes, without the background services (`services_spec`)
        own |= {"WORKSHOP_API_WORKERS": str(settings.api_workers), "PREFECT__SERVER_WEBSERVER_ONLY": "1"}
    # Prefect's server app, as `prefect server start` serves it, with the course's guard (servers.prefect_app).
    return described(
        settings, PREFECT, settings.course_prefect_api_url.removesuffix("/api"),
        title=f"{PREFECT.title}, API in {settings.api_workers} processes" if settings.scaled else PREFECT.title,
        own_env=own,
        secret_env=secrets,
        before_start=(lambda: _prepare(settings, {**own, **secrets})) if settings.scaled else None,
        start_timeout=120.0,
        start_note=_first_start_note(settings),
        foreign_hint=(
            f"If it is a Prefect server of yours that the course should use, "
            f"`export PREFECT_API_URL=http://{HOST}:{settings.prefect_port}/api` instead."
        ),
        after_start=lambda: create_encryption_key(settings),
        ready_url=f"{settings.course_prefect_api_url}/ready",
        unready_hint=("Tell the instructor: the room's PostgreSQL may have stopped." if settings.in_room else
                      "`python -m workshop classroom up` starts the room's PostgreSQL again." if settings.hosts_room else
                      "Start the database WORKSHOP_DATABASE_URL names." if settings.database_url else ""),
    )


def services_spec(settings: Settings) -> ServiceSpec:
    """A scaled room's process of Prefect's background services, with the same settings as its API."""
    many = settings.services_workers > 1
    return described(settings, PREFECT_SERVICES, f"http://{HOST}:{settings.services_port}",
                     title=f"{PREFECT_SERVICES.title}, in {settings.services_workers} processes" if many else PREFECT_SERVICES.title,
                     own_env={**_own_env(settings), "WORKSHOP_SERVICES_WORKERS": str(settings.services_workers)},
                     secret_env=_secrets(settings), start_timeout=60.0)


def check_external(settings: Settings) -> Health:
    url = settings.external_prefect_api_url
    headers = {}
    if settings.prefect_api_key:
        headers["Authorization"] = f"Bearer {settings.prefect_api_key.get_secret_value()}"
    # A remote server may sit behind the learner's proxy, so this one request trusts the environment.
    try:
        response = requests.get(f"{url}/health", headers=headers, timeout=5)
    except requests.RequestException as exc:
        return Health("down", f"no answer ({type(exc).__name__})")
    if PREFECT.is_ours(response):
        return Health("healthy")
    return Health("foreign", f"HTTP {response.status_code} from {url}/health")


def require_external(settings: Settings) -> None:
    health = check_external(settings)
    if not health.ok:
        raise ServiceError(
            f"PREFECT_API_URL is set to {settings.external_prefect_api_url}, but that Prefect server does not answer "
            f"({health.detail}). Start that server or fix the URL, or unset PREFECT_API_URL to let the course run "
            "its own server on this laptop."
        )


def ui_url(settings: Settings, api_url: str) -> str:
    """Where the browser opens the UI of the server at `api_url`."""
    through = settings.through_jupyter(settings.prefect_port) if api_url == settings.course_prefect_api_url else None
    return settings.prefect_ui_url or through or api_url.removesuffix("/api")
