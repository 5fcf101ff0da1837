"""Notebook 00: a warm-up that shows how exercises work."""

from . import exercise


@exercise(
    "failed_event",
    task="Name the event Prefect emits when a flow run enters the Failed state",
    hints=[
        "Prefect names its events <who>.<kind of resource>.<what happened>, all of its own starting with 'prefect.'.",
        "What kind of resource enters the Failed state here, and how does Prefect write it in an event name (one "
        "word, lowercase, with a dash)? And how is the state's name written?",
        "The resource is a flow run, written flow-run, and what happened is the state it entered, Failed: "
        "'prefect.flow-run.Failed'.",
    ],
    solution='''
# exercise: failed_event
failed_event = "prefect.flow-run.Failed"
''',
    why="""
Every state a flow run enters becomes an event named `prefect.flow-run.<State>`: `Running`, `Completed`, `Failed`,
`Crashed`, `Cancelled`... The state's name keeps its capital letter, and event names are matched exactly, so
`prefect.flow-run.failed` is a different event that never occurs: an automation expecting it never fires, and nothing
warns. (Notebook 02 shows how to find out, in the event feed, which names really occur.) The usual wrong answers
are `prefect.flow-run.failed`, in lowercase, and `flow-run.Failed`, without Prefect's own prefix.
""",
)
def failed_event(answer):
    assert isinstance(answer, str), f"an event name is a string, like 'prefect.flow-run.Completed'; you gave a {type(answer).__name__}"
    assert answer == answer.strip(), "there are spaces around the name"
    assert answer.lower().startswith("prefect."), "Prefect's own events start with 'prefect.'"
    assert answer.lower() == "prefect.flow-run.failed", f"{answer!r} is not it: the resource is a flow-run, the state is Failed"
    assert answer == "prefect.flow-run.Failed", "event names are case-sensitive, and state names are capitalised: Failed"
