"""A report flow with a state hook, for notebook 02's "hooks or automations?".

`on_failure=[tell_the_inbox]` runs `tell_the_inbox` in the flow's own process,
right after a run of it fails. Notebook 02 runs this script in a process of its
own, as a deployment's runs are, and then stops that process in the ways real
machines do, to see what the hook hears and what the server hears:

    python hooked_flow.py fail    # the run fails: an exception
    python hooked_flow.py hang    # the run keeps going, until its process is stopped
"""

import sys
import time

from prefect import flow, task
from prefect.blocks.notifications import CustomWebhookNotificationBlock

import workshop


def tell_the_inbox(flow, flow_run, state):
    """A state hook: Prefect calls it with the flow, the run and its final state."""
    block = CustomWebhookNotificationBlock.load(f"{workshop.PREFIX}inbox")  # the block of notebook 02, section 1
    block.notify(f"{flow.name} run {flow_run.name} ended {state.name}: {state.message}",
                 subject=f"hook: {flow_run.name} failed")


@task
def gather_figures(seconds: float):
    time.sleep(seconds)  # busy, until the process is stopped


@flow(name=f"{workshop.PREFIX}hooked-report", on_failure=[tell_the_inbox])
def hooked_report(mode: str = "fail", seconds: float = 120):
    if mode == "fail":
        raise RuntimeError("the report's source is gone")
    gather_figures(seconds)


if __name__ == "__main__":
    hooked_report(sys.argv[1] if len(sys.argv) > 1 else "fail")
