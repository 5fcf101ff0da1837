"""Files only the course's own user may read: the room's password and file, the hub's admin password, the
process records (which name the services' commands)."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by this user only, whatever mode an existing file had."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # open()'s mode applies to a new file only
        handle.write(text)


def private_folder(path: Path) -> Path:
    """`path` as a folder only this user may enter (made if missing, tightened if not)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
