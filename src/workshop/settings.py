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
| WORKSHOP_WORKER_PORT | 4283 | health endpoint of the course's process worker (notebook 03's `prefect deploy`) |
| WORKSHOP_POSTGRES_PORT | 4232 | the PostgreSQL a room's server uses (`classroom up`), on 127.0.0.1 |
| WORKSHOP_API_WORKERS | 1 | a room's Prefect API in this many processes, in Prefect's scaled mode (`classroom up --api-workers N`) |
| WORKSHOP_SERVICES_WORKERS | 1 | a scaled room's Prefect background services in this many processes (`classroom up --services-workers N`) |
| WORKSHOP_REDIS_PORT | 4233 | the Redis a room in the scaled mode uses for Prefect's events and messaging, on 127.0.0.1 |
| WORKSHOP_SERVICES_PORT | 4284 | health endpoint of a scaled room's process of Prefect's background services, on 127.0.0.1 |
| WORKSHOP_API_URL | the mock | any randomuser-compatible API, e.g. https://randomuser.me/api/ |
| WORKSHOP_MOCK_FIXTURE | none | a recorded randomuser answer the mock replays |
| WORKSHOP_DATABASE_URL | SQLite in WORKSHOP_HOME | a PostgreSQL database for the course's Prefect server |
| WORKSHOP_ROOM | none | a learner in a room: the address of the room's server, e.g. http://10.0.0.5 |
| WORKSHOP_LEARNER | none | a learner in a room: their name, in everything they create there |
| WORKSHOP_ROOM_PASSWORD | none | the room's password (Prefect's basic auth, the inbox) |
| WORKSHOP_ROOM_PREFECT_URL | WORKSHOP_ROOM on WORKSHOP_PREFECT_PORT | a room whose Prefect server runs apart from its other services (on Kubernetes, the Service of Prefect's Helm chart), e.g. http://prefect-server:4200: for its learners and its inbox's board; `classroom up` then starts no Prefect server |
| WORKSHOP_HOST | 127.0.0.1 | the address a room's services listen on (`classroom up --host`) |
| WORKSHOP_HUB | false | the room also serves JupyterHub (`classroom hub` writes it to the room file, `classroom up` removes it) |
| WORKSHOP_HUB_PORT | 4290 | a room's JupyterHub (`classroom hub`); it also takes the next two ports on 127.0.0.1 |
| WORKSHOP_HUB_URL | http://WORKSHOP_HOST:WORKSHOP_HUB_PORT | the hub's address as browsers reach it (behind a reverse proxy: its https address) |
| WORKSHOP_HUB_IDLE_MINUTES | 30 | a learner's JupyterLab idle this long is stopped (their notebooks stay) |
| WORKSHOP_JUPYTER_URL | none (in GitHub Codespaces: its JupyterLab's forwarded address) | where the browser reaches the JupyterLab this course runs in, when that is not this machine (Binder, a JupyterHub, a dev container): the Prefect UI and the inbox are then shown through JupyterLab's proxy there, e.g. https://hub.example.edu/user/ann/ or /user/ann/ |
| CODESPACE_NAME | set by GitHub Codespaces | with the next, where a codespace's forwarded ports are: WORKSHOP_JUPYTER_URL's default |
| GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN | set by GitHub Codespaces | e.g. app.github.dev |
| PREFECT_API_URL | none | use this Prefect server (classroom, Cloud) instead of starting one |
| PREFECT_API_KEY | none | the key for PREFECT_API_URL on Prefect Cloud |
| PREFECT_UI_URL | from PREFECT_API_URL | where the Prefect UI of that server is |

Relative paths (WORKSHOP_HOME, WORKSHOP_MOCK_FIXTURE) are taken from the course
folder, the repository root, so a terminal at the root and a notebook kernel in
`notebooks/` mean the same file.

`python -m workshop join` and `classroom up` write the room's variables to
`room.env` in WORKSHOP_HOME, which is read after the environment (the
environment wins), so every terminal and kernel of this course folder is in
the room until `leave` or `classroom down` removes the file.

`up` writes the services' ports to `ports.env` there (read after the
environment, before `room.env`), so a terminal opened later without the port
variables finds the services that run; `down` removes it.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError

HOST = "127.0.0.1"

# Everything the course creates on a Prefect server carries this prefix in its
# name, so `python -m workshop reset` can remove exactly that and nothing else.
# In a room, the learner's name follows it: `Settings.prefix`.
PREFIX = "workshop-"
ROOM_USER = "workshop"  # the user name of a room's basic auth; the password is the room's
ROOM_FILE = "room.env"
# The ports `up` started the course's services on, read after the environment and before the room file, so a new
# terminal without the WORKSHOP_*_PORT variables finds the services that run; `down` removes it.
PORTS_FILE = "ports.env"
# A learner's name is a path segment and a part of Prefect names: no separators, so that
# "workshop-ann-*" never matches another learner's objects ("workshop-anna-..." does not).
LEARNER_NAME = re.compile(r"[a-z][a-z0-9]{0,23}")
# Paths the mock API, the inbox and a room's hub use themselves, and the hub's admin.
RESERVED_NAMES = {"api", "mirror", "hooks", "inbox", "prefect", "instructor"}

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# An editable install (the README's) runs from the repository: the course folder.
# A plain install has none, so paths are taken from the working directory.
COURSE_ROOT: Path | None = (
    _PACKAGE_ROOT if (_PACKAGE_ROOT / "pyproject.toml").exists() and (_PACKAGE_ROOT / "notebooks").is_dir() else None
)

Port = Annotated[int, Field(ge=1024, le=65535)]
PORT_DEFAULTS = {"prefect_port": 4200, "mock_port": 4280, "inbox_port": 4281, "runner_port": 4282, "worker_port": 4283,
                 "services_port": 4284, "postgres_port": 4232, "redis_port": 4233, "hub_port": 4290}
JUPYTERLAB_PORT = 8888  # JupyterLab's own default, which the dev container forwards
# Where jupyter-server-proxy serves a port of this machine under JupyterLab's address, the whole path passed on
# (its `absolute` route): the Prefect UI is served at that path itself (Prefect's ui.serve_base).
THROUGH_JUPYTER = "proxy/absolute/{port}"


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
    worker_port: Port = PORT_DEFAULTS["worker_port"]
    services_port: Port = PORT_DEFAULTS["services_port"]
    postgres_port: Port = PORT_DEFAULTS["postgres_port"]
    redis_port: Port = PORT_DEFAULTS["redis_port"]
    hub_port: Annotated[int, Field(ge=1024, le=65533)] = PORT_DEFAULTS["hub_port"]  # and the next two
    api_url: str | None = None
    mock_fixture: Path | None = None
    database_url: SecretStr | None = None
    room: str | None = None
    learner: str | None = None
    room_password: SecretStr | None = None
    room_prefect_url: str | None = None
    host: str = HOST
    api_workers: Annotated[int, Field(ge=1, le=32)] = 1  # a room's Prefect API processes (`classroom up --api-workers`)
    services_workers: Annotated[int, Field(ge=1, le=8)] = 1  # a scaled room's processes of Prefect's services
    hub: bool = False  # this room serves JupyterHub too (`classroom hub` writes it to the room file)
    hub_url: str | None = None
    hub_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    prefect_api_url: str | None = Field(None, validation_alias="PREFECT_API_URL")
    prefect_api_key: SecretStr | None = Field(None, validation_alias="PREFECT_API_KEY")
    prefect_ui_url: str | None = Field(None, validation_alias="PREFECT_UI_URL")
    jupyter_url: str | None = None
    codespace_name: str | None = Field(None, validation_alias="CODESPACE_NAME")  # GitHub Codespaces sets these two
    codespaces_domain: str | None = Field(None, validation_alias="GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN")

    @field_validator("home", "mock_fixture")
    @classmethod
    def _resolve(cls, path: Path | None) -> Path | None:
        return None if path is None else course_path(path)

    @field_validator("api_url", "prefect_api_url", "prefect_ui_url", "room", "hub_url")
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

    @field_validator("learner")
    @classmethod
    def _learner_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        name = name.strip().lower()
        if not LEARNER_NAME.fullmatch(name) or name in RESERVED_NAMES:
            raise ValueError(
                "a learner's name is 1 to 24 lowercase letters and digits, starting with a letter "
                f"(no spaces or dashes), and not {', '.join(sorted(RESERVED_NAMES))}"
            )
        return name

    @field_validator("jupyter_url")
    @classmethod
    def _jupyter_address(cls, url: str | None) -> str | None:
        url = (url or "").strip()
        if not url:
            return None
        if not re.fullmatch(r"(https?://[^/\s]+)?/[^\s?#]*", url):
            raise ValueError("give JupyterLab's address as the browser shows it, up to its /lab, e.g. "
                             "https://hub.example.edu/user/ann/ or /user/ann/")
        return url.rstrip("/") + "/"

    @field_validator("room")
    @classmethod
    def _room_address(cls, room: str | None) -> str | None:
        if room and not re.fullmatch(r"https?://[^/:@\s]+", room):
            raise ValueError("give the room's address as http://HOST (the ports are the course's port settings)")
        return room

    @field_validator("room_prefect_url")
    @classmethod
    def _room_prefect_address(cls, url: str | None) -> str | None:
        url = url.strip().rstrip("/") if url else None
        if url and not re.fullmatch(r"https?://[^/:@\s]+(:\d{1,5})?", url):
            raise ValueError("give the room's Prefect server as http://HOST:PORT, without /api")
        return url or None

    @model_validator(mode="after")
    def _room_needs_a_name(self) -> Settings:
        if self.room and not self.learner:
            raise ValueError(
                "WORKSHOP_ROOM is set but WORKSHOP_LEARNER is not: join with `python -m workshop join ... --as NAME`"
            )
        return self

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

    # Who is who in a room.
    @property
    def in_room(self) -> bool:
        """A learner in a room: the room's services, nothing of the course's runs here but the runner."""
        return self.room is not None

    @property
    def hosts_room(self) -> bool:
        """This course folder runs a room (`classroom up`): its services ask for the room's password."""
        return self.room is None and self.room_password is not None

    @property
    def scaled(self) -> bool:
        """This course folder runs a room in Prefect's scaled mode: Redis, the API in several processes, the
        background services in one of their own."""
        return self.hosts_room and self.api_workers > 1

    @property
    def prefix(self) -> str:
        """What the names of everything this learner creates start with: `workshop-`, in a room `workshop-<name>-`."""
        return f"{PREFIX}{self.learner}-" if self.in_room else PREFIX

    @property
    def room_auth(self) -> tuple[str, str] | None:
        """(user, password) for a room's inbox and mock API (requests' `auth=`)."""
        return (ROOM_USER, self.room_password.get_secret_value()) if self.room_password else None

    @property
    def auth_string(self) -> str | None:
        """Prefect's basic-auth `user:password` of the room, if there is one."""
        return f"{ROOM_USER}:{self.room_password.get_secret_value()}" if self.room_password else None

    # Where things are.
    @property
    def address(self) -> str:
        """Where this machine reaches the course's services: the room's address for its learners."""
        if self.in_room:
            return self.room.split("://", 1)[1]
        return self.host

    def _service_url(self, port: int) -> str:
        scheme = self.room.split("://", 1)[0] if self.in_room else "http"
        return f"{scheme}://{self.address}:{port}"

    @property
    def course_prefect_api_url(self) -> str:
        """The course's own Prefect server: the one it runs on this machine, or in a room, the room's."""
        if self.room_prefect_url and (self.in_room or self.hosts_room):
            return f"{self.room_prefect_url}/api"
        return f"{self._service_url(self.prefect_port)}/api"

    @property
    def external_prefect_api_url(self) -> str | None:
        """The server the learner chose with PREFECT_API_URL, unless it is the course's own (or the room's)."""
        if self.in_room:
            return None
        url = self.prefect_api_url
        return None if url is None or url == self.course_prefect_api_url else url

    @property
    def mock_url(self) -> str:
        """The mock API; in a room, this learner's part of the room's (its own faults and counts)."""
        return self._service_url(self.mock_port) + (f"/{self.learner}" if self.in_room else "")

    @property
    def inbox_url(self) -> str:
        """The inbox; in a room, this learner's channels of the room's inbox."""
        return self._service_url(self.inbox_port) + (f"/{self.learner}" if self.in_room else "")

    @property
    def hub_address(self) -> str | None:
        """Where browsers reach the room's JupyterHub, if this room serves one (a learner's server is told)."""
        if self.in_room:
            return self.hub_url
        if self.hosts_room and self.hub:
            return self.hub_url or f"http://{self.host}:{self.hub_port}"
        return None

    @property
    def jupyter_address(self) -> str | None:
        """Where the browser reaches the JupyterLab this course runs in, when that is not this machine; a laptop's
        course only (a room's services are on the room's machine, which no learner's JupyterLab proxies)."""
        if self.in_room or self.hosts_room:
            return None
        if self.jupyter_url:
            return self.jupyter_url
        if self.codespace_name and self.codespaces_domain:
            return f"https://{self.codespace_name}-{JUPYTERLAB_PORT}.{self.codespaces_domain}/"
        return None

    def through_jupyter(self, port: int) -> str | None:
        """Where the browser reaches the course's service at `port` through JupyterLab's proxy, if it must."""
        jupyter = self.jupyter_address
        return None if jupyter is None else jupyter + THROUGH_JUPYTER.format(port=port)

    def proxied_path(self, port: int) -> str | None:
        """The path under which requests for the service at `port` arrive through JupyterLab's proxy."""
        through = self.through_jupyter(port)
        return None if through is None else urlsplit(through).path

    def proxied_without_host(self, port: int) -> str | None:
        """That path, when JupyterLab's address was given as a path alone (Binder's): its host is not known here."""
        jupyter = self.jupyter_address
        return self.proxied_path(port) if jupyter is not None and "://" not in jupyter else None

    @property
    def _browser_addresses(self) -> list[str]:
        """The full addresses of where browsers reach the course's servers from elsewhere: the hub, JupyterLab."""
        return [url for url in (self.hub_address, self.jupyter_address) if url and "://" in url]

    @property
    def served_hosts(self) -> set[str]:
        """The host names the course's servers answer to: this machine's, the room's address, the hub's, and the
        JupyterLab's they are proxied through."""
        names = {HOST, "localhost", self.host}
        names.update(urlsplit(url).hostname or self.host for url in self._browser_addresses)
        return names

    def served_origins(self, port: int) -> set[str]:
        """The pages that may change things on the course's server at `port`: its own, the room's hub's, and the
        JupyterLab's it is proxied through."""
        origins = {f"http://{name}:{port}" for name in self.served_hosts}
        for url in self._browser_addresses:
            origins.add(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}")
        return origins

    @property
    def inbox_page_url(self) -> str:
        """The inbox page to keep open in a browser tab: in a hub, through the hub's address."""
        if self.in_room and self.hub_url:
            return f"{self.hub_url}/inbox/{self.learner}/"
        return f"{self.through_jupyter(self.inbox_port) or self.inbox_url}/"

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

    @property
    def room_file(self) -> Path:
        return self.home / ROOM_FILE

    @property
    def ports_file(self) -> Path:
        return self.home / PORTS_FILE


def variable(field: str) -> str:
    """The environment variable behind a settings field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"WORKSHOP_{field.upper()}"


def load() -> Settings:
    """Read the settings from the environment, then the course folder's room file and ports file, or say what is
    wrong."""
    try:
        home = os.environ.get("WORKSHOP_HOME", "").strip()  # where those files are: the environment alone says
        folder = course_path(Path(home)) if home else _default_home()
        files = tuple(path for path in (folder / PORTS_FILE, folder / ROOM_FILE) if path.is_file())  # the last wins
        return Settings(_env_file=files or None)
    except ValidationError as invalid:
        raise SettingsError(explain(invalid)) from None


SECRET_FIELDS = {"database_url", "room_password", "prefect_api_key"}  # never repeated in a message


def explain(invalid: ValidationError) -> str:
    problems = []
    for error in invalid.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in PORT_DEFAULTS:
            problems.append(
                f"{variable(field)}={error.get('input')!r} is not a usable port. Set it to a number from 1024 "
                f"to 65535, or unset it to use {PORT_DEFAULTS[field]}."
            )
        elif field:
            shown = "(hidden)" if field in SECRET_FIELDS else repr(error.get("input"))
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


def environment_for_child(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process the course starts: this one's, with the settings made explicit."""
    env = dict(os.environ)
    env.update(
        DO_NOT_TRACK="1",  # offline laptops: Prefect's clients and CLI send no usage data, and print no notice about it
        WORKSHOP_HOME=str(settings.home),
        # What a child reads instead of a command line: where it listens (`services` names each one's port).
        **{variable(name): str(getattr(settings, name)) for name in ("host", *PORT_DEFAULTS)},
    )
    if settings.mock_fixture:
        env["WORKSHOP_MOCK_FIXTURE"] = str(settings.mock_fixture)
    env.update(extra or {})
    return env
