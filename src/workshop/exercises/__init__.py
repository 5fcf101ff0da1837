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
when it is right. Code of the learner's that raises is reported as theirs,
with what it was called with, never as a traceback through the course.
`hint()` gives the hints one tier at a time, from the question that leads to the
answer to the answer; `solution()` shows the reference answer and says why it
is right and what the usual wrong answers miss. The answer is also what
`python -m workshop handouts` puts into the solved copy of the notebook: one
source for both.

A **prediction** (`predictions.py`) asks the learner what a demo will do before
it runs; its `reveal(...)` compares that with what the server did and explains
the mechanism either way. A wrong prediction is answered, never failed.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..checkpoints import Outcome
from ..notebook.checks import CheckFailed
from ..notebook.progress import report_check, report_hint
from ..settings import current
from . import record

# What the exercises name things with: workshop-, in a classroom workshop-<learner>- (read once, at import).
PREFIX = current().prefix


class _Blank:
    """The placeholder a learner replaces. Prints as ____ ."""

    def __repr__(self) -> str:
        return "____"

    def __bool__(self) -> bool:
        return False


____ = _Blank()
_MARKER = re.compile(r"^# exercise: (\w+)\s*$")


def exercise_name(source: str) -> str | None:
    """The exercise a cell holds: the name on its `# exercise: <name>` first line, or None."""
    first = source.lstrip("\n").split("\n", 1)[0]
    match = _MARKER.match(first)
    return match.group(1) if match else None


class NotAttempted(Exception):
    """Raised by a checker that finds the placeholder where the answer should be."""


class LearnerCodeRaised(Exception):
    """The learner's own code raised; the message says with what it was called."""


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


def call_learner(function: Any, *args: Any, shown: str, what: str = "your function") -> Any:
    """Call the learner's `function`; if it raises, say so as theirs, with the call shown as `shown`."""
    if not callable(function):
        raise AssertionError(f"{what} should be a function (def ...), but it is {function!r}")
    try:
        return answered(function(*args))
    except NotAttempted:
        raise
    except Exception as raised:
        raise LearnerCodeRaised(f"{what} raised {raised!r} when called with {shown}") from None


NOT_ATTEMPTED = "○ Not attempted yet: {task}\n  Replace the ____ in the cell above, run it, then run this one."


@dataclass
class Exercise:
    name: str
    task: str  # one line: what to do
    checker: Callable[..., None]  # raises AssertionError saying what is wrong
    hints: list[str]  # from the question that leads to the answer, to the answer
    solution_code: str  # the whole learner cell, solved (marker line included)
    why: str  # why the solution is right, and what the usual wrong answers miss (Markdown)
    has_cell: bool = True  # False: checked on answers given above (the capstone's play), no cell of its own
    status: Outcome = Outcome.NOT_ATTEMPTED  # after the last check
    _hints_given: int = field(default=0, repr=False)

    def check(self, answer: Any, **context: Any) -> None:
        """Tick, "not attempted yet", or stop with what is wrong."""
        try:
            if is_blank(answer):
                raise NotAttempted
            self.checker(answer, **context)
        except NotAttempted:
            self._came_out(Outcome.NOT_ATTEMPTED, self.task)
            print(NOT_ATTEMPTED.format(task=self.task))
            return
        except (AssertionError, LearnerCodeRaised) as wrong:
            self._came_out(Outcome.FAILED, str(wrong))
            raise CheckFailed(f"Not quite: {wrong}\n`.hint()` gives a hint, `.solution()` shows an answer.") from None
        self._came_out(Outcome.PASSED, self.task)
        print(f"✓ Correct: {self.task}")

    def _came_out(self, outcome: Outcome, text: str) -> None:
        """Keep how the check came out, and tell the learner's record and (in a room) the board."""
        self.status = outcome
        report_check(outcome, text, checkpoint=self.checkpoint)
        record.note("exercise", self.name, outcome)

    @property
    def checkpoint(self) -> str:
        """The exercise's key on the progress board, as `checkpoints` reads it from the notebook."""
        return f"ex.{self.name}"

    @property
    def passed(self) -> bool:
        return self.status is Outcome.PASSED

    def hint(self, tier: int | None = None) -> None:
        """The next hint (or hint number `tier`), each more specific than the last."""
        index = (tier - 1) if tier else min(self._hints_given, len(self.hints) - 1)
        self._hints_given = max(self._hints_given, index + 1)
        report_hint(self.name, f"hint {index + 1} of {len(self.hints)}")
        record.note("hint", self.name, f"{index + 1}")
        print(f"Hint {index + 1} of {len(self.hints)}: {self.hints[index]}")

    def solution(self):
        """The reference answer, as code, and why it is right."""
        from IPython.display import Markdown

        return Markdown(f"```python\n{self.solution_code}\n```\n\n{self.why}")


def exercise(name: str, task: str, hints: list[str], solution: str, why: str, cell: bool = True):
    """Decorator: turn a checker function into an Exercise (see the modules next to this one). `cell=False`: an
    exercise with no learner cell of its own, checked on answers of the cells above it."""

    def make(checker: Callable[..., None]) -> Exercise:
        code = textwrap.dedent(solution).strip("\n")
        if cell and exercise_name(code) != name:
            raise ValueError(f"the solution of {name!r} must start with '# exercise: {name}'")
        return Exercise(name, task, checker, hints, code, textwrap.dedent(why).strip(), cell)

    return make




def summary(module: Any):
    """Where this notebook's exercises and predictions stand, from this kernel: show it to your instructor."""
    from IPython.display import Markdown

    from .predictions import Prediction

    exercises = [value for value in vars(module).values() if isinstance(value, Exercise)]
    rows = "\n".join(f"| `{e.name}` | {e.task} | {e.status.mark} | {e._hints_given} |" for e in exercises)
    done = sum(e.passed for e in exercises)
    text = (f"**Your exercises: {done} of {len(exercises)} done**\n\n"
            f"| exercise | what | status | hints seen |\n| --- | --- | --- | --- |\n{rows}")
    predictions = [value for value in vars(module).values() if isinstance(value, Prediction)]
    if predictions:
        made = [p for p in predictions if p.outcome in ("right", "wrong")]
        text += (f"\n\n**Your predictions: {len(made)} of {len(predictions)} made, "
                 f"{sum(p.outcome == 'right' for p in made)} right** (a wrong one teaches as much)")
    text += "\n\nThe whole course, every notebook's, kept from one day to the next: `python -m workshop record` in a terminal."
    return Markdown(text)


__all__ = [
    "CheckFailed", "Exercise", "LearnerCodeRaised", "NotAttempted", "____", "answered", "call_learner",
    "exercise", "exercise_name", "is_blank", "summary",
]
