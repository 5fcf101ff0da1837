"""A room: one Prefect server (on PostgreSQL), mock API and inbox for every learner of a workshop.

The instructor's `classroom up` writes the room's settings to the course
folder's room file (the password, the address to listen on, the database) and
starts the services with them; `classroom down` stops them and removes the
file, so the folder is a laptop course again. A learner's `join` checks the
room, then writes the room's address, the password and the learner's name to
their own room file; `leave` removes it. The room file is read by
`settings.load()` after the environment, so every terminal and kernel of the
folder agrees.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

import requests
from pydantic import ValidationError

from .. import settings as settings_module
from ..client import prefect_session
from ..contract import UI_BASE_IN_HUB
from ..errors import SettingsError, WorkshopError
from ..hub import service as hub_service
from ..hub.config import stop_learners_runners
from ..private import write_private
from ..services import HUB, PREFECT_SERVICES
from ..settings import PORT_DEFAULTS, ROOM_USER, Settings, variable
from ..supervisor import course, postgres, process, redis, remote
from ..supervisor.service import Report, silent


def write_room_file(settings: Settings, values: dict[str, str]) -> None:
    for name, value in values.items():
        if "'" in value or "\n" in value:  # the file quotes values in single quotes, which cannot hold these
            shown = "(hidden)" if name in ("WORKSHOP_ROOM_PASSWORD", "WORKSHOP_DATABASE_URL") else repr(value)
            raise WorkshopError(f"{name}={shown} holds a quote or a line break, which the room file cannot keep: "
                                "choose a value without (for the password: `classroom up --new-password`).")
    lines = [f"# Written by `python -m workshop {'join' if 'WORKSHOP_ROOM' in values else 'classroom up'}`; "
             f"`python -m workshop {'leave' if 'WORKSHOP_ROOM' in values else 'classroom down'}` removes it."]
    lines += [f"{name}='{value}'" for name, value in values.items()]
    write_private(settings.room_file, "\n".join(lines) + "\n")  # it holds the room's password


def _room_password(settings: Settings, new: bool) -> str:
    """The room's password: kept in the course folder between `classroom up`s, so join lines stay valid."""
    kept = settings.home / "room-password"
    if kept.is_file() and not new:
        return kept.read_text().strip()
    password = secrets.token_urlsafe(9)
    write_private(kept, password + "\n")
    return password


def _checked_address(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise WorkshopError(f"--host {host}: give an IP address of this machine that learners reach, e.g. 192.168.1.10 "
                            "(`hostname -I` lists them), or leave it out to keep the room on 127.0.0.1.") from None
    if address.is_unspecified:
        raise WorkshopError(f"--host {host} would listen everywhere, and the Prefect UI needs the one address learners "
                            "use: name it, e.g. 192.168.1.10 (`hostname -I` lists them).")
    return host


def host(settings: Settings, *, address: str | None, new_password: bool, hub: bool = False, api_workers: int = 1,
         services_workers: int = 1, report: Report = silent) -> Settings:
    """Start (or keep running) the room's services, with its JupyterHub if `hub`, in Prefect's scaled mode with the
    API in `api_workers` processes if more than one (and the background services in `services_workers`); returns the
    room's settings."""
    if settings.in_room:
        raise WorkshopError("This course folder has joined a room as a learner: `python -m workshop leave` first.")
    if hub:
        hub_service.require_hub()  # before anything starts
    if not 1 <= api_workers <= 32:
        raise WorkshopError(f"--api-workers {api_workers}: give 2 to 32 API processes for Prefect's scaled mode (about "
                            "one per core), or leave it out for one server process.")
    if not 1 <= services_workers <= 8 or (services_workers > 1 and api_workers == 1):
        raise WorkshopError(f"--services-workers {services_workers}: give 2 to 8 processes of Prefect's background "
                            "services, with --api-workers (Prefect's scaled mode), or leave it out for one.")
    if api_workers > 1:
        redis.require()
    values = {"WORKSHOP_ROOM_PASSWORD": _room_password(settings, new_password),
              "WORKSHOP_HOST": _checked_address(address or settings.host)}
    if hub:
        values["WORKSHOP_HUB"] = "true"
    if api_workers > 1:
        values["WORKSHOP_API_WORKERS"] = str(api_workers)
    if services_workers > 1:
        values["WORKSHOP_SERVICES_WORKERS"] = str(services_workers)
    # What the room no longer has (`classroom up` after `classroom hub`, or without --api-workers after it).
    gone = ([] if hub else [HUB.name]) + ([] if api_workers > 1 else [redis.NAME, PREFECT_SERVICES.name])
    for name in gone:
        if record := process.live_record(settings.run_dir, name):
            process.stop(record, settings.run_dir)
    # The room's own PostgreSQL unless the environment names a database (not the room file: a second `up` would
    # otherwise drop the URL it wrote, and restart the server on SQLite).
    if Settings().database_url is None:
        if postgres.binaries() is None:
            raise WorkshopError(f"A room's Prefect server keeps its data in PostgreSQL. {postgres.INSTALL_HINT} "
                                "Or give one: export WORKSHOP_DATABASE_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        values["WORKSHOP_DATABASE_URL"] = postgres.ensure_room_database(settings, report)
    if settings.hosts_room and settings.hub != hub and process.live_record(settings.run_dir, "prefect"):
        report(f"The room's Prefect server restarts with its UI {'under /prefect/, for the hub' if hub else 'at / again'}: "
               "learners' calls wait about 15 s (Prefect's clients try again), and a link to the UI's old address "
               "is sent on to the new one.")
    write_room_file(settings, values)
    room = settings_module.reload()
    if hub:
        hub_service.folder(room).mkdir(parents=True, exist_ok=True)
    course.up(room, report)
    return room


def end(settings: Settings) -> tuple[list[course.Stopped], bool]:
    """Stop the room's services and its PostgreSQL; the course folder is a laptop course again."""
    stopped = course.down(settings)
    stop_learners_runners(settings)  # detached: the hub's learners' deployment runners outlive their servers
    database_stopped = postgres.stop(postgres.room_folder(settings)) if postgres.binaries() else False
    if settings.hosts_room:
        settings.room_file.unlink(missing_ok=True)
    return stopped, database_stopped


def join_line(settings: Settings, *, with_password: bool = False) -> str:
    """The one line a learner runs to join this room: it asks for the room's password, or (`with_password`) holds it,
    which then shows in the learner's shell history and process list."""
    who = f"{ROOM_USER}:{settings.room_password.get_secret_value()}@" if with_password else ""
    line = f"python -m workshop join http://{who}{settings.host}:{settings.prefect_port} --as YOUR_NAME"
    for name in ("mock_port", "inbox_port"):
        if getattr(settings, name) != PORT_DEFAULTS[name]:
            line += f" --{name.replace('_', '-')} {getattr(settings, name)}"
    return line


def join(settings: Settings, room_url: str, name: str, *, password: str | None = None, mock_port: int | None = None,
         inbox_port: int | None = None) -> Settings:
    """Check the room answers and takes the password (in `room_url`, or `password`), then make this course folder a
    learner of it."""
    if settings.hosts_room and settings.room_file.is_file():  # not WORKSHOP_ROOM_PASSWORD given to join alone
        raise WorkshopError("This course folder runs a room: a learner joins from their own folder "
                            "(`python -m workshop classroom down` ends the room here).")
    parts = urlsplit(room_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or not parts.port:
        shown = room_url.replace(parts.password, "PASSWORD") if parts.password else room_url
        raise WorkshopError(f"{shown!r} is not a room's join address: copy the whole line the instructor gives, "
                            f"e.g. python -m workshop join http://10.0.0.5:4200 --as ann")
    if not (parts.password or password):
        raise WorkshopError("The room's password is missing: run `join` in a terminal, which asks for it, or give it "
                            "in the variable WORKSHOP_ROOM_PASSWORD.")
    values = {
        "WORKSHOP_ROOM": f"{parts.scheme}://{parts.hostname}",
        "WORKSHOP_LEARNER": name,
        "WORKSHOP_ROOM_PASSWORD": parts.password or password,
        "WORKSHOP_PREFECT_PORT": str(parts.port),
    }
    for field, port in (("mock_port", mock_port), ("inbox_port", inbox_port)):
        if port:
            values[variable(field)] = str(port)
    try:
        room = Settings(**_as_fields(values))
    except ValidationError as invalid:
        raise SettingsError(settings_module.explain(invalid)) from None
    values["WORKSHOP_LEARNER"] = room.learner  # as checked: lowercase
    remote.require_room(room)
    if ui := _ui_behind_hub(room):
        values["PREFECT_UI_URL"] = ui
    course.down(settings)  # the laptop's own services: the room's replace them
    write_room_file(settings, values)
    return settings_module.reload()


def _ui_behind_hub(room: Settings) -> str | None:
    """The room's Prefect UI if it is under /prefect/ (a room with a hub serves it there), else None: at the root."""
    server = room.course_prefect_api_url.removesuffix("/api")
    try:
        # Not followed: a room without its hub sends /prefect/... on to its root (prefect_app.UIMoved).
        answer = prefect_session().get(f"{server}{UI_BASE_IN_HUB}/ui-settings", timeout=10, allow_redirects=False)
    except requests.RequestException:
        return None
    return server + UI_BASE_IN_HUB if answer.status_code == 200 else None


def _as_fields(values: dict[str, str]) -> dict[str, str]:
    fields = {variable(field): field for field in Settings.model_fields}
    return {fields[name]: value for name, value in values.items()}


def leave(settings: Settings) -> bool:
    """Make this course folder a laptop course again. True if it was in a room."""
    if not settings.in_room:
        return False
    course.stop_runner(settings)
    course.stop_worker(settings)
    settings.room_file.unlink(missing_ok=True)
    return True
