"""A throwaway PostgreSQL cluster for tests and benchmarks.

`cluster()` creates one in a temporary folder, on 127.0.0.1, on a spare port,
and yields the database URL for WORKSHOP_DATABASE_URL; on exit it is stopped
and its folder removed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator

from ..supervisor.postgres import INSTALL_HINT, binaries, create, create_database, new_folder, query, start, stop, url
from .isolation import spare_port

__all__ = ["INSTALL_HINT", "binaries", "cluster", "query"]


@contextlib.contextmanager
def cluster(database: str = "prefect") -> Iterator[str]:
    """A running PostgreSQL with one empty `database`; yields its URL."""
    folder = new_folder("workshop-postgres-")
    port = spare_port()
    try:
        create(folder)
        start(folder, "127.0.0.1", port, durable=False)
        create_database(folder, port, database)
        yield url(folder, "127.0.0.1", port, database)
    finally:
        with contextlib.suppress(Exception):
            stop(folder)
        shutil.rmtree(folder, ignore_errors=True)
