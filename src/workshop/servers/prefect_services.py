"""A scaled room's process of Prefect's background services, with a health endpoint.

In Prefect's scaled mode the API runs in several processes without the background
services (the scheduler, the automations' triggers and actions, the event persister,
...), and they run apart, as `prefect server services start` runs them, coordinated
through Redis. This process runs them the same way and, while they run, answers
`GET /_workshop/health` on WORKSHOP_SERVICES_PORT (127.0.0.1) with their names, so that
`classroom status` can say whether they run (Prefect's command has no such answer).

Run it with `python -m workshop.servers.prefect_services`; `classroom up --api-workers N`
starts it for you.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from ..contract import HEALTH, PREFECT_SERVICES_ID
from ..settings import HOST, load
from .http import Refusal, Service, answer, uvicorn_config


class Health(Service):
    """`GET /_workshop/health`: 200 with the services' names while they run, 503 once they have stopped."""

    def __init__(self, services: asyncio.Task, names: list[str]):
        super().__init__()
        self.services, self.names = services, names

    async def get(self, request):
        if request.url.path != HEALTH:
            raise Refusal(404, f"This is the health endpoint of Prefect's background services: ask {HEALTH}.")
        if self.services.done():
            return answer(503, {"service": PREFECT_SERVICES_ID, "error": "Prefect's background services have stopped: "
                                                                         "their log says why (classroom status names it)."})
        return answer(200, {"service": PREFECT_SERVICES_ID, "running": self.names})


async def run() -> None:
    import uvicorn

    # What `prefect server services start` runs (Prefect 3.9.1): the loop services and Docket's perpetual ones.
    from prefect.cli._server_utils import _run_all_services
    from prefect.server.services.base import Service as PrefectService

    settings = load()
    names = sorted(service.__name__ for service in PrefectService.enabled_services())
    services = asyncio.create_task(_run_all_services())
    server = uvicorn.Server(uvicorn_config(Health(services, names), HOST, settings.services_port, log_level="info"))
    try:
        await server.serve()  # until SIGTERM (`classroom down`) or Ctrl-C
    finally:
        services.cancel()  # Prefect's services stop their loops on cancellation
        with contextlib.suppress(asyncio.CancelledError):
            await services


def main() -> None:
    # uvicorn raises SIGTERM again after its own stop, with the handler it found: let that one end the process cleanly.
    signal.signal(signal.SIGTERM, lambda *_: None)
    print(f"Prefect's background services, health on http://{HOST}:{load().services_port}{HEALTH}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
