"""How a check calls the real server from a notebook cell, where an event loop is already running: on a thread of
its own, and waiting for what it caused to arrive, within a time limit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..errors import WorkshopTimeout
from ..waiting import wait_for

T = TypeVar("T")


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to the end on a thread of its own: a notebook's own loop is busy running the cell."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def with_client(call: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
    """`await call(client)` with a Prefect client of this kernel's server, on the checks' own thread."""
    async def run() -> T:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            return await call(client)

    return in_thread(run())


def run_in_thread(function: Callable[[], Any]) -> Any:
    """Run a flow on a thread: a sync flow called in a notebook's loop would otherwise share it."""
    with ThreadPoolExecutor(1) as pool, quiet_console():
        return pool.submit(function).result()


@contextlib.contextmanager
def quiet_console():
    """Keep Prefect's console lines (and the tracebacks of failures a check causes on purpose) out of the cell while
    a check runs its flows, so its verdict is what the learner sees; the logs still reach the server and its UI."""
    handlers = [handler for name in ("", *logging.root.manager.loggerDict) if name == "" or name.startswith("prefect")
                for handler in getattr(logging.getLogger(name), "handlers", []) if "Console" in type(handler).__name__]
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels, strict=True):
            handler.setLevel(level)


def now() -> datetime:
    return datetime.now(UTC)


def within(condition: Callable[[], T], *, timeout: float) -> T | None:
    """What `condition` returned once truthy, or None if it never was within `timeout` s (for checks to explain)."""
    try:
        return wait_for(condition, timeout=timeout, what="the check's condition", interval=0.3)
    except WorkshopTimeout:
        return None
