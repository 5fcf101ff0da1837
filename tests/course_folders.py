"""A course folder of a test's own, used as a person uses one: its environment (its own home and ports, and its own
Prefect server unless it is given one) and `python -m workshop ...` run in it; a room run from one, and learners
who joined it."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from workshop import settings as settings_module
from workshop.supervisor import postgres
from workshop.testing.isolation import course_ports

ROOT = Path(__file__).resolve().parents[1]


def private_course(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a separate course folder on its own ports (and its own Prefect server, unless given one)."""
    inherited = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    return {
        **inherited, "WORKSHOP_HOME": str(tmp_path / "course"), **course_ports(), **extra,
    }


def cli(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workshop", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def ports_free(env: dict[str, str]) -> bool:
    """Nothing listens on any of the course folder's ports (a room's Redis and PostgreSQL included)."""
    from workshop.supervisor.service import port_in_use

    names = [settings_module.variable(field) for field in settings_module.PORT_DEFAULTS]
    return not any(port_in_use(int(env[name])) for name in names if name in env)


Room = tuple[dict[str, str], str, list[str]]  # the instructor's environment, the join address, the join line's options


@contextlib.contextmanager
def open_room(folder: Path, *options: str, timeout: float = 300) -> Iterator[Room]:
    """An instructor's course folder with `classroom up [options]` run; `classroom down` after, its database gone."""
    env = private_course(folder)
    home = Path(env["WORKSHOP_HOME"])
    try:
        up = cli(env, "classroom", "up", *options, timeout=timeout)
        assert up.returncode == 0, up.stdout + up.stderr
        line = re.search(r"python -m workshop join (http://workshop:\S+) --as YOUR_NAME(.*)", up.stdout)
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


def learner_env(room: Room, tmp_path: Path, name: str) -> dict[str, str]:
    """A learner who joined the room with the instructor's line."""
    _, address, options = room
    learner = learner_folder(tmp_path, name)
    joined = cli(learner, "join", address, "--as", name, *options)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    return learner


def room_api(room: Room) -> tuple[str, tuple[str, str]]:
    env, address, _ = room
    password = re.search(r"://workshop:([^@]+)@", address).group(1)
    return f"http://127.0.0.1:{env['WORKSHOP_PREFECT_PORT']}/api", ("workshop", password)


def at_once(learners: Mapping[str, Callable[[], object]], *, timeout: float) -> None:
    """Each learner's work in a thread of its own, all at once, as in a room; fails with every learner's error."""
    outcomes: dict[str, BaseException | None] = {}

    def work(name: str, job: Callable[[], object]) -> None:
        try:
            job()
            outcomes[name] = None
        except BaseException as failed:  # reported below, per learner
            outcomes[name] = failed

    threads = [threading.Thread(target=work, args=item, daemon=True) for item in learners.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    problems = [f"{name}: {str(error)[:4000]}" for name, error in outcomes.items() if error is not None]
    problems += [f"{name}: still at work after {timeout:g} s" for name in learners if name not in outcomes]
    assert not problems, "\n\n".join(problems)
