"""A room under load: learners at once, each making a flow fail again and again and waiting for their alert.

    python benchmarks/room_load.py                        # 1, 5, 10, 20 learners; PostgreSQL, then SQLite
    python benchmarks/room_load.py --learners 10 --rounds 3 --database postgresql

The room is the course's own: `classroom up` on a PostgreSQL it starts (durable,
as for a workshop), and for comparison the same services with the room's password
on SQLite. Each simulated learner has what notebooks 02 and 04 give a room's
learner, under their own names: a block that sends to their channel of the inbox
(`/<name>/alerts`), an automation that alerts on their failed runs, another that
starts their backup deployment (the failover; no process serves it here, so the
figure is the server's part: Failed -> backup run created), and a flow
`workshop-<name>-fail` that fails on purpose. All learners run at once, one
thread each in this process, ROUNDS failures each, a second apart.

Per load: alert latency (the Failed state's time on the server -> the inbox has
the message) p50/p95/max; failover latency p50/p95; errors (a run that broke
for another reason than its own failure, an alert or a backup run not seen
within 60 s); cross-deliveries (a message in one learner's channel about
another's run); the Prefect server's peak memory and CPU (PostgreSQL's
processes included). Learners' flows run on this machine too, which a room's
learners do on their own laptops: on 2 cores they take CPU from the server,
so these figures are a room's worst case. Written to benchmarks/room_load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from workshop.testing import isolation  # noqa: E402  (before Prefect is imported)

# Learners' flows fail on purpose, hundreds of times: their logs still go to the server (part of the load), not here.
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

WAIT = 60.0  # seconds an alert or a backup run may take before it counts as an error
LOADS = (1, 5, 10, 20)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else float("nan")


class ServerUsage:
    """Peak resident memory and CPU time of the Prefect server and PostgreSQL (children included), sampled."""

    def __init__(self, pids: list[int]):
        import psutil

        self.roots = [psutil.Process(pid) for pid in pids]
        self.peak_mb, self._cpu = 0.0, {}  # pid -> (first, last) CPU seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for root in self.roots:
            for process in [root, *root.children(recursive=True)]:
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

    def __enter__(self) -> ServerUsage:
        self._sample()
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.seconds = time.monotonic() - self.started
        self.cpu_cores = sum(last - first for first, last in self._cpu.values()) / self.seconds


class Learner:
    """One simulated learner: their block, automations, backup deployment and failing flow."""

    def __init__(self, name: str):
        from prefect import flow

        from workshop import Inbox, settings

        self.name, self.prefix = name, f"workshop-{name}-"
        self.inbox = Inbox(f"{settings.current().inbox_url}/{name}")

        def fail() -> None:
            raise RuntimeError("on purpose")

        self.flow = flow(name=f"{self.prefix}fail", retries=0)(fail)
        self.alerts: list[float] = []
        self.failovers: list[float] = []
        self.errors: list[str] = []
        self.run_ids: set[str] = set()

    def set_up(self, client) -> None:
        from prefect.automations import Automation, EventTrigger, Posture, RunDeployment, SendNotification

        block_id = asyncio.run(self.inbox.asave_block(f"{self.prefix}inbox", channel="alerts"))
        backup_flow = client.create_flow_from_name(f"{self.prefix}backup")
        self.backup_id = client.create_deployment(flow_id=backup_flow, name=f"{self.prefix}backup")

        def on_my_failures(**kwargs) -> EventTrigger:
            return EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                                match_related={"prefect.resource.role": "flow", "prefect.resource.name": f"{self.prefix}fail"},
                                posture=Posture.Reactive, threshold=1, within=timedelta(0), **kwargs)

        Automation(name=f"{self.prefix}alert", trigger=on_my_failures(),
                   actions=[SendNotification(block_document_id=block_id, subject="{{ flow_run.id }}", body="failed")]).create()
        Automation(name=f"{self.prefix}failover", trigger=on_my_failures(),
                   actions=[RunDeployment(source="selected", deployment_id=self.backup_id)]).create()

    def work(self, rounds: int, client) -> None:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        for _ in range(rounds):
            try:
                mark = self.inbox.last_id()
                state = self.flow(return_state=True)
                if not state.is_failed():
                    self.errors.append(f"the run ended {state.name}, not Failed")
                    continue
                run = client.read_flow_run(state.state_details.flow_run_id)
                run_id, failed_at = str(run.id), run.state.timestamp
                self.run_ids.add(run_id)
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
            except Exception as broke:  # counted: the figure is how often a room's server fails a learner
                self.errors.append(f"{type(broke).__name__}: {str(broke)[:200]}")
            time.sleep(1.0)


def one_load(count: int, rounds: int, server_pids: list[int]) -> dict:
    from prefect.client.orchestration import get_client

    from workshop import settings

    tag = uuid.uuid4().hex[:4]
    learners = [Learner(f"l{count}x{index}{tag}") for index in range(count)]
    with get_client(sync_client=True) as client:
        for learner in learners:
            learner.set_up(client)
    time.sleep(2)  # the server's trigger service picks the new automations up

    def work(learner: Learner) -> None:
        with get_client(sync_client=True) as client:
            learner.work(rounds, client)

    threads = [threading.Thread(target=work, args=(learner,)) for learner in learners]
    with ServerUsage(server_pids) as usage:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=rounds * (2 * WAIT + 30))

    # Every message in a learner's channel is about one of that learner's runs.
    import requests

    current = settings.current()
    everything = requests.get(f"{current.inbox_url}/_workshop/messages", auth=current.room_auth, timeout=30).json()
    owner_of = {run_id: learner.name for learner in learners for run_id in learner.run_ids}
    crossed = sum(1 for m in everything
                  if m["subject"] in owner_of and m["path"].split("/")[1] != owner_of[m["subject"]])

    with get_client(sync_client=True) as client:  # the next load starts with its own automations only
        for automation in client.read_automations():
            if automation.name.startswith(tuple(learner.prefix for learner in learners)):
                client.delete_automation(automation.id)

    alerts = [seconds for learner in learners for seconds in learner.alerts]
    failovers = [seconds for learner in learners for seconds in learner.failovers]
    errors = [error for learner in learners for error in learner.errors]
    return {
        "learners": count, "failures": count * rounds,
        "alert p50 (s)": statistics.median(alerts) if alerts else float("nan"),
        "alert p95 (s)": percentile(alerts, 0.95), "alert max (s)": max(alerts, default=float("nan")),
        "failover p50 (s)": statistics.median(failovers) if failovers else float("nan"),
        "failover p95 (s)": percentile(failovers, 0.95),
        "errors": len(errors), "cross-deliveries": crossed,
        "server peak memory (MB)": usage.peak_mb, "server CPU (cores)": usage.cpu_cores,
        "first errors": sorted(set(errors))[:3],
    }


def run_room(database: str, loads: list[int], rounds: int) -> list[dict]:
    """Start a room on `database` in a private course folder, put each load on it, stop it."""
    import psutil

    from workshop import settings
    from workshop.instructor import room
    from workshop.supervisor import course, postgres

    with isolation.isolated(prefix=f"workshop-room-{database}-"):
        if database == "postgresql":
            current = room.host(settings.load(), address=None, new_password=False)
        else:  # the room's services and password, on the course's SQLite
            os.environ["WORKSHOP_ROOM_PASSWORD"] = uuid.uuid4().hex
            current = settings.reload()
            course.up(current)
        settings.use_prefect_server(current.course_prefect_api_url)
        try:
            prefect_pid = next(row.pid for row in course.status(current) if row.name == "prefect")
            pids = [prefect_pid]
            pid_file = postgres.room_folder(current) / "postmaster.pid"
            if database == "postgresql" and pid_file.is_file():
                pids.append(int(pid_file.read_text().split()[0]))
            results = []
            for count in loads:
                print(f"{database}: {count} learners x {rounds} failures ...", file=sys.stderr, flush=True)
                results.append({"database": database, **one_load(count, rounds, [p for p in pids if psutil.pid_exists(p)])})
            return results
        finally:
            isolation.drain_prefect_clients()  # the room stops before the private course is left
            if database == "postgresql":
                room.end(current)
                shutil.rmtree(postgres.room_folder(current), ignore_errors=True)


COLUMNS = ("database", "learners", "failures", "alert p50 (s)", "alert p95 (s)", "alert max (s)", "failover p50 (s)",
           "failover p95 (s)", "errors", "cross-deliveries", "server peak memory (MB)", "server CPU (cores)")


def table(rows: list[dict]) -> str:
    def cell(value) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(row[column]) for column in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, nargs="+", default=list(LOADS))
    parser.add_argument("--rounds", type=int, default=5, help="failures per learner (default 5)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], nargs="+", default=["postgresql", "sqlite"])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "room_load.json")
    args = parser.parse_args()
    from workshop.supervisor import postgres

    if "postgresql" in args.database and postgres.binaries() is None:
        sys.exit(f"{postgres.INSTALL_HINT} Or measure SQLite alone: --database sqlite")
    rows = [row for database in args.database for row in run_room(database, args.learners, args.rounds)]
    print(table(rows))
    for row in rows:
        if row["first errors"]:
            print(f"{row['database']}, {row['learners']} learners: {'; '.join(row['first errors'])}")
    args.output.write_text(json.dumps({"machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                                                   "when": datetime.now(UTC).isoformat(timespec="seconds")},
                                       "rounds": args.rounds, "results": rows}, indent=2))
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
