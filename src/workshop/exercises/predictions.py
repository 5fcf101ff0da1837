"""Predictions: before a demo whose outcome surprises people, the learner says what will happen.

In a notebook, a prediction is a cell marked `# prediction: <name>` whose `____`
the learner replaces with what they expect; the demo runs; then
`ex.<name>.reveal(<their prediction>, <what the server did>)` compares the two
and explains the mechanism, right or wrong. Nothing stops: a wrong prediction
is the start of the lesson, not a failed check. In a room, the board hears
whether it was right, wrong or not made (`workshop.prediction.*`).

    # prediction: forgets_state
    forgets_state = ____  # "Completed" or "Failed"?

    ... the demo ...

    ex.forgets_state.reveal(forgets_state, forgets.type.value)
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ..notebook.progress import report_check
from . import is_blank, record

_MARKER = re.compile(r"^# prediction: (\w+)\s*$")


def prediction_name(source: str) -> str | None:
    """The prediction a cell holds: the name on its `# prediction: <name>` first line, or None."""
    first = source.lstrip("\n").split("\n", 1)[0]
    match = _MARKER.match(first)
    return match.group(1) if match else None


def _same(guess: Any, actual: Any) -> bool:
    if isinstance(actual, bool) or isinstance(guess, bool):
        return guess is actual
    if isinstance(actual, int | float):
        try:
            return float(guess) == float(actual)
        except (TypeError, ValueError):
            return False
    return str(guess).strip().lower() == str(actual).strip().lower()


@dataclass
class Prediction:
    name: str
    question: str  # what the learner is asked, in one line
    options: tuple[Any, ...]  # the answers that make sense (what a learner types), shown when the guess is not one
    why: str  # the mechanism: shown whatever was predicted (Markdown)
    answer_code: str  # the cell with the right prediction filled in (marker line included): the solved handout's
    outcome: str = "none"  # "right", "wrong" or "none", after the last reveal

    def reveal(self, guess: Any, actual: Any) -> None:
        """Compare the learner's `guess` with what the server did (`actual`), and say why it came out so."""
        from IPython.display import Markdown, display

        if actual is None:  # the demo did not run (an exercise it needs is not done yet)
            self.outcome = "none" if is_blank(guess) else self.outcome
            display(Markdown(f"○ **Nothing to compare with yet**: the demo this prediction is about has not run. "
                             f"Come back once it has.\n\n{self.why}"))
            return
        if is_blank(guess):
            self.outcome, said = "none", f"○ **No prediction made.** {self.question} The server's answer: **{actual}**."
        elif not any(_same(guess, option) for option in self.options) and not _same(guess, actual):
            self.outcome = "wrong"
            said = (f"**You predicted {guess!r}**, which is not one of {', '.join(map(repr, self.options))}. "
                    f"The server's answer: **{actual}**.")
        elif _same(guess, actual):
            self.outcome, said = "right", f"✓ **You predicted {guess!r}, and so it was.**"
        else:
            self.outcome, said = "wrong", f"**You predicted {guess!r}; the server's answer: {actual!r}.** Here is why:"
        report_check(self.outcome, f"{self.name}: predicted {guess!r}, it was {actual!r}", prediction=self.name)
        record.note("prediction", self.name, self.outcome)
        display(Markdown(f"{said}\n\n{self.why}"))


def prediction(name: str, *, question: str, options: tuple[Any, ...], answer: str, why: str) -> Prediction:
    """A prediction of a notebook (see the module's docstring); `answer` is the learner's cell, filled in right."""
    code = textwrap.dedent(answer).strip("\n")
    if prediction_name(code) != name:
        raise ValueError(f"the answer of prediction {name!r} must start with '# prediction: {name}'")
    return Prediction(name, question, options, textwrap.dedent(why).strip(), code)
