"""A room, as an instructor and learners use it: `classroom up` on PostgreSQL, learners `join` with the printed
line, run every notebook at the same time in their own kernels, and see only their own alerts and backups.

The learners run notebooks 02, 03 and 04 as shipped and as solved, and again after themselves, so on a machine
with PostgreSQL this test is also the suite's run of those three (`test_notebooks` runs 00 and 01 on a laptop's
course too)."""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import WorkshopTimeout
from workshop.supervisor import postgres
from workshop.waiting import wait_for

from .notebooks import assert_checks_ran, run_notebook
from .test_real_use import ROOT, cli, ports_free, private_course

pytestmark = [pytest.mark.skipif(postgres.binaries() is None, reason=postgres.INSTALL_HINT),
              pytest.mark.xdist_group("classroom")]  # one room for the module's tests
# What each learner runs, in order: (notebook, handout). Every notebook in a room; 02, 03 and 04 as shipped and
# as solved, each twice by one learner (a re-run must leave one of each automation), 03 by two (their backups).
PLANS = {
    "ann": [("02", "learner"), ("02", "solved"), ("04", "learner"), ("04", "solved")],
    "bob": [("03", "learner"), ("03", "solved"), ("01", "solved")],
    "cy": [("00", "solved"), ("02", "learner"), ("03", "solved")],
}
LEARNERS = tuple(PLANS)
NOTEBOOKS = {path.name[:2]: path.name for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
# Those run here as shipped and as solved: test_notebooks leaves them to this test where PostgreSQL is installed.
ROOM_NOTEBOOKS = {NOTEBOOKS[number] for number in NOTEBOOKS
                  if {(number, "learner"), (number, "solved")} <= {step for plan in PLANS.values() for step in plan}}


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """The instructor's course folder with a room up; yields (environment, join line)."""
    env = private_course(tmp_path_factory.mktemp("instructor"))
    home = Path(env["WORKSHOP_HOME"])
    try:
        up = cli(env, "classroom", "up", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        line = re.search(r"python -m workshop join (\S+) --as YOUR_NAME(.*)", up.stdout)
        assert line, up.stdout
        yield env, line.group(1), line.group(2).split()
    finally:
        down = cli(env, "classroom", "down", timeout=120)
        shutil.rmtree(postgres.room_folder(settings_module.Settings(home=home)), ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert ports_free(env) and not (home / "room.env").exists()


def learner_folder(tmp_path: Path, name: str) -> dict[str, str]:
    """A learner's own course folder; the room's ports come from the join line, not from this test's course."""
    return {key: value for key, value in private_course(tmp_path / name).items()
            if key not in ("WORKSHOP_PREFECT_PORT", "WORKSHOP_MOCK_PORT", "WORKSHOP_INBOX_PORT")}


def learner_env(room, tmp_path: Path, name: str) -> dict[str, str]:
    """A learner who joined the room with the instructor's line."""
    _, address, options = room
    learner = learner_folder(tmp_path, name)
    joined = cli(learner, "join", address, "--as", name, *options)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    return learner


def room_api(room) -> tuple[str, tuple[str, str]]:
    env, address, _ = room
    password = re.search(r"://workshop:([^@]+)@", address).group(1)
    return f"http://127.0.0.1:{env['WORKSHOP_PREFECT_PORT']}/api", ("workshop", password)


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
    ran = {(name, number) for name, plan in PLANS.items() for number, _ in plan}

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


def test_three_learners_run_the_notebooks_at_once_and_each_sees_only_their_own(room, handouts, tmp_path):
    learners = {name: learner_env(room, tmp_path, name) for name in LEARNERS}
    status = cli(learners["ann"], "status")
    assert status.returncode == 0 and "/ann/" in status.stdout, status.stdout

    results: dict[str, str | BaseException] = {}

    def learn(name: str) -> None:
        try:
            for number, handout in PLANS[name]:
                folder = tmp_path / name / handout
                if not folder.exists():
                    shutil.copytree(handouts / handout, folder)
                printed = run_notebook(folder / NOTEBOOKS[number], env=learners[name], timeout=900)
                assert_checks_ran(NOTEBOOKS[number], handout, printed)
            results[name] = "ran"
        except BaseException as failed:  # reported below, per learner
            results[name] = failed

    threads = [threading.Thread(target=learn, args=(name,)) for name in LEARNERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=1800)
    failed = {name: str(result)[:4000] for name, result in results.items() if isinstance(result, BaseException)}
    assert not failed and len(results) == len(LEARNERS), "\n\n".join(f"{name}: {error}" for name, error in failed.items())

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
    for name in [name for name, plan in PLANS.items() if any(number in ("03", "04") for number, _ in plan)]:
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
    assert notebooks.keys() == {"00", "01", "02", "03", "04"} and all(notebooks.values()), notebooks
    for learner in board["learners"]:
        last_handout = dict(PLANS[learner["name"]])  # notebook -> the handout it ran last
        assert learner["notebooks"].keys() == last_handout.keys(), learner
        for number, handout in last_handout.items():
            tally = learner["notebooks"][number]
            done = tally["passed"] == notebooks[number] if handout == "solved" else (
                0 < tally["passed"] and tally["passed"] + tally["not-attempted"] == notebooks[number])
            assert tally["failed"] == 0 and done, (learner["name"], number, tally, unreported(room, learner["name"], number))
        assert learner["last"]["notebook"] == PLANS[learner["name"]][-1][0], learner["last"]

    # Ann starts over: her objects and messages go, Bob's and Cy's stay.
    before = {name: names_on_server(room, f"workshop-{name}-") for name in LEARNERS}
    assert all(before[name]["automations"] and before[name]["blocks"] for name in LEARNERS), before
    assert before["bob"]["deployments"] and before["cy"]["deployments"], before
    reset = cli(learners["ann"], "reset", "--yes")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert names_on_server(room, "workshop-ann-") == {"automations": [], "blocks": [], "deployments": []}
    for name in ("bob", "cy"):
        assert names_on_server(room, f"workshop-{name}-") == before[name]
    left = requests.get(f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/messages", auth=auth, timeout=30).json()
    assert not [m for m in left if m["path"].startswith("/ann/")]
    assert [m for m in left if m["path"].startswith("/bob/")]

    for learner in learners.values():
        assert cli(learner, "down").returncode == 0  # each learner's deployment runner
        left_room = cli(learner, "leave")
        assert left_room.returncode == 0 and not (Path(learner["WORKSHOP_HOME"]) / "room.env").exists()
