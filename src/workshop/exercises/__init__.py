"""Exercises that answer `check()`, `hint()` and `solution()`.

In a notebook, an exercise is two cells. The first is the learner's, marked
with `# exercise: <name>` on its first line and a `____` where the answer
goes; the second checks it:

    # exercise: wait_seconds
    def wait_seconds(response, attempt):
        return ____

    ex.wait_seconds.check(wait_seconds)

`check` says "not attempted yet" while the `____` is still there (the notebook
carries on), stops with what is wrong when the answer is wrong, and ticks it
when it is right. `hint()` gives the hints one tier at a time; `solution()`
shows the reference answer, which is also what `python -m workshop handouts`
puts into the solved copy of the notebook: one source for both.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

from ..checks import CheckFailed


class _Blank:
    """The placeholder a learner replaces. Prints as ____ ."""

    def __repr__(self) -> str:
        return "____"

    def __bool__(self) -> bool:
        return False


____ = _Blank()
MARKER = re.compile(r"^# exercise: (\w+)\s*$")


class NotAttempted(Exception):
    """Raised by a checker that finds the placeholder where the answer should be."""


def answered(value: Any) -> Any:
    """Use in checkers on what a learner's function returned: a ____ means not attempted."""
    if is_blank(value):
        raise NotAttempted
    return value


def is_blank(answer: Any) -> bool:
    """Is this answer still (or does it still contain, or return) the placeholder?"""
    if answer is ____:
        return True
    if isinstance(answer, dict):
        return any(is_blank(value) for value in answer.values())
    if isinstance(answer, (list, tuple, set)):
        return any(is_blank(value) for value in answer)
    return False


@dataclass
class Exercise:
    name: str
    task: str  # one line: what to do
    checker: Callable[..., None]  # raises AssertionError saying what is wrong
    hints: list[str]
    solution_code: str  # the whole learner cell, solved (marker line included)
    _hints_given: int = field(default=0, repr=False)

    def check(self, answer: Any, **context: Any) -> bool:
        """Tick, "not attempted yet", or stop with what is wrong. Returns True when correct."""
        if is_blank(answer):
            print(f"○ Not attempted yet: {self.task}\n  Replace the ____ in the cell above, run it, then run this one.")
            return False
        try:
            self.checker(answer, **context)
        except NotAttempted:
            print(f"○ Not attempted yet: {self.task}\n  Replace the ____ in the cell above, run it, then run this one.")
            return False
        except AssertionError as wrong:
            raise CheckFailed(
                f"Not quite: {wrong}\n`.hint()` gives a hint, `.solution()` shows an answer."
            ) from None
        print(f"✓ Correct: {self.task}")
        return True

    def hint(self, tier: int | None = None) -> None:
        """The next hint (or hint number `tier`), each more specific than the last."""
        index = (tier - 1) if tier else min(self._hints_given, len(self.hints) - 1)
        self._hints_given = max(self._hints_given, index + 1)
        print(f"Hint {index + 1} of {len(self.hints)}: {self.hints[index]}")

    def solution(self):
        """The reference answer, as code."""
        from IPython.display import Markdown

        return Markdown(f"```python\n{self.solution_code}\n```")


def exercise(name: str, task: str, hints: list[str], solution: str):
    """Decorator: turn a checker function into an Exercise (see the modules next to this one)."""

    def make(checker: Callable[..., None]) -> Exercise:
        code = textwrap.dedent(solution).strip("\n")
        if not MARKER.match(code.splitlines()[0]) or MARKER.match(code.splitlines()[0]).group(1) != name:
            raise ValueError(f"the solution of {name!r} must start with '# exercise: {name}'")
        return Exercise(name, task, checker, hints, code)

    return make


__all__ = ["CheckFailed", "Exercise", "MARKER", "NotAttempted", "____", "answered", "exercise", "is_blank"]
