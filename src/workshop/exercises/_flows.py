"""Flows the exercise checks run, so a learner's automation meets real runs: one that completes, one that fails (with
parameters), one that hangs until its process is stopped (`python -m workshop.exercises._flows`), and two with the
task of notebook 02, `load_extra_columns`, which fails in one and completes in the other, both flows completing."""

from __future__ import annotations

import sys
import time

from prefect import flow, task

from . import PREFIX

COMPLETES, FAILS, HANGS = f"{PREFIX}exercise-completes", f"{PREFIX}exercise-fails", f"{PREFIX}exercise-hangs"
FORGETS, KEEPS = f"{PREFIX}exercise-forgets", f"{PREFIX}exercise-keeps"
EXTRA = "load_extra_columns"  # the task of notebook 02's section 4: its task runs are named load_extra_columns-<3 letters>


@flow(name=COMPLETES)
def completes() -> str:
    return "fine"


@flow(name=FAILS)
def fails(n_users: int = 7, seed: str = "exercise") -> None:
    raise RuntimeError("the exercise check's failure, on purpose")


@task(name=EXTRA)
def extra_columns(works: bool) -> str:
    if not works:
        raise ValueError("the extra columns' source is gone (the exercise check's, on purpose)")
    return "extra columns"


@flow(name=FORGETS)
def forgets() -> str:
    extra_columns.submit(False)  # fails; never asked for again, so the flow completes
    return "report written"


@flow(name=KEEPS)
def keeps() -> str:
    return extra_columns(True)


@task
def stay_busy(seconds: float) -> None:
    time.sleep(seconds)  # until the check stops this process, as a machine going down would


@flow(name=HANGS)
def hangs(seconds: float = 120) -> None:
    stay_busy(seconds)


if __name__ == "__main__":
    hangs(float(sys.argv[1]) if len(sys.argv) > 1 else 120)
