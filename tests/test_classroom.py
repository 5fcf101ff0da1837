"""A room, as an instructor and learners use it: `classroom up` on PostgreSQL, learners `join` with the printed
line, run every notebook at the same time in their own kernels, and see only their own alerts and backups.

The learners run notebooks 02, 03 and 04 as shipped and as solved, and again after themselves, so on a machine
with PostgreSQL this test is also the suite's run of those three (`test_notebooks` runs 00 and 01 on a laptop's
course too)."""

from __future__ import annotations

import contextlib
import csv
import functools
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import WorkshopTimeout
from workshop.exercises import lab
from workshop.supervisor import postgres
from workshop.waiting import wait_for

from . import learner_terminal as term
from .course_folders import ROOT, at_once, cli, learner_env, learner_folder, open_room, room_api
from .notebooks import NOTEBOOKS, ROOM_PLANS, assert_checks_ran, run_notebook

pytestmark = [pytest.mark.skipif(postgres.binaries() is None, reason=postgres.INSTALL_HINT),
              pytest.mark.xdist_group("classroom")]  # one room for the module's tests
LEARNERS = tuple(ROOM_PLANS)


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """The instructor's course folder with a room up; yields (environment, join address, join options)."""
    with open_room(tmp_path_factory.mktemp("instructor")) as opened:
        yield opened


def names_on_server(room, prefix: str) -> dict[str, list[str]]:
    api, auth = room_api(room)
    automations = requests.post(f"{api}/automations/filter", json={"limit": 200}, auth=auth, timeout=30).json()
    blocks = requests.post(f"{api}/block_documents/filter", json={"limit": 200}, auth=auth, timeout=30).json()
    deployments = requests.post(f"{api}/deployments/filter", json={"limit": 200}, auth=auth, timeout=30).json()
    return {kind: sorted(item["name"] for item in found if (item["name"] or "").startswith(prefix))
            for kind, found in (("automations", automations), ("blocks", blocks), ("deployments", deployments))}


def test_the_room_asks_for_its_password_and_refuses_a_wrong_one(room, tmp_path):
    env, address, options = room
    api, auth = room_api(room)
    inbox = f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}"
    assert requests.get(f"{api}/health", timeout=10).json() is True  # health stays open, for `status`
    assert requests.post(f"{api}/flows/filter", json={}, timeout=10).status_code == 401
    assert requests.post(f"{api}/flows/filter", json={}, auth=auth, timeout=10).status_code == 200
    assert requests.get(f"{inbox}/_workshop/messages", timeout=10).status_code == 401
    assert requests.get(f"{inbox}/ann/", timeout=10).headers.get("WWW-Authenticate", "").startswith("Basic")
    assert requests.post(f"{inbox}/zed/alerts", json={"subject": "a webhook needs no password"}, timeout=10).ok

    again = cli(env, "classroom", "up")  # an instructor who runs it twice: nothing restarts, the data stays put
    assert again.returncode == 0 and "restarting" not in again.stdout, again.stdout
    assert "WORKSHOP_DATABASE_URL='postgresql" in (Path(env["WORKSHOP_HOME"]) / "room.env").read_text()

    learner = learner_folder(tmp_path, "mallory")
    wrong = cli(learner, "join", address.replace(auth[1], "not-the-password"), "--as", "mallory", *options)
    assert wrong.returncode == 2 and "refuses this course folder's password" in wrong.stderr, wrong.stderr
    bad_name = cli(learner, "join", address, "--as", "mal-lory", *options)
    assert bad_name.returncode == 2 and "lowercase letters and digits" in bad_name.stderr, bad_name.stderr
    assert not (Path(learner["WORKSHOP_HOME"]) / "room.env").exists()


def wait_for_board(url: str, auth: tuple[str, str]) -> dict:
    """The board once every check of every notebook each learner ran is on it, or as it is after a minute (Prefect
    stores events in batches, a few seconds after they arrive; the caller's assertions then say what is missing)."""
    last: dict = {}
    ran = {(name, number) for name, plan in ROOM_PLANS.items() for number, _ in plan}

    def complete() -> dict | None:
        last.update(requests.get(url, auth=auth, timeout=30).json())
        totals = {notebook["number"]: notebook["checkpoints"] for notebook in last["notebooks"]}
        counted = {(learner["name"], number): sum(learner["notebooks"].get(number, {}).values())
                   for learner in last["learners"] for number in learner["notebooks"]}
        done = counted.keys() >= ran and all(counted[key] == totals[key[1]] for key in ran)
        return last if done else None

    with contextlib.suppress(WorkshopTimeout):
        wait_for(complete, timeout=60, what="every learner's checks on the board", interval=1.0)
    assert not last.get("error") and {learner["name"] for learner in last["learners"]} == set(LEARNERS), last
    return last


def unreported(room, learner: str, notebook: str) -> list[str]:
    """The checkpoints of `notebook` that the room's server has no event of from `learner` (for a failure's message)."""
    from workshop import checkpoints

    api, auth = room_api(room)
    page = requests.post(f"{api}/events/filter", auth=auth, timeout=30, json={"limit": 50, "filter": {
        "event": {"prefix": [checkpoints.EVENT_PREFIX]}, "resource": {"id": [f"workshop.learner.{learner}"]}}}).json()
    seen = set()
    for _ in range(40):  # pages of 50: far more than two notebooks' checks
        seen |= {event["payload"]["checkpoint"] for event in page["events"] if event["payload"]["notebook"] == notebook}
        if not page.get("next_page"):
            break
        page = requests.get(page["next_page"], auth=auth, timeout=30).json()
    return [key for key in checkpoints.in_notebooks(ROOT / "notebooks")[notebook]["checkpoints"] if key not in seen]


def automations_twice(room, prefix: str) -> dict[str, int]:
    api, auth = room_api(room)
    found = requests.post(f"{api}/automations/filter", json={"limit": 200}, auth=auth, timeout=30).json()
    names = Counter(automation["name"] for automation in found if automation["name"].startswith(prefix))
    return {name: count for name, count in names.items() if count > 1}


def test_four_learners_run_the_notebooks_at_once_and_each_sees_only_their_own(room, handouts, tmp_path):
    learners = {name: learner_env(room, tmp_path, name) for name in LEARNERS}
    status = cli(learners["ann"], "status")
    assert status.returncode == 0 and "/ann/" in status.stdout, status.stdout

    def learn(name: str) -> None:
        for number, handout in ROOM_PLANS[name]:
            folder = tmp_path / name / handout
            if not folder.exists():
                shutil.copytree(handouts / handout, folder)
            printed = run_notebook(folder / NOTEBOOKS[number], env=learners[name], timeout=900)
            assert_checks_ran(NOTEBOOKS[number], handout, printed)

    at_once({name: functools.partial(learn, name) for name in LEARNERS}, timeout=1800)

    # Running a notebook again made no twins of a learner's automations.
    for name in LEARNERS:
        assert not automations_twice(room, f"workshop-{name}-"), (name, automations_twice(room, f"workshop-{name}-"))

    # Every message in the room's inbox is in the channel of the learner whose flows it is about.
    env, _, _ = room
    _, auth = room_api(room)
    messages = requests.get(f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/messages", auth=auth, timeout=30).json()
    about = [(m["path"], m["body"]) for m in messages if not m["path"].startswith("/zed/")]
    assert len(about) > 30
    for path, body in about:
        owner = path.split("/")[1]
        others = [name for name in LEARNERS if name != owner and f"workshop-{name}-" in body]
        assert owner in LEARNERS and not others, f"{path} got a message about {others}: {body[:300]}"
    for name in LEARNERS:
        assert sum(path.startswith(f"/{name}/") for path, _ in about) > 5, f"{name} received too few alerts"

    # Each learner's backup runs were started by their own failover only.
    api, auth = room_api(room)
    for name in [name for name, plan in ROOM_PLANS.items() if any(number in ("03", "04") for number, _ in plan)]:
        runs = requests.post(f"{api}/flow_runs/filter", auth=auth, timeout=30, json={
            "deployments": {"name": {"any_": [f"workshop-{name}-backup"]}}, "limit": 50}).json()
        starters = {run["created_by"]["display_value"] for run in runs if run.get("created_by")}
        assert runs and all(starter.startswith(f"workshop-{name}-") for starter in starters), (name, starters)

    # The instructor's board shows each learner's checks in the notebooks they ran: every one passed, or (last
    # run as shipped) an exercise not attempted.
    board_url = f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/board"
    assert requests.get(board_url, timeout=10).status_code == 401
    assert "Room progress" in requests.get(board_url, auth=auth, timeout=10).text
    board = wait_for_board(board_url + ".json", auth)
    notebooks = {notebook["number"]: notebook["checkpoints"] for notebook in board["notebooks"]}
    assert notebooks.keys() == {"00", "01", "02", "03", "04", "05"} and all(notebooks.values()), notebooks
    for learner in board["learners"]:
        last_handout = dict(ROOM_PLANS[learner["name"]])  # notebook -> the handout it ran last
        assert learner["notebooks"].keys() == last_handout.keys(), learner
        for number, handout in last_handout.items():
            tally = learner["notebooks"][number]
            done = tally["passed"] == notebooks[number] if handout == "solved" else (
                0 < tally["passed"] and tally["passed"] + tally["not-attempted"] == notebooks[number])
            assert tally["failed"] == 0 and done, (learner["name"], number, tally, unreported(room, learner["name"], number))
        assert learner["last"]["notebook"] == ROOM_PLANS[learner["name"]][-1][0], learner["last"]

    # The instructor's report after the workshop: a row per learner and notebook they ran, its numbers the board's.
    report = tmp_path / "report.csv"
    made = cli(env, "classroom", "report", "--output", str(report))
    assert made.returncode == 0 and "median" in made.stdout, made.stdout + made.stderr
    rows = {(row["learner"], row["notebook"]): row for row in csv.DictReader(report.read_text().splitlines())
            if row["learner"] in LEARNERS}  # the room's other tests' learners are not this one's
    assert rows.keys() == {(name, number) for name, plan in ROOM_PLANS.items() for number, _ in plan}, rows.keys()
    for learner in board["learners"]:
        for number, tally in learner["notebooks"].items():
            row = rows[learner["name"], number]
            assert int(row["checks passed"]) == tally["passed"] and float(row["minutes"]) > 0, row
    assert all(f"notebook {number}:" in made.stdout for number in {number for _, number in rows}), made.stdout

    # Ann starts over: her objects and messages go, the others' stay.
    before = {name: names_on_server(room, f"workshop-{name}-") for name in LEARNERS}
    assert all(before[name]["automations"] and before[name]["blocks"] for name in LEARNERS), before
    assert all(before[name]["deployments"] for name in ("ann", "bob", "cy")), before
    reset = cli(learners["ann"], "reset", "--yes")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert names_on_server(room, "workshop-ann-") == {"automations": [], "blocks": [], "deployments": []}
    for name in LEARNERS[1:]:
        assert names_on_server(room, f"workshop-{name}-") == before[name]
    left = requests.get(f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/messages", auth=auth, timeout=30).json()
    assert not [m for m in left if m["path"].startswith("/ann/")]
    assert [m for m in left if m["path"].startswith("/bob/")]

    for learner in learners.values():
        assert cli(learner, "down").returncode == 0  # each learner's deployment runner
        left_room = cli(learner, "leave")
        assert left_room.returncode == 0 and not (Path(learner["WORKSHOP_HOME"]) / "room.env").exists()


def at_a_terminal(env: dict[str, str], args: list[str], typed: str, timeout: float = 120) -> tuple[int, str]:
    """Run `python -m workshop ARGS` in a terminal of its own (a pty), typing `typed` when it asks for a password."""
    import os
    import pty
    import select
    import sys
    import time

    pid, terminal = pty.fork()
    if pid == 0:  # the child: a session of its own, whose controlling terminal is the pty (getpass reads it)
        os.chdir(ROOT)
        os.execvpe(sys.executable, [sys.executable, "-m", "workshop", *args], env)
    output, typed_it, ends = b"", False, time.monotonic() + timeout
    while time.monotonic() < ends:
        if select.select([terminal], [], [], 0.5)[0]:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the child closed the terminal: it ended
                break
            if not chunk:
                break
            output += chunk
            if not typed_it and b"password" in output.lower():
                os.write(terminal, typed.encode() + b"\n")
                typed_it = True
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_a_learner_joins_without_the_password_on_the_command_line_and_secrets_stay_private(room, tmp_path):
    import stat

    env, address, options = room
    _, (_, password) = room_api(room)
    bare = address.replace(f"workshop:{password}@", "")
    learner = learner_folder(tmp_path, "dee")
    home = Path(learner["WORKSHOP_HOME"])
    home.mkdir(parents=True)
    (home / "room.env").write_text("WORKSHOP_ROOM='http://127.0.0.1'\nWORKSHOP_LEARNER='dee'\n"  # an earlier room's,
                                   "WORKSHOP_ROOM_PASSWORD='an-old-one'\n")  # readable by everyone
    (home / "room.env").chmod(0o644)

    no_password = cli(learner, "join", bare, "--as", "dee", *options)
    assert no_password.returncode == 2 and "password is missing" in no_password.stderr, no_password.stderr
    by_variable = cli({**learner, "WORKSHOP_ROOM_PASSWORD": password}, "join", bare, "--as", "dee", *options)
    assert by_variable.returncode == 0, by_variable.stdout + by_variable.stderr
    assert stat.S_IMODE((home / "room.env").stat().st_mode) == 0o600
    code, shown = at_a_terminal(learner, ["join", bare, "--as", "eve", *options], typed=password)
    assert code == 0 and "Joined the room" in shown and "as eve" in shown, shown
    assert password not in shown.split("password", 1)[1].split("Joined")[0], "the typed password was echoed"
    assert stat.S_IMODE((home / "room.env").stat().st_mode) == 0o600
    assert cli(learner, "leave").returncode == 0

    instructor = Path(env["WORKSHOP_HOME"])
    for secret in ("room.env", "room-password"):
        assert stat.S_IMODE((instructor / secret).stat().st_mode) == 0o600, secret
    assert stat.S_IMODE((instructor / "run").stat().st_mode) == 0o700
    assert {stat.S_IMODE(record.stat().st_mode) for record in (instructor / "run").glob("*.json")} == {0o600}


def test_a_learner_does_the_lab_in_the_room_with_their_own_names_and_the_board_hears_it(room, tmp_path):
    """Notebook 05 as a room's learner does it: the brief gives the room's server and the learner's prefix, the
    profile needs the room's password, the outage is theirs alone, and `check 05` reports to the board."""
    env, address, _ = room
    api, auth = room_api(room)
    joined = learner_env(room, tmp_path, "dee")
    folder = tmp_path / "dee-lab"
    terminal = term.terminal(joined, folder)
    brief = term.brief(terminal, folder)
    assert "workshop-dee-" in brief and auth[1] not in brief, brief  # the password is the learner's to type
    code, output, _ = term.check(terminal, folder)
    assert code == 1 and "does not set PREFECT_API_URL" in output, output

    url = term.point_profile(terminal, folder, brief, password=auth[1])
    names = lab.Names(term.write_files(folder, brief))
    server = term.Server(url, ":".join(auth), names.prefix)
    assert names.prefix == "workshop-dee-"
    serving = term.serve(terminal, folder)
    try:
        term.wait_for_step(server, 2)
        term.must(term.run(terminal, folder, "prefect", "deployment", "run", names.deployment(names.primary), "--watch"))
        term.must(term.run(terminal, folder, "python", "alert.py"))
        term.must(term.run(terminal, folder, "python", "-m", "workshop", "faults", "--outage"))
        try:
            term.must(term.run(terminal, folder, "prefect", "deployment", "run", names.deployment(names.primary)))
            # Both outcomes of the failure, before flows.py stops: the backup run must have run, not only started.
            term.wait_for_step(server, 5, timeout=180)
            term.wait_for_step(server, 6, timeout=180)
        finally:
            term.must(term.run(terminal, folder, "python", "-m", "workshop", "faults", "--no-outage"))
        backup = requests.get(f"{api}/deployments/name/{names.deployment(names.backup)}", auth=auth, timeout=30).json()
        made = requests.post(f"{api}/automations/", json=term.ui_automation(names.prefix, backup["id"]), auth=auth, timeout=30)
        assert made.ok, made.text
        term.must(term.run(terminal, folder, "prefect", "event", "emit", lab.STALE_EVENT, "--resource-id", names.source))
        term.wait_for_step(server, 8, timeout=180)
    finally:
        term.stop(serving)
    code, output, found = term.check(terminal, folder)
    assert code == 0 and all(found.values()), output

    # The alert landed in Dee's own channel of the room's inbox; the board counts the lab as notebook 05, passed.
    inbox = f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}"
    messages = requests.get(f"{inbox}/_workshop/messages", params={"channel": "/dee/lab"}, auth=auth, timeout=30).json()
    assert messages and all(names.primary in m["subject"] for m in messages), messages

    def passed() -> dict | None:
        board = requests.get(f"{inbox}/_workshop/board.json", auth=auth, timeout=30).json()
        dee = next((learner for learner in board["learners"] if learner["name"] == "dee"), None)
        return dee if dee and dee["notebooks"].get("05", {}).get("passed") else None

    wait_for(passed, timeout=60, what="the board to count Dee's lab", interval=2.0)
    reset = cli(joined, "reset", "--yes")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert names_on_server(room, "workshop-dee-") == {"automations": [], "blocks": [], "deployments": []}
    assert cli(joined, "down").returncode == 0 and cli(joined, "leave").returncode == 0


def test_the_rooms_database_stopped_under_a_running_room_is_said_by_every_status_and_every_call(room, tmp_path):
    env, _, _ = room
    api, auth = room_api(room)
    learner = learner_env(room, tmp_path, "fay")
    postgres.stop(postgres.room_folder(settings_module.Settings(home=Path(env["WORKSHOP_HOME"]))))
    try:
        status = cli(env, "classroom", "status")
        assert status.returncode == 1, status.stdout
        assert re.search(r"DOWN PostgreSQL \(the room's database\)", status.stdout), status.stdout
        assert re.search(r"DOWN Prefect server .*Database is not available", status.stdout), status.stdout
        theirs = cli(learner, "status")
        assert theirs.returncode == 1 and "Tell the instructor" in theirs.stdout, theirs.stdout
        started = cli(learner, "up")  # what workshop.start() does in their kernel
        assert started.returncode == 2 and "Database is not available" in started.stderr, started.stderr
        call = requests.post(f"{api}/flows/filter", json={}, auth=auth, timeout=60)  # one try, as a raw client makes
        assert call.status_code == 503 and "tell the instructor" in call.json()["detail"], call.text
    finally:
        up = cli(env, "classroom", "up", timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    assert requests.post(f"{api}/flows/filter", json={}, auth=auth, timeout=30).ok
    assert cli(env, "classroom", "status").returncode == 0
    assert cli(learner, "leave").returncode == 0
