"""The test session runs against its own services, never the learner's.

Before anything imports Prefect, the session gets a temporary course folder,
a temporary Prefect home and free ports, and forgets any PREFECT_API_URL the
shell had. Services start once, on first need (a notebook or a test asking for
`course`), and stop when the session ends. Notebook kernels inherit the
environment, so `workshop.start()` inside them finds these same services.
(nbmake items do not run autouse fixtures: hence the hook below.)
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="workshop-tests-"))
_course = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pytest_configure(config: pytest.Config) -> None:
    for variable in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE", "PREFECT_UI_URL", "WORKSHOP_API_URL", "WORKSHOP_MOCK_FIXTURE"):
        os.environ.pop(variable, None)
    os.environ.update(
        WORKSHOP_HOME=str(_HOME / "course"),
        PREFECT_HOME=str(_HOME / "prefect-client"),
        WORKSHOP_PREFECT_PORT=str(_free_port()),
        WORKSHOP_MOCK_PORT=str(_free_port()),
        WORKSHOP_INBOX_PORT=str(_free_port()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )


def start_services():
    global _course
    if _course is None:
        import workshop

        _course = workshop.start()
    return _course


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.path.suffix == ".ipynb":
        start_services()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _course is not None:
        from workshop import services

        services.down()
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def course():
    """The session's Prefect server, mock API and inbox, all on loopback."""
    return start_services()


@pytest.fixture
def free_port() -> int:
    return _free_port()


@pytest.fixture
def serve_in_thread():
    """Run a stdlib HTTP server on a thread for the test; stop it afterwards."""
    servers = []

    def serve(server):
        servers.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
