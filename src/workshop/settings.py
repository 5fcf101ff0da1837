"""The course's settings: the one place that reads the environment.

`Settings()` reads these variables once; everything else in the package is
given the object (or asks `current()` for the one this process uses):

| variable | default | what |
| --- | --- | --- |
| WORKSHOP_HOME | `.workshop/` in the course folder | Prefect database, inbox, logs, process records |
| WORKSHOP_PREFECT_PORT | 4200 | the course's local Prefect server |
| WORKSHOP_MOCK_PORT | 4280 | the mock randomuser API |
| WORKSHOP_INBOX_PORT | 4281 | the notification inbox |
| WORKSHOP_RUNNER_PORT | 4282 | health endpoint of the process serving the course's deployments |
| WORKSHOP_API_URL | the mock | any randomuser-compatible API, e.g. https://randomuser.me/api/ |
| WORKSHOP_MOCK_FIXTURE | none | a recorded randomuser answer the mock replays |
| WORKSHOP_DATABASE_URL | SQLite in WORKSHOP_HOME | a PostgreSQL database for the course's Prefect server |
| PREFECT_API_URL | none | use this Prefect server (classroom, Cloud) instead of starting one |
| PREFECT_API_KEY | none | the key for PREFECT_API_URL on Prefect Cloud |
| PREFECT_UI_URL | from PREFECT_API_URL | where the Prefect UI of that server is |

Relative paths (WORKSHOP_HOME, WORKSHOP_MOCK_FIXTURE) are taken from the course
folder, the repository root, so a terminal at the root and a notebook kernel in
`notebooks/` mean the same file.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

HOST = "127.0.0.1"

# Everything the course creates on a Prefect server carries this prefix in its
# name, so `python -m workshop reset` can remove exactly that and nothing else.
PREFIX = "workshop-"

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# An editable install (the README's) runs from the repository: the course folder.
# A plain install has none, so paths are taken from the working directory.
COURSE_ROOT: Path | None = (
    _PACKAGE_ROOT if (_PACKAGE_ROOT / "pyproject.toml").exists() and (_PACKAGE_ROOT / "notebooks").is_dir() else None
)

Port = Annotated[int, Field(ge=1024, le=65535)]
PORT_DEFAULTS = {"prefect_port": 4200, "mock_port": 4280, "inbox_port": 4281, "runner_port": 4282}


def course_path(path: Path) -> Path:
    """`path` made absolute; a relative one is taken from the course folder."""
    path = path.expanduser()
    if not path.is_absolute():
        path = (COURSE_ROOT or Path.cwd()) / path
    return path.resolve()


def _default_home() -> Path:
    return COURSE_ROOT / ".workshop" if COURSE_ROOT else Path.home() / ".prefect-workshop"


class Settings(BaseSettings):
    """Where the course keeps its state, which ports it uses, which servers it talks to."""

    model_config = SettingsConfigDict(env_prefix="WORKSHOP_", frozen=True, extra="ignore", env_ignore_empty=True)

    home: Path = Field(default_factory=_default_home)
    prefect_port: Port = PORT_DEFAULTS["prefect_port"]
    mock_port: Port = PORT_DEFAULTS["mock_port"]
    inbox_port: Port = PORT_DEFAULTS["inbox_port"]
    runner_port: Port = PORT_DEFAULTS["runner_port"]
    api_url: str | None = None
    mock_fixture: Path | None = None
    database_url: SecretStr | None = None
    prefect_api_url: str | None = Field(None, validation_alias="PREFECT_API_URL")
    prefect_api_key: SecretStr | None = Field(None, validation_alias="PREFECT_API_KEY")
    prefect_ui_url: str | None = Field(None, validation_alias="PREFECT_UI_URL")

    @field_validator("home", "mock_fixture")
    @classmethod
    def _resolve(cls, path: Path | None) -> Path | None:
        return None if path is None else course_path(path)

    @field_validator("api_url", "prefect_api_url", "prefect_ui_url")
    @classmethod
    def _strip_url(cls, url: str | None) -> str | None:
        return url.strip().rstrip("/") or None if url else None

    @field_validator("database_url")
    @classmethod
    def _postgres_for_prefect(cls, url: SecretStr | None) -> SecretStr | None:
        if url is None:
            return None
        scheme, separator, rest = url.get_secret_value().strip().partition("://")
        if not separator or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError(
                "give a PostgreSQL URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or unset it to keep SQLite"
            )
        # Prefect's server talks to PostgreSQL through asyncpg, and says so in the scheme.
        return SecretStr(f"postgresql+asyncpg://{rest}")

    @model_validator(mode="after")
    def _one_port_each(self) -> Settings:
        ports = {name: getattr(self, name) for name in PORT_DEFAULTS}
        clashes = [port for port, count in Counter(ports.values()).items() if count > 1]
        if clashes:
            names = [variable(name) for name, port in ports.items() if port == clashes[0]]
            raise ValueError(
                f"{' and '.join(names)} are all {clashes[0]}: each course service needs a port of its own. "
                f"Change or unset one of them."
            )
        return self

    # Where things are.
    @property
    def local_prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    @property
    def external_prefect_api_url(self) -> str | None:
        """The server the learner chose with PREFECT_API_URL, unless it is the course's own."""
        url = self.prefect_api_url
        return None if url is None or url == self.local_prefect_api_url else url

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


def variable(field: str) -> str:
    """The environment variable behind a settings field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"WORKSHOP_{field.upper()}"


def load() -> Settings:
    """Read the settings from the environment, or say which variable is wrong and how to fix it."""
    try:
        return Settings()
    except ValidationError as invalid:
        raise SettingsError(_explain(invalid)) from None


def _explain(invalid: ValidationError) -> str:
    problems = []
    for error in invalid.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in PORT_DEFAULTS:
            problems.append(
                f"{variable(field)}={error.get('input')!r} is not a usable port. Set it to a number from 1024 "
                f"to 65535, or unset it to use {PORT_DEFAULTS[field]}."
            )
        elif field:
            shown = "(hidden)" if field == "database_url" else repr(error.get("input"))  # it may hold a password
            problems.append(f"{variable(field)}={shown}: {str(error['msg']).removeprefix('Value error, ')}.")
        else:
            problems.append(str(error["msg"]).removeprefix("Value error, "))
    return " ".join(problems)


_current: Settings | None = None


def current() -> Settings:
    """The settings this process uses: read on first use, again after `reload()`."""
    global _current
    if _current is None:
        _current = load()
    return _current


def reload() -> Settings:
    """Read the environment again (`workshop.start()` does, so a changed variable counts)."""
    global _current
    _current = load()
    return _current


def use_prefect_server(api_url: str) -> None:
    """Point this process's Prefect client, and the processes it starts, at `api_url`.

    Prefect reads PREFECT_API_URL from the environment; a kernel has no other
    place to keep it between cells, and flows it serves inherit it from here.
    """
    global _current
    os.environ["PREFECT_API_URL"] = api_url
    os.environ.setdefault("DO_NOT_TRACK", "1")  # the course runs offline: no usage data from this kernel's Prefect
    _current = load()
    import sys

    if "prefect.context" in sys.modules:
        # Prefect reads its settings once, at import; tell it the URL changed.
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


def environment_for_child(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process the course starts: this one's, with the settings made explicit."""
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",  # offline laptops: Prefect's clients and CLI send no usage data, and print no notice about it
        WORKSHOP_HOME=str(settings.home),
        **{variable(name): str(getattr(settings, name)) for name in PORT_DEFAULTS},
    )
    if settings.mock_fixture:
        env["WORKSHOP_MOCK_FIXTURE"] = str(settings.mock_fixture)
    env.update(extra or {})
    return env
