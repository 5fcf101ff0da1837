"""Starting, finding and stopping the services; what the learner sees when something is wrong."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import PortBusy, SettingsError
from workshop.supervisor import course as supervisor
from workshop.supervisor import process, specs
from workshop.supervisor.prefect_server import local_spec
from workshop.supervisor.service import State, check, ensure, plan
from workshop.testing import isolation

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "randomuser_sample.json"


def run_cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=180, cwd=cwd,
        stdin=subprocess.DEVNULL, env={**os.environ, **env},
    )


class NotFound(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def own_home(monkeypatch, tmp_path, free_port, course):
    """A second course folder on its own ports, sharing the session's Prefect server (so nothing waits 15 s for one)."""
    from workshop.testing.isolation import free_port as another_port

    values = {
        "WORKSHOP_HOME": str(tmp_path / "course"), "WORKSHOP_MOCK_PORT": str(free_port),
        "WORKSHOP_INBOX_PORT": str(another_port()), "WORKSHOP_RUNNER_PORT": str(another_port()),
        "WORKSHOP_PREFECT_PORT": str(another_port()),  # so that the session's server counts as someone else's
        "PREFECT_API_URL": course.prefect_api_url,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    yield values
    supervisor.down(settings_module.load())


def test_three_services_are_healthy(course, settings):
    import workshop

    rows = workshop.status()
    assert [row.name for row in rows] == ["prefect", "mock-api", "inbox"]
    assert all(row.ok and row.pid for row in rows), rows
    assert course.prefect_api_url == settings.course_prefect_api_url
    assert os.environ["PREFECT_API_URL"] == course.prefect_api_url


def test_a_second_start_reuses_everything(course):
    import workshop

    pids = [row.pid for row in workshop.status()]
    assert workshop.start().started == []
    assert [row.pid for row in workshop.status()] == pids


def test_cli_status_and_up(course):
    status = run_cli("status", "--json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert [row["state"] for row in rows] == ["healthy"] * 3 and all(row["ok"] for row in rows)
    up = run_cli("up")
    assert up.returncode == 0 and "nothing started" in up.stdout


@pytest.mark.parametrize("title, field", [("notification inbox", "inbox_port"), ("mock randomuser API", "mock_port")])
def test_status_from_a_terminal_with_other_ports_finds_the_course_where_it_runs(course, settings, free_port, title, field):
    """A second terminal with another port set still finds the course's service, and says how to match it."""
    variable = settings_module.variable(field)
    result = run_cli("status", **{variable: str(free_port)})
    assert result.returncode == 0, result.stdout
    line = next(line for line in result.stdout.splitlines() if title in line)
    assert line.startswith("OK") and f":{getattr(settings, field)}/" in line, line
    assert f"export {variable}={getattr(settings, field)}" in line


def test_a_new_terminal_without_the_port_variables_finds_the_services_up_started(own_home):
    """`up` on other ports, then a terminal that sets none: the course folder remembers them until `down`."""
    assert run_cli("up").returncode == 0
    bare = {name: value for name, value in os.environ.items() if not re.fullmatch(r"WORKSHOP_\w+_PORT", name)}

    def in_bare_terminal(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "workshop", *args], capture_output=True, text=True, timeout=180,
                              cwd=ROOT, stdin=subprocess.DEVNULL, env=bare)

    result = in_bare_terminal("status")
    assert result.returncode == 0 and "export" not in result.stdout and "python -m workshop up" not in result.stdout, result.stdout
    assert f":{own_home['WORKSHOP_MOCK_PORT']}/api/" in result.stdout and f":{own_home['WORKSHOP_INBOX_PORT']}/" in result.stdout
    assert "Stopped the mock randomuser API" in in_bare_terminal("down").stdout
    assert not (Path(own_home["WORKSHOP_HOME"]) / settings_module.PORTS_FILE).exists()  # the next `up` takes its own ports


def test_status_advises_no_start_where_another_program_holds_a_port(own_home, serve_in_thread):
    """`up` would refuse a port another program holds: status says so, and does not send the learner to `up`."""
    serve_in_thread(ThreadingHTTPServer(("127.0.0.1", int(own_home["WORKSHOP_INBOX_PORT"])), NotFound))
    result = run_cli("status")
    assert result.returncode == 1 and "BUSY notification inbox" in result.stdout, result.stdout
    assert "python -m workshop up` starts" not in result.stdout and "another port" in result.stdout


def test_status_of_a_course_that_is_not_running_says_down(tmp_path, free_port):
    result = run_cli("status", WORKSHOP_HOME=str(tmp_path), WORKSHOP_INBOX_PORT=str(free_port),
                     WORKSHOP_MOCK_PORT=str(free_port + 1 if free_port < 65535 else free_port - 1),
                     WORKSHOP_PREFECT_PORT=str(free_port - 1 if free_port > 1025 else free_port + 2))
    assert result.returncode == 1
    assert "DOWN notification inbox" in result.stdout and "python -m workshop up" in result.stdout


def test_down_works_when_the_disk_is_full(tmp_path):
    # The supervisor's lock file notes who holds it; /dev/full refuses every write, as a full disk does.
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "supervisor.lock").symlink_to("/dev/full")
    result = run_cli("down", WORKSHOP_HOME=str(tmp_path), **isolation.course_ports())
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_a_service_can_be_stopped_and_started_again(own_home):
    settings = settings_module.load()
    spec = specs.mock_spec(settings)
    with process.exclusive(settings.run_dir, timeout=30, what="the test"):
        assert ensure(spec, settings) is True
        assert ensure(spec, settings) is False  # idempotent
    record = process.live_record(settings.run_dir, "mock-api")
    assert check(spec).ok and record is not None
    assert process.stop(record, settings.run_dir) is True
    assert check(spec).answer == "down" and process.live_record(settings.run_dir, "mock-api") is None


def test_a_service_moved_to_another_port_is_restarted_there(own_home, monkeypatch):
    """A child reads its port from the environment, not its command line: the record still tells a start on another
    port from this one, so `up` after a port change restarts the service where the setting now says."""
    settings = settings_module.load()
    with process.exclusive(settings.run_dir, timeout=30, what="the test"):
        assert ensure(specs.mock_spec(settings), settings) is True
    monkeypatch.setenv("WORKSHOP_MOCK_PORT", str(isolation.spare_port()))
    moved = settings_module.load()
    state, record, _ = plan(specs.mock_spec(moved), moved)
    assert state is State.OUTDATED and record.port == settings.mock_port
    with process.exclusive(moved.run_dir, timeout=30, what="the test"):
        assert ensure(specs.mock_spec(moved), moved) is True
    assert check(specs.mock_spec(moved)).ok and check(specs.mock_spec(settings)).answer == "down"
    supervisor.down(moved)


def test_the_course_s_services_get_their_settings_from_the_environment_only(monkeypatch, tmp_path):
    """Every service the supervisor starts is its row of `services` and reads where to listen from the environment:
    no port or address on a command line, each port in `ports.env`, the hub's three ports kept free for it."""
    from workshop import services

    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path / "course"))
    monkeypatch.setenv("WORKSHOP_HOST", "192.0.2.7")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)  # the session's server: the course would not start its own
    settings = settings_module.load()
    started = [*specs.local_specs(settings), specs.runner_spec(settings, tmp_path / "serve.py", "http://x/api"),
               specs.worker_spec(settings, "pool", tmp_path, "http://x/api")]
    assert {spec.name for spec in started} | {services.HUB.name, services.PREFECT_SERVICES.name} == {
        service.name for service in services.SERVICES}  # those two: a room's with a hub, a scaled room's
    for spec in started:
        assert not {"--port", "--host", "--database", "--fixture"} & set(spec.command), spec.command
        assert spec.own_env[settings_module.variable(spec.port_field)] == str(spec.port)  # a move restarts it
    child = settings_module.environment_for_child(settings)
    assert child["WORKSHOP_HOST"] == "192.0.2.7" and child["WORKSHOP_INBOX_PORT"] == str(settings.inbox_port)
    assert services.port_lines(settings).count("\n") == len(settings_module.PORT_DEFAULTS)
    ports = {name: int(port) for name, port in isolation.course_ports().items()}
    hub = ports.pop(settings_module.variable(services.HUB.port_field))
    assert len(set(ports.values())) == len(ports) == len(settings_module.PORT_DEFAULTS) - 1
    assert not set(range(hub, hub + services.HUB.ports)) & set(ports.values())


@pytest.mark.parametrize("make_spec, variable", [(local_spec, "WORKSHOP_PREFECT_PORT"), (specs.inbox_spec, "WORKSHOP_INBOX_PORT")])
def test_a_port_held_by_another_program_is_explained(monkeypatch, serve_in_thread, free_port, tmp_path, make_spec, variable):
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port), NotFound))
    monkeypatch.setenv(variable, str(free_port))
    settings = settings_module.load()
    spec = make_spec(settings)
    assert plan(spec, settings)[0] is State.FOREIGN
    with pytest.raises(PortBusy) as error:
        ensure(spec, settings)
    message = str(error.value)
    assert f"127.0.0.1:{free_port}" in message and f"export {variable}=" in message


def test_a_prefect_server_the_course_did_not_start_is_not_used_silently(monkeypatch, tmp_path, course, settings):
    """The session's server answers on its port, but this other course folder did not start it."""
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    monkeypatch.delenv("PREFECT_API_URL")
    spec = local_spec(settings_module.load())
    assert plan(spec, settings_module.load())[0] is State.FOREIGN
    with pytest.raises(PortBusy, match="export PREFECT_API_URL=http://127.0.0.1:"):
        ensure(spec, settings_module.load())


def test_a_bad_port_setting_is_explained(monkeypatch):
    monkeypatch.setenv("WORKSHOP_MOCK_PORT", "eighty")
    with pytest.raises(SettingsError, match="WORKSHOP_MOCK_PORT='eighty' is not a usable port"):
        settings_module.load()


def test_two_services_on_one_port_are_refused_before_anything_starts(tmp_path):
    result = run_cli("up", WORKSHOP_HOME=str(tmp_path), WORKSHOP_PREFECT_PORT="4281", WORKSHOP_INBOX_PORT="4281")
    assert result.returncode == 2
    assert "WORKSHOP_PREFECT_PORT and WORKSHOP_INBOX_PORT are all 4281" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing was started


def test_ports_for_services_started_later_are_never_ones_a_kernel_or_a_connection_may_take_meanwhile():
    """A port picked by binding port 0 comes from the system's ephemeral range, which it hands on to the next
    Jupyter kernel's channels: a learner's worker once found a kernel on its port (CI, 2026-12-02)."""
    low, _ = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    courses = [isolation.course_ports() for _ in range(20)]
    ports = [int(port) for ports in courses for port in ports.values()]
    assert max(ports) < low and len(set(ports)) == len(ports)  # and no two courses of one test process share one


def test_relative_paths_mean_the_same_file_from_the_root_and_from_notebooks(monkeypatch):
    monkeypatch.setenv("WORKSHOP_MOCK_FIXTURE", "tests/fixtures/randomuser_sample.json")
    monkeypatch.setenv("WORKSHOP_HOME", ".workshop-elsewhere")
    seen = []
    for folder in (ROOT, ROOT / "notebooks"):
        monkeypatch.chdir(folder)
        seen.append(settings_module.load())
    assert seen[0].mock_fixture == seen[1].mock_fixture == FIXTURE
    assert seen[0].home == seen[1].home == ROOT / ".workshop-elsewhere"


def test_an_unreachable_prefect_api_url_is_explained(course, free_port):
    result = run_cli("up", PREFECT_API_URL=f"http://127.0.0.1:{free_port}/api")
    assert result.returncode == 2
    assert "does not answer" in result.stderr and "unset PREFECT_API_URL" in result.stderr


def test_an_answering_prefect_api_url_is_used_and_not_started(course):
    other = course.prefect_api_url.replace("127.0.0.1", "localhost")  # the same server, named differently
    result = run_cli("status", PREFECT_API_URL=other)
    assert result.returncode == 0, result.stdout
    assert "Prefect server (PREFECT_API_URL)" in result.stdout and other in result.stdout


def test_cli_faults_reports_and_rejects_bad_values(course):
    try:
        changed = run_cli("faults", "--site", "mirror", "--latency", "0.05")
        assert changed.returncode == 0 and "'latency': 0.05" in changed.stdout
        wrong = run_cli("faults", "--server-errors", "3")
        assert wrong.returncode == 2 and "from 0 to 1" in wrong.stderr
    finally:
        run_cli("faults", "--clear")


def test_a_service_started_with_other_settings_is_replaced(own_home, monkeypatch):
    settings = settings_module.load()
    first = supervisor.up(settings)
    assert first.started == ["mock randomuser API", "notification inbox"]
    monkeypatch.setenv("WORKSHOP_MOCK_FIXTURE", str(FIXTURE))
    said = []
    again = supervisor.up(settings_module.load(), report=said.append)
    assert again.started == ["mock randomuser API"]  # the fixture changed: restarted with it; the inbox stays
    assert any("was started with other settings" in line for line in said)
    health = requests.get(specs.mock_spec(settings_module.load()).health_url, timeout=5).json()
    assert health["fixture"] == str(FIXTURE)


def test_the_first_up_says_what_it_is_doing(own_home):
    result = run_cli("up")
    assert result.returncode == 0, result.stderr
    assert "Starting the mock randomuser API on" in result.stdout and "ready after" in result.stdout


def test_only_a_start_that_creates_the_database_says_so(tmp_path):
    settings = settings_module.Settings(home=tmp_path)
    assert "the first start creates its database" in local_spec(settings).start_note
    settings.prefect_home.mkdir(parents=True)
    (settings.prefect_home / "prefect.db").write_bytes(b"")  # what the first start left
    assert local_spec(settings).start_note == ""


def test_a_stale_record_never_points_at_an_unrelated_process(own_home):
    """After a reboot a pid in a record may belong to anything: the start time tells it is not ours."""
    settings = settings_module.load()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settings.run_dir.mkdir(parents=True)
        process.record_path(settings.run_dir, "mock-api").write_text(json.dumps({
            "pid": stranger.pid, "create_time": psutil.Process(stranger.pid).create_time() - 3600,
            "command": specs.mock_spec(settings).command, "port": settings.mock_port, "url": "x", "title": "mock",
        }))
        assert process.live_record(settings.run_dir, "mock-api") is None
        assert supervisor.up(settings).started == ["mock randomuser API", "notification inbox"]
        assert stranger.poll() is None  # untouched
    finally:
        stranger.kill()
        stranger.wait()


def test_the_services_are_still_found_after_the_wall_clock_was_set(own_home, monkeypatch):
    """NTP or a VM's clock sync sets the clock (seen here: 15-19 s in the middle of a CI run, and every service the
    course had started was then taken for a stranger's). psutil derives start times from the boot time, which moves
    with the clock; the start counted from the system's start does not."""
    settings = settings_module.load()
    first = supervisor.up(settings)
    assert first.started
    boot_time = psutil._psplatform.boot_time
    monkeypatch.setattr(psutil._psplatform, "boot_time", lambda: boot_time() + 19.0)
    assert process.live_record(settings.run_dir, "mock-api") is not None
    assert supervisor.up(settings).started == []
    assert all(row.ok for row in supervisor.status(settings) if row.title in ("mock randomuser API", "notification inbox"))


def test_a_zombie_counts_as_stopped(own_home):
    """A service that exited under a parent that does not reap it (as JupyterLab did) is stopped, not running."""
    settings = settings_module.load()
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"  # never reaps it
    )], stdout=subprocess.PIPE, text=True)
    try:
        zombie = int(parent.stdout.readline())
        from workshop.waiting import wait_for

        wait_for(lambda: psutil.Process(zombie).status() == psutil.STATUS_ZOMBIE, timeout=10, what="the zombie")
        settings.run_dir.mkdir(parents=True)
        process.record_path(settings.run_dir, "inbox").write_text(json.dumps({
            "pid": zombie, "create_time": psutil.Process(zombie).create_time(), "command": ["x"], "port": 1, "url": "x",
        }))
        assert process.live_record(settings.run_dir, "inbox") is None
        assert supervisor.down(settings) == []
    finally:
        parent.kill()
        parent.wait()


def test_down_carries_on_past_one_services_trouble_and_reports_each(own_home, monkeypatch):
    from workshop.errors import ServiceError

    settings = settings_module.load()
    supervisor.up(settings)
    real_stop = process.stop

    def stubborn(record, run_dir, **kwargs):
        if record.name == "mock-api":
            raise ServiceError("it would not stop")
        return real_stop(record, run_dir, **kwargs)

    monkeypatch.setattr(process, "stop", stubborn)
    results = {result.title: result.error for result in supervisor.down(settings)}
    assert results == {"mock randomuser API": "it would not stop", "notification inbox": ""}
    monkeypatch.setattr(process, "stop", real_stop)
    assert [r.title for r in supervisor.down(settings)] == ["mock randomuser API"]


def test_a_recording_that_is_not_randomuser_data_is_refused_before_anything_starts(own_home, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"results": [{"name": 1}]}')
    result = run_cli("up", WORKSHOP_MOCK_FIXTURE=str(broken))
    assert result.returncode == 2
    assert "record 0 lacks 11 of randomuser's 12 fields (gender, location," in result.stderr
    assert "record 0: name is a number; randomuser sends an object here" in result.stderr
    assert "Starting" not in result.stdout and not settings_module.load().run_dir.joinpath("mock-api.json").exists()


def test_importing_workshop_loads_no_server_code():
    """A kernel's `import workshop`, and its clients of the course's services, load none of the servers' modules,
    nor Faker or Prefect (which a notebook imports itself, when it uses it)."""
    probe = ("import sys, workshop; workshop.Inbox; workshop.MockAPI().faults; workshop.check; "
             "print(sorted(m for m in sys.modules if m.startswith('workshop.servers') or m in ('faker', 'prefect', 'starlette')))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_lab_passes_jupyterlabs_own_options_on_and_theirs_win():
    from workshop.instructor.cli import parser
    from workshop.instructor.jupyterlab import START_URL, lab_command

    assert "--no-browser" in run_cli("lab", "--help").stdout  # `lab --help` says what it takes
    command = lab_command(Path("/course/notebooks"), ["--port", "8890", "--no-browser"])
    assert command[-3:] == ["--port", "8890", "--no-browser"] and f"--LabApp.default_url={START_URL}" in command
    assert "--ServerApp.ip=127.0.0.1" in command and "--ServerApp.root_dir=/course/notebooks" in command
    theirs = lab_command(Path("/course/notebooks"), ["--ip", "0.0.0.0", "--ServerApp.root_dir=/mine"])
    assert not any(part.startswith(("--ServerApp.ip=", "--ServerApp.root_dir=/course")) for part in theirs)
    refused = run_cli("status", "--port", "8890")  # only `lab` passes options on
    assert refused.returncode == 2 and "unrecognized arguments: --port 8890" in refused.stderr
    assert parser().parse_known_args(["lab", "--port", "8890"])[1] == ["--port", "8890"]


class _ClosesFirst(BaseHTTPRequestHandler):
    """Closes the first connection of each method without an answer, as a server closing a kept-alive connection
    just as a request goes out; answers the next."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(self.command)
        if self.seen.count(self.command) == 1:
            self.close_connection = True
            return
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_DELETE(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, *args) -> None:
        pass


def test_a_connection_closed_without_an_answer_is_tried_again_only_where_twice_does_no_harm(serve_in_thread, free_port):
    from workshop.client import prefect_session

    serve_in_thread(ThreadingHTTPServer(("127.0.0.1", free_port), _ClosesFirst))
    session = prefect_session()
    assert session.delete(f"http://127.0.0.1:{free_port}/api/automations/x", timeout=10).status_code == 204
    with pytest.raises(requests.ConnectionError):  # a POST may have done its work: the caller decides
        session.post(f"http://127.0.0.1:{free_port}/api/automations/", json={}, timeout=10)
    assert _ClosesFirst.seen == ["DELETE", "DELETE", "POST"]
