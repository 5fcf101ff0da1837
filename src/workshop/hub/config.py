"""A room's JupyterHub: every learner gets JupyterLab in a browser tab, already in the room. No install.

`python -m workshop classroom hub` starts it next to the room's services (`hub.service`);
JupyterHub reads `jupyterhub_config.py`, which calls `configure` here. The choices, and why:

- **Log-in: JupyterHub's own SharedPasswordAuthenticator.** A learner types a name of their choosing
  and the room's password, the one the join line carries. It needs no accounts made on the
  instructor's machine and no sign-up step, and it asks for nothing a room does not already share:
  the room's password opens the room's Prefect server to everyone anyway. Its limit, as JupyterHub
  says: whoever has the password can log in under any learner's name. The instructor logs in as
  `instructor` with a password of their own (40 characters, made once, kept in the course folder),
  and is the hub's admin.
- **Servers: SimpleLocalProcessSpawner, one folder each.** Each learner's JupyterLab runs as the
  instructor's OS user, in `<home>/hub/learners/<name>/`, with the notebooks copied there at the
  first log-in. The hub lets a learner's log-in reach their own server only, so no learner opens
  another's notebooks through the hub; code in a kernel runs as the same OS user, so it is not a
  wall against a learner who sets out to read another's files (one OS user each would need root
  and system accounts on the instructor's machine).
- **One address.** The hub's proxy also routes `/prefect/` (the Prefect UI, served there),
  `/api/` (its API, for that UI) and `/inbox/` (the room's inbox; `/inbox/<name>/` a learner's
  page) to the room's services, which keep asking for the room's password.
- **Idle servers stop** after WORKSHOP_HUB_IDLE_MINUTES (jupyterhub-idle-culler); a learner's
  notebooks stay, and logging in again starts a new server.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from pathlib import Path

from .. import services
from .. import settings as settings_module
from ..contract import BOARD, HUB_INBOX, UI_BASE_IN_HUB
from ..instructor import jupyterlab
from ..private import write_private
from ..settings import LEARNER_NAME, RESERVED_NAMES, Settings, variable
from ..supervisor import course
from ..supervisor.service import spare_ports
from .service import folder, internal_port, proxy_api_port, require_proxy

ADMIN = "instructor"
ADMIN_PASSWORD_FILE = "hub-admin-password"


def admin_password(settings: Settings) -> str:
    """The instructor's password on the hub: made once, kept with the room's (JupyterHub asks for 32 characters)."""
    kept = settings.home / ADMIN_PASSWORD_FILE
    if kept.is_file():
        return kept.read_text().strip()
    password = secrets.token_urlsafe(30)  # 40 characters
    write_private(kept, password + "\n")
    return password


def learners_folder(settings: Settings) -> Path:
    return folder(settings) / "learners"


def learner_home(settings: Settings, name: str) -> Path:
    return learners_folder(settings) / name


def learner_settings(settings: Settings, name: str) -> Settings:
    """A hub learner's course settings, as their kernels read them (for stopping their deployment runner)."""
    return Settings(home=learner_home(settings, name) / ".workshop")


def prepare_learner(settings: Settings, name: str) -> Path:
    """The learner's folder, with the course's notebooks at their first log-in (never overwritten later)."""
    from ..instructor.handouts import write_handouts  # here: the exercises it imports read the settings, so a bad one is reported

    home = learner_home(settings, name)
    if not (home / ".workshop").is_dir():
        with tempfile.TemporaryDirectory() as staging:
            write_handouts(Path(staging))
            shutil.copytree(Path(staging) / "learner", home, dirs_exist_ok=True)
        (home / ".workshop").mkdir()
    return home


def activity_interval(settings: Settings) -> int:
    """Seconds between a learner's activity reports to the hub: four per idle period, so one at work is never culled."""
    return max(10, min(300, settings.hub_idle_minutes * 60 // 4))


def learner_environment(settings: Settings, name: str) -> dict[str, str]:
    """What makes a learner's JupyterLab and kernels a learner of this room, as `join --as NAME` would."""
    home = learner_home(settings, name)
    # Learners share this machine: each deployment runner and worker (notebook 03) needs a port of its own.
    own = services.where("learner")
    first = spare_ports(len(own))
    return {
        "WORKSHOP_HOME": str(home / ".workshop"),
        "WORKSHOP_ROOM": f"http://{settings.host}",
        "WORKSHOP_LEARNER": name,
        "WORKSHOP_ROOM_PASSWORD": settings.room_password.get_secret_value(),
        **{variable(service.port_field): str(getattr(settings, service.port_field)) for service in services.where("course")},
        **{variable(service.port_field): str(first + offset) for offset, service in enumerate(own)},
        "WORKSHOP_HUB_URL": settings.hub_address,
        "PREFECT_UI_URL": settings.hub_address + UI_BASE_IN_HUB,
        "DO_NOT_TRACK": "1",
        "JUPYTERHUB_ACTIVITY_INTERVAL": str(activity_interval(settings)),
        "JUPYTER_CONFIG_PATH": str(jupyterlab.CONFIG_FOLDER),  # JupyterHub passes learners no variable of its own
    }


def _landing(handler) -> str:
    """Where a log-in without a `next` page lands: the instructor on the admin page (JupyterHub's default, the
    learner's own JupyterLab, for everyone else)."""
    user = handler.current_user
    return f"{handler.hub.base_url}admin" if user is not None and user.name == ADMIN else ""


def _pre_spawn(spawner) -> None:
    settings = settings_module.load()
    name = spawner.user.name
    if name == ADMIN:  # the course runs on the instructor's own machine; a learner's copy here would be 140 MB
        from jupyterhub.spawner import SpawnException  # shown to the browser as it is, with no traceback logged

        raise SpawnException("The instructor's account has no JupyterLab of its own: work in the course folder on "
                             "this machine, or log in with a learner's name to see what learners see.",
                             reason="instructor", status_code=403)
    prepare_learner(settings, name)
    spawner.environment.update(learner_environment(settings, name))


def _post_stop(spawner) -> None:
    settings = settings_module.load()
    if learner_home(settings, spawner.user.name).is_dir():  # not after a refused spawn (the instructor's)
        course.stop_runner(learner_settings(settings, spawner.user.name))
        course.stop_worker(learner_settings(settings, spawner.user.name))


def stop_learners_runners(settings: Settings) -> None:
    """Stop every hub learner's deployment runner (they are detached, so a stopped hub leaves them)."""
    if learners_folder(settings).is_dir():
        for home in learners_folder(settings).iterdir():
            if (home / ".workshop").is_dir():
                course.stop_runner(learner_settings(settings, home.name))
                course.stop_worker(learner_settings(settings, home.name))


def configure(c) -> None:
    """Fill in JupyterHub's configuration object `c` from the course's settings."""
    settings = settings_module.load()
    here = folder(settings)
    here.mkdir(parents=True, exist_ok=True)
    room_password = settings.room_password.get_secret_value()
    routes = {f"{UI_BASE_IN_HUB}/": settings.prefect_port, "/api/": settings.prefect_port, f"{HUB_INBOX}/": settings.inbox_port}

    c.JupyterHub.bind_url = f"http://{settings.host}:{settings.hub_port}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{internal_port(settings)}"
    c.JupyterHub.db_url = f"sqlite:///{here / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(here / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{proxy_api_port(settings)}"
    c.ConfigurableHTTPProxy.command = [require_proxy()]
    c.ConfigurableHTTPProxy.pid_file = str(here / "proxy.pid")
    c.Proxy.extra_routes = {route: f"http://{settings.host}:{port}" for route, port in routes.items()}

    c.JupyterHub.authenticator_class = "shared-password"
    c.SharedPasswordAuthenticator.user_password = room_password
    c.SharedPasswordAuthenticator.admin_password = admin_password(settings)
    c.Authenticator.admin_users = {ADMIN}
    c.Authenticator.allow_all = True
    # A learner's name is part of their Prefect names and inbox channel: the room's rule for names.
    reserved = "|".join(sorted(RESERVED_NAMES - {ADMIN}))
    c.Authenticator.username_pattern = rf"^(?!(?:{reserved})$){LEARNER_NAME.pattern}$"
    hub = settings.hub_address
    board = f"{hub}{HUB_INBOX}{BOARD}"
    c.JupyterHub.template_vars = {
        "announcement_login": "Your name: lowercase letters and digits, starting with a letter (e.g. ann). "
                              "Password: the room's, from your instructor.",
        "announcement_home": (f"Prefect UI: <a href='{hub}/prefect/'>{hub}/prefect/</a> · the room's inbox: "
                              f"<a href='{hub}/inbox/'>{hub}/inbox/</a> · progress board: "
                              f"<a href='{board}'>{board}</a> "
                              "(user workshop, the room's password)"),
    }

    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(learners_folder(settings) / "{username}")
    c.Spawner.ip = "127.0.0.1"
    c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    c.Spawner.args = list(jupyterlab.OPTIONS)
    c.Spawner.default_url = jupyterlab.START_URL
    c.JupyterHub.default_url = _landing
    c.Spawner.pre_spawn_hook = _pre_spawn
    c.Spawner.post_stop_hook = _post_stop
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120

    c.JupyterHub.last_activity_interval = activity_interval(settings)
    c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]
    c.JupyterHub.services = [{"name": "idle-culler", "command": [
        sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={settings.hub_idle_minutes * 60}"]}]
