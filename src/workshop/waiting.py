"""Bounded waiting for a condition: every loop in the course that waits goes through here.

A wait longer than a moment shows that it is waiting, for what and for how
long at most: one line that updates in a notebook, or on a terminal's stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import WorkshopTimeout

T = TypeVar("T")
SHOW_AFTER = 1.5  # seconds: shorter waits pass without a word


class _Progress:
    """One line that says what is awaited and for how long; gone when the wait ends."""

    def __init__(self, what: str, timeout: float):
        self.what, self.timeout, self.started = what, timeout, time.monotonic()
        self._handle = None
        self._terminal = False

    def _line(self) -> str:
        return f"⏳ waiting for {self.what}: {time.monotonic() - self.started:.0f} s (at most {self.timeout:g} s)"

    def update(self) -> None:
        if time.monotonic() - self.started < SHOW_AFTER:
            return
        if self._handle is None and not self._terminal:
            if _in_notebook():
                from IPython.display import display

                self._handle = display({"text/plain": self._line()}, raw=True, display_id=True)
                return
            self._terminal = sys.stderr.isatty()
        if self._handle is not None:
            self._handle.update({"text/plain": self._line()}, raw=True)
        elif self._terminal:
            sys.stderr.write("\r" + self._line())
            sys.stderr.flush()

    def done(self) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": ""}, raw=True)
        elif self._terminal:
            sys.stderr.write("\r" + " " * len(self._line()) + "\r")
            sys.stderr.flush()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def wait_for(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    hint: str = "",
) -> T:
    """Call `condition` until it returns something truthy, and return that.

    Raises `WorkshopTimeout` naming what was awaited once `timeout` seconds
    have passed. `interval` grows gently up to one second so a long wait does
    not hammer the thing it polls.
    """
    deadline = time.monotonic() + timeout
    progress = _Progress(what, timeout)
    try:
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                message = f"Timed out after {timeout:g} s waiting for {what}."
                raise WorkshopTimeout(f"{message} {hint}".strip())
            progress.update()
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, 1.0)
    finally:
        progress.done()
