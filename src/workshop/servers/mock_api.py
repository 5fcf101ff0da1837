"""A local stand-in for randomuser.me, with faults you can switch on.

Two sites run in one process, each with its own URL and its own faults:

- primary: http://127.0.0.1:4280/api/        (what the pipeline normally calls)
- mirror:  http://127.0.0.1:4280/mirror/api/  (the alternate location to fail over to)

`GET <site>` takes randomuser.me's parameters: results (1..5000), page, seed,
nat, gender, inc, exc, noinfo. Control endpoints live under `/_workshop/`
(`workshop.contract`). In a room, each learner has both sites and their own
faults and counts under `/<learner>/` (`/ann/api/`, `/ann/_workshop/faults`);
reading and changing faults and counts takes the room's password.
The sites answer any page, as randomuser.me does (`Access-Control-Allow-Origin: *`);
the control endpoints answer none of another origin (`http.Guard`).
Run it with `python -m workshop.servers.mock_api --port 4280 [--fixture FILE]`;
the course starts it for you. In a notebook, use `MockAPI()` to change faults.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import threading
from collections import Counter
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..contract import FAULTS, HEALTH, MOCK_API_ID, STATS, Faults
from ..contract import MOCK_SITES as SITES
from ..errors import WorkshopError
from ..settings import Settings, load
from . import recording
from .fake_users import make_users
from .faults import API_ERROR_MESSAGE, FaultDraw
from .http import (
    LIMITS,
    Guard,
    Limits,
    NotJSON,
    Refusal,
    Service,
    answer,
    dumps,
    learner_route,
    parse_json,
    read_body,
    require_password,
)
from .http import serve as serve_app
from .randomuser import FIELDS, NATIONALITIES, VERSION

MAX_RESULTS = 5000
MAX_LEARNERS = 1000  # parts of the mock kept for learners: a bound on what requests for made-up names can take
_SITE_ROUTES = {site: re.compile("^" + re.escape(path.rstrip("/")) + r"(/\d+(\.\d+)*)?/?$") for site, path in SITES.items()}


class BadRequest(ValueError):
    pass


def _field_list(raw: str | None, name: str) -> set[str] | None:
    if raw is None:
        return None
    wanted = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(wanted - set(FIELDS))
    if unknown:
        raise BadRequest(f"{name} names unknown fields {', '.join(unknown)}; the fields are {', '.join(FIELDS)}")
    return wanted


def _whole_number(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, got {value}")
    return value


def build_answer(params: dict[str, str], fixture: list[dict] | None) -> dict:
    """The JSON randomuser.me would answer for these query parameters."""
    results = _whole_number(params.get("results"), "results", 1, 1, MAX_RESULTS)
    page = _whole_number(params.get("page"), "page", 1, 1, 1_000_000)
    seed = params.get("seed") or secrets.token_hex(8)
    nats = tuple(sorted({n.strip().upper() for n in params.get("nat", "").split(",") if n.strip()}))
    unknown = [n for n in nats if n not in NATIONALITIES]
    if unknown:
        raise BadRequest(f"nat has unknown nationalities {', '.join(unknown)}; known: {', '.join(NATIONALITIES)}")
    gender = params.get("gender", "").lower() or None
    if gender not in (None, "male", "female"):
        raise BadRequest(f"gender must be male or female, got {gender!r}")
    include, exclude = _field_list(params.get("inc"), "inc"), _field_list(params.get("exc"), "exc")

    if fixture is None:
        users = list(make_users(seed, page, results, nats or tuple(NATIONALITIES), gender))
    else:  # a replay is a replay: the seed picks nothing, pages tile the recording
        matching = [u for u in fixture if (not nats or u.get("nat") in nats) and (not gender or u.get("gender") == gender)]
        users = recording.replay(matching, (page - 1) * results, results)
    fields = [f for f in FIELDS if (include is None or f in include) and (exclude is None or f not in exclude)]
    answer: dict = {"results": [{f: u[f] for f in fields if f in u} for u in users]}
    if "noinfo" not in params:
        answer["info"] = {"seed": seed, "results": len(users), "page": page, "version": VERSION}
    return answer


class MockState:
    """Each learner's faults and counts ('' on a laptop): one learner's outage is nobody else's."""

    def __init__(self, fixture: list[dict] | None = None, fixture_path: str | None = None):
        self.fixture = fixture
        self.fixture_path = fixture_path
        self.nationalities = recording.nationalities(fixture) if fixture else sorted(NATIONALITIES)
        self.lock = threading.Lock()
        self.draws: dict[str, dict[str, FaultDraw]] = {}
        self.stats: dict[str, dict[str, Counter]] = {}

    @staticmethod
    def healthy() -> dict[str, FaultDraw]:
        return {site: FaultDraw(Faults()) for site in SITES}

    @staticmethod
    def no_stats() -> dict[str, Counter]:
        return {site: Counter() for site in SITES}

    def _own(self, learner: str) -> None:
        """Make the learner's part (under the lock), unless the mock holds as many as it keeps."""
        if learner not in self.draws:
            if len(self.draws) >= MAX_LEARNERS:
                raise Refusal(429, f"The mock API keeps {MAX_LEARNERS} learners' faults and counts, and has them all.")
            self.draws[learner], self.stats[learner] = self.healthy(), self.no_stats()

    def outcome(self, learner: str, site: str) -> tuple[str, FaultDraw, int]:
        """What this request gets, the draw it came from, and how many server errors the site gave before."""
        with self.lock:
            self._own(learner)
            draw, stats = self.draws[learner][site], self.stats[learner][site]
            outcome = draw.next()
            stats["requests"] += 1
            stats[outcome] += 1
            return outcome, draw, stats["server_error"]

    def faults(self, learner: str) -> dict:
        with self.lock:
            return {site: d.faults.to_dict() for site, d in self.draws.get(learner, self.healthy()).items()}

    def counts(self, learner: str) -> dict:
        with self.lock:
            return {site: dict(c) for site, c in self.stats.get(learner, self.no_stats()).items()}

    def set_faults(self, learner: str, site: str, faults: Faults) -> None:
        with self.lock:
            self._own(learner)
            self.draws[learner][site] = FaultDraw(faults)

    def clear(self, learner: str, what: str) -> None:
        with self.lock:
            if learner in self.draws:
                if what == "faults":
                    self.draws[learner] = self.healthy()
                else:
                    self.stats[learner] = self.no_stats()

    def spoil(self, draw: FaultDraw, users: list[dict]) -> list[dict]:
        with self.lock:
            return draw.spoil(users)


ANY_PAGE = {"Access-Control-Allow-Origin": "*"}  # the sites, as randomuser.me sends


class MockAPI(Service):
    def __init__(self, state: MockState, *, password: str | None = None, limits: Limits = LIMITS):
        super().__init__(password=password, limits=limits)
        self.state = state

    async def get(self, request: Request) -> Response:
        learner, route = learner_route(request.url.path)
        for site, pattern in _SITE_ROUTES.items():
            if pattern.match(route):
                return await self._serve_users(request, learner, site)
        if route == HEALTH:
            return answer(200, {"service": MOCK_API_ID, "sites": SITES, "fixture": self.state.fixture_path,
                                "nationalities": self.state.nationalities})
        if route == "/":
            return answer(200, {"service": MOCK_API_ID, "sites": SITES, "control": FAULTS})
        if route in (FAULTS, STATS):
            require_password(request, self.password)
            return answer(200, self.state.faults(learner) if route == FAULTS else self.state.counts(learner))
        raise Refusal(404, f"No such endpoint {route!r}; the API is at {', '.join(SITES.values())}")

    async def put(self, request: Request) -> Response:
        require_password(request, self.password)
        learner, route = learner_route(request.url.path)
        match = re.fullmatch(re.escape(FAULTS) + r"/(\w+)", route)
        if not match or match.group(1) not in SITES:
            raise Refusal(404, f"PUT {FAULTS}/<site>, with site one of {', '.join(SITES)}")
        try:
            body = parse_json((await read_body(request, self.limits)).decode("utf-8", errors="replace") or "{}", self.limits)
        except NotJSON as invalid:
            raise Refusal(400, f"The body is not JSON the mock can read: {invalid}.") from None
        try:
            if not isinstance(body, dict):
                raise WorkshopError("the body must be a JSON object of faults")
            faults = Faults.from_dict(body)
        except (TypeError, ValueError, WorkshopError) as exc:
            raise Refusal(400, str(exc)) from None
        self.state.set_faults(learner, match.group(1), faults)
        return answer(200, faults.to_dict())

    async def delete(self, request: Request) -> Response:
        require_password(request, self.password)
        learner, route = learner_route(request.url.path)
        if route not in (FAULTS, STATS):
            raise Refusal(404, f"DELETE {FAULTS} or {STATS}")
        self.state.clear(learner, "faults" if route == FAULTS else "stats")
        return answer(200, {"ok": True})

    async def _serve_users(self, request: Request, learner: str, site: str) -> Response:
        outcome, draw, server_errors = self.state.outcome(learner, site)
        faults = draw.faults
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if outcome == "outage":
            return Response(b"503 Service Unavailable", 503, ANY_PAGE, media_type="text/plain; charset=utf-8")
        if outcome == "server_error":
            status = 500 if server_errors % 2 else 503
            return Response(f"{status} Server Error".encode(), status, ANY_PAGE, media_type="text/plain; charset=utf-8")
        if outcome == "rate_limit":
            return answer(429, {"error": "Too many requests"}, {"Retry-After": str(faults.retry_after), **ANY_PAGE})
        if outcome == "api_error":
            return answer(200, {"error": API_ERROR_MESSAGE}, ANY_PAGE)
        try:
            built = await run_in_threadpool(build_answer, dict(request.query_params), self.state.fixture)
        except BadRequest as exc:
            return answer(400, {"error": str(exc)}, ANY_PAGE)
        built["results"] = self.state.spoil(draw, built["results"])
        body = dumps(built)
        if outcome == "malformed":
            body = body[: max(1, len(body) // 2)]
        return Response(body, 200, ANY_PAGE, media_type="application/json; charset=utf-8")


def make_app(settings: Settings, fixture_path: str | Path | None = None, *, limits: Limits = LIMITS):
    """The mock as an ASGI app, guarded for the host names and origins `settings` serve on its port."""
    fixture = recording.load(Path(fixture_path)) if fixture_path else None
    state = MockState(fixture, str(fixture_path) if fixture_path else None)
    password = settings.room_password.get_secret_value() if settings.hosts_room else None
    return Guard(MockAPI(state, password=password, limits=limits), hosts=settings.served_hosts,
                 origins=settings.served_origins(settings.mock_port))


def main(argv: list[str] | None = None) -> None:
    options = argparse.ArgumentParser(prog="python -m workshop.servers.mock_api", description=__doc__.split("\n")[0])
    options.add_argument("--port", type=int, help="default: WORKSHOP_MOCK_PORT, 4280")
    options.add_argument("--host", help="the address to listen on (default: WORKSHOP_HOST, 127.0.0.1)")
    options.add_argument("--fixture", type=Path, help="a recorded randomuser answer to replay (default: WORKSHOP_MOCK_FIXTURE)")
    args = options.parse_args(argv)
    settings = load()
    host = args.host or settings.host
    if args.port:
        settings = settings.model_copy(update={"mock_port": args.port})
    fixture = args.fixture or settings.mock_fixture
    source = f"replaying {fixture}" if fixture else "generated users"
    serve_app(make_app(settings, fixture), host, settings.mock_port,
              f"mock randomuser API on http://{host}:{settings.mock_port}/api/ ({source})")


if __name__ == "__main__":
    main()
