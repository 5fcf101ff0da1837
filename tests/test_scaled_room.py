"""A room in Prefect's scaled mode, `classroom up --api-workers 2`: the room's PostgreSQL and a Redis, the API in two
processes, Prefect's background services in one more. Learners run notebooks in it as in a room of one server
process, and it rides out the faults of a machine at work: an API process that dies, Redis or the services' process
stopped and started again."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import requests

from workshop.supervisor import postgres, process, redis
from workshop.waiting import wait_for

from .course_folders import at_once, cli, learner_env, open_room, room_api
from .notebooks import NOTEBOOKS, assert_checks_ran, run_notebook

pytestmark = [pytest.mark.skipif(postgres.binaries() is None, reason=postgres.INSTALL_HINT),
              pytest.mark.skipif(redis.binary() is None, reason=redis.INSTALL_HINT),
              pytest.mark.xdist_group("scaled-room")]  # one room for the module's tests

WORKERS = 2
# A learner's flow that fails on purpose, whose alert their notebook 02 automation sends; prints the run's id.
FAIL = """
import workshop
from prefect import flow
from workshop import runs

course = workshop.start()


@flow(name=f"{course.prefix}fault-probe")
def probe():
    raise RuntimeError("a failure on purpose")


print(runs.flow_run_id(probe(return_state=True)), flush=True)
"""


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    with open_room(tmp_path_factory.mktemp("instructor"), "--api-workers", str(WORKERS), timeout=600) as opened:
        yield opened


PLANS = {"ann": "02", "bob": "03"}  # notebook 02 (alerts) beside 03 (deployments, an event-driven redeploy)


@pytest.fixture(scope="module")
def learners(room, tmp_path_factory, handouts) -> dict[str, dict[str, str]]:
    """Ann and Bob, each running a notebook solved at the same time in the room; their environments. The notebook
    pauses its automations at its end: Ann's failure alert is resumed, as a learner would, for the faults below."""
    folder = tmp_path_factory.mktemp("learners")
    envs = {name: learner_env(room, folder, name) for name in PLANS}

    def learn(name: str) -> None:
        shutil.copytree(handouts / "solved", folder / name / "solved")
        printed = run_notebook(folder / name / "solved" / NOTEBOOKS[PLANS[name]], env=envs[name], timeout=900)
        assert_checks_ran(NOTEBOOKS[PLANS[name]], "solved", printed)

    at_once({name: functools.partial(learn, name) for name in PLANS}, timeout=1500)
    assert cli(envs["bob"], "down").returncode == 0  # his deployment runner
    api, auth = room_api(room)
    alert = requests.post(f"{api}/automations/filter", auth=auth, timeout=30, json={
        "automations": {"name": {"any_": ["workshop-ann-alert-on-failure"]}}}).json()
    assert len(alert) == 1, alert
    resumed = requests.patch(f"{api}/automations/{alert[0]['id']}", json={"enabled": True}, auth=auth, timeout=30)
    assert resumed.status_code == 204, resumed.text
    return envs


@pytest.fixture(scope="module")
def ann(learners) -> dict[str, str]:
    """A learner who ran notebook 02 solved in the room: her failure alert is saved and on, her inbox channel works."""
    return learners["ann"]


def instructor_record(room, name: str) -> process.ProcessRecord:
    env, _, _ = room
    record = process.live_record(Path(env["WORKSHOP_HOME"]) / "run", name)
    assert record is not None, f"no {name} runs"
    return record


def api_workers(room) -> list[psutil.Process]:
    """The API's worker processes (uvicorn's supervisor starts them, the record names the supervisor)."""
    return process.spawned_workers(instructor_record(room, "prefect"))


def fail_a_run(env: dict[str, str], folder: Path) -> str:
    done = subprocess.run([sys.executable, "-c", FAIL], env=env, cwd=folder, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def alerts_about(room, run_ids: set[str]) -> set[str]:
    """Which of `run_ids` have an alert in ann's inbox channel."""
    env, _, _ = room
    _, auth = room_api(room)
    messages = requests.get(f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/messages", auth=auth,
                            timeout=30).json()
    bodies = [m["body"] for m in messages if m["path"].startswith("/ann/")]
    return {run_id for run_id in run_ids if any(run_id in body for body in bodies)}


def events_of(room, run_id: str) -> list[str]:
    """The names of the events the room's server stored about a run."""
    api, auth = room_api(room)
    found = requests.post(f"{api}/events/filter", auth=auth, timeout=30, json={
        "filter": {"any_resource": {"id": [f"prefect.flow-run.{run_id}"]}}, "limit": 50}).json()
    return [event["event"] for event in found.get("events", [])]


def test_every_piece_of_the_scaled_room_is_up_and_said_so(room):
    env, _, _ = room
    shown = cli(env, "classroom", "status")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for title in ("Redis (the room's broker)", f"API in {WORKERS} processes", "Prefect server's background services",
                  "PostgreSQL (the room's database)", "notification inbox", "mock randomuser API"):
        assert any(line.startswith("OK ") and title in line for line in shown.stdout.splitlines()), (title, shown.stdout)
    assert len(api_workers(room)) == WORKERS
    rows = json.loads(cli(env, "status", "--json").stdout)
    assert {row["name"] for row in rows} >= {"redis", "prefect", "prefect-services"} and all(row["ok"] for row in rows)


def test_learners_run_notebooks_at_once_and_each_hears_only_of_their_own(room, learners):
    """The notebooks' events cross processes through Redis, and each alert reaches its own learner."""
    env, _, _ = room
    _, auth = room_api(room)
    messages = requests.get(f"http://127.0.0.1:{env['WORKSHOP_INBOX_PORT']}/_workshop/messages", auth=auth,
                            timeout=30).json()
    for name in learners:
        assert any(message["path"].startswith(f"/{name}/") for message in messages), f"{name} heard nothing"
    for message in messages:
        owner = message["path"].split("/")[1]
        strangers = [name for name in learners if name != owner and f"workshop-{name}-" in message["body"]]
        assert not strangers, f"{message['path']} got a message about {strangers}: {message['body'][:300]}"


def test_an_api_process_that_dies_is_replaced_and_the_learners_work_goes_on(room, ann, tmp_path):
    """One of the API's processes is killed while a learner fails runs: the other answers meanwhile, uvicorn starts
    a new one, and every run's alert arrives."""
    runs: set[str] = set()
    errors: list[str] = []

    def learner_at_work() -> None:
        for _ in range(6):
            try:
                runs.add(fail_a_run(ann, tmp_path))
            except AssertionError as failed:
                errors.append(str(failed)[-2000:])

    working = threading.Thread(target=learner_at_work)
    working.start()
    wait_for(lambda: runs or errors, timeout=300, what="the learner's first failed run")  # then into the next ones
    before = api_workers(room)
    before[0].kill()
    working.join(timeout=600)
    assert not errors, "\n\n".join(errors)
    wait_for(lambda: len(api_workers(room)) == WORKERS and before[0].pid not in {p.pid for p in api_workers(room)},
             timeout=60, what="uvicorn to start a new API process")
    try:
        wait_for(lambda: alerts_about(room, runs) == runs, timeout=60, what="every run's alert")
    except AssertionError:
        raise
    except Exception:
        missing = runs - alerts_about(room, runs)
        raise AssertionError(f"no alert for {len(missing)} of {len(runs)} runs; what the server knows of them: "
                             f"{ {run_id: events_of(room, run_id) for run_id in missing} }") from None


@pytest.mark.parametrize("name", [redis.NAME, "prefect-services"])
def test_redis_or_the_services_stopped_and_started_again(room, ann, tmp_path, name):
    """Redis, or the process of Prefect's background services, stops while a learner works, and `classroom up`
    starts it again. Without the services, runs go on and their alerts arrive once the services are back; without
    Redis, the learner's calls fail (HTTP 500) until it is back. After the restart, alerts arrive again."""
    env, _, _ = room
    process.stop(instructor_record(room, name), Path(env["WORKSHOP_HOME"]) / "run")
    if name == redis.NAME:
        # Measured (Prefect 3.9.1, prefect-redis 0.3.0): without Redis the API answers 500 to what publishes an
        # event, a new flow run included; the learner's cell fails and works again once Redis is back.
        with pytest.raises(AssertionError, match="500 Internal Server Error"):
            fail_a_run(ann, tmp_path)
        failed_meanwhile = None
    else:
        failed_meanwhile = fail_a_run(ann, tmp_path)
    again = cli(env, "classroom", "up", "--api-workers", str(WORKERS), timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    after = fail_a_run(ann, tmp_path)
    wait_for(lambda: after in alerts_about(room, {after}), timeout=60, what="the alert of a run failed after the restart")
    if failed_meanwhile is not None:  # the services' process was stopped: the event waited in Redis for it
        wait_for(lambda: failed_meanwhile in alerts_about(room, {failed_meanwhile}), timeout=60,
                 what=f"the alert of the run that failed while {name} was stopped")


def test_the_api_processes_answer_a_burst_and_refuse_other_names_and_origins(room):
    """Two hundred calls at once spread over the API's processes: every one answered, none with a server error; a
    page of another origin, or of a rebound name, changes nothing (each process has the course's guard)."""
    api, auth = room_api(room)
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = Counter(pool.map(lambda _: requests.post(f"{api}/flows/filter", json={"limit": 1}, auth=auth,
                                                         timeout=120).status_code, range(200)))
    assert codes == {200: 200}, codes
    stranger = {"Origin": "http://127.0.0.1:9"}
    for _ in range(2 * WORKERS):  # each process in turn, as uvicorn hands out connections
        assert requests.post(f"{api}/flows/", json={"name": "workshop-planted"}, auth=auth, headers=stranger,
                             timeout=30).status_code == 403
        port = api.split(":")[2].split("/")[0]
        rebound = requests.get(f"{api}/health", headers={"Host": f"evil.example:{port}"}, timeout=30)
        assert rebound.status_code == 421, rebound.text
    found = requests.post(f"{api}/flows/filter", json={"flows": {"name": {"any_": ["workshop-planted"]}}}, auth=auth,
                          timeout=30).json()
    assert found == []


def test_the_services_health_endpoint_answers_its_one_question_and_refuses_the_rest(room):
    env, _, _ = room
    health = f"http://127.0.0.1:{env['WORKSHOP_SERVICES_PORT']}/_workshop/health"
    assert requests.get(health, timeout=30).json()["running"]
    assert requests.post(health, json={"stop": True}, timeout=30).status_code == 405
    assert requests.get(health.replace("/health", "/messages"), timeout=30).status_code == 404
    assert requests.get(health, timeout=30).ok  # still up
