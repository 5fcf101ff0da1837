"""Measure what the course promises a user can feel. Prints a table, writes JSON.

    python benchmarks/run.py            # about 2 minutes
    python benchmarks/run.py --suite    # also time the fast tier and the whole test suite (about 25 minutes more)
    python benchmarks/run.py --postgres # also the server's figures on PostgreSQL (about 2 minutes more)

Everything runs against a private copy of the services (temporary folder, free
ports), never the one you use in JupyterLab. Figures are wall-clock seconds on
this machine (the median of 3 runs, 1 for the slow serial loop); they are
measurements, not pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))

from workshop.testing import isolation, postgres  # noqa: E402  (before Prefect is imported)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


class PeakMemory:
    """Samples the resident memory of each of the course's service processes (children included: the deployment
    runner's flow runs are its children), and of all of them at once."""

    def __init__(self):
        self.peak_mb, self.by_service, self._stop = 0.0, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        import workshop

        while not self._stop.wait(0.5):
            total = 0.0
            for row in workshop.status():
                if not row.pid:
                    continue
                try:
                    process = psutil.Process(row.pid)
                    megabytes = sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20
                except psutil.Error:  # it ended between the status and the reading
                    continue
                self.by_service[row.title] = max(self.by_service.get(row.title, 0.0), megabytes)
                total += megabytes
            self.peak_mb = max(self.peak_mb, total)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def service_start() -> dict:
    from workshop import settings
    from workshop.supervisor import course

    started = time.perf_counter()
    course.up(settings.load())
    cold = time.perf_counter() - started
    started = time.perf_counter()
    course.up(settings.load())
    warm = time.perf_counter() - started
    import workshop

    started = time.perf_counter()
    workshop.start()
    notebook_call = time.perf_counter() - started
    return {"cold start, new database (s)": cold, "warm start, all running (s)": warm,
            "workshop.start() when running (s)": notebook_call}


def throughput(n_users: int, latency: float, workers: int) -> dict:
    import requests
    from prefect import flow, task
    from prefect.task_runners import ThreadPoolTaskRunner

    import workshop
    from users_pipeline import users_pipeline

    mock = workshop.MockAPI()
    url = mock.primary_url

    @task
    def fetch(url: str):
        return requests.get(url).json()

    @task
    def clean(raw: dict):
        return raw.get("results")[0]["name"]

    @flow(name="workshop-benchmark-serial")
    def serial(count: int):
        return [clean(fetch(url)) for _ in range(count)]

    def thread_pool() -> list:
        with ThreadPoolExecutor(workers) as pool, requests.Session() as session:
            return list(pool.map(lambda page: session.get(url, params={"results": 1, "page": page, "seed": "b"}).json(),
                                 range(1, n_users + 1)))

    concurrent = users_pipeline.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
    variants = {
        "seed's serial loop (Prefect)": (lambda: serial(n_users), 1),
        f"course flow, {workers} concurrent tasks": (lambda: concurrent(n_users=n_users, page_size=1, name="benchmark"), 3),
        "course flow, one batched request": (lambda: users_pipeline(n_users=n_users, page_size=n_users, name="benchmark"), 3),
        f"ThreadPoolExecutor({workers}), no Prefect": (thread_pool, 3),
    }
    timings = {}
    mock.set_faults(latency=latency)
    try:
        # The serial loop last: its 400 task runs keep the server busy for a while afterwards.
        for name in [*list(variants)[1:], list(variants)[0]]:
            work, repeats = variants[name]
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                work()
                seconds.append(time.perf_counter() - started)
            timings[name] = statistics.median(seconds)
    finally:
        mock.clear_faults()
    timings = {name: timings[name] for name in variants}  # report in the order above
    floor = latency * math.ceil(n_users / workers)
    names = list(timings)
    return {
        "users": n_users, "latency (s)": latency, "workers": workers,
        "seconds": timings,
        "physical floor, latency x ceil(N / workers) (s)": floor,
        "speed-up of the concurrent flow over the serial loop": timings[names[0]] / timings[names[1]],
        "Prefect overhead: concurrent flow / thread pool": timings[names[1]] / timings[names[3]],
    }


def notification_latency(failures: int) -> dict:
    from prefect import flow
    from prefect.automations import Automation, EventTrigger, Posture, SendNotification

    from workshop import Inbox, runs

    inbox = Inbox()
    block_id = asyncio.run(inbox.asave_block("workshop-benchmark-inbox", channel="benchmark"))
    Automation(
        name="workshop-benchmark-alert",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                             match_related={"prefect.resource.role": "flow", "prefect.resource.name": "workshop-benchmark-fail"},
                             posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=[SendNotification(block_document_id=block_id, subject="{{ flow_run.id }}", body="failed")],
    ).create()

    @flow(name="workshop-benchmark-fail")
    def fail():
        raise RuntimeError("on purpose")

    latencies = []
    for _ in range(failures):
        mark = inbox.last_id()
        state = fail(return_state=True)
        run_id = runs.flow_run_id(state)
        message, _ = inbox.wait_for(str(run_id), after=mark, timeout=30)
        latencies.append((message.received_at - runs.flow_run(run_id).state.timestamp).total_seconds())
    return {"failures": failures, "p50 (s)": statistics.median(latencies), "p95 (s)": percentile(latencies, 0.95),
            "max (s)": max(latencies)}


def failover_latency(rounds: int) -> dict:
    from prefect.automations import Automation, EventTrigger, Posture, RunDeployment
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    import workshop
    from workshop import runs, serve_deployments, stop_serving

    serve_deployments(ROOT / "notebooks" / "failover_deployments.py")
    with get_client(sync_client=True) as client:
        primary = client.read_deployment_by_name("workshop-users-pipeline/workshop-primary")
        backup = client.read_deployment_by_name("workshop-users-pipeline/workshop-backup")
    Automation(
        name="workshop-benchmark-failover",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}, match={"prefect.resource.id": "prefect.flow-run.*"},
                             match_related={"prefect.resource.role": "deployment", "prefect.resource.id": f"prefect.deployment.{primary.id}"},
                             posture=Posture.Reactive, threshold=1, within=timedelta(0)),
        actions=[RunDeployment(source="selected", deployment_id=backup.id)],
    ).create()
    mock = workshop.MockAPI()
    started_after, completed_after = [], []
    try:
        for _ in range(rounds):
            before = datetime.now(UTC)
            mock.set_faults("primary", outage=True)
            primary_run = run_deployment("workshop-users-pipeline/workshop-primary", timeout=0, parameters={"n_users": 20})
            failed = runs.wait_for_flow_run(primary_run.id, timeout=90)
            backup_run = runs.wait_for_flow_run(runs.wait_for_deployment_run(backup.id, created_after=before).id, timeout=90)
            failed_at = failed.state.timestamp
            started_after.append((backup_run.start_time - failed_at).total_seconds())
            completed_after.append((backup_run.state.timestamp - failed_at).total_seconds())
            mock.clear_faults()
    finally:
        mock.clear_faults()
        stop_serving()
    return {"rounds": rounds, "backup started, median (s)": statistics.median(started_after),
            "backup completed, median (s)": statistics.median(completed_after), "backup completed, max (s)": max(completed_after)}


def suite(*options: str) -> dict:
    """The README's test command (with `options`, e.g. the fast tier's `-m "not slow"`): its wall time, its outcome,
    how busy the machine's cores were meanwhile (near 100 %: the suite waits on CPU, not on its clocks), the tests'
    time added up, and its ten slowest tests (from pytest's JUnit report)."""
    import tempfile
    from xml.etree import ElementTree

    import psutil

    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "junit.xml"
        started, before = time.perf_counter(), psutil.cpu_times()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", f"--junitxml={report}", *options], cwd=ROOT,
                                capture_output=True, text=True)
        wall, after = time.perf_counter() - started, psutil.cpu_times()
        cases = [(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}", float(case.get("time", 0)))
                 for case in ElementTree.parse(report).getroot().iter("testcase")] if report.exists() else []
    slowest = dict(sorted(cases, key=lambda case: -case[1])[:10])
    spent = {field: getattr(after, field) - getattr(before, field) for field in after._fields
             if not field.startswith("guest")}  # Linux counts guest time in user time already
    idle = spent["idle"] + spent.get("iowait", 0.0)
    return {"wall time (s)": wall, "passed": result.returncode == 0,
            "summary": result.stdout.strip().splitlines()[-1] if result.stdout else "",
            "cores busy meanwhile (%)": 100 * (1 - idle / sum(spent.values())),
            "tests' time added up (s)": sum(seconds for _, seconds in cases),
            "ten slowest tests (s)": slowest}


def show(results: dict) -> None:
    for section, figures in results.items():
        print(f"\n{section}")
        for name, value in figures.items():
            if isinstance(value, dict):
                print(f"  {name}")
                unit = "MB" if "(MB)" in name else "s"
                for inner, figure in value.items():
                    print(f"    {inner:<53} {figure:8.2f} {unit}")
            elif isinstance(value, float):
                print(f"  {name:<55} {value:8.2f}")
            else:
                print(f"  {name:<55} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", action="store_true", help="also time the whole test suite")
    parser.add_argument("--postgres", action="store_true",
                        help="also measure start, alert and failover with the server on a throwaway PostgreSQL")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args()
    results: dict = {"machine": {"python": sys.version.split()[0], "cores": os.cpu_count(),
                                 "when": datetime.now(UTC).isoformat(timespec="seconds")}}
    with isolation.isolated(prefix="workshop-bench-"):
        results["service start"] = service_start()
        with PeakMemory() as memory:
            results["data flow throughput"] = throughput(n_users=200, latency=0.05, workers=16)
            results["notification latency: flow failure -> inbox"] = notification_latency(failures=20)
            results["failover latency: primary failure -> backup"] = failover_latency(rounds=3)
        results["service memory"] = {"peak resident memory of the services (MB)": memory.peak_mb,
                                     "peak of each (MB)": memory.by_service}
    if args.postgres:
        with postgres.cluster() as url, isolation.isolated(prefix="workshop-bench-pg-"):
            os.environ["WORKSHOP_DATABASE_URL"] = url
            results["on PostgreSQL: service start"] = service_start()
            results["on PostgreSQL: notification latency"] = notification_latency(failures=20)
            results["on PostgreSQL: failover latency"] = failover_latency(rounds=3)
    if args.suite:
        results["test suite: fast tier (-m 'not slow')"] = suite("-m", "not slow")
        results["test suite: all of it"] = suite()
    show(results)
    args.output.write_text(json.dumps(results, indent=2))
    print(f"\nWritten to {args.output}")


if __name__ == "__main__":
    main()
