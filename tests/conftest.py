"""The test session runs against its own services, never the learner's.

`workshop.testing.isolation` gives the session a temporary course folder, a temporary
Prefect home and free ports before anything imports Prefect. Services start
once, on first need (a test asking for `course`), and stop when the session ends.
Notebook kernels inherit the environment, so `workshop.start()` inside them finds
these same services. The tests run on several workers (pytest-xdist, `addopts` in
pyproject.toml): each worker is a session of its own, with services of its own.
"""

from __future__ import annotations

import threading

import pytest

from workshop.testing import isolation

_home = None
_course = None


def pytest_configure(config: pytest.Config) -> None:
    global _home
    _home = isolation.enter(prefix="workshop-tests-")


def start_services():
    global _course
    if _course is None:
        import workshop

        _course = workshop.start()
    return _course


def pytest_unconfigure(config: pytest.Config) -> None:
    if _home is not None:
        isolation.leave(_home)


@pytest.fixture(scope="session")
def course():
    """The session's Prefect server, mock API and inbox, all on loopback."""
    return start_services()


@pytest.fixture(scope="module")
def handouts(tmp_path_factory):
    """`learner/` and `solved/` copies of the notebooks, as `python -m workshop handouts` writes them: one set per
    test module, so notebooks that write `output/` next to themselves never share it with another module's."""
    from workshop.instructor.handouts import write_handouts

    destination = tmp_path_factory.mktemp("handouts")
    write_handouts(destination)
    return destination


@pytest.fixture
def free_port() -> int:
    return isolation.free_port()


@pytest.fixture
def settings():
    """The session's settings, read from the environment as the CLI and kernels read them."""
    from workshop import settings as settings_module

    return settings_module.load()


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
