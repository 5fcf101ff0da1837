"""Notebook 04 (capstone): the automations around a self-healing pipeline, designed by you and played through three scenarios.

The design has three parts that differ: a multi-action failover that also keeps
a flapping source to one alert, an escalation that needs two failures in order,
and a recovery notice. Each part has a quick check of what it would do; `design`
then saves all three on the server and plays the scenarios through the mock:
what arrives in the inbox and which runs start are the verdict.
"""

from __future__ import annotations

from datetime import timedelta

from ..errors import WorkshopError
from . import PREFIX, _effects, exercise
from ._triggers import as_data, describe_scope, event, fires_on, server_model
from .ex03 import COURSE_FAILOVER

SHORTEST_WINDOW, LONGEST_WINDOW = timedelta(seconds=20), timedelta(minutes=2)


def _deployment_events(primary, backup, name: str) -> dict:
    return {side: event(name, deployment=d.name, deployment_id=d.id) for side, d in (("primary", primary), ("backup", backup))}


def _automation(answer, part: str) -> dict:
    data = as_data(answer, "an Automation(...)")
    assert str(data.get("name", "")).startswith(PREFIX), f"{part}: name it {PREFIX}... so that `python -m workshop reset` knows it is the course's"
    assert data.get("actions"), f"{part}: an automation needs actions"
    return data


def _notifies(data: dict, block_id, part: str, word: str) -> None:
    notes = [a for a in data["actions"] if a.get("type") == "send-notification"]
    assert notes, f"{part}: one action should be SendNotification(block_document_id=block_id, ...)"
    assert any(str(a.get("block_document_id")) == str(block_id) for a in notes), f"{part}: send through the inbox block: block_document_id=block_id"
    assert any(word in (a.get("subject") or "").lower() for a in notes), f"{part}: put {word!r} in the subject, so it reads at a glance"


@exercise(
    "failover",
    task="One automation that tells a person and starts the backup when the primary fails, and fires once for a flapping source",
    hints=[
        "One Automation can have several actions: actions=[SendNotification(...), RunDeployment(...)]. The trigger is notebook 03's failover trigger.",
        "A flapping source fails the primary again and again. A reactive trigger fires at once on its threshold, then absorbs "
        "what follows for the rest of its `within`: threshold=1, within=timedelta(seconds=30).",
        "The RunDeployment action: source='selected', deployment_id=backup.id, and parameters from the event, e.g. "
        "{'n_users': '{{ flow_run.parameters.n_users }}'}.",
    ],
    solution='''
# exercise: failover
failover = Automation(
    name=f"{course.prefix}capstone-failover",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary.id}"},
        posture=Posture.Reactive,
        threshold=1,                    # the first failure acts at once...
        within=timedelta(seconds=30),   # ...and the next 30 s of failures add nothing: no storm
    ),
    actions=[
        SendNotification(
            block_document_id=block_id,
            subject="Primary failed: failing over to the mirror ({{ flow_run.name }})",
            body="{{ flow_run.state.message }}\\nThe backup is starting. {{ flow_run|ui_url }}",
        ),
        RunDeployment(
            source="selected",
            deployment_id=backup.id,
            parameters={name: "{{ flow_run.parameters." + name + " }}" for name in ("n_users", "page_size", "seed")},
        ),
    ],
)
''',
)
def failover(answer, *, primary, backup, block_id):
    data = _automation(answer, "failover")
    trigger = server_model(data["trigger"])
    scope = describe_scope(trigger)
    failed = _deployment_events(primary, backup, "prefect.flow-run.Failed")
    assert type(trigger).__name__ == "EventTrigger" and trigger.posture.value == "Reactive", "failover: a reactive EventTrigger, as in notebook 03"
    assert fires_on(trigger, failed["primary"]), f"failover: it does not fire when the primary fails ({scope})"
    assert not fires_on(trigger, failed["backup"]), f"failover: it fires when the backup fails too ({scope})"
    assert trigger.threshold == 1, f"failover: with threshold={trigger.threshold} the first failure would not fail over; threshold=1"
    assert SHORTEST_WINDOW <= trigger.within <= LONGEST_WINDOW, (
        f"failover: within={trigger.within} lets a flapping source set it off again and again; give it a window from "
        f"{SHORTEST_WINDOW.seconds} s to {LONGEST_WINDOW.seconds // 60} minutes, within which one firing is enough"
        if trigger.within < SHORTEST_WINDOW else
        f"failover: within={trigger.within} is longer than this class can wait; keep it at {LONGEST_WINDOW.seconds // 60} minutes at most"
    )
    _notifies(data, block_id, "failover", "fail")
    assert any(a.get("type") == "run-deployment" and str(a.get("deployment_id")) == str(backup.id) for a in data["actions"]), (
        "failover: one action should run the backup: RunDeployment(source='selected', deployment_id=backup.id, ...)"
    )


@exercise(
    "escalation",
    task="URGENT, once, when the backup fails after the primary failed",
    hints=[
        "Two conditions in order: a SequenceTrigger(triggers=[primary failed, backup failed], within=...) "
        "(a CompoundTrigger(require='all') does too, in any order).",
        "Each child is an EventTrigger like the failover's: one related to the primary deployment, one to the backup; within=timedelta(minutes=5).",
    ],
    solution='''
# exercise: escalation
def failed_run_of(deployment):
    return EventTrigger(
        expect={"prefect.flow-run.Failed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{deployment.id}"},
        posture=Posture.Reactive,
        threshold=1,
    )


escalation = Automation(
    name=f"{course.prefix}capstone-escalation",
    trigger=SequenceTrigger(triggers=[failed_run_of(primary), failed_run_of(backup)], within=timedelta(minutes=5)),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="URGENT: the backup failed too ({{ flow_run.name }})",
        body="Both sources are down; no data until someone steps in.\\n{{ flow_run.state.message }}\\n{{ flow_run|ui_url }}",
    )],
)
''',
)
def escalation(answer, *, primary, backup, block_id):
    data = _automation(answer, "escalation")
    trigger = server_model(data["trigger"])
    kind = type(trigger).__name__
    assert kind in ("SequenceTrigger", "CompoundTrigger"), (
        f"escalation: one failure is not enough here; two must happen: a SequenceTrigger (or CompoundTrigger), not an {kind}"
    )
    if kind == "CompoundTrigger":
        assert trigger.require == "all", "escalation: both failures are needed: require='all'"
    failed = _deployment_events(primary, backup, "prefect.flow-run.Failed")
    children = [child for child in trigger.triggers if type(child).__name__ == "EventTrigger"]
    hears = {side: [i for i, child in enumerate(children) if fires_on(child, failed[side])] for side in failed}
    assert hears["primary"], "escalation: no part of the trigger fires when the primary fails"
    assert hears["backup"], "escalation: no part of the trigger fires when the backup fails"
    assert not set(hears["primary"]) & set(hears["backup"]), "escalation: a part fires on both failures, so one failure would satisfy it twice"
    if kind == "SequenceTrigger":
        assert min(hears["primary"]) < min(hears["backup"]), "escalation: the primary fails first: put its trigger first in the sequence"
    _notifies(data, block_id, "escalation", "urgent")


@exercise(
    "recovered",
    task="Tell people they can relax when the backup delivered the data",
    hints=[
        "Recovered means: a run of the backup deployment Completed.",
        "An EventTrigger expecting prefect.flow-run.Completed, related to the backup deployment, and a SendNotification with 'Recovered' in the subject.",
    ],
    solution='''
# exercise: recovered
recovered = Automation(
    name=f"{course.prefix}capstone-recovered",
    trigger=EventTrigger(
        expect={"prefect.flow-run.Completed"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{backup.id}"},
        posture=Posture.Reactive,
        threshold=1,
    ),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="Recovered: backup run {{ flow_run.name }} delivered the data",
        body="The mirror served {{ flow_run.parameters.n_users }} users. {{ flow_run|ui_url }}",
    )],
)
''',
)
def recovered(answer, *, primary, backup, block_id):
    data = _automation(answer, "recovered")
    trigger = server_model(data["trigger"])
    scope = describe_scope(trigger)
    completed = _deployment_events(primary, backup, "prefect.flow-run.Completed")
    failed = _deployment_events(primary, backup, "prefect.flow-run.Failed")
    children = trigger.triggers if hasattr(trigger, "triggers") else [trigger]
    assert any(fires_on(child, completed["backup"]) for child in children), f"recovered: nothing in it fires when the backup completes ({scope})"
    assert not any(fires_on(child, completed["primary"]) for child in children), (
        f"recovered: it fires whenever the primary completes too: that is a normal day, not a recovery ({scope})"
    )
    assert not any(fires_on(child, failed["backup"]) for child in children), f"recovered: it fires when the backup fails ({scope})"
    _notifies(data, block_id, "recovered", "recovered")


@exercise(
    "design",
    task="Play three scenarios on the real server with your three automations: each alert arrives, once, in order",
    hints=[
        "Each part passes its own check first: run the three check cells above.",
        "If a scenario fails, read what the check printed: which message arrived, which did not, which run started.",
    ],
    solution='''
# exercise: design
design = [failover, escalation, recovered]  # your three automations
''',
)
def design(answer, *, primary, backup, block_id):
    assert isinstance(answer, (list, tuple)) and len(answer) == 3, "design is the list [failover, escalation, recovered]"
    parts = dict(zip(("failover", "escalation", "recovered"), answer, strict=True))
    for name, part in parts.items():
        globals()[name].checker(part, primary=primary, backup=backup, block_id=block_id)
    play(parts, primary, backup)


def play(parts: dict, primary, backup) -> None:
    """Save the design and play it: primary down (A), both down (B), a flapping primary (C)."""
    from ..notebook import runs
    from ..notebook.mock import MockAPI

    mock, inbox = MockAPI(), _effects.inbox()
    window = server_model(as_data(parts["failover"], "")["trigger"]).within.total_seconds()
    for automation in _effects.automations_named(COURSE_FAILOVER):  # the design replaces notebook 03's failover
        _effects.pause(automation.id)
    saved: dict = {}

    def scenario(label: str, *, mirror_down: bool, primaries: int, last_word: str) -> dict:
        print(f"  Scenario {label}: primary down{', mirror down' if mirror_down else ''}, "
              f"{primaries} primary run{'s' if primaries > 1 else ''}…", flush=True)
        # After firing, a reactive trigger opens its next window where the last one ends, and a failure there fires
        # again: saved anew, the automations start each scenario with no window open.
        saved.update({name: _effects.save_fresh(automation) for name, automation in parts.items()})
        began, mark = _effects.now(), inbox.last_id()
        mock.set_faults("primary", outage=True)
        mock.set_faults("mirror", outage=mirror_down)
        try:
            started = [_effects.run_deployment(primary.id, n_users=20, page_size=20, seed=f"capstone-{label}") for _ in range(primaries)]
            failed_at = sorted(runs.wait_for_flow_run(run.id, timeout=120).state.timestamp for run in started)
            backups = _effects.within(lambda: runs.started_by(saved["failover"].id, since=began), timeout=60) or []
            ends = [runs.wait_for_flow_run(run_id, timeout=120) for run_id in backups]
            as_planned = bool(ends) and all(run.state.is_failed() == mirror_down for run in ends)
            # A backup that ended otherwise than the story says will not bring the last word: do not wait long for it.
            heard = _effects.within(lambda: any(last_word in m.subject.lower() for m in inbox.messages(after=mark)),
                                    timeout=45 if as_planned else 5)
        finally:
            mock.clear_faults()
        # A repeat of the same message is the busy server's (see Inbox.messages), not the design's.
        subjects = [m.subject for m in inbox.messages(after=mark, channel="alerts", repeats=False)]
        print("    messages: " + (" | ".join(subjects) or "none"))
        if backups:
            print("    backup runs: " + ", ".join(f"{run.name} ({run.state.name})" for run in ends))
        repeated = [name for name, automation in saved.items() if runs.repeated_firings(automation.id, since=began)]
        if repeated:  # then its actions ran twice too: what arrived and started is the server's doing, not the design's
            raise WorkshopError(f"{label}: the Prefect server fired your {' and '.join(repeated)} twice on one event, a fault of "
                                "Prefect 3.9.1 when other automations are saved at the same moment (a busy room). "
                                "The scenario proves nothing: run the check again.")
        assert backups, f"{label}: the primary failed, but your failover started no backup run within 60 s"
        assert heard, (f"{label}: no message with {last_word!r} in its subject arrived after the backup's end "
                       f"(the backup run ended {', '.join(run.state.name for run in ends)})")
        fired = runs.events("prefect.automation.triggered", since=began, resource_id=f"prefect.automation.{saved['failover'].id}")
        return {"backups": ends, "subjects": [s.lower() for s in subjects], "failover fired": len(fired),
                "burst": (failed_at[-1] - failed_at[0]).total_seconds()}

    def count(subjects: list[str], word: str) -> int:
        return sum(word in subject for subject in subjects)

    try:
        a = scenario("A", mirror_down=False, primaries=1, last_word="recovered")
        assert len(a["backups"]) == 1 and a["backups"][0].state.is_completed(), "A: your failover should start one backup, which completes"
        assert count(a["subjects"], "fail") >= 1 and count(a["subjects"], "recovered") == 1 and not count(a["subjects"], "urgent"), (
            f"A: expected the failover's message, then one 'recovered', and no URGENT; got {a['subjects']}"
        )
        b = scenario("B", mirror_down=True, primaries=1, last_word="urgent")
        assert len(b["backups"]) == 1 and b["backups"][0].state.is_failed(), "B: your failover should start one backup, which fails"
        assert count(b["subjects"], "urgent") == 1 and not count(b["subjects"], "recovered"), (
            f"B: expected one URGENT and no 'recovered'; got {b['subjects']}"
        )
        c = scenario("C", mirror_down=False, primaries=4, last_word="recovered")
        failover_messages = [s for s in c["subjects"] if "fail" in s and "urgent" not in s]
        if c["burst"] >= window:  # the machine was too slow for a burst: not the learner's doing
            raise WorkshopError(f"C: this machine took {c['burst']:.0f} s to fail four runs, longer than your failover's "
                                f"{window:.0f}-second window, so the scenario proves nothing. Run the check again.")
        assert c["failover fired"] == 1 and len(c["backups"]) == 1 and len(failover_messages) == 1, (
            f"C: four primary failures in a burst should set your failover off once (one message, one backup); "
            f"it fired {c['failover fired']} times, sent {len(failover_messages)} messages and started {len(c['backups'])} backups"
        )
        assert count(c["subjects"], "recovered") == 1 and not count(c["subjects"], "urgent"), f"C: expected one 'recovered', no URGENT; got {c['subjects']}"
    finally:
        for automation in saved.values():
            _effects.pause(automation.id)
    print("  All three scenarios played as designed. Your automations are paused now.")
