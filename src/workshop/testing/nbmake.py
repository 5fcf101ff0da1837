"""`pytest --nbmake notebooks/` (nbmake, the notebook runner the course's design names) against a private course.

A pytest plugin, registered by the package (pyproject.toml, `pytest11`), that acts only when `--nbmake` is given:
before any notebook's kernel starts, the session (each xdist worker its own) enters `isolation`, so the notebooks'
`workshop.start()` starts services of their own in a temporary folder, on free ports, never the learner's; they stop
when the session ends. The same works on a handouts folder: `pytest --nbmake DIR/learner`.

The test suite keeps its own harness (tests/notebooks.py) for what nbmake does not do: the solved copies, a
room's learners, a notebook's printed text for the tests to read.
"""

from __future__ import annotations

from pathlib import Path

from . import isolation

_home: Path | None = None


def _wanted(config) -> bool:
    return bool(config.getoption("nbmake", default=False))


def pytest_configure(config) -> None:
    global _home
    if _wanted(config) and _home is None:
        _home = isolation.enter(prefix="workshop-nbmake-")


def pytest_report_header(config) -> str | None:
    if _home is None:
        return None
    return f"workshop: the notebooks run against a private course in {_home} (never your own services)"


def pytest_unconfigure(config) -> None:
    global _home
    if _home is not None:
        isolation.leave(_home)
        _home = None
