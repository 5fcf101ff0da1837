"""Where the course keeps its state and which ports its services use.

Everything is read from the environment on each call, so a test session or a
learner can move the course by exporting a variable before starting it:

| variable | default | what |
| --- | --- | --- |
| WORKSHOP_HOME | `.workshop/` in the repository | Prefect database, inbox, logs, pid files |
| WORKSHOP_PREFECT_PORT | 4200 | the course's local Prefect server |
| WORKSHOP_MOCK_PORT | 4280 | the mock randomuser API |
| WORKSHOP_INBOX_PORT | 4281 | the notification inbox |
| WORKSHOP_RUNNER_PORT | 4282 | health endpoint of the process serving the course's deployments |
| WORKSHOP_API_URL | the mock | any randomuser-compatible API, e.g. https://randomuser.me/api/ |
| WORKSHOP_MOCK_FIXTURE | none | a recorded randomuser response the mock replays |
| PREFECT_API_URL | none | use this Prefect server (classroom, Cloud) instead of starting one |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import WorkshopError

HOST = "127.0.0.1"

# Everything the course creates on a Prefect server carries this prefix in its
# name, so `python -m workshop reset` can remove exactly that and nothing else.
PREFIX = "workshop-"

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _default_home() -> Path:
    # An editable install keeps the state beside the notebooks; a plain install
    # has no repository to live in, so it uses the user's home instead.
    if (_REPO_ROOT / "pyproject.toml").exists() and (_REPO_ROOT / "notebooks").is_dir():
        return _REPO_ROOT / ".workshop"
    return Path.home() / ".prefect-workshop"


def _port(variable: str, default: int) -> int:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1024 <= port <= 65535:
        raise WorkshopError(
            f"{variable}={raw!r} is not a usable port. Set it to a number from 1024 to 65535, "
            f"or unset it to use {default}."
        )
    return port


@dataclass(frozen=True)
class Settings:
    home: Path
    prefect_port: int
    mock_port: int
    inbox_port: int
    runner_port: int

    @property
    def local_prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    @property
    def mock_url(self) -> str:
        return f"http://{HOST}:{self.mock_port}"

    @property
    def inbox_url(self) -> str:
        return f"http://{HOST}:{self.inbox_port}"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def prefect_home(self) -> Path:
        return self.home / "prefect"

    @property
    def inbox_db(self) -> Path:
        return self.home / "inbox.sqlite3"


def settings() -> Settings:
    home = Path(os.environ.get("WORKSHOP_HOME") or _default_home()).expanduser().resolve()
    return Settings(
        home=home,
        prefect_port=_port("WORKSHOP_PREFECT_PORT", 4200),
        mock_port=_port("WORKSHOP_MOCK_PORT", 4280),
        inbox_port=_port("WORKSHOP_INBOX_PORT", 4281),
        runner_port=_port("WORKSHOP_RUNNER_PORT", 4282),
    )


def repo_root() -> Path:
    return _REPO_ROOT
