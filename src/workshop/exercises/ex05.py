"""Notebook 05, the lab: a project of the learner's own, in a folder of theirs, with Prefect only.

    ex.lab.brief()      # this learner's values and names (a room's learner gets the room's)
    ex.lab.check()      # what the server shows done, step by step; also `python -m workshop check 05`
    ex.lab.hint(4)      # a hint for step 4, each call more specific
    ex.lab.solution()   # the reference files, with this learner's values, and why they are right
"""

from __future__ import annotations

import json

from ..checkpoints import Outcome
from ..notebook.progress import report_check, report_hint
from ..settings import ROOM_USER, Settings, current
from ..supervisor.prefect_server import ui_url
from . import lab as _lab

CHECK_LINE = "ex.lab.check()"  # the notebook's check line: the board counts the lab as its one checkpoint, ex.lab

HINTS = {
    1: ["Which server does `prefect deployment run` talk to when nothing says which? (`prefect config view` tells.)",
        "A profile is a named set of settings in ~/.prefect/profiles.toml; `prefect profile create` and `prefect profile "
        "use` make and pick one, `prefect config set NAME=VALUE` writes into the active one.",
        "`prefect profile create lab`, `prefect config set --profile lab PREFECT_API_URL=<the URL the brief printed>` "
        "(in a room, also PREFECT_API_AUTH_STRING), then `prefect profile use lab`."],
    2: ["What keeps a served deployment's runs running, and what happens to them when it stops?",
        "`flow.to_deployment(name, parameters=...)` makes a deployment without sending it; `serve(a, b)` sends both "
        "and runs their runs in this process until Ctrl-C.",
        "The solution's flows.py ends with `serve(primary, backup)`; run it with `python flows.py` and leave it running."],
    3: ["How does the CLI name a deployment? (`prefect deployment ls`.)",
        "`prefect deployment run 'FLOW NAME/DEPLOYMENT NAME'`; `--watch` waits for the run to end.",
        "`prefect deployment run '<PREFIX>lab-users/<PREFIX>lab-primary' --watch`."],
    4: ["Which event does a failed flow run emit, and which of its related resources says which deployment it ran?",
        "Open a Failed event in the Event Feed: its related resources include one with role `deployment`, named after "
        "the deployment. `match_related` on that role and name picks the primary's runs only.",
        "`EventTrigger(expect={'prefect.flow-run.Failed'}, match_related={'prefect.resource.role': 'deployment', "
        "'prefect.resource.name': '<PREFIX>lab-primary'}, posture=Posture.Reactive, threshold=1)` with a "
        "`SendNotification` of a webhook block to your INBOX."],
    5: ["Where does a deployment trigger belong, and what does it start?",
        "`to_deployment(..., triggers=[DeploymentEventTrigger(...)])`: an automation owned by that deployment, which "
        "runs it. Give the backup the same trigger your alert has.",
        "Take the primary down (`python -m workshop faults --outage`), run the primary, watch the backup run start; then "
        "`python -m workshop faults --no-outage`."],
    6: ["Did the alert fire but its action fail? The automation's own events say (Event Feed, filter on the automation).",
        "`prefect.automation.action.failed` carries a reason: a block that is gone, an address that refused.",
        "Run alert.py again (it saves the block and the automation), then fail the primary again."],
    7: ["The UI's trigger templates are for flow runs, deployments and work pools; which one takes any event?",
        "Automations, +, Trigger type *Custom*: its JSON is the same trigger the SDK writes. Match the resource id of "
        "your event, expect its name; the action *Run a deployment* picks the backup.",
        'The trigger JSON: {"type": "event", "match": {"prefect.resource.id": "<PREFIX>lab.source"}, '
        '"expect": ["lab.source.stale"], "posture": "Reactive", "threshold": 1, "within": 0}; the name '
        "<PREFIX>lab-stale-data."],
    8: ["Which command sends an event of your own to the server, and which one shows events as they arrive?",
        "`prefect event emit NAME --resource-id ID` sends it; `prefect events stream` in another terminal shows it.",
        f"`prefect event emit {_lab.STALE_EVENT} --resource-id <PREFIX>lab.source`."],
}

WHY = """\
- **flows.py** serves two deployments of one flow in one process. The backup's `DeploymentEventTrigger` becomes an
  automation related to the backup deployment, which runs it; serving again replaces it, but deleting the deployment
  leaves it behind (delete it too). It matches the *deployment* related resource by name: the run's own resource
  (`prefect.flow-run.<id>`) says nothing of its deployment.
- **alert.py** is a script you can run again: it deletes the alert it made before (an automation's name is not unique,
  and a second copy would alert twice). The block is saved with `overwrite=True` for the same reason.
- **The UI's Custom trigger** is the SDK's trigger as JSON. `within: 0` at threshold 1 fires on every event; a
  window would absorb the events that follow a firing.
- The usual wrong answers: a trigger on `prefect.flow-run.Failed` with no `match_related` (it fires for the backup's
  failures too, and the backup then restarts itself after its own failure); `match` on `prefect.resource.name`
  (that is the run's generated name, such as *brave-otter*, not the deployment's); a profile set while
  `PREFECT_API_URL` is also set in the terminal, which wins over any profile.
"""


class Lab:
    """The lab's brief, its checker, its hints and its solution, for the learner whose settings are current."""

    def brief(self) -> None:
        settings = current()
        names = _lab.Names(settings.prefix)
        auth = (f"\n  PREFECT_API_AUTH_STRING={settings.auth_string.replace(settings.room_password.get_secret_value(), '<the room password>')}"
                if settings.auth_string else "")
        print(f"Your Prefect server: PREFECT_API_URL={settings.course_prefect_api_url}{auth}\n"
              f"Prefect UI:          {ui_url(settings, settings.course_prefect_api_url).rstrip('/')}/"
              + (f"  (log in as {ROOM_USER} with the room's password)" if settings.auth_string else "")
              + f"\nYour inbox:          {settings.inbox_page_url}\n\n"
              f"The values your files start with (paste them at the top of flows.py and alert.py):\n\n"
              f"{_lab.values_block(settings)}\n\n"
              f"The names the checker looks for:\n"
              f"  flow {names.flow}, deployments {names.primary} and {names.backup} (the backup's trigger: {names.failover})\n"
              f"  the SDK's alert {names.alert} (its block {names.block}), the UI's automation {names.stale}\n"
              f"  the event you emit: {_lab.STALE_EVENT}, about the resource {names.source}")

    def check(self, *, cleaned: bool = False) -> None:
        """Each step as the server shows it; in a room, the board hears how far the learner is."""
        self.steps(cleaned=cleaned)  # printed: a notebook cell shows nothing more

    def steps(self, *, cleaned: bool = False, settings: Settings | None = None) -> list[_lab.Step]:
        """What `check()` prints and reports, returned too (the command line's exit code is made from it)."""
        settings = settings or current()
        steps = _lab.judge(settings, cleaned=cleaned)
        done = sum(step.done for step in steps)
        print("\n".join(step.line() for step in steps))
        print(f"\n{done} of {len(steps)} steps done." + ("" if done == len(steps) else " `ex.lab.hint(N)` helps with step N."))
        outcome = Outcome.PASSED if done == len(steps) else Outcome.FAILED if done else Outcome.NOT_ATTEMPTED
        report_check(outcome, f"the lab: {done} of {len(steps)} steps" + (" (clean-up)" if cleaned else ""), notebook="05",
               checkpoint="ex.lab")
        return steps

    def hint(self, step: int) -> None:
        given = self._given = getattr(self, "_given", {})
        tiers = HINTS[step]
        index = min(given.get(step, 0), len(tiers) - 1)
        given[step] = index + 1
        report_hint(f"lab step {step}", f"hint {index + 1} of {len(tiers)}", notebook="05")
        print(f"Step {step}, hint {index + 1} of {len(tiers)}: {tiers[index]}")

    def solution(self):
        """The reference files with this learner's values, and why they are right."""
        from IPython.display import Markdown

        settings = current()
        files = {path.name: path.read_text(encoding="utf-8") for path in sorted(_lab.SOLUTION.iterdir()) if path.is_file()}
        shown = []
        for name, text in files.items():
            if name.endswith(".py"):
                shown.append(f"**{name}**\n\n```python\n{_lab.with_values(text, settings)}```")
            else:
                data = json.loads(text)
                data["match"]["prefect.resource.id"] = _lab.Names(settings.prefix).source
                shown.append(f"**{name}** (the UI's Custom trigger)\n\n```json\n{json.dumps(data, indent=2)}\n```")
        return Markdown("\n\n".join(shown) + "\n\n" + WHY)


lab = Lab()  # the notebook's `ex.lab`
