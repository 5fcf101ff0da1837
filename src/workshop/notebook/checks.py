"""Checks in notebook cells: a clear tick when the learner got it, a clear reason when not."""

from __future__ import annotations

from ..checkpoints import Outcome
from .progress import report_check


class CheckFailed(AssertionError):
    """A notebook check did not hold; the message says what to look at."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: the reason, not the course's frames.
        return [f"\x1b[31m✗ {self}\x1b[0m"]


def check(condition: object, passed: str, failed: str) -> None:
    """Print `✓ passed` if `condition` holds, else stop the notebook with `failed`.

    In a room, the instructor's progress board hears how it went (`workshop.notebook.progress`).
    """
    if not condition:
        report_check(Outcome.FAILED, failed)
        raise CheckFailed(failed)
    report_check(Outcome.PASSED, passed)
    print(f"✓ {passed}")
