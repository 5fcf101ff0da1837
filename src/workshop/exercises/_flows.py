"""Flows the exercise checks run, so a learner's automation meets real runs: one that completes,
one that fails, and one that hangs until its process is stopped (`python -m workshop.exercises._flows`)."""

from __future__ import annotations

import sys
import time

from prefect import flow, task

from . import PREFIX

COMPLETES, FAILS, HANGS = f"{PREFIX}exercise-completes", f"{PREFIX}exercise-fails", f"{PREFIX}exercise-hangs"


@flow(name=COMPLETES)
def completes() -> str:
    return "fine"


@flow(name=FAILS)
def fails() -> None:
    raise RuntimeError("the exercise check's failure, on purpose")


@task
def stay_busy(seconds: float) -> None:
    time.sleep(seconds)  # until the check stops this process, as a machine going down would


@flow(name=HANGS)
def hangs(seconds: float = 120) -> None:
    stay_busy(seconds)


if __name__ == "__main__":
    hangs(float(sys.argv[1]) if len(sys.argv) > 1 else 120)
