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
    import time

    config._workshop_began = time.time()  # what this run's notebooks were executed after
    _home = isolation.enter(prefix="workshop-tests-")


def start_services():
    global _course
    if _course is None:
        import workshop

        _course = workshop.start()
    return _course


# A test that needs any of these runs a real Prefect server, a room, a hub or a browser: the slow tier. The rest is
# the fast tier (`pytest -m "not slow"`, README), which runs in seconds after an edit. Modules that start such
# things themselves say `pytestmark = pytest.mark.slow`.
SLOW_FIXTURES = {"course", "room", "hub", "lab", "browser", "handouts"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a run that executed every notebook as shipped, build the course's website from those runs (README,
    "The course as a website"): a site that does not build, or links to what it does not have, fails the run."""
    import time

    from workshop.errors import WorkshopError
    from workshop.instructor import site

    from .course_folders import ROOT
    from .notebooks import EXECUTED, NOTEBOOKS

    if hasattr(session.config, "workerinput") or exitstatus != 0:
        return  # a worker (the controller builds it once), or a run that failed already
    began = getattr(session.config, "_workshop_began", time.time())
    if not all((EXECUTED / name).is_file() and (EXECUTED / name).stat().st_mtime >= began for name in NOTEBOOKS.values()):
        return  # not every notebook ran in this run (the fast tier, a chosen test): no site
    try:
        start = site.build(ROOT, EXECUTED, ROOT / "test-artifacts" / "site", screenshots=ROOT / "test-artifacts")
    except WorkshopError as failed:
        print(f"\nThe course's website did not build from this run's notebooks: {failed}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    print(f"\nThe course's website, from this run's notebooks: {start}")


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
    """Serve on a thread for the test, stopped afterwards: a stdlib HTTP server (a fake peer), or one of the
    course's apps with `port` (as its server serves it). Returns the server's URL."""
    servers, served = [], []

    def serve(server, port: int | None = None) -> str:
        if hasattr(server, "serve_forever"):
            servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            host, bound = server.server_address[:2]
            return f"http://{host}:{bound}"
        from workshop.testing.serving import Served

        served.append(Served(server, port))
        return served[-1].__enter__()

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()
    for one in served:
        one.__exit__(None, None, None)
