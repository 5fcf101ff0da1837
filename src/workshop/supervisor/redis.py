"""Redis from the machine's own binaries: how a scaled room's Prefect processes hand each other events.

In Prefect's scaled mode (`classroom up --api-workers N`) the API's processes and the
background services' process share events, messages, causal ordering, concurrency
leases and Docket's tasks through Redis, with Prefect's `prefect-redis` package. The
room's Redis listens on 127.0.0.1 only, asks for a password of its own (kept in the
course folder, given to it in a private configuration file, never on a command line)
and keeps an append-only file there, written to disk every second: what it
acknowledged survives its own stop and start; a power cut may lose the last second.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
from pathlib import Path

from ..errors import WorkshopError
from ..private import write_private
from ..settings import HOST, Settings
from .service import Health, ServiceSpec

NAME = "redis"
TITLE = "Redis (the room's broker)"
INSTALL_HINT = ("A room in Prefect's scaled mode needs Redis's server: `sudo apt-get install redis-server` on Debian "
                "or Ubuntu, `brew install redis` on macOS.")
PACKAGE_HINT = ('A room in Prefect\'s scaled mode needs Prefect\'s Redis integration: `pip install -e ".[scale]"` '
                "in the course's repository (prefect-redis).")
MESSAGING_DB, DOCKET_DB = 0, 1  # Prefect's messaging and Docket's tasks each in a database of their own


def binary() -> str | None:
    return shutil.which("redis-server")


def require() -> None:
    """What the scaled mode needs beyond a room, checked before anything starts."""
    if importlib.util.find_spec("prefect_redis") is None:
        raise WorkshopError(PACKAGE_HINT)
    if binary() is None:
        raise WorkshopError(INSTALL_HINT)


def folder(settings: Settings) -> Path:
    return settings.home / "redis"


def password(settings: Settings) -> str:
    """The room's Redis password: made once, kept in the course folder."""
    kept = folder(settings) / "password"
    if not kept.is_file():
        write_private(kept, secrets.token_urlsafe(24) + "\n")
    return kept.read_text().strip()


def url(settings: Settings, database: int) -> str:
    return f"redis://:{password(settings)}@{HOST}:{settings.redis_port}/{database}"


def prefect_settings(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Prefect's settings that put its events, messaging, ordering, leases and Docket on the room's Redis (those
    `prefect server start --workers` requires, prefect.cli._server_utils), and the ones holding the password."""
    plain = {
        "PREFECT_MESSAGING_BROKER": "prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE": "prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING": "prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE": "prefect_redis.lease_storage",
        "PREFECT_REDIS_MESSAGING_HOST": HOST,
        "PREFECT_REDIS_MESSAGING_PORT": str(settings.redis_port),
        "PREFECT_REDIS_MESSAGING_DB": str(MESSAGING_DB),
    }
    secret = {"PREFECT_REDIS_MESSAGING_PASSWORD": password(settings), "PREFECT_SERVER_DOCKET_URL": url(settings, DOCKET_DB)}
    return plain, secret


def _configuration(settings: Settings) -> Path:
    """Redis's configuration file: the password stays off the command line, where `ps` would show it."""
    here = folder(settings)
    lines = [
        f"port {settings.redis_port}", f"bind {HOST}", "protected-mode yes", f"requirepass {password(settings)}",
        f"dir {here}", "appendonly yes", "appendfsync everysec", 'save ""', "daemonize no", 'logfile ""',
    ]
    config = here / "redis.conf"
    write_private(config, "\n".join(lines) + "\n")
    return config


def probe(settings: Settings):
    def ask(timeout: float) -> Health:
        import redis

        client = redis.Redis(host=HOST, port=settings.redis_port, password=password(settings),
                             socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            client.ping()
        except redis.AuthenticationError:
            return Health("foreign", f"port {settings.redis_port} holds a Redis that does not take this room's password")
        except redis.ConnectionError as trouble:
            if "refused" in str(trouble).lower():
                return Health("down", "nothing is listening")
            return Health("foreign", f"port {settings.redis_port} does not answer as Redis ({trouble})")
        except redis.RedisError as trouble:
            return Health("foreign", f"port {settings.redis_port} does not answer as Redis ({trouble})")
        finally:
            client.close()
        return Health("healthy")

    return ask


def spec(settings: Settings) -> ServiceSpec:
    folder(settings).mkdir(parents=True, exist_ok=True)
    return ServiceSpec(
        name=NAME, title=TITLE, port=settings.redis_port, port_field="redis_port", url=f"redis://{HOST}:{settings.redis_port}",
        command=[binary() or "redis-server", str(_configuration(settings))], probe=probe(settings), cwd=folder(settings),
    )
