"""Notebook 03: a trigger whose related matches must all hold (a deployment and a tag); a circuit breaker posted
through the REST API, with an action the notebook has not shown; and predictions before the demos."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from . import PREFIX, _automations, _calls, _inbox, _runs, exercise
from ._triggers import PRIMARY, STRANGER, as_data, describe_scope, event, fires_on, server_model
from .predictions import prediction

COURSE_FAILOVER = f"{PREFIX}failover-on-failure"  # the failover the backup deployment carries (failover_deployments.py)
SCOPED_ALERT = f"{PREFIX}my-nightly-alert"
SERVING_SCRIPT = "failover_deployments.py"  # notebook 03's runner, next to the notebook

backup_parameter_type = prediction(
    "backup_parameter_type",
    question="The failover passes n_users as the template \"{{ flow_run.parameters.n_users }}\". What does the backup run get: an int, or a str?",
    options=("int", "str"),
    answer='''
# prediction: backup_parameter_type
backup_parameter_type = "int"  # "int" (the number 60) or "str" (the text "60")?
''',
    why="""
A parameter whose whole value is **one** `{{ expression }}` is rendered with `tojson` and read back as JSON, so the
value keeps its type: the number 60 arrives as 60 (Prefect 3.9.1; before 3.6.24 it arrived as the text "60"). A
template with anything around the expression (`"{{ n }} users"`) is text, and stays text.
""",
)

typo_outcome = prediction(
    "typo_outcome",
    question="A REST payload whose trigger says matchrelated (a typo) instead of match_related: what does the server do?",
    options=("refused", "created with its scope", "created without its scope"),
    answer='''
# prediction: typo_outcome
typo_outcome = "created without its scope"  # "refused", "created with its scope" or "created without its scope"?
''',
    why="""
Prefect's trigger models **ignore fields they do not know**, on the client and on the server: `matchrelated` is
dropped without a word, and what is left is a trigger with no scope at all, which fires for every failed run on the
server. Only the automation's top level is strict (a typo there is a 422). So read back what the server stored, and
guard your payloads before you send them (the next cells).
""",
)

within_firings = prediction(
    "within_firings",
    question="Three matching events, 2 s apart; a reactive trigger with threshold=1 and within=30 s. How many firings?",
    options=(0, 1, 2, 3),
    answer='''
# prediction: within_firings
within_firings = 1  # how many times does the within=30 trigger fire?
''',
    why="""
**Once.** At `threshold=1` the first event fires the trigger at once; `within` is then the window that **absorbs**
what follows, for the rest of those 30 s: the second and third events count towards nothing. With `within=0` there
is no window, and each event fires (three times). That is why a failover with `within` fires once for a flapping
source, and why an alert that must speak for every failure needs `within=0`.
""",
)


def _samples(primary: dict, backup: dict, name: str) -> dict:
    return {
        "primary, nightly": event(name, deployment=primary["name"], deployment_id=primary["id"], tags=("nightly",)),
        "primary, by hand": event(name, deployment=primary["name"], deployment_id=primary["id"]),
        "primary, other tags": event(name, deployment=primary["name"], deployment_id=primary["id"], tags=("adhoc",)),
        "backup, nightly": event(name, deployment=backup["name"], deployment_id=backup["id"], tags=("nightly",)),
        "a stranger's 'primary', nightly": event(name, flow=STRANGER, deployment="primary", tags=("nightly",)),
    }


def serving() -> None:
    """The deployments' runner must be serving for a check's deployment runs to start: start it if it is not (the
    notebook's clean-up stops it), as section 1 does."""
    from ..notebook.deployments import serve_deployments

    script = Path.cwd() / SERVING_SCRIPT
    assert script.is_file(), (f"nothing serves the deployments, and there is no {SERVING_SCRIPT} in {Path.cwd()}: run "
                              "the cell of section 1 that serves them, then this check again")
    if serve_deployments(script):
        print("  (Nothing was serving the deployments, after the clean-up cell perhaps: the check started their runner.)")


@exercise(
    "scoped_trigger",
    task="Write the trigger that fires when a nightly run of the primary deployment fails, and for no other run",
    hints=[
        "A failed run's event is related to its deployment and to each of its tags, each a related resource with a "
        "role. match_related can name one of them; what if two must hold at once?",
        "In the event feed, open a failed primary run's event: which role and id does its tag have? And what does "
        "match_related do when it is given a list of filters instead of one?",
        "match_related=[{'prefect.resource.role': 'deployment', 'prefect.resource.id': f\"prefect.deployment.{primary['id']}\"}, "
        "{'prefect.resource.role': 'tag', 'prefect.resource.id': 'prefect.tag.nightly'}]: every filter of the list must "
        "match one of the event's related resources.",
    ],
    solution='''
# exercise: scoped_trigger
scoped_trigger = EventTrigger(
    expect={"prefect.flow-run.Failed"},
    match={"prefect.resource.id": "prefect.flow-run.*"},
    match_related=[  # each filter must match one of the event's related resources: both must hold
        {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary['id']}"},
        {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.nightly"},
    ],
    posture=Posture.Reactive,
    threshold=1,
)
''',
    why="""
A flow run's events are related to its flow, its deployment and each of its tags (`prefect.tag.<tag>`, role `tag`).
`match_related` given **a list** requires every filter in it to match one of those related resources: here the
primary deployment *and* the tag `nightly`. The deployment is picked by its id, which no other deployment has (its
full name, `workshop-primary`, is unique on this server too).

The usual wrong answers: one filter with both keys (`{"prefect.resource.role": "deployment", "prefect.resource.id":
"prefect.tag.nightly"}`) looks for a *deployment* whose id is the tag's, which no resource is; a filter on the tag
alone also fires for the backup's nightly runs; `"prefect.resource.name": "primary"` also matches a stranger's flow
with a deployment called primary.
""",
)
def scoped_trigger(answer, *, primary: dict, backup: dict):
    trigger = server_model(answer, "an EventTrigger(...)")
    assert type(trigger).__name__ == "EventTrigger", f"use an EventTrigger; this is a {type(trigger).__name__}"
    assert trigger.posture.value == "Reactive", "alert as soon as the run fails: posture=Posture.Reactive"
    assert trigger.threshold == 1, f"with threshold={trigger.threshold}, a single failure would not alert: threshold=1"
    scope = describe_scope(trigger)
    failed = _samples(primary, backup, "prefect.flow-run.Failed")
    assert fires_on(trigger, failed["primary, nightly"]), f"it does not fire when a nightly primary run fails ({scope})"
    assert not fires_on(trigger, failed["primary, by hand"]) and not fires_on(trigger, failed["primary, other tags"]), (
        f"it fires for primary runs that are not tagged nightly too: a failed run's tags are related resources of its "
        f"event, with the role tag; both conditions must hold ({scope})")
    assert not fires_on(trigger, failed["backup, nightly"]), f"it fires for the backup's nightly runs too ({scope})"
    assert not fires_on(trigger, failed["a stranger's 'primary', nightly"]), (
        f"it fires for any flow's deployment called primary: pick the deployment by its id, or by its full name "
        f"{PRIMARY!r} ({scope})")
    assert not fires_on(trigger, _samples(primary, backup, "prefect.flow-run.Completed")["primary, nightly"]), (
        f"it fires when a nightly primary run completes too ({scope})")
    _alert_on_real_failures(answer, primary, backup)


def _paused_course_failover():
    """Pause the course's failover for a check (only the learner's automation may act), and give back a way to resume it."""
    found = _automations.automations_named(COURSE_FAILOVER)
    for automation in found:
        _automations.pause(automation.id)
    return lambda: [_automations.resume(automation.id) for automation in found if automation.enabled]


def _alert_on_real_failures(trigger, primary: dict, backup: dict) -> None:
    """Your trigger in an automation of yours; three deployment runs fail for real; only the nightly primary may alert."""
    from prefect.automations import Automation, SendNotification

    from ..notebook import runs
    from ..notebook.mock import MockAPI

    serving()
    mark, mock = _inbox.inbox().last_id(), MockAPI()
    saved = _automations.save(Automation(
        name=SCOPED_ALERT, description="Made by notebook 03's first exercise check; paused after the check.", trigger=trigger,
        actions=[SendNotification(block_document_id=_inbox.block_id(), body="{{ flow_run.state.message }}",
                                  subject="nightly alert: {{ deployment.name }} run {{ flow_run.name }} ({{ flow_run.id }})")]))
    resume = _paused_course_failover()  # no backup run of its own in between
    started = []
    try:
        with mock.faulty("primary", outage=True), mock.faulty("mirror", outage=True):
            plan = {"nightly primary": (primary, ["nightly"]), "primary by hand": (primary, []),
                    "nightly backup": (backup, ["nightly"])}
            failing = {}
            for label, (deployment, tags) in plan.items():
                failing[label] = _runs.run_deployment(deployment["id"], tags=tags, n_users=10, seed="exercise-scope")
                started.append(failing[label].id)
            for run in failing.values():
                runs.wait_for_flow_run(run.id, timeout=120)
        heard = {label: _inbox.message_about(run.id, after=mark, timeout=30 if label == "nightly primary" else 2)
                 for label, run in failing.items()}
    finally:
        _automations.pause(saved.id)
        resume()
        _runs.cancel_unfinished(started)
    assert heard["nightly primary"], (f"on the server, your automation sent nothing when the nightly primary run "
                                      f"{failing['nightly primary'].name} failed")
    extra = [label for label in ("primary by hand", "nightly backup") if heard[label]]
    assert not extra, f"on the server, your automation also alerted for the {' and the '.join(extra)} run"
    print(f"  On the server, your trigger (in {SCOPED_ALERT}, now paused) alerted for the failed nightly primary run "
          f"{failing['nightly primary'].name}, and not for the primary run without the tag nor for the nightly backup.")


@exercise(
    "circuit_breaker",
    task="POST a circuit breaker: when the primary fails 3 times within a minute, pause the primary deployment",
    hints=[
        "Two ideas meet here: a trigger that counts (notebook 02's storm alert) and an action on a deployment. What "
        "is the action's type, in the JSON the REST API takes?",
        "Which deployment should the action pause: one you name by its id, or the one the triggering event is "
        "about? (Deployment actions take a source: 'selected' with a deployment_id, or 'inferred'.) And which "
        "threshold and window say 'three failures within a minute'?",
        "trigger: expect prefect.flow-run.Failed, match_related the primary deployment, 'threshold': 3, 'within': 60; "
        "actions: [{'type': 'pause-deployment', 'source': 'inferred'}] (or 'source': 'selected' with "
        "'deployment_id': primary['id']).",
    ],
    solution='''
# exercise: circuit_breaker
circuit_breaker = {
    "name": f"{course.prefix}circuit-breaker",
    "description": "Three primary failures within a minute: pause the primary until someone looks.",
    "enabled": True,
    "trigger": {
        "type": "event",
        "posture": "Reactive",
        "expect": ["prefect.flow-run.Failed"],
        "match": {"prefect.resource.id": "prefect.flow-run.*"},
        "match_related": {"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary['id']}"},
        "threshold": 3,
        "within": 60,
    },
    "actions": [{"type": "pause-deployment", "source": "inferred"}],  # the deployment the failed run belongs to
}
''',
    why="""
A circuit breaker stops calling what keeps failing. The trigger counts as notebook 02's storm alert does: `threshold:
3` failures of the primary `within: 60` seconds. The action is a **deployment action**, `pause-deployment`: a paused
deployment's schedule stops creating runs (and the UI shows it paused) until someone resumes it (`resume-deployment`,
the UI's toggle, or `prefect deployment resume`). `"source": "inferred"` pauses the deployment the triggering event
is related to; `"source": "selected"` with a `deployment_id` names one. Inferred is right here because the trigger
only matches the primary; for a trigger that watched many deployments, it pauses whichever one is failing.

The usual wrong answers: `threshold: 1` (one failure trips it: that is a failover, not a breaker); `within: 0`
(nothing to count over); `"source": "inferred"` *with* a `deployment_id`, or `"selected"` without one, which the
server refuses; pausing the backup instead of the primary.
""",
)
def circuit_breaker(answer, *, primary: dict, backup: dict):
    assert isinstance(answer, dict), f"the payload is a dict that becomes the request's JSON body; you gave a {type(answer).__name__}"
    assert str(answer.get("name", "")).startswith(PREFIX), f"name it {PREFIX}... so that `python -m workshop reset` knows it is the course's"
    trigger = server_model(answer.get("trigger"), "a trigger")
    scope = describe_scope(trigger)
    failed = {side: event("prefect.flow-run.Failed", deployment=d["name"], deployment_id=d["id"])
              for side, d in (("primary", primary), ("backup", backup))}
    assert type(trigger).__name__ == "EventTrigger" and trigger.posture.value == "Reactive", "a reactive event trigger, which counts"
    assert fires_on(trigger, failed["primary"]), f"it does not count the primary's failures ({scope})"
    assert not fires_on(trigger, failed["backup"]), f"it counts the backup's failures too: the breaker is the primary's ({scope})"
    assert trigger.threshold == 3, (f"threshold={trigger.threshold}: the breaker should trip on the third failure, not "
                                    "before: how many matching events must a trigger count before it fires?")
    assert timedelta(seconds=30) <= trigger.within <= timedelta(minutes=10), (
        f"within={trigger.within}: three failures within a minute need a window to be counted in, about 60 s")
    actions = [a for a in as_data(answer, "a payload").get("actions") or [] if isinstance(a, dict)]
    assert any(a.get("type") == "pause-deployment" for a in actions), (
        "no action pauses a deployment: what is the type of the deployment action that pauses one?")
    _trip_for_real(answer, primary, backup)


def _trip_for_real(payload: dict, primary: dict, backup: dict) -> None:
    """POST your payload, take the primary's source down, fail the primary three times, and see it paused."""
    from ..notebook import runs
    from ..notebook.mock import MockAPI

    serving()
    created = _automations.post_automation(payload)  # refused with the server's reason, or created
    began, mock = _calls.now(), MockAPI()
    resume = _paused_course_failover()  # no backup runs meanwhile
    started = []
    try:
        with mock.faulty(outage=True):
            for _ in range(3):
                started.append(_runs.run_deployment(primary["id"], n_users=10, seed="exercise-breaker").id)
            for run_id in started:
                runs.wait_for_flow_run(run_id, timeout=120)
        tripped = _calls.within(lambda: _runs.deployment_paused(primary["id"]) or _automations.action_outcome(
            created["id"], since=began), timeout=30)
        outcome = _automations.action_outcome(created["id"], since=began)
        paused = _runs.deployment_paused(primary["id"])
    finally:
        _automations.pause(created["id"])
        _runs.resume_deployment(primary["id"])
        resume()
        _runs.cancel_unfinished(started)
    if outcome and outcome["failed"]:
        raise AssertionError(f"your breaker tripped, but its action failed: \"{outcome['failed'][0]}\"")
    assert tripped and paused, (
        f"three primary runs failed within a minute, and your breaker did not pause the primary within 30 s"
        f"{': it was created disabled (enabled: false)' if not created.get('enabled') else ''}")
    print(f"  Your breaker {payload['name']} (created through POST /automations/) paused the primary after its third "
          "failure. The check resumed the primary and paused your breaker, so the sections below run as before.")
