"""The course in a JupyterLab the browser reaches from elsewhere (Binder, a dev container, a JupyterHub that is not
the course's): the links it shows, and what its servers answer through JupyterLab's proxy. The browser's side is
in test_browser.py; this file is the fast tier's."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from workshop import settings as settings_module
from workshop.errors import SettingsError
from workshop.instructor.jupyterlab import lab_command
from workshop.servers import inbox
from workshop.settings import JUPYTERLAB_PORT, PORT_DEFAULTS, Settings
from workshop.supervisor import prefect_server
from workshop.supervisor.addresses import course_for
from workshop.supervisor.specs import inbox_spec
from workshop.testing.serving import Served

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


@pytest.fixture
def laptop(monkeypatch, tmp_path):
    for name in ("WORKSHOP_ROOM", "WORKSHOP_LEARNER", "WORKSHOP_ROOM_PASSWORD", "WORKSHOP_HUB", "WORKSHOP_HUB_URL",
                 "PREFECT_UI_URL", "PREFECT_API_URL", "WORKSHOP_JUPYTER_URL", "CODESPACE_NAME",
                 "GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKSHOP_HOME", str(tmp_path))
    monkeypatch.setenv("WORKSHOP_PREFECT_PORT", "4200")
    monkeypatch.setenv("WORKSHOP_INBOX_PORT", "4281")
    return monkeypatch


def test_on_binder_every_link_goes_through_jupyterlabs_address(laptop):
    laptop.setenv("WORKSHOP_JUPYTER_URL", "/user/ann-x7k2/")  # what binder/start gives: the path alone
    settings = settings_module.load()
    shown = course_for(settings)
    assert shown.prefect_ui_url == "/user/ann-x7k2/proxy/absolute/4200"
    assert shown.inbox_url == "/user/ann-x7k2/proxy/absolute/4281/"
    server = prefect_server.local_spec(settings).own_env
    assert server["PREFECT_SERVER_UI_SERVE_BASE"] == "/user/ann-x7k2/proxy/absolute/4200"
    assert server["PREFECT_UI_API_URL"] == "/user/ann-x7k2/proxy/absolute/4200/api"
    assert server["PREFECT_UI_URL"] == shown.prefect_ui_url  # the alerts' run links
    # The kernel's clients still talk to the services on this machine.
    assert shown.prefect_api_url == "http://127.0.0.1:4200/api" and settings.inbox_url == "http://127.0.0.1:4281"


def test_in_codespaces_the_links_are_its_forwarded_jupyterlabs_and_its_host_is_served(laptop):
    laptop.setenv("CODESPACE_NAME", "ann-fluffy-space-7wq9")
    laptop.setenv("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN", "app.github.dev")
    settings = settings_module.load()
    lab = "https://ann-fluffy-space-7wq9-8888.app.github.dev/"
    assert course_for(settings).prefect_ui_url == f"{lab}proxy/absolute/4200"
    assert settings.inbox_page_url == f"{lab}proxy/absolute/4281/"
    assert "ann-fluffy-space-7wq9-8888.app.github.dev" in settings.served_hosts
    assert "https://ann-fluffy-space-7wq9-8888.app.github.dev" in settings.served_origins(4200)
    assert settings.proxied_without_host(4200) is None  # its host is known: it is checked as every other
    assert inbox_spec(settings).own_env["WORKSHOP_JUPYTER_URL"] == lab  # the inbox is told, and restarted on a change


def test_a_laptops_course_and_a_room_show_their_own_addresses(laptop):
    assert course_for(settings_module.load()).prefect_ui_url == "http://127.0.0.1:4200"
    laptop.setenv("WORKSHOP_JUPYTER_URL", "/user/ann/")
    room = Settings(room="http://10.0.0.5", learner="ann", room_password="pw", jupyter_url="/user/ann/")
    assert room.jupyter_address is None and course_for(room).prefect_ui_url == "http://10.0.0.5:4200"


@pytest.mark.parametrize("value", ["user/ann", "ftp://hub/user/ann/", "https://hub.example/user/ann/?token=1"])
def test_a_jupyterlab_address_that_is_not_one_is_explained(laptop, value):
    laptop.setenv("WORKSHOP_JUPYTER_URL", value)
    with pytest.raises(SettingsError, match="WORKSHOP_JUPYTER_URL=.*give JupyterLab's address as the browser shows it"):
        settings_module.load()


def test_through_a_proxy_of_unknown_host_only_its_path_answers_any_host_and_only_its_pages_change_things(tmp_path,
                                                                                                        free_port):
    settings = Settings(home=tmp_path, inbox_port=free_port, jupyter_url="/user/ann-x7k2/")
    proxied = settings.proxied_path(free_port)
    with Served(inbox.make_app(settings, tmp_path / "inbox.sqlite3"), free_port) as url:
        binder = {"Host": "hub.mybinder.example"}
        assert requests.get(f"{url}{proxied}/", headers=binder, timeout=5).ok  # the inbox page, under the proxy's path
        sent = requests.post(f"{url}{proxied}/alerts", json={"text": "from the UI"}, timeout=5,
                             headers={**binder, "Origin": "https://hub.mybinder.example"})
        assert sent.ok, sent.text
        listed = requests.get(f"{url}{proxied}/_workshop/messages", headers=binder, timeout=5).json()
        assert [message["path"] for message in listed] == ["/alerts"]  # the channel, without the proxy's path
        # A page of another site, through the same proxy, may not change anything.
        planted = requests.post(f"{url}{proxied}/alerts", json={"text": "planted"}, timeout=5,
                                headers={**binder, "Origin": "https://evil.example"})
        assert planted.status_code == 403
        # Elsewhere, the host is checked as always (a DNS-rebinding page does not know the path).
        assert requests.get(f"{url}/_workshop/messages", headers={"Host": "evil.example"}, timeout=5).status_code == 421


def test_the_prefect_api_answers_under_the_proxys_path_as_at_its_own():
    from workshop.servers.prefect_app import APIThroughJupyter

    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])

    wrapped = APIThroughJupyter(app, "/user/ann/proxy/absolute/4200")
    for path in ("/user/ann/proxy/absolute/4200/api/flows/filter", "/user/ann/proxy/absolute/4200/runs", "/api/health"):
        asyncio.run(wrapped({"type": "http", "path": path, "raw_path": path.encode()}, None, None))
    assert seen == ["/api/flows/filter", "/user/ann/proxy/absolute/4200/runs", "/api/health"]


def test_the_dev_container_installs_as_the_readme_says_and_opens_the_course_on_the_port_it_forwards():
    container = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    readme_start = re.search(r"```bash\n(python3 -m venv .+?) && \.venv/bin/python -m workshop lab\n", README).group(1)
    assert container["postCreateCommand"].startswith(readme_start + " && ")  # the learner's install, then the proxy
    assert container["postCreateCommand"].endswith("pip install -e '.[remote]'")
    start = shlex.split(container["postStartCommand"].split(">")[0].removeprefix("nohup "))  # kept when the shell ends
    assert start[:4] == [".venv/bin/python", "-m", "workshop", "lab"] and "--no-browser" in start
    assert start[start.index("--port") + 1] == str(JUPYTERLAB_PORT)  # the port the Codespaces link rule names
    assert "${CODESPACES:+--IdentityProvider.token=}" in start  # no token only where GitHub keeps the port private
    ports = [JUPYTERLAB_PORT, PORT_DEFAULTS["prefect_port"], PORT_DEFAULTS["inbox_port"]]
    assert container["forwardPorts"] == ports
    assert all(container["portsAttributes"][str(port)]["label"] for port in ports)


def test_in_a_codespace_jupyterlab_answers_to_its_forwarded_name(laptop):
    laptop.setenv("CODESPACE_NAME", "ann-fluffy-space-7wq9")
    laptop.setenv("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN", "app.github.dev")
    host = urlsplit(settings_module.load().jupyter_address).hostname
    command = lab_command(Path("/course/notebooks"), ["--port", "8888"], host)
    assert "--ServerApp.local_hostnames=['localhost', 'ann-fluffy-space-7wq9-8888.app.github.dev']" in command
    assert not [option for option in lab_command(Path("/n"), []) if "local_hostnames" in option]  # a laptop: unchanged


def test_binders_start_script_points_the_course_at_jupyterlabs_path(laptop, tmp_path):
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"  # the lowest requires-python allows
    assert re.search(r"^-e \.\[remote\]$", (ROOT / "binder" / "requirements.txt").read_text(), re.M)
    shown = subprocess.run(
        [str(ROOT / "binder" / "start"), sys.executable, "-c",
         "from workshop import settings; from workshop.supervisor.addresses import course_for; "
         "c = course_for(settings.load()); print(c.prefect_ui_url, c.inbox_url)"],
        env={**os.environ, "JUPYTERHUB_SERVICE_PREFIX": "/user/ann-x7k2/"}, capture_output=True, text=True, timeout=60)
    assert shown.stdout.split() == ["/user/ann-x7k2/proxy/absolute/4200", "/user/ann-x7k2/proxy/absolute/4281/"], shown
