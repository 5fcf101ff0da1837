"""A room's JupyterHub as a service: how to start it, and what it needs that pip does not install.

JupyterHub runs in the room's course folder (`<home>/hub/`: its database, cookie
secret, the learners' folders) with the course's configuration
(`hub/jupyterhub_config.py`, which reads `hub.config`). It starts its standard proxy,
configurable-http-proxy, a Node.js program from npm, on the hub's port, and
talks to it on the next port; the hub itself listens on the one after, on
127.0.0.1. Stopping the hub's process group stops the proxy and the learners'
servers with it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from importlib import resources
from pathlib import Path

from ..errors import WorkshopError
from ..services import HUB
from ..settings import Settings
from ..supervisor.service import ServiceSpec, described

PROXY = "configurable-http-proxy"
HUB_MODULES = ("jupyterhub", "jupyterhub_idle_culler")  # the hub extra's, as Python imports them
PROXY_HINT = (f"JupyterHub's proxy is the Node.js program {PROXY}: install it with `npm install -g {PROXY}` "
              "(it needs Node.js 20 or newer, from nodejs.org or your system's packages), then try again.")


def proxy_command() -> str | None:
    """The proxy on PATH, or next to this Python (a conda environment installs it there)."""
    return shutil.which(PROXY) or shutil.which(PROXY, path=str(Path(sys.executable).parent))


def require_proxy() -> str:
    found = proxy_command()
    if found is None:
        raise WorkshopError(PROXY_HINT)
    return found


def require_hub() -> None:
    """What `classroom hub` needs beyond a learner's install, checked before anything starts: the hub extra's
    packages (pyproject.toml), then the proxy."""
    missing = [module for module in HUB_MODULES if importlib.util.find_spec(module) is None]
    if missing:
        raise WorkshopError(f"A room's JupyterHub is the instructor's part of the course, not in a learner's install "
                            f"(missing: {', '.join(missing)}). From the course's repository, in its environment: "
                            '`pip install -e ".[hub]"`, then try again.')
    require_proxy()


def folder(settings: Settings) -> Path:
    return settings.home / "hub"


def proxy_api_port(settings: Settings) -> int:
    return settings.hub_port + 1


def internal_port(settings: Settings) -> int:
    return settings.hub_port + 2


def spec(settings: Settings) -> ServiceSpec:
    config = resources.files("workshop.hub").joinpath("jupyterhub_config.py")
    url = f"http://{settings.host}:{settings.hub_port}"
    return described(
        settings, HUB, url, url=f"{url}/",  # its health through the proxy: both answer
        arguments=("-f", str(config)),
        # What the configuration reads from the settings; a change restarts the hub.
        own_env={"WORKSHOP_HUB_URL": settings.hub_address or url, "WORKSHOP_HUB_IDLE_MINUTES": str(settings.hub_idle_minutes)},
        secret_env={"WORKSHOP_ROOM_PASSWORD": settings.room_password.get_secret_value()},
        start_timeout=90.0,
        cwd=folder(settings),
    )
