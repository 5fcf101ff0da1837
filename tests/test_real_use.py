"""The paths people take, not only the harness's: `lab` then `down`, a kernel that started the services,
two terminals at once, `reset` from a script, the instructor's commands."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

from workshop import settings as settings_module
from workshop.supervisor import process
from workshop.testing.isolation import free_port
from workshop.waiting import wait_for

from .course_folders import ROOT, cli, ports_free, private_course
from .notebooks import notebook_client


def course_processes(env: dict[str, str]) -> list[str]:
    """Every live process that runs one of this course folder's servers (they read their folder from WORKSHOP_HOME)."""
    found = []
    for candidate in psutil.process_iter(["pid", "cmdline", "status"]):
        line = candidate.info["cmdline"] or []
        if not any(part.startswith("workshop.servers.") for part in line):
            continue
        with contextlib.suppress(psutil.Error):
            if candidate.environ().get("WORKSHOP_HOME") == env["WORKSHOP_HOME"]:
                found.append(f"{candidate.info['pid']} {candidate.info['status']} {' '.join(line)}")
    return found


def service_pids(env: dict[str, str]) -> list[int]:
    run_dir = Path(env["WORKSHOP_HOME"]) / "run"
    return [record.pid for name in ("prefect", "mock-api", "inbox") if (record := process.live_record(run_dir, name))]


@pytest.mark.slow
def test_down_after_lab_stops_everything_in_one_call(tmp_path):
    """`lab` starts the services and then *becomes* JupyterLab, which lives on and never reaps children."""
    env = private_course(
        tmp_path, BROWSER="true",  # JupyterLab's "open a browser" runs `true`
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
    )
    log = open(tmp_path / "lab.log", "w")
    lab = subprocess.Popen([sys.executable, "-m", "workshop", "lab"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(service_pids(env)) == 3 and "Jupyter Server" in (tmp_path / "lab.log").read_text(),
                 timeout=150, what="lab to start the services and JupyterLab")
        lab_process = psutil.Process(lab.pid)
        assert not set(service_pids(env)) & {child.pid for child in lab_process.children(recursive=True)}, (
            "the services must not be JupyterLab's children"
        )
        down = cli(env, "down", timeout=15)
        assert down.returncode == 0, down.stdout + down.stderr
        assert down.stdout.count("Stopped the") == 3
        assert ports_free(env) and not course_processes(env)
        assert not [child for child in lab_process.children() if child.status() == psutil.STATUS_ZOMBIE]
        assert lab.poll() is None  # JupyterLab itself was not touched
    finally:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()
        cli(env, "down", timeout=30)


def test_down_after_a_long_lived_process_started_the_services(tmp_path, course):
    """A kernel that called `workshop.start()` stays alive; `down` from a terminal stops everything at once."""
    env = private_course(tmp_path, PREFECT_API_URL=course.prefect_api_url)
    kernel_like = subprocess.Popen(
        [sys.executable, "-c", "import time, workshop\nworkshop.start()\nprint('started', flush=True)\ntime.sleep(120)"],
        env=env, cwd=ROOT / "notebooks", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for(lambda: "started" in kernel_like.stdout.readline(), timeout=60, what="the services to start")
        pids = service_pids(env)
        assert len(pids) == 2 and all(psutil.Process(pid).ppid() != kernel_like.pid for pid in pids)
        down = cli(env, "down", timeout=15)
        assert down.returncode == 0 and down.stdout.count("Stopped the") == 2, down.stdout + down.stderr
        assert ports_free(env) and not course_processes(env)
        assert kernel_like.poll() is None
    finally:
        kernel_like.kill()
        kernel_like.wait()
        cli(env, "down", timeout=30)


def test_two_terminals_starting_at_once_leave_one_tracked_copy_of_each(tmp_path, course):
    """A terminal's `up` with a recording and a kernel's `start()` without one, at the same moment."""
    fixture = str(ROOT / "tests" / "fixtures" / "randomuser_sample.json")
    env = private_course(tmp_path, PREFECT_API_URL=course.prefect_api_url)
    starters = [
        subprocess.Popen([sys.executable, "-m", "workshop", "up"], env={**env, "WORKSHOP_MOCK_FIXTURE": fixture}, cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
        subprocess.Popen([sys.executable, "-c", "import workshop; workshop.start()"], env=env, cwd=ROOT / "notebooks",
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
    ]
    try:
        for starter in starters:
            assert starter.wait(timeout=120) == 0, starter.stderr.read()
        running = course_processes(env)
        assert len(running) == 2, running  # one mock and one inbox, however the two starts interleaved
        assert sorted(int(line.split()[0]) for line in running) == sorted(service_pids(env))  # and both tracked
        status = cli(env, "status")
        assert status.returncode == 0, status.stdout
    finally:
        down = cli(env, "down", timeout=30)
    assert down.returncode == 0 and not course_processes(env)


def test_reset_from_a_script_refuses_without_yes_and_works_with_it(course):
    from prefect.automations import Automation, EventTrigger
    from prefect.events.actions import DoNothing

    trigger = EventTrigger(expect={"workshop.test.never"}, posture="Reactive", threshold=1)
    Automation(name="workshop-test-reset-script", trigger=trigger, actions=[DoNothing()]).create()
    refused = cli(dict(os.environ), "reset")
    assert refused.returncode == 2 and "--yes" in refused.stderr and "Traceback" not in refused.stderr
    import asyncio

    from workshop.notebook.automations import automations_named

    assert asyncio.run(automations_named("workshop-test-reset-script"))  # nothing was deleted
    done = cli(dict(os.environ), "reset", "--yes")
    assert done.returncode == 0 and "workshop-test-reset-script" in done.stdout, done.stdout + done.stderr
    assert not asyncio.run(automations_named("workshop-test-reset-script"))


@pytest.mark.slow
def test_handouts_from_the_command_line(tmp_path):
    result = cli(dict(os.environ), "handouts", str(tmp_path))
    assert result.returncode == 0, result.stderr
    shipped = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert f"learner  {shipped} notebooks" in result.stdout and f"solved   {shipped} notebooks" in result.stdout
    assert (tmp_path / "solved" / "users_pipeline.py").exists()


@pytest.mark.parametrize("service, options, health", [
    ("inbox", ["--database", "{tmp}/inbox.sqlite3"], "workshop-inbox"),
    ("mock-api", ["--fixture", "tests/fixtures/randomuser_sample.json"], "workshop-mock-api"),
])
def test_serve_runs_a_server_in_the_foreground_until_stopped(tmp_path, service, options, health):
    port = free_port()
    command = [sys.executable, "-m", "workshop", "serve", service, "--port", str(port),
               *[option.format(tmp=tmp_path) for option in options]]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def answers():
            try:
                return requests.get(f"http://127.0.0.1:{port}/_workshop/health", timeout=1).json()
            except requests.ConnectionError:
                return None

        assert wait_for(answers, timeout=30, what=f"{service} to answer")["service"] == health
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
    assert f"127.0.0.1:{port}" in server.stdout.read()


def kernel_outputs(*cells: str) -> list[list[dict]]:
    """Run each cell in a fresh kernel, as a learner would one after the other; the outputs of each."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(textwrap.dedent(cell)) for cell in cells])
    notebook_client(notebook, timeout=60, allow_errors=True).execute()
    return [cell.outputs for cell in notebook.cells]


def shown(outputs: list[dict]) -> str:
    return "\n".join("\n".join(o.get("traceback", [])) + o.get("text", "") + str(o.get("data", {})) for o in outputs)


@pytest.mark.slow
def test_a_kernel_shows_course_errors_and_exercise_feedback_as_messages_only():
    """A course error, a wrong answer, a learner's function that raises: one clear message each, no course frames."""
    service, wrong, raising, blank = kernel_outputs(
        """
        from workshop import Inbox
        Inbox("http://127.0.0.1:9/").messages()
        """,
        """
        from workshop.exercises import ____, ex01 as ex
        ex.is_retryable_status.check(lambda status_code: status_code >= 400)
        """,
        """
        def is_retryable_status(status_code):
            return {429: True}[status_code]
        ex.is_retryable_status.check(is_retryable_status)
        """,
        """
        ex.is_retryable_status.check(____)
        """,
    )
    text = shown(service)
    assert "ServiceError" in text and "is not answering" in text and "workshop.start()" in text
    assert "client.py" not in text and "raise ServiceError" not in text, text
    text = shown(wrong)
    assert "✗ Not quite: [400, 401, 403, 404, 422] would be retried" in text
    assert "raise CheckFailed" not in text and "exercises/__init__.py" not in text, text
    text = shown(raising)
    assert "your function raised KeyError(200) when called with status_code=200" in text
    assert "Traceback" not in text, text
    assert [o.get("output_type") for o in blank] == ["stream"]  # "Not attempted yet", and no echoed value under it
    assert "Not attempted yet" in shown(blank)


def test_settings_are_read_by_one_module_and_written_by_one():
    """`os.environ` is read in the settings module, which never writes it; it is written where this process's
    Prefect is pointed at a server, and by the tests' private course."""
    package = ROOT / "src" / "workshop"
    users = sorted(str(path.relative_to(package)) for path in package.rglob("*.py") if "os.environ" in path.read_text())
    assert users == ["prefect_client.py", "settings.py", "testing/isolation.py"], users
    writes = re.compile(r"os\.environ(\[[^\]]+\]\s*=[^=]|\.(setdefault|update|pop|clear)\()")
    assert not writes.search((package / "settings.py").read_text())
    assert settings_module.environment_for_child(settings_module.load())["WORKSHOP_HOME"]
