"""A throwaway PostgreSQL cluster from the machine's own binaries, for tests and benchmarks.

`cluster()` creates one in a temporary folder, listening on 127.0.0.1 on a
free port with a random password, and yields the database URL for
WORKSHOP_DATABASE_URL; on exit it is stopped and its folder removed.
PostgreSQL's `initdb` refuses to run as root, so under root (containers,
CI) the cluster runs as the unprivileged `postgres` user that Debian's
package creates (or `nobody`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import WorkshopError
from ..settings import HOST
from ..waiting import wait_for
from .isolation import free_port

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, postgres) are not installed: `sudo apt-get install postgresql` "
    "on Debian or Ubuntu, `brew install postgresql` on macOS."
)
USER = "workshop"


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


@contextlib.contextmanager
def cluster(database: str = "prefect") -> Iterator[str]:
    """A running PostgreSQL with one empty `database`; yields its URL."""
    bin_dir = binaries()
    if bin_dir is None:
        raise WorkshopError(INSTALL_HINT)
    prefix, user = _unprivileged()
    # Not under pytest's tmp_path: its parents are private to us, and the postgres user must reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="workshop-postgres-"))
    password = secrets.token_urlsafe(16)
    (folder / "password").write_text(password)
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chown(folder / "password", user.pw_uid, user.pw_gid)
    port = free_port()
    server = None
    log = open(folder / "postgres.log", "w")
    try:
        subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", USER, f"--pwfile={folder / 'password'}",
             "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-instructions"],
            check=True, capture_output=True, text=True, timeout=120,
        )
        server = subprocess.Popen(
            # fsync off: a throwaway cluster need not survive a power cut, and tests on slow disks wait less.
            [*prefix, str(bin_dir / "postgres"), "-D", str(folder / "data"), "-h", HOST, "-p", str(port),
             "-k", str(folder), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        ready = [*prefix, str(bin_dir / "pg_isready"), "-h", HOST, "-p", str(port), "-U", USER, "-q"]
        wait_for(lambda: server.poll() is None and subprocess.run(ready).returncode == 0, timeout=60,
                 what=f"PostgreSQL to accept connections on {HOST}:{port}", interval=0.3)
        subprocess.run([*prefix, str(bin_dir / "createdb"), "-h", str(folder), "-p", str(port), "-U", USER, database],
                       check=True, capture_output=True, text=True, timeout=60)
        yield f"postgresql://{USER}:{password}@{HOST}:{port}/{database}"
    except subprocess.CalledProcessError as failed:
        raise WorkshopError(f"{Path(failed.cmd[len(prefix)]).name} failed: {failed.stderr.strip()}") from None
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown: it does not wait for clients to leave
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def query(url: str, sql: str) -> list[str]:
    """Rows of `sql` run on the database of `url` (by psql), one string per row."""
    bin_dir = binaries()
    prefix, _ = _unprivileged()
    result = subprocess.run([*prefix, str(bin_dir / "psql"), url, "-tAc", sql], check=True, capture_output=True,
                            text=True, timeout=30)
    return result.stdout.splitlines()
