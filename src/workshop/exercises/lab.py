"""The lab (notebook 05): the learner's own project, judged by what exists and what happened on the Prefect server.

The learner works in a terminal, in an empty folder of their own, with files that import Prefect only. `Lab.check()`
(in the notebook, or `python -m workshop check 05` in a terminal) reads the course's Prefect server and says, step by
step, what is done and what is missing. It never reads the learner's files: a step is done when the server shows it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from ..contract import MOCK_SITES
from ..errors import WorkshopError
from ..settings import Settings

SOLUTION = Path(__file__).with_name("lab_solution")  # the reference files: the solved handout's 05_lab_solution/
STALE_EVENT = "lab.source.stale"  # the event the learner emits by hand from a terminal


@dataclass(frozen=True)
class Names:
    """What the lab's objects are called: everything starts with the learner's prefix, so `reset` removes it."""

    prefix: str

    @property
    def flow(self) -> str:
        return f"{self.prefix}lab-users"

    @property
    def primary(self) -> str:
        return f"{self.prefix}lab-primary"

    @property
    def backup(self) -> str:
        return f"{self.prefix}lab-backup"

    @property
    def failover(self) -> str:
        return f"{self.prefix}lab-failover"

    @property
    def alert(self) -> str:
        return f"{self.prefix}lab-alert"

    @property
    def block(self) -> str:
        return f"{self.prefix}lab-inbox"

    @property
    def stale(self) -> str:
        return f"{self.prefix}lab-stale-data"

    @property
    def source(self) -> str:
        """The resource the stale-data event is about."""
        return f"{self.prefix}lab.source"

    def deployment(self, name: str) -> str:
        return f"{self.flow}/{name}"


def values(settings: Settings) -> dict[str, str]:
    """The constants a learner's files start with, as this learner must write them (a room's are the room's)."""
    return {
        "PREFIX": settings.prefix,
        "PRIMARY": settings.mock_url + MOCK_SITES["primary"],
        "MIRROR": settings.mock_url + MOCK_SITES["mirror"],
        "INBOX": f"{settings.inbox_url}/lab",
    }


VALUES_START, VALUES_END = "# --- your values", "# --- end of your values"


def values_block(settings: Settings) -> str:
    """The block of constants to paste at the top of flows.py and alert.py."""
    notes = {"PREFIX": "everything you make starts with this", "PRIMARY": "the mock randomuser API's primary site",
             "MIRROR": "its mirror", "INBOX": "a channel of the course's inbox, for your alerts"}
    lines = [f"{name} = {value!r}  # {notes[name]}" for name, value in values(settings).items()]
    return "\n".join([f"{VALUES_START} (the lab's brief prints them)", *lines, VALUES_END])


def with_values(source: str, settings: Settings) -> str:
    """A solution file with its values block replaced by this learner's: what a learner pasting the block does."""
    head, rest = source.split(VALUES_START, 1)
    return head + values_block(settings) + rest.split(VALUES_END, 1)[1]


@dataclass
class Step:
    key: str
    done: bool
    title: str
    detail: str  # what the server shows, or what is missing and where to look

    def line(self) -> str:
        mark = "✓" if self.done else "○"
        return f"{mark} {self.title}\n" + textwrap.indent(textwrap.fill(self.detail, 100, break_on_hyphens=False, break_long_words=False), "    ")


def _same_server(a: str | None, b: str) -> bool:
    def norm(url: str) -> tuple:
        parts = urlsplit(url.rstrip("/"))
        host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        return parts.scheme, host, parts.port, parts.path

    return a is not None and norm(a) == norm(b)


def profile(settings: Settings) -> Step:
    """Step 1, read in this process: the Prefect profile a terminal of the learner's uses."""
    from prefect.settings import load_current_profile

    title = "Step 1: a Prefect profile of yours points at the course's server"
    try:
        profile = load_current_profile()
    except Exception as exc:  # a profiles file the learner broke by hand: say so, not a traceback
        return Step("profile", False, title, f"Prefect could not read your profiles: {exc}")
    chosen = profile.to_environment_variables()
    wanted = settings.course_prefect_api_url
    url = chosen.get("PREFECT_API_URL")
    if not _same_server(url, wanted):
        told = f"it sets PREFECT_API_URL={url}" if url else "it does not set PREFECT_API_URL"
        return Step("profile", False, title, f"Your active profile is {profile.name!r}, and {told}. Point a profile of "
                    f"your own at {wanted}: `prefect profile create lab`, `prefect config set --profile lab "
                    f"PREFECT_API_URL={wanted}`, then `prefect profile use lab`.")
    if settings.auth_string and chosen.get("PREFECT_API_AUTH_STRING") != settings.auth_string:
        return Step("profile", False, title, f"Your profile {profile.name!r} points at the room's server, but the room "
                    "asks for its password: `prefect config set PREFECT_API_AUTH_STRING='workshop:<the room's password>'`.")
    override = settings.prefect_api_url  # this terminal's PREFECT_API_URL, read before the checker sets its own
    note = (f" (In this terminal, the variable PREFECT_API_URL={override} wins over any profile.)"
            if override and not _same_server(override, wanted) else "")
    return Step("profile", True, title, f"Your active profile {profile.name!r} sets PREFECT_API_URL={url}.{note}")


class Judge:
    """Reads the server once per check; each method is one step of the lab."""

    def __init__(self, settings: Settings, client, names: Names):
        self.settings, self.client, self.names = settings, client, names
        self.deployments = {name: self._deployment(name) for name in (names.primary, names.backup)}
        self.runs = {name: self._runs(deployment) for name, deployment in self.deployments.items()}
        self.automations = {name: self._automation(name) for name in (names.alert, names.stale)}

    def _deployment(self, name: str):
        from prefect.exceptions import ObjectNotFound

        try:
            return self.client.read_deployment_by_name(self.names.deployment(name))
        except ObjectNotFound:
            return None

    def _runs(self, deployment) -> list:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
        from prefect.client.schemas.sorting import FlowRunSort

        if deployment is None:
            return []
        return self.client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
                                          sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=200)

    def _automation(self, name: str):
        found = self.client.read_automations_by_name(name)
        return found[0] if found else None

    def _events(self, name: str, resource_id: str) -> list:
        from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter
        from prefect.types._datetime import now

        page = self.client.read_events(EventFilter(occurred=EventOccurredFilter(since=now("UTC") - timedelta(days=7)),
                                                   event=EventNameFilter(name=[name]),
                                                   resource=EventResourceFilter(id=[resource_id])), limit=50)
        return page.events

    # The steps after the first, in the brief's order.
    def served(self) -> Step:
        title = "Step 2: your two deployments are served from a terminal (python flows.py)"
        missing = [self.names.deployment(name) for name, d in self.deployments.items() if d is None]
        if missing:
            return Step("served", False, title, f"The server has no deployment {' or '.join(missing)}. `python flows.py` "
                        "serves them once your flow is called "
                        f"{self.names.flow!r} and your deployments {self.names.primary!r} and {self.names.backup!r}.")
        ready = [name for name, d in self.deployments.items() if str(getattr(d.status, "value", d.status)) == "READY"]
        ran = [name for name, runs in self.runs.items() if any(r.start_time for r in runs)]
        if len(ready) == 2 or ran:
            now = "both served now" if len(ready) == 2 else "not served right now: is `python flows.py` still running?"
            return Step("served", True, title, f"Both deployments exist, {now}.")
        return Step("served", False, title, "Both deployments exist, but nothing serves them: run `python flows.py` in a "
                    "terminal and leave it running.")

    def run_by_hand(self) -> Step:
        title = "Step 3: you started a run of the primary by hand, and it completed"
        runs = self.runs[self.names.primary]
        by_hand = [r for r in runs if r.created_by is None and not r.auto_scheduled]
        done = [r for r in by_hand if r.state and r.state.is_completed()]
        if done:
            return Step("run", True, title, f"Run {done[0].name} of {self.names.deployment(self.names.primary)} completed.")
        if by_hand:
            last = by_hand[0]
            return Step("run", False, title, f"Run {last.name} is {last.state.name if last.state else 'unknown'}. Is the "
                        "mock's primary site up (`python -m workshop faults --no-outage`), and `python flows.py` serving?")
        return Step("run", False, title, "No run of the primary was started by hand yet: "
                    f"`prefect deployment run '{self.names.deployment(self.names.primary)}'`.")

    def alert(self) -> Step:
        title = "Step 4: an automation made with the Python SDK alerts on the primary's failures, and only those"
        automation = self.automations[self.names.alert]
        if automation is None:
            return Step("alert", False, title, f"No automation called {self.names.alert!r}: write alert.py and run it.")
        kinds = {action.type for action in automation.actions}
        if not kinds & {"send-notification", "call-webhook"}:
            return Step("alert", False, title, f"{self.names.alert} does {', '.join(sorted(kinds)) or 'nothing'}: an alert "
                        "tells someone (a send-notification action with a notification block).")
        verdict = self._judge_failure_trigger(automation.trigger)
        if verdict:
            return Step("alert", False, title, f"{self.names.alert}'s trigger {verdict}")
        return Step("alert", True, title, f"{self.names.alert} fires for a failed primary run, not for the backup's "
                    "(Prefect's own matching, on sample events).")

    def _judge_failure_trigger(self, trigger) -> str | None:
        """What is wrong with a trigger meant to fire on the primary's failures only (None: nothing)."""
        from ._triggers import event, fires_on, server_model

        model = server_model(trigger.model_dump(mode="json"))
        if not hasattr(model, "covers"):
            return "is not a single event trigger: one event trigger on a flow run's Failed event is what this asks."
        flow = self.names.flow
        cases = {
            "does not fire when a primary run fails": (event("prefect.flow-run.Failed", flow=flow, deployment=self.names.primary), True),
            "fires when a primary run completes": (event("prefect.flow-run.Completed", flow=flow, deployment=self.names.primary), False),
            "fires for a failed backup run too: read a Failed event's related resources in the Event Feed, and match the "
            "one that names the deployment": (event("prefect.flow-run.Failed", flow=flow, deployment=self.names.backup), False),
        }
        for complaint, (sample, should) in cases.items():
            if fires_on(model, sample) != should:
                return complaint + "."
        return None

    def failover(self) -> Step:
        title = "Step 5: a failed primary run was followed by a backup run that its deployment trigger started"
        primary, backup = self.deployments[self.names.primary], self.deployments[self.names.backup]
        if primary is None or backup is None:
            return Step("failover", False, title, "First serve both deployments (step 2).")
        # The automations that run the backup, but the UI's one of step 7 (its deployment trigger, if it has one).
        owned = [a for a in self.client.read_resource_related_automations(f"prefect.deployment.{backup.id}")
                 if a.name != self.names.stale and any(getattr(action, "deployment_id", None) == backup.id for action in a.actions)]
        if not owned:
            return Step("failover", False, title, f"{self.names.backup} has no deployment trigger: give its deployment "
                        "`triggers=[...]` in flows.py, and serve it again.")
        verdicts = {a.name: self._judge_failure_trigger(a.trigger) for a in owned}
        if all(verdicts.values()):
            name, verdict = next(iter(verdicts.items()))
            return Step("failover", False, title, f"The backup's trigger {name} {verdict}")
        failed = [r for r in self.runs[self.names.primary] if r.state and r.state.is_failed()]
        if not failed:
            return Step("failover", False, title, "No primary run has failed yet: take the primary site down "
                        "(`python -m workshop faults --outage`), then run the primary again.")
        # By name too: serving again replaces the trigger's automation, and the runs the old one started stay.
        starters = {a.id for a in owned} | {a.name for a in owned}
        started = [r for r in self.runs[self.names.backup]
                   if r.created_by and (r.created_by.id in starters or r.created_by.display_value in starters)]
        completed = [r for r in started if r.state and r.state.is_completed()]
        if completed:
            return Step("failover", True, title, f"Backup run {completed[0].name} was started by {owned[0].name} "
                        f"and completed.")
        if started:
            return Step("failover", False, title, f"Backup run {started[0].name} was started, and is "
                        f"{started[0].state.name if started[0].state else 'unknown'}: is flows.py still serving?")
        return Step("failover", False, title, f"Run {failed[0].name} of the primary failed, and no backup run followed: "
                    "open the Event Feed and compare that Failed event's related resources with your trigger.")

    def told(self) -> Step:
        title = "Step 6: the alert spoke: its notification went out for a failed primary run"
        automation = self.automations[self.names.alert]
        if automation is None:
            return Step("told", False, title, "First make the alert (step 4).")
        resource = f"prefect.automation.{automation.id}"
        executed = self._events("prefect.automation.action.executed", resource)
        if executed:
            return Step("told", True, title, f"{self.names.alert} sent its notification ({len(executed)} time(s)).")
        failed = self._events("prefect.automation.action.failed", resource)
        if failed:
            reason = failed[0].payload.get("reason", "no reason given")
            return Step("told", False, title, f"{self.names.alert} fired, and its action failed: {reason}")
        return Step("told", False, title, f"{self.names.alert} has not fired yet: it fires when a primary run fails.")

    def ui_automation(self) -> Step:
        from ._triggers import event, fires_on, server_model

        title = f"Step 7: an automation made in the Prefect UI runs the backup when {STALE_EVENT} arrives"
        automation, backup = self.automations[self.names.stale], self.deployments[self.names.backup]
        if automation is None:
            return Step("ui", False, title, f"No automation called {self.names.stale!r}: make it in the Prefect UI "
                        "(Automations, +, the Custom trigger).")
        try:
            model = server_model(automation.trigger.model_dump(mode="json"))
        except AssertionError as wrong:
            return Step("ui", False, title, str(wrong))
        stale = event(STALE_EVENT, resource={"prefect.resource.id": self.names.source})
        other = event(STALE_EVENT, resource={"prefect.resource.id": "somebody-elses.source"})
        if not hasattr(model, "covers") or not fires_on(model, stale):
            return Step("ui", False, title, f"Its trigger does not fire for {STALE_EVENT} about {self.names.source}.")
        if fires_on(model, other):
            return Step("ui", False, title, f"Its trigger fires for {STALE_EVENT} about any resource: match "
                        f"prefect.resource.id {self.names.source} only.")
        runs = [a for a in automation.actions if a.type == "run-deployment"]
        if not runs or backup is None or not any(getattr(a, "deployment_id", None) == backup.id for a in runs):
            return Step("ui", False, title, f"Its action must run the deployment {self.names.deployment(self.names.backup)} "
                        "(Run a deployment, then pick it).")
        return Step("ui", True, title, f"{self.names.stale} runs the backup on {STALE_EVENT} about {self.names.source}.")

    def emitted(self) -> Step:
        title = "Step 8: an event you emitted by hand from a terminal fired it"
        automation = self.automations[self.names.stale]
        if automation is None:
            return Step("emitted", False, title, "First make the automation in the UI (step 7).")
        started = [r for r in self.runs[self.names.backup] if r.created_by and r.created_by.id == automation.id]
        if started:
            return Step("emitted", True, title, f"Backup run {started[0].name} was started by {self.names.stale}.")
        heard = self._events(STALE_EVENT, self.names.source)
        if heard:
            return Step("emitted", False, title, f"The server has your {STALE_EVENT} event, and {self.names.stale} did "
                        "not start a backup run: was it made after the event? Emit it again.")
        return Step("emitted", False, title, f"`prefect event emit {STALE_EVENT} --resource-id {self.names.source}`, and "
                    "watch it arrive with `prefect events stream` in another terminal.")

    def cleaned(self) -> Step:
        from prefect.exceptions import ObjectNotFound

        title = "Last step: you cleaned up what you made"
        left = [f"deployment {self.names.deployment(name)}" for name, d in self.deployments.items() if d is not None]
        for name in (self.names.alert, self.names.failover, self.names.stale):  # by name: a room holds hundreds
            left += [f"automation {name}"] * len(self.client.read_automations_by_name(name))
        try:
            self.client.read_block_document_by_name(self.names.block, block_type_slug="custom-webhook")
            left.append(f"block {self.names.block}")
        except ObjectNotFound:
            pass
        if left:
            return Step("cleaned", False, title, f"Still on the server: {', '.join(left)}. (A deleted deployment leaves "
                        "its trigger's automation behind.)")
        return Step("cleaned", True, title, "Nothing of the lab is left on the server.")


STEPS: tuple[Callable[[Judge], Step], ...] = (Judge.served, Judge.run_by_hand, Judge.alert, Judge.failover, Judge.told,
                                              Judge.ui_automation, Judge.emitted)


def judge(settings: Settings, *, cleaned: bool = False) -> list[Step]:
    """Every step of the lab, as the course's Prefect server shows it now (or, with `cleaned`, the clean-up only)."""
    from prefect.client.orchestration import get_client

    from ..prefect_client import use_prefect_server

    first = profile(settings)  # before this process points its own Prefect client at the course's server
    use_prefect_server(settings.course_prefect_api_url)
    with get_client(sync_client=True) as client:
        if client.api_healthcheck() is not None:  # the exception it met, or None when the server answered
            where = "ask the instructor" if settings.in_room else "`python -m workshop up` starts it"
            raise WorkshopError(f"The course's Prefect server at {settings.course_prefect_api_url} is not answering: {where}.")
        found = Judge(settings, client, Names(settings.prefix))
        return [found.cleaned()] if cleaned else [first, *(step(found) for step in STEPS)]
