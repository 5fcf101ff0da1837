"""A course folder of a test's own, used as a person uses one: its environment (its own home and ports, and its own
Prefect server unless it is given one) and `python -m workshop ...` run in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    from workshop.supervisor.service import port_in_use

    return not any(port_in_use(int(env[name])) for name in ("WORKSHOP_PREFECT_PORT", "WORKSHOP_MOCK_PORT", "WORKSHOP_INBOX_PORT"))
