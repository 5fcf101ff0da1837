"""The course's Prefect server on PostgreSQL (WORKSHOP_DATABASE_URL), the database Prefect recommends for many users."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import SettingsError
from workshop.testing import postgres

from .course_folders import cli, ports_free, private_course


def needs_postgres(test):
    """A PostgreSQL of its own and a Prefect server on it: skipped without PostgreSQL, and the slow tier."""
    return pytest.mark.slow(pytest.mark.skipif(postgres.binaries() is None, reason=postgres.INSTALL_HINT)(test))


def test_a_database_url_that_is_not_postgresql_is_refused_without_showing_its_password(monkeypatch):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", "mysql://course:hunter2@db.example/prefect")
    with pytest.raises(SettingsError) as refused:
        settings_module.load()
    assert "WORKSHOP_DATABASE_URL" in str(refused.value) and "postgresql://" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_postgresql_url_is_given_to_prefect_in_its_asyncpg_form(monkeypatch):
    monkeypatch.setenv("WORKSHOP_DATABASE_URL", "postgresql://course:hunter2@127.0.0.1:5432/prefect")
    assert settings_module.load().database_url.get_secret_value() == "postgresql+asyncpg://course:hunter2@127.0.0.1:5432/prefect"


def test_a_private_course_for_tests_never_uses_the_learners_database(monkeypatch):
    from workshop.testing import isolation

    monkeypatch.setenv("WORKSHOP_DATABASE_URL", "postgresql://learner:secret@127.0.0.1:5432/their_prefect")
    with isolation.isolated():
        assert settings_module.load().database_url is None


@pytest.fixture
def course_on_postgres(tmp_path):
    """A course folder whose services are up, its Prefect server on a new PostgreSQL; yields (environment, URL).
    Afterwards `down` must stop everything."""
    with postgres.cluster() as url:
        env = private_course(tmp_path, WORKSHOP_DATABASE_URL=url)
        try:
            up = cli(env, "up")
            assert up.returncode == 0, up.stderr
            yield env, url
        finally:
            down = cli(env, "down", timeout=30)
        assert down.returncode == 0, down.stderr
        assert ports_free(env)


@needs_postgres
def test_the_course_server_keeps_its_data_in_postgresql(course_on_postgres, tmp_path):
    env, url = course_on_postgres
    api = f"http://127.0.0.1:{env['WORKSHOP_PREFECT_PORT']}/api"
    created = requests.post(f"{api}/flows/", json={"name": "workshop-on-postgres"}, timeout=10)
    assert created.status_code in (200, 201), created.text
    assert postgres.query(url, "select name from flow") == ["workshop-on-postgres"]
    home = tmp_path / "course"
    assert not list(home.rglob("*.db")), "the server made a SQLite database as well"
    password = url.split(":")[2].split("@")[0]
    assert not [path for path in home.rglob("*") if path.is_file() and password in path.read_text(errors="ignore")], (
        "the database password was written into the course folder"
    )
    # The same server, asked for again, is reused: the record's digest matches the URL.
    again = cli(env, "up")
    assert again.returncode == 0 and "Starting the Prefect server" not in again.stdout, again.stdout


# Eight learners' kernels reach notebook 02's block cell at the same moment, each saving its own block.
FIRST_SAVES_AT_ONCE = """
import asyncio
from prefect.blocks.notifications import CustomWebhookNotificationBlock

async def save(learner):
    block = CustomWebhookNotificationBlock(name="inbox", url=f"http://127.0.0.1:9/{learner}")
    await block.asave(f"workshop-{learner}-inbox", overwrite=True)
    return "saved"

async def main():
    done = await asyncio.gather(*(save(f"learner{n}") for n in range(8)), return_exceptions=True)
    print(" ".join(result if result == "saved" else repr(result) for result in done))

asyncio.run(main())
"""


@needs_postgres
def test_learners_saving_their_first_blocks_at_once_on_a_new_server_all_succeed(course_on_postgres):
    # Prefect makes its key for block secrets on the first save; eight first saves at once failed 7 of 8
    # with ObjectNotFound before the course made the key when it starts the server.
    env, url = course_on_postgres
    assert postgres.query(url, "select count(*) from block_document") == ["0"], "making the key left a block"
    api = f"http://127.0.0.1:{env['WORKSHOP_PREFECT_PORT']}/api"
    saves = subprocess.run([sys.executable, "-c", FIRST_SAVES_AT_ONCE], env={**env, "PREFECT_API_URL": api},
                           capture_output=True, text=True, timeout=120)
    assert saves.stdout.split() == ["saved"] * 8, saves.stdout + saves.stderr[-2000:]


def test_a_rooms_database_is_kept_where_a_reboot_leaves_it(tmp_path):
    """As root (CI, containers) PostgreSQL may not enter the course folder; its data still outlives a reboot."""
    import tempfile

    from workshop.settings import Settings
    from workshop.supervisor import postgres

    folder = postgres.room_folder(Settings(home=tmp_path))
    assert not folder.is_relative_to(tempfile.gettempdir()), folder
