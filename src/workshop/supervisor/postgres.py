"""PostgreSQL from the machine's own binaries: the database of a room's Prefect server.

Prefect's server answers many learners at once on PostgreSQL (on SQLite,
concurrent writers get 503s). A cluster lives in one folder: `create()` makes
it (a random password, scram auth, listening on one address only), `start()`
and `stop()` run `pg_ctl`, which keeps PostgreSQL's own pid file, so the
course needs no process record of its own for it. PostgreSQL's `initdb`
refuses to run as root, so under root (containers, CI) its programs run as
the unprivileged `postgres` user that Debian's package creates (or `nobody`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ServiceError, WorkshopError
from ..settings import Settings

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, postgres) are not installed: `sudo apt-get install postgresql` "
    "on Debian or Ubuntu, `brew install postgresql` on macOS."
)
USER = "workshop"
DATABASE = "prefect"


def binaries() -> Path | None:
    """The folder with `initdb` and `postgres`: on the PATH, or where Debian's packages put them."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent  # a link on the PATH leads to the folder with the other programs
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return versions[-1].parent if versions else None


def _unprivileged() -> tuple[list[str], pwd.struct_passwd | None]:
    """How to run PostgreSQL's programs: as ourselves, or (as root) through setpriv as an unprivileged user."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"], user
    raise WorkshopError("Running as root, and there is no unprivileged user (postgres, nobody) to run PostgreSQL as.")


def _run(program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    bin_dir = binaries()
    if bin_dir is None:
        raise WorkshopError(INSTALL_HINT)
    prefix, _ = _unprivileged()
    try:
        return subprocess.run([*prefix, str(bin_dir / program), *args], check=True, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.CalledProcessError as failed:
        raise ServiceError(f"PostgreSQL's {program} failed: {(failed.stderr or failed.stdout).strip()}") from None


def new_folder(prefix: str) -> Path:
    """An empty folder the unprivileged user may use. Not under the caller's private folders (as root, /root is
    closed to others): in the system's temporary folder."""
    return _own_folder(Path(tempfile.mkdtemp(prefix=prefix)))


def _own_folder(folder: Path) -> Path:
    """`folder`, made if need be, handed to the user PostgreSQL runs as (as root, an unprivileged one)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    _, user = _unprivileged()
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    return folder


def create(folder: Path) -> None:
    """A new cluster in `folder` (which exists, empty, and is the unprivileged user's), with a random password."""
    password = folder / "password"
    password.write_text(secrets.token_urlsafe(16))
    password.chmod(0o600)
    _, user = _unprivileged()
    if user is not None:
        os.chown(password, user.pw_uid, user.pw_gid)
    _run("initdb", "-D", str(folder / "data"), "-U", USER, f"--pwfile={password}", "--auth-host=scram-sha-256",
         "--auth-local=trust", "-E", "UTF8", "--no-instructions")


def is_created(folder: Path) -> bool:
    return (folder / "data" / "PG_VERSION").is_file()


def running(folder: Path) -> bool:
    bin_dir = binaries()
    if bin_dir is None or not is_created(folder):
        return False
    prefix, _ = _unprivileged()
    return subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "status"],
                          capture_output=True, timeout=30).returncode == 0


def start(folder: Path, host: str, port: int, *, durable: bool = True) -> None:
    """Start the cluster on host:port and wait (at most 60 s) until it takes connections."""
    options = f"-h {host} -p {port} -k {folder} -c max_connections=300"
    if not durable:
        options += " -c fsync=off"  # a throwaway cluster need not survive a power cut; tests on slow disks wait less
    _run("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "postgres.log"), "-o", options, "-w", "-t", "60", "start")


def stop(folder: Path) -> bool:
    """Stop the cluster ("fast": without waiting for clients to leave). True if it was running."""
    if not running(folder):
        return False
    _run("pg_ctl", "-D", str(folder / "data"), "-m", "fast", "-w", "-t", "60", "stop")
    return True


def create_database(folder: Path, port: int, name: str = DATABASE) -> None:
    _run("createdb", "-h", str(folder), "-p", str(port), "-U", USER, name, timeout=60)


def url(folder: Path, host: str, port: int, database: str = DATABASE) -> str:
    """The database's URL, for WORKSHOP_DATABASE_URL."""
    return f"postgresql://{USER}:{(folder / 'password').read_text().strip()}@{host}:{port}/{database}"


def query(database_url: str, sql: str) -> list[str]:
    """Rows of `sql` run on the database of `database_url` (by psql), one string per row."""
    return _run("psql", database_url, "-tAc", sql, timeout=30).stdout.splitlines()


# The room's cluster: one per course folder, kept between `classroom up`s.

ROOT_ROOMS = Path("/var/lib/prefect-workshop")  # as root: kept across reboots, unlike the temporary folder


def room_folder(settings: Settings) -> Path:
    """Where the room's cluster lives: the course folder, or (as root, whose folders PostgreSQL's user cannot
    enter) a folder of /var/lib/prefect-workshop named after the course folder."""
    if os.geteuid() != 0:
        return settings.home / "postgres"
    tag = hashlib.sha256(str(settings.home).encode()).hexdigest()[:12]
    return ROOT_ROOMS / f"room-postgres-{tag}"


def ensure_room_database(settings: Settings, report) -> str:
    """The room's own PostgreSQL, created on first use and started if it is not running; returns its URL."""
    folder = room_folder(settings)
    port = settings.postgres_port
    if not is_created(folder):
        report(f"Creating the room's PostgreSQL in {folder} (once; about 5 s)…")
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        _own_folder(folder)
        create(folder)
        start(folder, "127.0.0.1", port)
        create_database(folder, port)
    elif not running(folder):
        report(f"Starting the room's PostgreSQL on 127.0.0.1:{port}…")
        start(folder, "127.0.0.1", port)
    return url(folder, "127.0.0.1", port)
