"""A room under load: learners at once, each failing flows and waiting for their alert, in a process of their own.

    python benchmarks/room_load.py --measure-pace         # first: the notebooks' pace (about 6 minutes)
    python benchmarks/room_load.py                        # 10, 20, 40 learners; one server, then scaled
    python benchmarks/room_load.py --learners 10 --room scaled --pace storm
    python benchmarks/room_load.py --room scaled --learners 20 --pace notebook --fault api-process

The room is the course's own, `classroom up` on a PostgreSQL it starts: with one
Prefect server process (`single`), or in Prefect's scaled mode (`scaled`: Redis,
the API in `--api-workers` processes, the background services apart, in
`--services-workers` processes); `sqlite`
is the same services with the room's password on the course's SQLite, for
comparison. Each simulated learner has what notebooks 02 and 04 give a room's
learner, under their own names: a block that sends to their channel of the inbox
(`/<name>/alerts`), an automation that alerts on their failed runs, another that
starts their backup deployment (the failover; no process serves it here, so the
figure is the server's part: Failed -> backup run created), and their flows.
Each learner is a process of its own, as a learner's kernel is.

Two paces:
- storm: each learner fails a flow every second, 5 times (`--rounds`): a room's
  worst minute, everyone at the failure demo at once;
- notebook: each learner makes runs and events at the rate notebooks 02 and 03
  make them when every cell runs without a pause (`--measure-pace` measures it on
  a private course and writes benchmarks/notebook_pace.json): runs of a flow
  with as many tasks as the notebooks' runs have events, the notebooks' share of
  them failing, for `--minutes`. A person reading the notebook is slower: this
  is the notebooks' pace at its fastest.

Per load: alert latency (the Failed state's time on the server -> the inbox has
the message) p50/p95/max; failover latency p50/p95; errors (a run that broke
for another reason than its own failure, an alert or a backup run not seen
within 60 s); cross-deliveries (a message in one learner's channel about
another's run); the room's peak memory and CPU (the Prefect processes, Redis
and PostgreSQL), the CPU of its busiest process (one Python process does not
use more than one core), and the learners' CPU. The learners run on this
machine too, which a room's learners do on their own laptops: on 2 cores they
take CPU from the server, so these figures are a room's worst case. Written to
benchmarks/room_load.json.

`--fault` puts one of a scaled room's faults a third of the way into each load: an
API process killed (uvicorn starts another), or Prefect's services' process or Redis
stopped and started again 20 s later by `classroom up`; the errors and the alerts'
latency say what the learners saw.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import queue
import shutil
import signal
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from workshop.testing import isolation  # noqa: E402  (before Prefect is imported)

# Learners' flows fail on purpose, hundreds of times: their logs still go to the server (part of the load), not here.
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

WAIT = 60.0  # seconds an alert or a backup run may take before it counts as an error
LOADS = (10, 20, 40)
ROOMS = ("single", "scaled", "sqlite")
PACE_FILE = ROOT / "benchmarks" / "notebook_pace.json"
PACE_NOTEBOOKS = ("02", "03")
EVENTS_PER_RUN, EVENTS_PER_TASK = 3, 3  # a run's and a task run's own events: Pending, Running, then how it ended


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


@dataclass(frozen=True)
class Pace:
    """What a learner does: `steps` runs, one each `interval` seconds, `failing` of them (a share) failing on
    purpose, each with `tasks` task runs."""

    name: str
    steps: int
    interval: float
    failing: float
    tasks: int

    def fails(self, step: int) -> bool:
        """Spread the failing runs evenly: the first fails, then one whenever the share adds up to another."""
        return step == 0 or math.floor((step + 1) * self.failing) > math.floor(step * self.failing)

    @classmethod
    def storm(cls, rounds: int) -> Pace:
        return cls("storm", rounds, 1.0, 1.0, 0)

    @classmethod
    def notebooks(cls, minutes: float) -> Pace:
        if not PACE_FILE.is_file():
            sys.exit(f"{PACE_FILE.name} is missing: measure the notebooks' pace first, with --measure-pace")
        measured = json.loads(PACE_FILE.read_text())["learner"]
        per_minute = measured["runs per minute"]
        tasks = max(0, round((measured["events per run"] - EVENTS_PER_RUN) / EVENTS_PER_TASK))
        return cls("notebook", max(1, round(per_minute * minutes)), 60.0 / per_minute, measured["failed share"], tasks)


class Usage:
    """Peak resident memory and CPU time of some processes (children included), sampled; the busiest one's CPU."""

    def __init__(self, pids: list[int]):
        import psutil

        self.roots = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
        self.peak_mb, self._cpu = 0.0, {}  # pid -> (first, last) CPU seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for root in self.roots:
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue  # it ended
            for process in family:
                try:
                    total += process.memory_info().rss
                    times = process.cpu_times()
                except psutil.Error:
                    continue  # it ended between the listing and the reading
                used = times.user + times.system
                self._cpu[process.pid] = (self._cpu.get(process.pid, (used,))[0], used)
        self.peak_mb = max(self.peak_mb, total / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> Usage:
        self._sample()
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = time.monotonic() - self.started
        used = [last - first for first, last in self._cpu.values()]
        self.cores = sum(used) / self.seconds
        self.busiest = max(used, default=0.0) / self.seconds


class Learner:
    """One simulated learner: their block, automations, backup deployment and flows."""

    def __init__(self, name: str, pace: Pace):
        from prefect import flow, task

        from workshop import Inbox, settings

        self.name, self.prefix, self.pace = name, f"workshop-{name}-", pace
        self.inbox = Inbox(f"{settings.current().inbox_url}/{name}")

        @task
        def step(number: int) -> int:
            return number

        def run(fail: bool) -> None:
            for number in range(pace.tasks):
                step(number)
            if fail:
                raise RuntimeError("on purpose")

        self.flow = flow(name=f"{self.prefix}work", retries=0)(run)
        self.alerts: list[float] = []
        self.failovers: list[float] = []
        self.errors: list[str] = []
        self.run_ids: list[str] = []

    def set_up(self, client) -> None:
        import asyncio

        from prefect.automations import Automation, EventTrigger, Posture, RunDeployment, SendNotification

        block_id = asyncio.run(self.inbox.asave_block(f"{self.prefix}inbox", channel="alerts"))
        backup_flow = client.create_flow_from_name(f"{self.prefix}backup")
        self.backup_id = client.create_deployment(flow_id=backup_flow, name=f"{self.prefix}backup")

        def on_my_failures() -> EventTrigger:
            return EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                                match_related={"prefect.resource.role": "flow", "prefect.resource.name": f"{self.prefix}work"},
                                posture=Posture.Reactive, threshold=1, within=timedelta(0))

        Automation(name=f"{self.prefix}alert", trigger=on_my_failures(),
                   actions=[SendNotification(block_document_id=block_id, subject="{{ flow_run.id }}", body="failed")]).create()
        Automation(name=f"{self.prefix}failover", trigger=on_my_failures(),
                   actions=[RunDeployment(source="selected", deployment_id=self.backup_id)]).create()

    def work(self, client) -> None:
        began = time.monotonic()
        for number in range(self.pace.steps):
            time.sleep(max(0.0, began + number * self.pace.interval - time.monotonic()))  # the learner's own pace
            try:
                fails = self.pace.fails(number)
                mark = self.inbox.last_id()
                state = self.flow(fails, return_state=True)
                if state.is_failed() != fails:
                    self.errors.append(f"the run ended {state.name}")
                elif fails:
                    self._wait_for_alert_and_backup(client, state.state_details.flow_run_id, mark)
            except Exception as broke:  # counted: the figure is how often a room's server fails a learner
                self.errors.append(f"{type(broke).__name__}: {str(broke)[:200]}")

    def _wait_for_alert_and_backup(self, client, flow_run_id, mark: int) -> None:
        """What a learner's notebook does after a run fails: wait for the message about it (and here, the backup)."""
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        run = client.read_flow_run(flow_run_id)
        run_id, failed_at = str(run.id), run.state.timestamp
        self.run_ids.append(run_id)
        deadline = time.monotonic() + WAIT
        alert = backup = None
        while (alert is None or backup is None) and time.monotonic() < deadline:
            if alert is None:
                alert = next((m for m in self.inbox.messages(mark) if run_id in m.subject), None)
                if alert:
                    self.alerts.append((alert.received_at - failed_at).total_seconds())
            if backup is None:
                backups = client.read_flow_runs(
                    deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[self.backup_id])), limit=50)
                backup = next((b for b in backups if b.created and b.created > failed_at), None)
                if backup:
                    self.failovers.append((backup.created - failed_at).total_seconds())
            time.sleep(0.1)
        if alert is None or backup is None:
            self.errors.append(f"no {'alert' if alert is None else 'backup run'} within {WAIT:g} s")

    def report(self) -> dict:
        return {"name": self.name, "prefix": self.prefix, "alerts": self.alerts, "failovers": self.failovers,
                "errors": self.errors, "run_ids": self.run_ids}


def learner_process(name: str, pace: Pace, ready, go, reports) -> None:
    """A learner's kernel: set up, say so, wait for the room's start, work, report."""
    from prefect.client.orchestration import get_client

    learner = None
    try:
        learner = Learner(name, pace)
        with get_client(sync_client=True) as client:
            learner.set_up(client)
            ready.put(name)
            if go.wait(timeout=900):
                learner.work(client)
    except Exception as broke:
        ready.put(name)  # the others do not wait for one who broke
        if learner is None:
            reports.put({"name": name, "prefix": f"workshop-{name}-", "alerts": [], "failovers": [], "run_ids": [],
                         "errors": [f"{type(broke).__name__}: {str(broke)[:200]}"]})
            return
        learner.errors.append(f"{type(broke).__name__}: {str(broke)[:200]}")
    reports.put(learner.report())


def one_load(count: int, pace: Pace, room_pids: list[int], fault=None) -> dict:
    import requests
    from prefect.client.orchestration import get_client

    from workshop import settings

    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a kernel is
    ready, reports, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    tag = uuid.uuid4().hex[:4]
    names = [f"l{count}x{index}{tag}" for index in range(count)]
    learners = [spawn.Process(target=learner_process, args=(name, pace, ready, go, reports), daemon=True)
                for name in names]
    for learner in learners:
        learner.start()
    for _ in names:
        ready.get(timeout=900)  # every learner has set up: the measured part starts together
    time.sleep(2)  # the server's trigger service picks the new automations up
    took = pace.steps * (pace.interval + WAIT) + 120  # no learner waits longer than that
    with Usage(room_pids) as room, Usage([learner.pid for learner in learners]) as theirs:
        go.set()
        if fault is not None:  # a third of the way into the learners' work
            threading.Timer(pace.steps * pace.interval / 3, fault).start()
        got = []
        deadline = time.monotonic() + took
        while len(got) < count and time.monotonic() < deadline:
            try:
                got.append(reports.get(timeout=5))
            except queue.Empty:
                continue
    for learner in learners:
        learner.join(timeout=30)
        if learner.is_alive():
            learner.kill()
    missing = count - len(got)

    # Every message in a learner's channel is about one of that learner's runs.
    current = settings.current()
    everything = requests.get(f"{current.inbox_url}/_workshop/messages", auth=current.room_auth, timeout=30).json()
    owner_of = {run_id: report["name"] for report in got for run_id in report["run_ids"]}
    crossed = sum(1 for m in everything
                  if m["subject"] in owner_of and m["path"].split("/")[1] != owner_of[m["subject"]])

    with get_client(sync_client=True) as client:  # the next load starts with its own automations only
        prefixes = tuple(f"workshop-{name}-" for name in names)
        for automation in client.read_automations():
            if automation.name.startswith(prefixes):
                client.delete_automation(automation.id)

    alerts = [seconds for report in got for seconds in report["alerts"]]
    failovers = [seconds for report in got for seconds in report["failovers"]]
    errors = [error for report in got for error in report["errors"]] + [f"{missing} learners did not report"] * bool(missing)
    return {
        "learners": count, "pace": pace.name, "failures": sum(len(report["run_ids"]) for report in got),
        "runs": count * pace.steps,
        "alert p50 (s)": statistics.median(alerts) if alerts else float("nan"),
        "alert p95 (s)": percentile(alerts, 0.95), "alert max (s)": max(alerts, default=float("nan")),
        "failover p50 (s)": statistics.median(failovers) if failovers else float("nan"),
        "failover p95 (s)": percentile(failovers, 0.95),
        "errors": len(errors), "cross-deliveries": crossed,
        "room peak memory (MB)": room.peak_mb, "room CPU (cores)": room.cores,
        "busiest process CPU (cores)": room.busiest, "learners' CPU (cores)": theirs.cores,
        "seconds": room.seconds, "fault": getattr(fault, "__doc__", None), "first errors": sorted(set(errors))[:3],
    }


def _kill_an_api_process(current, scale: dict):
    def fault() -> None:
        """one API process killed (uvicorn starts another)"""
        from workshop.supervisor import process

        victim = process.spawned_workers(process.live_record(current.run_dir, "prefect"))[0]
        victim.kill()
        print(f"  killed API process {victim.pid}", file=sys.stderr, flush=True)
    return fault


def _stopped_for_a_while(name: str, title: str):
    def make(current, scale: dict):
        def fault() -> None:
            from workshop import settings
            from workshop.instructor import room
            from workshop.supervisor import process

            process.stop(process.live_record(current.run_dir, name), current.run_dir)
            print(f"  stopped {title}", file=sys.stderr, flush=True)
            time.sleep(20)
            room.host(settings.load(), address=None, new_password=False, **scale)
            print(f"  {title} started again", file=sys.stderr, flush=True)
        fault.__doc__ = f"{title} stopped, started again 20 s later by `classroom up`"
        return fault
    return make


FAULTS = {"api-process": _kill_an_api_process, "services": _stopped_for_a_while("prefect-services", "Prefect's services"),
          "redis": _stopped_for_a_while("redis", "Redis")}


def room_pids(current) -> list[int]:
    """The room's processes: the Prefect server (its API processes are its children), Redis and Prefect's services
    in a scaled room, and PostgreSQL."""
    from workshop.supervisor import course, postgres

    pids = [row.pid for row in course.status(current) if row.pid and row.name in ("prefect", "prefect-services", "redis")]
    pid_file = postgres.room_folder(current) / "postmaster.pid"
    if pid_file.is_file():
        pids.append(int(pid_file.read_text().split()[0]))
    return pids


def run_room(kind: str, loads: list[int], paces: list[Pace], scale: dict, fault: str | None, record) -> None:
    """Start a room of `kind` in a private course folder, put each load at each pace on it (with `fault` during
    each), `record` each load's row, stop the room. `scale`: a scaled room's processes, as `room.host` takes them."""
    from workshop import settings
    from workshop.instructor import room
    from workshop.prefect_client import use_prefect_server
    from workshop.supervisor import course, postgres

    label = {"single": "PostgreSQL, 1 server process", "scaled": f"PostgreSQL + Redis, {scale['api_workers']} API processes"
             + (f", {scale['services_workers']} of the services" if scale["services_workers"] > 1 else ""),
             "sqlite": "SQLite, 1 server process"}[kind]
    with isolation.isolated(prefix=f"workshop-room-{kind}-"):
        if kind == "sqlite":  # the room's services and password, on the course's SQLite
            os.environ["WORKSHOP_ROOM_PASSWORD"] = uuid.uuid4().hex
            current = settings.reload()
            course.up(current)
        else:
            current = room.host(settings.load(), address=None, new_password=False,
                                **(scale if kind == "scaled" else {}))
        use_prefect_server(current.course_prefect_api_url)
        try:
            for pace in paces:
                for count in loads:
                    print(f"{label}: {count} learners at the {pace.name}'s pace ...", file=sys.stderr, flush=True)
                    during = FAULTS[fault](current, scale) if fault else None
                    record({"room": label, **one_load(count, pace, room_pids(current), during)})
        finally:
            isolation.drain_prefect_clients()  # the room stops before the private course is left
            if kind != "sqlite":
                room.end(current)
                shutil.rmtree(postgres.room_folder(current), ignore_errors=True)


def measure_pace() -> dict:
    """Notebooks 02 and 03, solved, run without a pause on a private course: the runs and events they make a minute."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime
    from prefect.events.filters import EventFilter, EventOccurredFilter

    from workshop import settings
    from workshop.instructor.handouts import write_handouts
    from workshop.prefect_client import use_prefect_server
    from workshop.supervisor import course

    measured = {}
    with isolation.isolated(prefix="workshop-pace-"), tempfile.TemporaryDirectory() as folder:
        current = settings.load()
        course.up(current)  # the notebooks' own `workshop.start()` finds it running
        use_prefect_server(current.course_prefect_api_url)  # the counts are of that server
        write_handouts(Path(folder))
        for number in PACE_NOTEBOOKS:
            path = next((Path(folder) / "solved").glob(f"{number}_*.ipynb"))
            print(f"notebook {number} ...", file=sys.stderr, flush=True)
            began, clock = datetime.now(UTC), time.monotonic()
            notebook = nbformat.read(path, as_version=4)
            NotebookClient(notebook, timeout=900, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            minutes, ended = (time.monotonic() - clock) / 60, datetime.now(UTC)
            with get_client(sync_client=True) as client:
                ran = client.read_flow_runs(flow_run_filter=FlowRunFilter(
                    start_time=FlowRunFilterStartTime(after_=began, before_=ended)), limit=200)
                events = client.read_events(filter=EventFilter(
                    occurred=EventOccurredFilter(since=began, until=ended)), limit=1).total
            failed = sum(1 for run in ran if run.state and run.state.type.value in ("FAILED", "CRASHED"))
            measured[number] = {"minutes": round(minutes, 2), "runs": len(ran), "failed runs": failed, "events": events}
        isolation.drain_prefect_clients()
    minutes = sum(one["minutes"] for one in measured.values())
    runs = sum(one["runs"] for one in measured.values())
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(), "notebooks": measured,
        "learner": {"runs per minute": round(runs / minutes, 2),
                    "events per run": round(sum(one["events"] for one in measured.values()) / runs, 1),
                    "failed share": round(sum(one["failed runs"] for one in measured.values()) / runs, 3)},
    }


COLUMNS = ("room", "pace", "learners", "runs", "failures", "alert p50 (s)", "alert p95 (s)", "alert max (s)",
           "failover p50 (s)", "failover p95 (s)", "errors", "cross-deliveries", "room peak memory (MB)",
           "room CPU (cores)", "busiest process CPU (cores)", "learners' CPU (cores)")


def table(rows: list[dict]) -> str:
    def cell(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(row[column]) for column in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=list(LOADS))
    parser.add_argument("--room", choices=ROOMS, nargs="+", default=["single", "scaled"])
    parser.add_argument("--pace", choices=["notebook", "storm"], nargs="+", default=["notebook", "storm"])
    parser.add_argument("--rounds", type=int, default=5, help="failures per learner in the storm (default 5)")
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes at the notebooks' pace (default 3)")
    parser.add_argument("--api-workers", type=int, default=2, help="the scaled room's API processes (default 2)")
    parser.add_argument("--services-workers", type=int, default=1,
                        help="the scaled room's processes of Prefect's background services (default 1)")
    parser.add_argument("--fault", choices=sorted(FAULTS), help="a scaled room's fault, a third into each load")
    parser.add_argument("--measure-pace", action="store_true", help=f"measure the notebooks' pace into {PACE_FILE.name}")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "room_load.json")
    args = parser.parse_args()
    # A stopped run (kill, a CI's timeout) still ends its room: its finally blocks run, no PostgreSQL is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from workshop.supervisor import postgres, redis

    if args.measure_pace:
        pace = measure_pace()
        PACE_FILE.write_text(json.dumps(pace, indent=2) + "\n")
        print(json.dumps(pace, indent=2))
        return
    if {"single", "scaled"} & set(args.room) and postgres.binaries() is None:
        sys.exit(f"{postgres.INSTALL_HINT} Or measure SQLite alone: --room sqlite")
    if "scaled" in args.room:
        redis.require()
    paces = [Pace.notebooks(args.minutes) if name == "notebook" else Pace.storm(args.rounds) for name in args.pace]
    if args.fault and args.room != ["scaled"]:
        sys.exit("--fault is a scaled room's: give --room scaled")
    machine = {"cores": os.cpu_count(), "python": sys.version.split()[0],
               "when": datetime.now(UTC).isoformat(timespec="seconds")}
    rows: list[dict] = []

    def record(row: dict) -> None:  # each load as it ends: a long run stopped keeps what it measured
        rows.append(row)
        print(f"  {table(rows[-1:])}", file=sys.stderr, flush=True)
        args.output.write_text(json.dumps({"machine": machine, "paces": [asdict(pace) for pace in paces],
                                           "results": rows}, indent=2) + "\n")

    for kind in args.room:
        run_room(kind, args.learners, paces, {"api_workers": args.api_workers, "services_workers": args.services_workers},
                 args.fault, record)
    print(table(rows))
    for row in rows:
        if row["first errors"]:
            print(f"{row['room']}, {row['learners']} learners, {row['pace']}: {'; '.join(row['first errors'])}")
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
