"""A room's settings without its services: the room file, the learner's names, what bad values say."""

from __future__ import annotations

import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import SettingsError, WorkshopError
from workshop.instructor import room


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("WORKSHOP_ROOM", "WORKSHOP_LEARNER", "WORKSHOP_ROOM_PASSWORD", "WORKSHOP_HOST", "WORKSHOP_HUB",
                 "WORKSHOP_HUB_URL", "WORKSHOP_ROOM_PREFECT_URL", "PREFECT_UI_URL", "WORKSHOP_API_WORKERS",
                 "WORKSHOP_SERVICES_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    return tmp_path


def test_the_room_file_makes_every_process_of_the_folder_a_learner_and_the_environment_wins(home, monkeypatch):
    room.write_room_file(settings_module.load(), {"WORKSHOP_ROOM": "http://10.0.0.5", "WORKSHOP_LEARNER": "ann",
                                                  "WORKSHOP_ROOM_PASSWORD": "s3cret-_x"})
    joined = settings_module.load()
    assert joined.in_room and joined.prefix == "workshop-ann-" and joined.room_auth == ("workshop", "s3cret-_x")
    assert joined.inbox_url == f"http://10.0.0.5:{joined.inbox_port}/ann"
    assert joined.course_prefect_api_url == f"http://10.0.0.5:{joined.prefect_port}/api"
    assert (home / "room.env").stat().st_mode & 0o077 == 0  # it holds the password: the owner's alone
    monkeypatch.setenv("WORKSHOP_LEARNER", "bob")
    assert settings_module.load().prefix == "workshop-bob-"


def test_a_value_the_room_file_cannot_hold_is_refused_and_nothing_is_written(home):
    with pytest.raises(WorkshopError, match="WORKSHOP_ROOM_PASSWORD=\\(hidden\\) holds a quote") as refused:
        room.write_room_file(settings_module.load(), {"WORKSHOP_ROOM_PASSWORD": "it's"})
    assert "it's" not in str(refused.value) and not (home / "room.env").exists()


@pytest.mark.parametrize("name", ["Ann Lee", "ann-lee", "9lives", "api", "a" * 25, "instructor", "inbox", "prefect"])
def test_a_learner_name_that_would_cross_into_others_names_is_refused_with_the_rule(home, monkeypatch, name):
    monkeypatch.setenv("WORKSHOP_ROOM", "http://10.0.0.5")
    monkeypatch.setenv("WORKSHOP_LEARNER", name)
    with pytest.raises(SettingsError, match="1 to 24 lowercase letters and digits"):
        settings_module.load()


def test_a_room_without_a_name_says_how_to_join(home, monkeypatch):
    monkeypatch.setenv("WORKSHOP_ROOM", "http://10.0.0.5")
    with pytest.raises(SettingsError, match="join .* --as NAME"):
        settings_module.load()


def test_a_notebook_in_the_rooms_own_folder_is_told_to_demo_as_a_learner(home, monkeypatch):
    from workshop.supervisor.addresses import course_for

    monkeypatch.setenv("WORKSHOP_ROOM_PASSWORD", "s3cret")
    shown = course_for(settings_module.load())._repr_markdown_()
    assert "This course folder runs the room" in shown and "--as demo" in shown
    monkeypatch.delenv("WORKSHOP_ROOM_PASSWORD")
    assert "runs the room" not in course_for(settings_module.load())._repr_markdown_()


def test_classroom_hub_without_jupyterhubs_proxy_says_how_to_install_it_and_starts_nothing(home, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(WorkshopError, match="npm install -g configurable-http-proxy"):
        room.host(settings_module.load(), address=None, new_password=False, hub=True)
    assert not (home / "room.env").exists() and not (home / "run").exists()


@pytest.mark.parametrize("scale, refused", [({"services_workers": 2}, "with --api-workers"),
                                             ({"api_workers": 2, "services_workers": 9}, "give 2 to 8"),
                                             ({"api_workers": 40}, "give 2 to 32")])
def test_a_scaled_rooms_process_counts_out_of_range_are_refused_and_nothing_starts(home, scale, refused):
    with pytest.raises(WorkshopError, match=refused):
        room.host(settings_module.load(), address=None, new_password=False, **scale)
    assert not (home / "room.env").exists() and not (home / "run").exists()


def test_a_scaled_rooms_services_in_several_processes_are_one_row_that_says_how_many(home, monkeypatch):
    from workshop.supervisor import prefect_server

    monkeypatch.setenv("WORKSHOP_ROOM_PASSWORD", "pw")
    monkeypatch.setenv("WORKSHOP_API_WORKERS", "2")
    one = prefect_server.services_spec(settings_module.load())
    monkeypatch.setenv("WORKSHOP_SERVICES_WORKERS", "3")
    three = prefect_server.services_spec(settings_module.load())
    assert one.title == "Prefect server's background services" and three.title.endswith(", in 3 processes")
    # The count is in the process's recorded settings: `classroom up` with another count restarts it.
    assert (one.own_env["WORKSHOP_SERVICES_WORKERS"], three.own_env["WORKSHOP_SERVICES_WORKERS"]) == ("1", "3")


def test_a_hub_learners_server_is_in_the_room_under_their_name_and_shows_pages_through_the_hub(home, monkeypatch):
    from workshop.hub import config as hub
    from workshop.supervisor.addresses import course_for
    from workshop.supervisor.service import SPARE_PORTS

    room.write_room_file(settings_module.load(), {"WORKSHOP_ROOM_PASSWORD": "s3cret-_x", "WORKSHOP_HUB": "true"})
    instructor = settings_module.load()
    assert instructor.hub_address == f"http://127.0.0.1:{instructor.hub_port}"
    for name, value in hub.learner_environment(instructor, "ann").items():
        monkeypatch.setenv(name, value)
    ann = settings_module.load()
    assert ann.in_room and ann.prefix == "workshop-ann-" and ann.home == home / "hub" / "learners" / "ann" / ".workshop"
    assert ann.course_prefect_api_url == f"http://127.0.0.1:{instructor.prefect_port}/api"  # the kernel: the room's server
    shown = course_for(ann)  # the browser: the hub's address
    assert shown.prefect_ui_url == f"{instructor.hub_address}/prefect"
    assert shown.inbox_url == f"{instructor.hub_address}/inbox/ann/"
    assert ann.runner_port != instructor.runner_port  # learners share a machine: a deployment runner's port each
    assert ann.runner_port in SPARE_PORTS and ann.worker_port in SPARE_PORTS  # never a kernel's channel meanwhile


def test_a_ui_page_asked_for_at_its_other_place_is_sent_on_and_the_api_never_is():
    from workshop.servers.prefect_app import UIMoved

    behind_hub, at_root = UIMoved(None, "/prefect"), UIMoved(None, "/")
    assert behind_hub.moved("/runs/flow-run/1") == "/prefect/runs/flow-run/1" and behind_hub.moved("/") == "/prefect/"
    assert behind_hub.moved("/prefect/runs/flow-run/1") is None and behind_hub.moved("/api/health") is None
    assert at_root.moved("/prefect/runs/flow-run/1") == "/runs/flow-run/1" and at_root.moved("/prefect") == "/"
    assert at_root.moved("/runs/flow-run/1") is None and at_root.moved("/api/flows/filter") is None


def test_a_ui_page_sent_on_never_leaves_the_server(serve_in_thread):
    """`/prefect//evil.example` must not become `Location: //evil.example` (another site, to a browser)."""
    from starlette.responses import PlainTextResponse

    from workshop.servers.prefect_app import UIMoved
    from workshop.testing.isolation import free_port

    server = serve_in_thread(UIMoved(PlainTextResponse("ok"), "/"), free_port())
    for path in ("/prefect//evil.example/x", "/prefect/%5C%5Cevil.example", "/prefect/%2F%2Fevil.example"):
        moved = requests.get(server + path, allow_redirects=False, timeout=10)
        assert moved.status_code == 307 and moved.headers["location"].startswith("/")
        assert not moved.headers["location"].startswith(("//", "/\\", "/%5C")), (path, moved.headers["location"])


def test_a_rooms_prefect_server_elsewhere_is_taken_as_an_address_and_a_path_is_refused(home, monkeypatch):
    """WORKSHOP_ROOM_PREFECT_URL: the room's Prefect server apart from its other services (docs/kubernetes)."""
    monkeypatch.setenv("WORKSHOP_ROOM", "http://workshop-room")
    monkeypatch.setenv("WORKSHOP_LEARNER", "ann")
    monkeypatch.setenv("WORKSHOP_ROOM_PREFECT_URL", "http://prefect-server:4200/")
    joined = settings_module.load()
    assert joined.course_prefect_api_url == "http://prefect-server:4200/api"
    assert joined.inbox_url == f"http://workshop-room:{joined.inbox_port}/ann"
    monkeypatch.setenv("WORKSHOP_ROOM_PREFECT_URL", "http://prefect-server:4200/api")
    with pytest.raises(SettingsError, match="without /api"):
        settings_module.load()
