"""Flows the exercise checks run, so a learner's automation meets real runs: one that fails (with parameters), and
two with the task of notebook 02, `load_extra_columns`, which fails in one and completes in the other, both flows
completing."""

from __future__ import annotations

from prefect import flow, task

from . import PREFIX

FAILS = f"{PREFIX}exercise-fails"
FORGETS, KEEPS = f"{PREFIX}exercise-forgets", f"{PREFIX}exercise-keeps"
EXTRA = "load_extra_columns"  # the task of notebook 02's section 4: its task runs are named load_extra_columns-<3 letters>


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
