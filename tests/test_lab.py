"""The lab (notebook 05), done as a learner does it: an empty folder, a terminal, Prefect's CLI, two files of their own;
`python -m workshop check 05` sees each step missing, then done, judged on the server. (The UI step, for real in
the Prefect UI, is in test_browser; a room's learner does the lab in test_classroom.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from prefect.events.schemas.automations import EventTrigger, Posture

from workshop.exercises import lab
from workshop.exercises.ex05 import CHECK_LINE, HINTS
from workshop.notebook.rest import PrefectREST
from workshop.waiting import wait_for

from . import learner_terminal as term
from .notebooks import COURSE_NOTEBOOKS, run_notebook


def _streamed(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def _streamed_both(log: Path, names: lab.Names) -> bool:
    streamed = _streamed(log)
    return (any(e["event"] == lab.STALE_EVENT and e["resource"]["prefect.resource.id"] == names.source for e in streamed)
            and any(e["event"].startswith("prefect.automation.") and e["resource"].get("prefect.resource.name") == names.stale
                    for e in streamed))


def test_the_lab_done_from_a_terminal_passes_each_step_as_the_server_shows_it(course, tmp_path):
    folder = tmp_path / "my-prefect-lab"
    env = term.terminal(dict(os.environ), folder)
    brief = term.brief(env, folder)
    assert "PREFECT_API_URL=" in brief and lab.VALUES_START in brief

    code, output, found = term.check(env, folder)
    assert code == 1 and found == dict.fromkeys(range(1, 9), False), output
    assert "does not set PREFECT_API_URL" in output  # the learner's new terminal talks to no server yet

    url = term.point_profile(env, folder, brief)
    prefix = term.write_files(folder, brief)
    server = term.Server(url, None, prefix)
    names = lab.Names(prefix)
    serving = term.serve(env, folder)
    try:
        term.wait_for_step(server, 2)
        term.must(term.run(env, folder, "prefect", "deployment", "run", names.deployment(names.primary), "--watch"))
        term.must(term.run(env, folder, "python", "alert.py"))
        term.must(term.run(env, folder, "python", "alert.py"))  # run twice, as a learner does after a change
        term.wait_for_step(server, 3)

        term.must(term.run(env, folder, "python", "-m", "workshop", "faults", "--outage"))
        try:
            term.must(term.run(env, folder, "prefect", "deployment", "run", names.deployment(names.primary)))
            term.wait_for_step(server, 5)
        finally:
            term.must(term.run(env, folder, "python", "-m", "workshop", "faults", "--no-outage"))
        term.wait_for_step(server, 6)

        api = PrefectREST()
        backup = api.call("GET", f"/deployments/name/{names.deployment(names.backup)}")
        api.call("POST", "/automations/", json=term.ui_automation(prefix, backup["id"]))
        stream = subprocess.Popen(["prefect", "events", "stream"], cwd=folder, env={**env, "PYTHONUNBUFFERED": "1"},
                                  stdout=(folder / "stream.log").open("w"), stderr=subprocess.STDOUT)
        try:
            # As the notebook says: the stream listens once the last minute's events are there (the automation just
            # made is one). An event sent sooner can miss it: published before the stream subscribed, written to the
            # database after its look back.
            wait_for(lambda: _streamed(folder / "stream.log"), timeout=90, what="`prefect events stream` to listen")
            term.must(term.run(env, folder, "prefect", "event", "emit", lab.STALE_EVENT, "--resource-id", names.source))
            term.wait_for_step(server, 8)
            # The stream shows the learner's event, then the automation it fired (its own events name it).
            wait_for(lambda: _streamed_both(folder / "stream.log", names), timeout=60,
                     what="`prefect events stream` to show the event and the automation it fired")
        finally:
            term.stop(stream)
    finally:
        term.stop(serving)

    # Served again after a change: Prefect replaces the backup's trigger; the alert script made one alert, not two.
    serving = term.serve(env, folder)
    try:
        term.wait_for_step(server, 2)
    finally:
        term.stop(serving)
    automations = [a["name"] for a in api.call("POST", "/automations/filter", json={"limit": 200})]
    assert automations.count(names.failover) == 1 and automations.count(names.alert) == 1, automations

    code, output, found = term.check(env, folder)
    assert code == 0 and all(found.values()) and "8 of 8 steps done" in output, output

    # The notebook's own check cell says the same, in a kernel whose Prefect home is the learner's.
    printed = run_notebook(COURSE_NOTEBOOKS / "05_own_project.ipynb", env={**os.environ, "PREFECT_HOME": env["PREFECT_HOME"]})
    assert "8 of 8 steps done" in printed and names.stale in printed

    # Clean-up as the notebook says: a deleted deployment leaves its trigger's automation behind.
    for name in (names.primary, names.backup):
        term.must(term.run(env, folder, "prefect", "deployment", "delete", names.deployment(name)))
    term.must(term.run(env, folder, "prefect", "block", "delete", f"custom-webhook/{names.block}"))
    code, output, _ = term.check(env, folder, "--cleaned")
    assert code == 1 and f"automation {names.failover}" in output, output
    for name in (names.alert, names.failover, names.stale):
        term.must(term.run(env, folder, "prefect", "automation", "delete", name))
    code, output, found = term.check(env, folder, "--cleaned")
    assert code == 0 and found == {0: True}, output


@pytest.mark.parametrize("trigger, words", [
    (EventTrigger(expect={"prefect.flow-run.Failed"}, posture=Posture.Reactive), "fires for a failed backup run too"),
    (EventTrigger(expect={"prefect.flow-run.*"}, match_related={"prefect.resource.role": "deployment",
                                                                 "prefect.resource.name": "workshop-lab-primary"},
                  posture=Posture.Reactive), "fires when a primary run completes"),
    (EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.name": "workshop-lab-primary"},
                  posture=Posture.Reactive), "does not fire when a primary run fails"),
])
def test_an_alert_that_would_misfire_is_named_by_what_it_would_do(trigger, words):
    judge = lab.Judge.__new__(lab.Judge)  # the trigger's verdict needs no server
    judge.names = lab.Names("workshop-")
    assert words in judge._judge_failure_trigger(trigger)


def test_the_solutions_alert_trigger_passes():
    judge = lab.Judge.__new__(lab.Judge)
    judge.names = lab.Names("workshop-")
    scope = {"prefect.resource.role": "deployment", "prefect.resource.name": "workshop-lab-primary"}
    assert judge._judge_failure_trigger(EventTrigger(expect={"prefect.flow-run.Failed"}, match_related=scope,
                                                     posture=Posture.Reactive)) is None


def test_the_lab_has_a_hint_ladder_for_each_step_and_its_check_line_is_the_notebooks():
    assert sorted(HINTS) == list(range(1, 9)) and all(len(tiers) == 3 for tiers in HINTS.values())
    assert all(tiers[0].rstrip(")").endswith("?") or "?" in tiers[0] for tiers in HINTS.values())
    notebook = (COURSE_NOTEBOOKS / "05_own_project.ipynb").read_text(encoding="utf-8")
    assert CHECK_LINE in notebook and "import workshop" not in (lab.SOLUTION / "flows.py").read_text()
    for path in lab.SOLUTION.glob("*.py"):
        assert "workshop" not in "".join(line for line in path.read_text().splitlines() if line.startswith(("import", "from")))
