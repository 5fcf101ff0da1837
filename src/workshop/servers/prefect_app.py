"""The course's Prefect server: Prefect's own server, with the course's guard in front of it.

`prefect server start` serves Prefect's app (`prefect.server.api.server.create_app`:
the REST API, the UI and the background services) with uvicorn, and nothing in
front. The course serves the same app, with the same settings, and two things
in front that Prefect 3.9.1 does not have:

- `http.Guard`: the server answers only to the host names the course serves and
  takes changes only from its own pages (Prefect checks neither, so a page of any
  origin could create a flow run with a form's POST, and DNS rebinding could reach
  it all); its CORS grant is narrowed to the same origins with Prefect's own setting;
- `DatabaseDown`: a request that failed because the server's database is not
  available is answered 503 saying so and what to do, where Prefect answers a bare
  500 ("Internal Server Error"); Prefect's client tries a 503 again, so a short
  outage is ridden out;
- `UIMoved`: a room's UI moves to /prefect/ when the instructor adds the hub (and
  back when they remove it); a page of the UI asked for at its other place is sent
  on, so the links learners were given before keep working;
- `LoginFirst` (a room, whose server asks for a password): a UI page opened before
  logging in to the UI goes to its login box and on to the page after it, where the
  UI itself shows "Page not found" (it does that for the login route only at its
  root), and the UI's error toasts carry no Prefect Cloud advertisement before the
  log-in either (the UI reads that setting only once logged in).

Run it with `python -m workshop.servers.prefect_app --port 4200`; the course starts it for you.
"""

from __future__ import annotations

import argparse
import logging

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse

from ..contract import UI_BASE_IN_HUB
from ..settings import Settings, load
from .http import Guard, answer, serve

logger = logging.getLogger("workshop.prefect")


def database_down_message(settings: Settings) -> str:
    if settings.hosts_room:
        return ("The room's database is not available, so its Prefect server cannot do this: tell the instructor "
                "(`python -m workshop classroom status` shows it on their machine). Then run the cell again.")
    return ("The course's Prefect server cannot reach its database (WORKSHOP_DATABASE_URL). Start that database, "
            "then run the cell again; `python -m workshop status` shows the server.")


async def database_connectable() -> bool:
    from prefect.server.database import provide_database_interface

    return await provide_database_interface().is_db_connectable()


class DatabaseDown:
    """ASGI middleware: a 500 or 503 from Prefect's app while its database is not available becomes a 503 that
    says so."""

    def __init__(self, app, message: str):
        self.app, self.message = app, message

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/ready"):  # Prefect's readiness says it plainly
            return await self.app(scope, receive, send)
        replaced = False

        async def send_or_replace(message) -> None:
            nonlocal replaced
            if replaced:
                return  # the app's own body of the answer that was replaced
            if message["type"] == "http.response.start" and message["status"] in (500, 503) \
                    and not await database_connectable():
                replaced = True
                logger.warning("%s %s: the database is not available", scope["method"], Request(scope).url.path)
                await answer(503, {"detail": self.message})(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, receive, send_or_replace)
        except Exception:
            if not replaced:  # Prefect's app raises what it answered 500 for, to have it logged: keep that
                raise


class UIMoved:
    """ASGI middleware: a UI page asked for at the other of its two places (/ and the hub's /prefect/) is sent on,
    307, to where this server serves it; the API (/api/...) is never moved."""

    def __init__(self, app, serve_base: str):
        self.app, self.base = app, "/" + serve_base.strip("/")  # "/" or "/prefect"

    def moved(self, path: str) -> str | None:
        if path == "/api" or path.startswith("/api/"):
            return None
        if self.base == "/":
            at_hubs = path == UI_BASE_IN_HUB or path.startswith(UI_BASE_IN_HUB + "/")
            return (path.removeprefix(UI_BASE_IN_HUB) or "/") if at_hubs else None
        return None if path == self.base or path.startswith(self.base + "/") else self.base + path

    async def __call__(self, scope, receive, send) -> None:
        target = self.moved(scope["path"]) if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") else None
        if target is None:
            return await self.app(scope, receive, send)
        # One leading slash: "//host" or "/\\host" would send the browser to another site (an open redirect).
        target = "/" + target.lstrip("/\\")
        query = scope.get("query_string", b"").decode("latin-1")
        await RedirectResponse(target + (f"?{query}" if query else ""), status_code=307)(scope, receive, send)


class LoginFirst:
    """ASGI middleware: the UI's pages (not its files, not the API) get a script, first in their <head>, that sends a
    browser not yet logged in to the UI's login box, which goes on to the page asked for once logged in."""

    def __init__(self, app, serve_base: str, promotions: bool):
        self.app = app
        base = "/" + serve_base.strip("/") if serve_base.strip("/") else ""
        # The UI keeps the log-in and the promotions setting in localStorage under these names (checked in 3.9.1's UI:
        # the browser test fails if they change).
        script = ("" if promotions else 'localStorage.setItem("prefect-show-promotional-content","false");') + (
            f'if(!localStorage.getItem("prefect-password")&&location.pathname!=="{base}/login")'
            f'location.replace("{base}/login?redirect="+encodeURIComponent(location.pathname.slice({len(base)})||"/")'
            '+encodeURIComponent(location.search));')
        self.script = f"<script>{script}</script>".encode()

    async def __call__(self, scope, receive, send) -> None:
        last = scope["path"].rsplit("/", 1)[-1] if scope["type"] == "http" else "."
        if scope["type"] != "http" or scope["method"] != "GET" or "." in last or scope["path"].startswith("/api"):
            return await self.app(scope, receive, send)
        # The page unzipped, to be read; its files (with a dot in their names) stay zipped.
        scope = {**scope, "headers": [(name, value) for name, value in scope["headers"] if name != b"accept-encoding"]}
        held: dict | None = None
        parts: list[bytes] = []

        async def send_page(message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                if Headers(raw=message["headers"]).get("content-type", "").startswith("text/html"):
                    held = message
                    return
            elif held is not None:
                parts.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = b"".join(parts).replace(b"<head>", b"<head>" + self.script, 1)
                headers = MutableHeaders(raw=list(held["headers"]))
                headers["content-length"] = str(len(page))
                await send({**held, "headers": headers.raw})
                message = {"type": "http.response.body", "body": page}
            await send(message)

        await self.app(scope, receive, send_page)


class APIThroughJupyter:
    """ASGI middleware: the API asked for under the path JupyterLab's proxy passes on whole (where the UI is then
    served, Prefect's ui.serve_base) is answered as at /api, where the course's clients call it."""

    def __init__(self, app, path: str):
        self.app, self.api = app, path + "/api"

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (path == self.api or path.startswith(self.api + "/")):
            inner = path.removeprefix(self.api.removesuffix("/api"))
            scope = {**scope, "path": inner, "raw_path": inner.encode()}
        await self.app(scope, receive, send)


def make_app(settings: Settings):
    from prefect.server.api.server import create_app
    from prefect.settings import get_current_settings

    prefect = get_current_settings().server
    app = create_app(final=True)
    if prefect.api.auth_string:
        app = LoginFirst(app, prefect.ui.serve_base, prefect.ui.show_promotional_content)
    app = DatabaseDown(UIMoved(app, prefect.ui.serve_base), database_down_message(settings))
    if (proxied := settings.proxied_path(settings.prefect_port)) is not None:
        app = APIThroughJupyter(app, proxied)
    return Guard(app, hosts=settings.served_hosts, origins=settings.served_origins(settings.prefect_port), field="detail",
                 proxied=settings.proxied_without_host(settings.prefect_port))


def app_from_environment():
    """The app as each of several worker processes makes it (`WORKSHOP_API_WORKERS`), from its environment."""
    return make_app(load())


async def prepare_database() -> None:
    """What each Prefect server process does when it starts (its lifespan, 3.9.1): the database's migrations, then
    the block types. Several API processes must not all do it at once on a new database, so a scaled room does it
    here first, and starts them without."""
    from prefect.server.database import provide_database_interface
    from prefect.server.models.block_registration import run_block_auto_registration

    database = provide_database_interface()
    await database.create_db()
    session = await database.session()
    async with session:
        await run_block_auto_registration(session=session)


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(prog="python -m workshop.servers.prefect_app", description=__doc__.split("\n")[0])
    options.add_argument("--port", type=int, help="default: WORKSHOP_PREFECT_PORT, 4200")
    options.add_argument("--host", help="the address to listen on (default: WORKSHOP_HOST, 127.0.0.1)")
    options.add_argument("--prepare-database", action="store_true",
                         help="bring the database's tables and block types up to date, then exit")
    args = options.parse_args(argv)
    if args.prepare_database:
        import asyncio

        asyncio.run(prepare_database())
        return
    settings = load()
    host = args.host or settings.host
    if args.port:
        settings = settings.model_copy(update={"prefect_port": args.port})
    from prefect.settings import get_current_settings

    prefect = get_current_settings().server
    workers = settings.api_workers if settings.scaled else 1
    app = "workshop.servers.prefect_app:app_from_environment" if workers > 1 else make_app(settings)
    serve(app, host, settings.prefect_port,
          f"Prefect server on http://{host}:{settings.prefect_port}/api (UI at /)"
          + (f", in {workers} processes" if workers > 1 else ""),
          # What `prefect server start` gives uvicorn (prefect.cli._server_utils), and the lifespan that runs
          # the database's migrations and the background services.
          ws="auto", lifespan="on", timeout_graceful_shutdown=None, log_level=prefect.logging_level.lower(),
          ws_ping_interval=prefect.api.websocket_ping_interval, ws_ping_timeout=prefect.api.websocket_ping_timeout,
          workers=workers, factory=workers > 1)


if __name__ == "__main__":
    main()
