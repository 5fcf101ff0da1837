"""Serving the course's deployments from a background process.

`flow.serve()` and `prefect.serve()` block until stopped, so a notebook cannot
call them itself. `serve_deployments(script)` runs a script that calls
`prefect.serve(...)` as a managed background process: same Prefect server as
the notebook, one-second polling so a run started by an automation begins at
once (the default is every 10 s), a health endpoint on 127.0.0.1, a log in
`<home>/logs/deployments.log`, and stopped by `stop_serving()` or
`python -m workshop down`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import config, processes
from .config import HOST, Settings
from .errors import WorkshopError
from .processes import ServiceSpec


RUNNER = "deployments"


def _runner_answers(response) -> bool:
    try:
        return response.status_code == 200 and response.json() == {"message": "OK"}
    except ValueError:
        return False


def runner_spec(settings: Settings, script: Path) -> ServiceSpec:
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        raise WorkshopError("PREFECT_API_URL is not set in this kernel: run `course = workshop.start()` first.")
    return ServiceSpec(
        name=RUNNER,
        title="deployment runner",
        port=settings.runner_port,
        port_variable="WORKSHOP_RUNNER_PORT",
        url=f"http://{HOST}:{settings.runner_port}",
        health_url=f"http://{HOST}:{settings.runner_port}/health",
        is_ours=_runner_answers,
        command=[sys.executable, str(script)],
        env={
            # Without the same API URL the runner would start a temporary server of its own.
            "PREFECT_API_URL": api_url,
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            "PREFECT_RUNNER_SERVER_ENABLE": "true",
            "PREFECT_RUNNER_SERVER_HOST": HOST,
            "PREFECT_RUNNER_SERVER_PORT": str(settings.runner_port),
        },
        start_timeout=60.0,
        cwd=script.parent,
    )


def serve_deployments(script: str | Path, *, restart: bool = False) -> bool:
    """Make sure `script` is serving its deployments in the background. True if started now.

    `restart=True` stops a running copy first, to pick up changes to the script.
    """
    path = Path(script).resolve()
    if not path.is_file():
        raise WorkshopError(f"No deployment script at {path}.")
    settings = config.settings()
    spec = runner_spec(settings, path)
    if restart:
        processes.stop(spec.name, settings, title=spec.title)
    return processes.ensure(spec, settings)


def stop_serving() -> bool:
    """Stop the background process serving deployments, if there is one. True if one was stopped."""
    return processes.stop(RUNNER, config.settings(), title="deployment runner")
