"""Processes the course starts in the background: detached, recorded, found again, stopped.

A service is started through a short-lived launcher, so it is nobody's child:
it outlives the kernel, JupyterLab or shell that asked for it, and when it
exits it is reaped by the system, never left as a zombie under a process that
will not reap it. Its own session makes it the leader of a process group, so
stopping it stops what it started too.

Each service leaves a record, `<home>/run/<name>.json`: its pid, the process's
start time and its command. A record names a live process only if a process
with that pid exists and started at that time, so a record left over from
before a reboot never points at an unrelated process (psutil reads the start
time the same way on Linux and macOS). When the wall clock was set meanwhile,
the start counted from the system's start and the command decide instead. A
zombie counts as stopped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from ..errors import ServiceError, WorkshopTimeout
from ..private import private_folder, write_private
from ..waiting import wait_for

# Runs in a bare interpreter (-I -S: no site, nothing from the environment's PYTHON* variables).
_LAUNCHER = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "child = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,"
    " start_new_session=True)\n"
    "print(child.pid)\n"
)
_SAME_START = 1.0  # seconds of slack when comparing start times (Linux counts in clock ticks)


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    title: str
    pid: int
    create_time: float | None  # None in records written by an earlier version of the course
    command: list[str]
    port: int
    url: str
    own_env: dict[str, str] | None = None  # None in records written by an earlier version of the course
    since_boot: float | None = None  # seconds from the system's start to the process's; None in earlier records

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None (gone, a zombie, or the pid now belongs to another)."""
        try:
            since_boot, process = _started(self.pid)
            if self.create_time is None or abs(process.create_time() - self.create_time) > _SAME_START:
                # Its start by the wall clock differs: the clock was set since (NTP, a VM's clock sync, seen here as
                # a 15-19 s step mid-run), or this is another process. Its start counted from the system's start,
                # and its command, still tell.
                same_age = self.since_boot is None or abs(since_boot - self.since_boot) <= _SAME_START
                if not same_age or process.cmdline() != self.command:
                    return None
            if process.status() == psutil.STATUS_ZOMBIE:
                _reap(self.pid)
                return None
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        except psutil.AccessDenied:
            return None  # another user's process: not ours
        return process

    def same_setup(self, command: list[str], own_env: dict[str, str]) -> bool:
        """Was it started as `command` with `own_env`? (Arguments only: a kernel and a terminal of the
        same environment may name its interpreter differently: python, python3, a resolved path.)"""
        return self.command[1:] == command[1:] and self.own_env == own_env  # an older record (None): restart once


def _started(pid: int) -> tuple[float, psutil.Process]:
    """The process, and how many seconds after the system's start it started: unlike its start by the wall clock
    (which psutil derives from the boot time, itself read from the wall clock), this stays when the clock is set."""
    boot = psutil.boot_time()  # read now: psutil computes create_time from the boot time it read last
    process = psutil.Process(pid)
    return process.create_time() - boot, process


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # our own child (started by an earlier version): collect it


def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.json"


def read_record(run_dir: Path, name: str) -> ProcessRecord | None:
    try:
        data = json.loads(record_path(run_dir, name).read_text())
        return ProcessRecord(
            name=name, title=data.get("title", name), pid=int(data["pid"]), create_time=data.get("create_time"),
            command=list(data["command"]), port=int(data["port"]), url=str(data["url"]), own_env=data.get("own_env"),
            since_boot=data.get("since_boot"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def recorded_names(run_dir: Path) -> list[str]:
    """The names of every process the folder of `run_dir` has a record of, whatever settings started it."""
    return sorted(path.stem for path in run_dir.glob("*.json"))


def live_record(run_dir: Path, name: str) -> ProcessRecord | None:
    """The record of `name` if its process runs; a stale record is removed."""
    record = read_record(run_dir, name)
    if record is None:
        return None
    if record.process() is None:
        record_path(run_dir, name).unlink(missing_ok=True)
        return None
    return record


def spawned_workers(record: ProcessRecord) -> list[psutil.Process]:
    """The workers a recorded process started with multiprocessing's spawn (uvicorn's `--workers`: a scaled room's
    API processes; the copies of its background services); its other children, such as multiprocessing's resource
    tracker, are not workers."""
    parent = record.process()
    if parent is None:
        return []
    workers = []
    for child in parent.children():
        with contextlib.suppress(psutil.Error):  # it ended while being listed
            if "spawn_main" in " ".join(child.cmdline()):
                workers.append(child)
    return workers


def spawn(name: str, title: str, command: list[str], *, port: int, url: str, own_env: dict[str, str], env: dict[str, str],
          cwd: Path, run_dir: Path, log: Path) -> ProcessRecord:
    """Start `command` detached from this process, logging to `log`, and record it."""
    private_folder(run_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        handle.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(command)}\n".encode())
    try:
        launched = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(log), *command],
            env=env, cwd=cwd, capture_output=True, text=True, timeout=30, check=True,
        )
        pid = int(launched.stdout.strip())
        since_boot, process = _started(pid)
        create_time = process.create_time()
    except (subprocess.SubprocessError, ValueError, OSError, psutil.Error) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise ServiceError(f"Could not start the {title}: {detail.strip()[-500:]}") from None
    record = ProcessRecord(name, title, pid, create_time, list(command), port, url, dict(own_env), since_boot)
    data = {key: value for key, value in asdict(record).items() if key != "name"}
    write_private(record_path(run_dir, name), json.dumps(data))
    return record


def stop(record: ProcessRecord, run_dir: Path, *, timeout: float = 8.0) -> bool:
    """Stop the recorded process and its process group; SIGKILL what outlives `timeout`. True if it ran."""
    leader = record.process()
    if leader is None:
        record_path(run_dir, record.name).unlink(missing_ok=True)
        return False
    members = [leader]
    with contextlib.suppress(psutil.Error):
        members += leader.children(recursive=True)
    _signal(record.pid, members, signal.SIGTERM)
    try:
        _wait_gone(members, timeout, f"the {record.title} to stop")
    except WorkshopTimeout:
        _signal(record.pid, members, signal.SIGKILL)
        try:
            _wait_gone(members, 5.0, f"the {record.title} to be killed")
        except WorkshopTimeout:
            still = [str(p.pid) for p in members if _running(p)]
            raise ServiceError(
                f"The {record.title} (pid {', '.join(still)}) did not stop, even when killed. "
                f"Stop it by hand (`kill -9 {' '.join(still)}`), then try again."
            ) from None
    record_path(run_dir, record.name).unlink(missing_ok=True)
    return True


def _signal(leader_pid: int, members: list[psutil.Process], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader_pid, signum)  # the leader's whole group: what it started too
    for member in members:  # and any member that left the group
        with contextlib.suppress(psutil.Error):
            member.send_signal(signum)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(members: list[psutil.Process], timeout: float, what: str) -> None:
    def gone() -> bool:
        for member in members:
            _reap(member.pid)
        return not any(_running(member) for member in members)

    wait_for(gone, timeout=timeout, what=what, interval=0.05)


@contextlib.contextmanager
def exclusive(run_dir: Path, *, timeout: float, what: str) -> Iterator[None]:
    """Hold the course's supervisor lock: one start or stop at a time, across every process."""
    private_folder(run_dir)
    # Unbuffered: the holder's note is written at once or not at all, so closing the file never fails on it.
    with open(run_dir / "supervisor.lock", "a+b", buffering=0) as handle:

        def acquired() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        if not acquired():
            handle.seek(0)
            holder = handle.read().decode(errors="replace").strip() or "another process"
            wait_for(acquired, timeout=timeout, what=f"{holder} to finish before {what}", interval=0.2,
                     hint="If nothing else is starting or stopping the course, `python -m workshop down` and try again.")
        try:
            _note_holder(handle, f"pid {os.getpid()}")
            yield
        finally:
            _note_holder(handle, "")
            fcntl.flock(handle, fcntl.LOCK_UN)


def _note_holder(handle, text: str) -> None:
    """Who holds the lock, for the message of whoever waits. Best effort: on a full disk, `down` must still work."""
    with contextlib.suppress(OSError):
        handle.truncate(0)
        handle.write(text.encode())
