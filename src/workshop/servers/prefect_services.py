"""A scaled room's Prefect background services, in one or more processes, with a health endpoint.

In Prefect's scaled mode the API runs in several processes without the background
services (the scheduler, the automations' triggers and actions, the event persister,
...), and they run apart, as `prefect server services start` runs them, coordinated
through Redis. This process runs them the same way and, while they run, answers
`GET /_workshop/health` on WORKSHOP_SERVICES_PORT (127.0.0.1) with their names, so that
`classroom status` can say whether they run (Prefect's command has no such answer).

With WORKSHOP_SERVICES_WORKERS=N it runs N-1 more copies of them in processes of its own
(started again if one ends), as Prefect's guide scales them: each of the services'
consumers on Redis then reads its stream's events N at a time instead of one by one.

Run it with `python -m workshop.servers.prefect_services`; `classroom up --api-workers N`
starts it for you (`--services-workers N` for more than one).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal

from ..contract import HEALTH, PREFECT_SERVICES_ID
from ..settings import HOST, load
from .http import Refusal, Service, answer, uvicorn_config


def _run_services():
    # What `prefect server services start` runs (Prefect 3.9.1): the loop services and Docket's perpetual ones.
    from prefect.cli._server_utils import _run_all_services

    return _run_all_services()


def _services_only() -> None:
    """One more process of the same services (no health endpoint: the first process answers for all)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C: Prefect's loops end cleanly
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_services())


class Copies:
    """The services' other processes, each started again when it ends (as uvicorn does for the API's)."""

    def __init__(self, count: int):
        self.processes = [self._started() for _ in range(count)]

    @staticmethod
    def _started() -> multiprocessing.Process:
        copy = multiprocessing.get_context("spawn").Process(target=_services_only, daemon=True)
        copy.start()
        return copy

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for index, copy in enumerate(self.processes):
                if not copy.is_alive():
                    print(f"A process of Prefect's background services (pid {copy.pid}) ended with code "
                          f"{copy.exitcode}: starting another.", flush=True)
                    self.processes[index] = self._started()

    def stop(self) -> None:
        for copy in self.processes:
            copy.terminate()
        for copy in self.processes:
            copy.join(timeout=10)


class Health(Service):
    """`GET /_workshop/health`: 200 with the services' names while they run, 503 once they have stopped."""

    def __init__(self, services: asyncio.Task, names: list[str], copies: Copies):
        super().__init__()
        self.services, self.names, self.copies = services, names, copies

    async def get(self, request):
        if request.url.path != HEALTH:
            raise Refusal(404, f"This is the health endpoint of Prefect's background services: ask {HEALTH}.")
        if self.services.done():
            return answer(503, {"service": PREFECT_SERVICES_ID, "error": "Prefect's background services have stopped: "
                                                                         "their log says why (classroom status names it)."})
        processes = 1 + sum(copy.is_alive() for copy in self.copies.processes)
        return answer(200, {"service": PREFECT_SERVICES_ID, "running": self.names, "processes": processes})


async def run() -> None:
    import uvicorn
    from prefect.server.services.base import Service as PrefectService

    settings = load()
    names = sorted(service.__name__ for service in PrefectService.enabled_services())
    services = asyncio.create_task(_run_services())
    copies = Copies(settings.services_workers - 1)
    watching = asyncio.create_task(copies.watch())
    server = uvicorn.Server(uvicorn_config(Health(services, names, copies), HOST, settings.services_port, log_level="info"))
    try:
        await server.serve()  # until SIGTERM (`classroom down`) or Ctrl-C
    finally:
        watching.cancel()
        copies.stop()
        services.cancel()  # Prefect's services stop their loops on cancellation
        with contextlib.suppress(asyncio.CancelledError):
            await services


def main() -> None:
    # uvicorn raises SIGTERM again after its own stop, with the handler it found: let that one end the process cleanly.
    signal.signal(signal.SIGTERM, lambda *_: None)
    settings = load()
    print(f"Prefect's background services in {settings.services_workers} process(es), health on "
          f"http://{HOST}:{settings.services_port}{HEALTH}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
