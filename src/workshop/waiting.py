"""Bounded waiting for a condition: every loop in the course that waits goes through here."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

from .errors import WorkshopError

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    hint: str = "",
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    Raises `WorkshopError` naming `what` was awaited once `timeout` seconds
    have passed. `interval` grows gently up to one second so a long wait does
    not hammer the thing it polls.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            message = f"Timed out after {timeout:g} s waiting for {what}."
            raise WorkshopError(f"{message} {hint}".strip())
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 1.0)
