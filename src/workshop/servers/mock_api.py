"""A local stand-in for randomuser.me, with faults you can switch on.

Two sites run in one process, each with its own URL and its own faults:

- primary: http://127.0.0.1:4280/api/        (what the pipeline normally calls)
- mirror:  http://127.0.0.1:4280/mirror/api/  (the alternate location to fail over to)

`GET <site>` takes randomuser.me's parameters: results (1..5000), page, seed,
nat, gender, inc, exc, noinfo. Control endpoints live under `/_workshop/`.
In a room, each learner has both sites and their own faults and counts under
`/<learner>/` (`/ann/api/`, `/ann/_workshop/faults`), and changing faults
takes the room's password.
Run it with `python -m workshop serve mock-api --port 4280 [--fixture FILE]`; the
course starts it for you. In a notebook, use `MockAPI()` to change faults.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from ..errors import WorkshopError
from ..settings import HOST
from . import MOCK_API_ID, recording
from . import MOCK_SITES as SITES
from .fake_users import make_users
from .faults import API_ERROR_MESSAGE, FaultDraw, Faults
from .httpd import BodyTooLarge, JSONHandler, make_server, serve_until_stopped
from .randomuser import FIELDS, NATIONALITIES, VERSION

MAX_RESULTS = 5000
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
    def __init__(self, fixture: list[dict] | None = None, fixture_path: str | None = None):
        self.fixture = fixture
        self.fixture_path = fixture_path
        self.nationalities = recording.nationalities(fixture) if fixture else sorted(NATIONALITIES)
        self.lock = threading.Lock()
        # Per learner ('' on a laptop): one learner's outage is nobody else's.
        self.draws: defaultdict[str, dict[str, FaultDraw]] = defaultdict(self.healthy)
        self.stats: defaultdict[str, dict[str, Counter]] = defaultdict(self.no_stats)

    @staticmethod
    def healthy() -> dict[str, FaultDraw]:
        return {site: FaultDraw(Faults()) for site in SITES}

    @staticmethod
    def no_stats() -> dict[str, Counter]:
        return {site: Counter() for site in SITES}

    def outcome(self, learner: str, site: str) -> tuple[str, FaultDraw, int]:
        """What this request gets, the draw it came from, and how many server errors the site gave before."""
        with self.lock:
            draw, stats = self.draws[learner][site], self.stats[learner][site]
            outcome = draw.next()
            stats["requests"] += 1
            stats[outcome] += 1
            return outcome, draw, stats["server_error"]

    def spoil(self, draw: FaultDraw, users: list[dict]) -> list[dict]:
        with self.lock:
            return draw.spoil(users)


class MockHandler(JSONHandler):
    server_version = "randomuser-mock/1.4"
    extra_headers = {"Access-Control-Allow-Origin": "*"}  # as randomuser.me sends
    state: MockState  # set on the subclass made by `make_mock_server`

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        learner, route = self.learner_route()
        for site, pattern in _SITE_ROUTES.items():
            if pattern.match(route):
                return self._serve_users(learner, site)
        if route == "/_workshop/health":
            return self.send_json(200, {"service": MOCK_API_ID, "sites": SITES, "fixture": self.state.fixture_path,
                                        "nationalities": self.state.nationalities})
        if route == "/_workshop/faults":
            with self.state.lock:
                return self.send_json(200, {site: d.faults.to_dict() for site, d in self.state.draws[learner].items()})
        if route == "/_workshop/stats":
            with self.state.lock:
                return self.send_json(200, {site: dict(c) for site, c in self.state.stats[learner].items()})
        if route == "/":
            return self.send_json(200, {"service": MOCK_API_ID, "sites": SITES, "control": "/_workshop/faults"})
        self.send_json(404, {"error": f"No such endpoint {route!r}; the API is at {', '.join(SITES.values())}"})

    def do_PUT(self) -> None:  # noqa: N802
        if not self.authorized():
            return
        learner, route = self.learner_route()
        match = re.fullmatch(r"/_workshop/faults/(\w+)", route)
        if not match or match.group(1) not in SITES:
            return self.send_json(404, {"error": f"PUT /_workshop/faults/<site>, with site one of {', '.join(SITES)}"})
        try:
            body = self.read_json()
        except BodyTooLarge:
            return
        except ValueError as exc:
            return self.send_json(400, {"error": f"the body is not JSON: {exc}"})
        try:
            if not isinstance(body, dict):
                raise WorkshopError("the body must be a JSON object of faults")
            faults = Faults.from_dict(body)
        except (ValueError, WorkshopError) as exc:
            return self.send_json(400, {"error": str(exc)})
        with self.state.lock:
            self.state.draws[learner][match.group(1)] = FaultDraw(faults)
        self.send_json(200, faults.to_dict())

    def do_DELETE(self) -> None:  # noqa: N802
        if not self.authorized():
            return
        learner, route = self.learner_route()
        with self.state.lock:
            if route == "/_workshop/faults":
                self.state.draws[learner] = self.state.healthy()
            elif route == "/_workshop/stats":
                self.state.stats[learner] = self.state.no_stats()
            else:
                return self.send_json(404, {"error": "DELETE /_workshop/faults or /_workshop/stats"})
        self.send_json(200, {"ok": True})

    def _serve_users(self, learner: str, site: str) -> None:
        outcome, draw, server_errors = self.state.outcome(learner, site)
        faults = draw.faults
        if faults.latency:
            time.sleep(faults.latency)
        if outcome == "outage":
            return self.send_body(503, b"503 Service Unavailable", "text/plain; charset=utf-8")
        if outcome == "server_error":
            status = 500 if server_errors % 2 else 503
            return self.send_body(status, f"{status} Server Error".encode(), "text/plain; charset=utf-8")
        if outcome == "rate_limit":
            return self.send_json(429, {"error": "Too many requests"}, {"Retry-After": str(faults.retry_after)})
        if outcome == "api_error":
            return self.send_json(200, {"error": API_ERROR_MESSAGE})
        try:
            answer = build_answer(self.query, self.state.fixture)
        except BadRequest as exc:
            return self.send_json(400, {"error": str(exc)})
        answer["results"] = self.state.spoil(draw, answer["results"])
        body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        if outcome == "malformed":
            body = body[: max(1, len(body) // 2)]
        self.send_body(200, body, "application/json; charset=utf-8")


def make_mock_server(port: int, fixture_path: str | Path | None = None, host: str = HOST, password: str | None = None):
    fixture = recording.load(Path(fixture_path)) if fixture_path else None
    state = MockState(fixture, str(fixture_path) if fixture_path else None)
    return make_server(type("BoundMockHandler", (MockHandler,), {"state": state}), host, port, password)


def serve(port: int, fixture: Path | None = None, host: str = HOST, password: str | None = None) -> None:
    server = make_mock_server(port, fixture, host, password)
    source = f"replaying {fixture}" if fixture else "generated users"
    serve_until_stopped(server, f"mock randomuser API on http://{host}:{port}/api/ ({source})")
