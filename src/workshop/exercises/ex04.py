"""Notebook 04 (capstone): the automations around a self-healing pipeline, designed by you and played through four
scenarios on the server, judged by what each of your automations did.

The parts: a multi-action failover that keeps a flapping source to one alert; an escalation and a recovery notice
that speak of the backup run *the failover started* (a run an automation starts is related to it, role `creator`),
not of any backup run, which a composite trigger cannot tell apart. `design` saves the three parts as they are and
plays the scenarios one after another, never re-creating them, waiting out the failover's window between outages as
a real server would make you.
"""

from __future__ import annotations

import time
from datetime import timedelta

from ..errors import WorkshopError
from . import PREFIX, NotAttempted, _automations, _calls, _inbox, _runs, exercise, is_blank
from ._triggers import as_data, describe_scope, event, fires_on, server_model
from .ex03 import COURSE_FAILOVER
from .predictions import prediction

SHORTEST_WINDOW, LONGEST_WINDOW = timedelta(seconds=20), timedelta(minutes=2)
NAMES = {part: f"{PREFIX}capstone-{part}" for part in ("failover", "escalation", "recovered")}
STRANGER_AUTOMATION = "someone-elses-failover"
last_play: dict = {}  # what the last play counted, for the predictions the notebook reveals after it

burst_backups = prediction(
    "burst_backups",
    question="Scenario C: the primary fails four times within a few seconds. How many backup runs does your failover start?",
    options=(0, 1, 2, 4),
    answer='''
# prediction: burst_backups
burst_backups = 1  # how many backup runs for four primary failures in a burst?
''',
    why="""
**One**, with a failover of `threshold=1` and a `within` of 20 s or more: the first failure fires it (a message and
a backup run), and the window absorbs the three that follow. With `within=0` it would fire four times: four
messages and four backups fetching the same data. The window also stays open on a real server after the outage:
a new outage that starts inside it is absorbed too, which is why the play waits it out between scenarios.
""",
)

sequence_says_urgent = prediction(
    "sequence_says_urgent",
    question="The naive escalation, a sequence [primary failed, then backup failed] within 5 minutes. Minutes after an outage that recovered, someone's backup run fails on its own. URGENT?",
    options=("yes", "no"),
    answer='''
# prediction: sequence_says_urgent
sequence_says_urgent = "yes"  # "yes" or "no"?
''',
    why="""
**Yes: a false alarm.** A composite trigger keeps the latest firing of each of its parts for its whole window and
fires when they have come in order. The primary's failure from the outage that is over is still its first part's
latest firing, so *any* backup failure in the next five minutes completes the sequence. It never asks whether this
backup run had anything to do with that primary failure. A run an automation started is related to that automation
(role `creator`): a trigger on the backup's failure *whose creator is the failover* speaks of exactly the backup
the failover started.
""",
)

outage_backups = prediction(
    "outage_backups",
    question="Scenario B: both sources are down, so the backup your failover starts fails too. How many backup runs start in all?",
    options=(0, 1, 2),
    answer='''
# prediction: outage_backups
outage_backups = 1  # how many backup runs in scenario B?
''',
    why="""
**One.** The failover watches the *primary's* failures; the backup failing is not one, so it does not fail over
again (and a failover that watched both would start backup after backup while the mirror is down). The backup's
failure is the escalation's business: URGENT, a person is needed now.
""",
)


def _deployment_events(primary, backup, name: str, creator: str | None = None) -> dict:
    return {side: event(name, deployment=d.name, deployment_id=d.id, creator=creator)
            for side, d in (("primary", primary), ("backup", backup))}


def _automation(answer, part: str) -> dict:
    data = as_data(answer, "an Automation(...)")
    assert data.get("name") == NAMES[part], f"{part}: name it {NAMES[part]!r}, as the brief says (the play finds it by name)"
    assert data.get("actions"), f"{part}: an automation needs actions"
    return data


def _notifies(data: dict, block_id, part: str, word: str | None = None) -> None:
    notes = [a for a in data["actions"] if a.get("type") == "send-notification"]
    assert notes, f"{part}: one action should be SendNotification(block_document_id=block_id, ...)"
    assert any(str(a.get("block_document_id")) == str(block_id) for a in notes), f"{part}: send through the inbox block: block_document_id=block_id"
    if word:
        assert any(word in (a.get("subject") or "").lower() for a in notes), f"{part}: put {word!r} in the subject, so it reads at a glance"


@exercise(
    "failover",
    task="One automation that tells a person and starts the backup when the primary fails, and fires once for a flapping source",
    hints=[
        "One Automation can have several actions: a SendNotification and a RunDeployment. The trigger is notebook 03's "
        "failover trigger.",
        "A flapping source fails the primary again and again within seconds. After a reactive trigger with threshold=1 "
        "fires, what makes it absorb the failures that follow, and for how long should it?",
        "threshold=1, within=timedelta(seconds=30); actions=[SendNotification(block_document_id=block_id, ...), "
        "RunDeployment(source='selected', deployment_id=backup.id, parameters={'n_users': '{{ flow_run.parameters.n_users }}', ...})].",
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
    why="""
One automation, two actions: whenever it fires, a person is told **and** the backup starts (the two actions run
independently, so neither waits for the other). `threshold=1` acts on the first failure; `within=30 s` then absorbs
the failures that follow for 30 seconds, so a source that flaps four times in a few seconds gives one message and
one backup. The backup gets the failed run's parameters from the event.

The usual wrong answers: `within=0` (each failure of a flapping source sends a message and starts a backup); two
automations, one per action (then nothing ties their windows together); scoping to the backup too, so that a
failing backup starts another backup.
""",
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
        f"failover: within={trigger.within} lets a flapping source set it off again and again: what makes a trigger "
        f"absorb what follows a firing? Give it from {SHORTEST_WINDOW.seconds} s to {LONGEST_WINDOW.seconds // 60} minutes"
        if trigger.within < SHORTEST_WINDOW else
        f"failover: within={trigger.within} is longer than the play can wait between outages: "
        f"{LONGEST_WINDOW.seconds // 60} minutes at most, as the brief says"
    )
    _notifies(data, block_id, "failover")
    assert any(a.get("type") == "run-deployment" and str(a.get("deployment_id")) == str(backup.id) for a in data["actions"]), (
        "failover: one action should run the backup: RunDeployment(source='selected', deployment_id=backup.id, ...)"
    )


def _creator_checks(trigger, primary, backup, part: str, state: str, scope: str) -> None:
    """The escalation's and the recovery's rule: the backup run the failover started, and no other."""
    ours = _deployment_events(primary, backup, state, creator=NAMES["failover"])["backup"]
    by_hand = _deployment_events(primary, backup, state)["backup"]
    theirs = _deployment_events(primary, backup, state, creator=STRANGER_AUTOMATION)["backup"]
    assert fires_on(trigger, ours), f"{part}: it does not fire when a backup run your failover started ends {state.split('.')[-1]} ({scope})"
    assert not fires_on(trigger, by_hand), (
        f"{part}: it also fires for a backup run someone started by hand. Which related resource of a run's event says "
        f"who started the run? ({scope})")
    assert not fires_on(trigger, theirs), f"{part}: it also fires for backup runs another automation started ({scope})"


@exercise(
    "escalation",
    task="URGENT, once, when the backup run that your failover started fails",
    hints=[
        "Two things must be true: the primary failed, and then the backup the failover started failed too. Is there one "
        "event that says both?",
        "A run an automation starts is related to that automation. In the Event Feed, open the events of a backup run "
        "that notebook 03's failover started: which related resource names the automation, and with which role? "
        "(A SequenceTrigger of 'primary failed' then 'backup failed' does not follow one run: see the demo.)",
        "One EventTrigger: expect prefect.flow-run.Failed, match_related=[the backup deployment, "
        "{'prefect.resource.role': 'creator', 'prefect.resource.name': f'{course.prefix}capstone-failover'}].",
    ],
    solution='''
# exercise: escalation
def backup_run_of_the_failover(state):
    """The event of a backup run that the capstone's failover started, entering `state`."""
    return EventTrigger(
        expect={f"prefect.flow-run.{state}"},
        match={"prefect.resource.id": "prefect.flow-run.*"},
        match_related=[
            {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{backup.id}"},
            {"prefect.resource.role": "creator", "prefect.resource.name": f"{course.prefix}capstone-failover"},
        ],
        posture=Posture.Reactive,
        threshold=1,
    )


escalation = Automation(
    name=f"{course.prefix}capstone-escalation",
    trigger=backup_run_of_the_failover("Failed"),
    actions=[SendNotification(
        block_document_id=block_id,
        subject="URGENT: the backup failed too ({{ flow_run.name }})",
        body="Both sources are down; no data until someone steps in.\\n{{ flow_run.state.message }}\\n{{ flow_run|ui_url }}",
    )],
)
''',
    why="""
The backup run the failover started is related to the failover with the role `creator` (`prefect.automation.<id>`,
named after it): its failure **means** the primary failed and then the backup failed, for this one outage. One event,
one trigger, right per run, however outages and hand-started runs interleave.

The usual wrong answer is the natural one: a `SequenceTrigger([primary failed, backup failed], within=...)`. A
composite trigger compares its parts' latest firings, not one run, so a backup someone starts by hand, failing
minutes after an outage that recovered, completes the sequence and sends a false URGENT (scenario D). Others: the
backup's failures with no creator filter (every failing backup is urgent, whoever started it), or the creator
matched by `prefect.resource.id: prefect.automation.*` (any automation's backups).
""",
)
def escalation(answer, *, primary, backup, block_id):
    data = _automation(answer, "escalation")
    trigger = server_model(data["trigger"])
    kind = type(trigger).__name__
    assert kind == "EventTrigger", (
        f"escalation: a {kind} compares the order of its parts' latest firings; it does not follow one run. A backup "
        "someone starts by hand, failing minutes after an outage that is over, would set it off (the demo above). Is "
        "there one event that says 'the backup this failover started has failed'?")
    assert trigger.posture.value == "Reactive" and trigger.threshold == 1, "escalation: react to the first such failure: Reactive, threshold=1"
    scope = describe_scope(trigger)
    assert not fires_on(trigger, _deployment_events(primary, backup, "prefect.flow-run.Failed")["primary"]), (
        f"escalation: it fires when the primary fails: that is the failover's business ({scope})")
    _creator_checks(trigger, primary, backup, "escalation", "prefect.flow-run.Failed", scope)
    _notifies(data, block_id, "escalation", "urgent")


@exercise(
    "recovered",
    task="Tell people they can relax when the backup run that your failover started has delivered",
    hints=[
        "Recovered means: the backup the failover started has Completed. A backup someone runs by hand completing is a "
        "normal day.",
        "Which event says a run Completed, and what in it tells a backup the failover started from one started by "
        "hand? (The same related resource as the escalation's.)",
        "An EventTrigger expecting prefect.flow-run.Completed, match_related=[the backup deployment, the creator role "
        "with the failover's name], and a SendNotification with 'Recovered' in the subject.",
    ],
    solution='''
# exercise: recovered
recovered = Automation(
    name=f"{course.prefix}capstone-recovered",
    trigger=backup_run_of_the_failover("Completed"),  # defined with the escalation
    actions=[SendNotification(
        block_document_id=block_id,
        subject="Recovered: backup run {{ flow_run.name }} delivered the data",
        body="The mirror served {{ flow_run.parameters.n_users }} users. {{ flow_run|ui_url }}",
    )],
)
''',
    why="""
The same idea as the escalation, on the other outcome: the backup run **the failover started** has Completed, so
the outage that set the failover off is over, and only then. Its creator tells it from a backup someone runs by
hand, whose completion is a normal day and no news.

The usual wrong answers: any backup completing (then every hand-started backup says "recovered"); any run
completing (every normal primary run too); `actions_on_resolve` on the failover, which Prefect Cloud runs and the
open-source server never does (notebook 02).
""",
)
def recovered(answer, *, primary, backup, block_id):
    data = _automation(answer, "recovered")
    trigger = server_model(data["trigger"])
    kind = type(trigger).__name__
    assert kind == "EventTrigger", (f"recovered: a {kind} does not follow one run (see the escalation): is there one "
                                    "event that says the failover's backup delivered?")
    scope = describe_scope(trigger)
    completed = _deployment_events(primary, backup, "prefect.flow-run.Completed")
    assert not fires_on(trigger, completed["primary"]), (
        f"recovered: it fires whenever the primary completes too: that is a normal day, not a recovery ({scope})")
    assert not fires_on(trigger, _deployment_events(primary, backup, "prefect.flow-run.Failed", creator=NAMES["failover"])["backup"]), (
        f"recovered: it fires when the failover's backup fails ({scope})")
    _creator_checks(trigger, primary, backup, "recovered", "prefect.flow-run.Completed", scope)
    _notifies(data, block_id, "recovered", "recovered")


@exercise(
    "design",
    task="Play four scenarios on the real server with your three automations, as saved: each does its part, once",
    hints=[
        "Each part passes its own check first: run the three check cells above.",
        "If a scenario fails, read what the check printed: which of your automations fired how often, which runs "
        "started, which messages arrived. Which rule of the brief does that break?",
        "The reference parts are in each part's `.solution()`; the play passes with them.",
    ],
    solution='''
# The design is the three parts above; the play checks them together:
ex.design.check([failover, escalation, recovered], primary=primary, backup=backup, block_id=block_id)
''',
    why="""
The play saves your three automations once and plays the scenarios in a row, as a real server would meet them:
windows stay open across scenarios (it waits out the failover's window between outages, as you would have to), and
the verdict is what each automation's own events say it did (`prefect.automation.triggered`, the runs it started),
not words in the messages. A design passes when the failover fires once per outage and starts one backup, the
escalation speaks only when that backup fails, and the recovery notice only when that backup delivers.

The usual wrong designs, and where they fail: a failover without a window (scenario C starts four backups), an escalation built as a
sequence (scenario D: a false URGENT for a backup someone ran by hand), a recovery notice for any completed backup
(scenario D again, when the mirror is up).
""",
    cell=False,
)
def design(answer, *, primary, backup, block_id):
    assert isinstance(answer, (list, tuple)) and len(answer) == 3, "the design is the list [failover, escalation, recovered]"
    if any(is_blank(part) for part in answer):
        raise NotAttempted
    parts = dict(zip(("failover", "escalation", "recovered"), answer, strict=True))
    last_play.clear()
    for name, part in parts.items():
        globals()[name].checker(part, primary=primary, backup=backup, block_id=block_id)
    play(parts, primary, backup)


def _fired(automation_id, since) -> int:
    from ..notebook import runs

    return len(runs.events("prefect.automation.triggered", since=since, resource_id=f"prefect.automation.{automation_id}"))


def play(parts: dict, primary, backup) -> None:
    """Save the design once and play it: primary down (A), both down (B), a flapping primary (C), and a backup run
    started by hand failing after the outages are over (D)."""
    from ..notebook import runs
    from ..notebook.mock import MockAPI
    from .ex03 import serving

    serving()
    mock, inbox = MockAPI(), _inbox.inbox()
    window = server_model(as_data(parts["failover"], "")["trigger"]).within.total_seconds()
    for automation in _automations.automations_named(COURSE_FAILOVER):  # the design replaces notebook 03's failover
        _automations.pause(automation.id)
    saved = {name: _automations.save_fresh(automation) for name, automation in parts.items()}  # once: no window is reset
    last_failure = [None]
    started: list = []

    def wait_out_the_window() -> None:
        """A real server keeps the failover's window open after an outage: a new outage inside it is absorbed."""
        if last_failure[0] is not None:
            left = window - (_calls.now() - last_failure[0]).total_seconds() + 2
            if left > 0:
                print(f"    (waiting {left:.0f} s: your failover's {window:.0f}-second window from the last outage is still open)", flush=True)
                time.sleep(left)  # the server's clock, not a condition to poll: the window closes when it has passed

    def scenario(label: str, story: str, *, mirror_down: bool, primaries: int, by_hand: bool = False) -> dict:
        print(f"  Scenario {label}: {story}…", flush=True)
        if primaries:
            wait_out_the_window()
        began, mark = _calls.now(), inbox.last_id()
        mock.set_faults("primary", outage=primaries > 0)
        mock.set_faults("mirror", outage=mirror_down)
        try:
            if by_hand:
                hand = _runs.run_deployment(backup.id, n_users=20, page_size=20, seed=f"capstone-{label}")
                started.append(hand.id)
                ends = [runs.wait_for_flow_run(hand.id, timeout=120)]
                backups = []
            else:
                primary_runs = [_runs.run_deployment(primary.id, n_users=20, page_size=20, seed=f"capstone-{label}")
                                for _ in range(primaries)]
                started.extend(run.id for run in primary_runs)
                failed_at = sorted(runs.wait_for_flow_run(run.id, timeout=120).state.timestamp for run in primary_runs)
                last_failure[0] = failed_at[-1]
                if primaries > 1 and (failed_at[-1] - failed_at[0]).total_seconds() >= window:
                    raise WorkshopError(f"{label}: this machine took {(failed_at[-1] - failed_at[0]).total_seconds():.0f} s to "
                                        f"fail {primaries} runs, longer than your failover's {window:.0f}-second window, so "
                                        "the scenario proves nothing. Run the check again.")
                outcome = _calls.within(lambda: _automations.action_outcome(saved["failover"].id, since=began), timeout=60)
                if outcome and outcome["failed"]:
                    raise AssertionError(f"{label}: your failover fired, but an action of it failed: \"{outcome['failed'][0]}\"")
                backups = _calls.within(lambda: runs.started_by(saved["failover"].id, since=began), timeout=20) or []
                started.extend(backups)
                assert backups, f"{label}: the primary failed, but your failover started no backup run within 60 s"
                ends = [runs.wait_for_flow_run(run_id, timeout=120) for run_id in backups]
            # The escalation or the recovery notice speaks a moment after the backup ends, if it is going to.
            _calls.within(lambda: _fired(saved["escalation"].id, began) + _fired(saved["recovered"].id, began), timeout=20)
        finally:
            mock.clear_faults()
        fired = {name: _fired(automation.id, began) for name, automation in saved.items()}
        subjects = [m.subject for m in inbox.messages(after=mark, channel="alerts", repeats=False)]
        print("    your automations fired: " + ", ".join(f"{name} {count}×" for name, count in fired.items()))
        print("    messages: " + (" | ".join(subjects) or "none"))
        print("    backup runs: " + (", ".join(f"{run.name} ({run.state.name})" for run in ends) or "none"))
        repeated = [name for name, automation in saved.items() if runs.repeated_firings(automation.id, since=began)]
        if repeated:  # then its actions ran twice too: what arrived and started is the server's doing, not the design's
            raise WorkshopError(f"{label}: the Prefect server fired your {' and '.join(repeated)} twice on one event, a fault of "
                                "Prefect 3.9.1 when other automations are saved at the same moment (a busy room). "
                                "The scenario proves nothing: run the check again.")
        # The failover's window was checked before the play: a second firing inside it is the server's, not the design's.
        if primaries > 1 and runs.firings_inside_a_window(saved["failover"].id, since=began, window=window):
            raise WorkshopError(f"{label}: the Prefect server fired your failover again on a failure inside the "
                                f"{window:.0f}-second window its first firing opened: two failures of the burst were "
                                "judged at the same moment, a fault of Prefect 3.9.1 on a busy server. Your window is "
                                "right; the scenario proves nothing: run the check again.")
        return {"fired": fired, "backups": ends if not by_hand else [], "ends": ends}

    try:
        a = scenario("A", "the primary's source is down, the mirror is up", mirror_down=False, primaries=1)
        assert a["fired"]["failover"] == 1 and len(a["backups"]) == 1 and a["backups"][0].state.is_completed(), (
            f"A: your failover should fire once and start one backup, which completes; it fired {a['fired']['failover']}× "
            f"and started {len(a['backups'])}")
        assert a["fired"]["recovered"] == 1 and a["fired"]["escalation"] == 0, (
            f"A: the backup delivered: one 'recovered' and no URGENT; your recovered fired {a['fired']['recovered']}×, "
            f"your escalation {a['fired']['escalation']}×")
        b = scenario("B", "both sources are down", mirror_down=True, primaries=1)
        assert b["fired"]["failover"] == 1 and len(b["backups"]) == 1 and b["backups"][0].state.is_failed(), (
            f"B: your failover should fire once and start one backup, which fails; it fired {b['fired']['failover']}×")
        assert b["fired"]["escalation"] == 1 and b["fired"]["recovered"] == 0, (
            f"B: the failover's backup failed: one URGENT, no 'recovered'; your escalation fired {b['fired']['escalation']}×, "
            f"your recovered {b['fired']['recovered']}×")
        last_play["B backups"] = len(b["backups"])
        c = scenario("C", "the primary's source flaps: four primary runs fail in a burst", mirror_down=False, primaries=4)
        last_play["C backups"] = len(c["backups"])
        assert c["fired"]["failover"] == 1 and len(c["backups"]) == 1, (
            f"C: four primary failures in a burst should set your failover off once (one message, one backup); it fired "
            f"{c['fired']['failover']}× and started {len(c['backups'])} backups")
        assert c["fired"]["recovered"] == 1 and c["fired"]["escalation"] == 0, (
            f"C: one 'recovered', no URGENT; your recovered fired {c['fired']['recovered']}×, your escalation {c['fired']['escalation']}×")
        d = scenario("D", "the outages are over; someone runs the backup by hand and the mirror is down", mirror_down=True,
                     primaries=0, by_hand=True)
        assert d["fired"]["escalation"] == 0, (
            "D: a backup run someone started by hand failed, after the outages were over, and your escalation sent URGENT: "
            "it does not tell the failover's backup from any other")
        assert d["fired"]["recovered"] == 0 and d["fired"]["failover"] == 0, f"D: nothing else should speak; yours fired {d['fired']}"
    finally:
        for automation in saved.values():
            _automations.pause(automation.id)
        _runs.cancel_unfinished(started)
    print("  All four scenarios played as the brief says. Your automations are paused now.")
