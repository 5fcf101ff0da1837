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

from pathlib import Path

from .. import settings
from ..errors import WorkshopError
from ..supervisor import course


def serve_deployments(script: str | Path, *, restart: bool = False) -> bool:
    """Make sure `script` is serving its deployments in the background. True if started now.

    `restart=True` stops a running copy first, to pick up changes to the script.
    """
    path = Path(script).resolve()
    if not path.is_file():
        raise WorkshopError(f"No deployment script at {path}.")
    current = settings.current()
    api_url = current.prefect_api_url
    if not api_url:
        raise WorkshopError("This kernel has no Prefect server yet: run `course = workshop.start()` first.")
    return course.ensure_runner(current, path, api_url, restart=restart, report=print)


def stop_serving() -> bool:
    """Stop the background process serving deployments, if there is one. True if one was stopped."""
    return course.stop_runner(settings.current())


def start_worker(pool: str, folder: str | Path = ".") -> bool:
    """Make sure a process worker of the work pool `pool` runs in the background, in `folder` (where the deployments'
    code is), against this kernel's Prefect server, as `prefect worker start --pool POOL` in a terminal would. True if
    started now. `stop_worker()` or `python -m workshop down` stops it."""
    current = settings.current()
    if not current.prefect_api_url:
        raise WorkshopError("This kernel has no Prefect server yet: run `course = workshop.start()` first.")
    return course.ensure_worker(current, pool, Path(folder).resolve(), current.prefect_api_url, report=print)


def stop_worker() -> bool:
    """Stop the background worker, if there is one. True if one was stopped."""
    return course.stop_worker(settings.current())
