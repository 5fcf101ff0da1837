"""Notebook 00: a warm-up that shows how exercises work."""

from . import exercise


@exercise(
    "failed_event",
    task="Name the event Prefect emits when a flow run enters the Failed state",
    hints=[
        "Prefect names its events <what>.<kind of resource>.<what happened>, all starting with 'prefect.'.",
        "The resource is a flow run (written flow-run) and what happened is the state it entered.",
    ],
    solution='''
# exercise: failed_event
failed_event = "prefect.flow-run.Failed"
''',
)
def failed_event(answer):
    assert isinstance(answer, str), f"an event name is a string, like 'prefect.flow-run.Completed'; you gave a {type(answer).__name__}"
    assert answer == answer.strip(), "there are spaces around the name"
    assert answer.lower().startswith("prefect."), "Prefect's own events start with 'prefect.'"
    assert answer.lower() == "prefect.flow-run.failed", f"{answer!r} is not it: the resource is a flow-run, the state is Failed"
    assert answer == "prefect.flow-run.Failed", "event names are case-sensitive, and state names are capitalised: Failed"
