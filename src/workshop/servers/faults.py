"""The faults a mock API site can inject, validated, and the draw for each request."""

from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass, fields

from ..errors import WorkshopError

# The shares are drawn once per request from one random number, so they must add up to 1 at most.
SHARES = ("server_errors", "rate_limits", "malformed", "api_errors")

# What randomuser.me itself answers (with HTTP 200) when it has a problem.
API_ERROR_MESSAGE = "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. Thank you."


@dataclass
class Faults:
    """What one site of the mock API does wrong.

    server_errors: share of requests answered with HTTP 500 or 503
    rate_limits:   share answered with HTTP 429 and a `Retry-After` header
    retry_after:   seconds announced in `Retry-After` (whole seconds, as HTTP says)
    malformed:     share answered with HTTP 200 and a truncated JSON body
    api_errors:    share answered with HTTP 200 and `{"error": "..."}`, no results
    bad_records:   share of the users in a good answer that come back broken
                   (no e-mail, a date that is not a date, a blank coordinate, a null name)
    latency:       seconds added before every answer
    outage:        every request fails with HTTP 503: the site is down
    seed:          make the random draws repeatable
    """

    server_errors: float = 0.0
    rate_limits: float = 0.0
    retry_after: int = 1
    malformed: float = 0.0
    api_errors: float = 0.0
    bad_records: float = 0.0
    latency: float = 0.0
    outage: bool = False
    seed: int | None = None

    @classmethod
    def from_dict(cls, values: dict) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise WorkshopError(
                f"Unknown fault {', '.join(map(repr, unknown))}. The mock API knows: {', '.join(sorted(known))}."
            )
        faults = cls(**values)
        faults.validate()
        return faults

    def validate(self) -> None:
        for name in SHARES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise WorkshopError(f"Fault {name} is a share of requests: a number from 0 to 1, got {value!r}.")
        if isinstance(self.bad_records, bool) or not isinstance(self.bad_records, (int, float)) or not 0 <= self.bad_records <= 1:
            raise WorkshopError(f"Fault bad_records is a share of users: a number from 0 to 1, got {self.bad_records!r}.")
        total = sum(getattr(self, name) for name in SHARES)
        if total > 1 + 1e-9:
            raise WorkshopError(f"The shares {', '.join(SHARES)} add up to {total:g}; together they can be at most 1.")
        if isinstance(self.latency, bool) or not isinstance(self.latency, (int, float)) or not 0 <= self.latency <= 30:
            raise WorkshopError(f"Fault latency is in seconds, from 0 to 30, got {self.latency!r}.")
        if isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int) or not 0 <= self.retry_after <= 60:
            raise WorkshopError(f"Fault retry_after is whole seconds from 0 to 60, got {self.retry_after!r}.")
        if not isinstance(self.outage, bool):
            raise WorkshopError(f"Fault outage is true or false, got {self.outage!r}.")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise WorkshopError(f"Fault seed is a whole number or null, got {self.seed!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


def _break_user(user: dict, how: int) -> dict:
    broken = copy.deepcopy(user)
    if how == 0:
        broken["email"] = None  # every field stays present, as in a real answer
    elif how == 1 and isinstance(broken.get("dob"), dict):
        broken["dob"]["date"] = "unknown"
    elif how == 2 and isinstance(broken.get("location"), dict):
        broken["location"]["coordinates"]["latitude"] = ""
    else:
        broken["name"] = None
    return broken


class FaultDraw:
    """Decides, request by request, which fault (if any) a site answers with."""

    def __init__(self, faults: Faults):
        self.faults = faults
        self._rng = random.Random(faults.seed)

    def next(self) -> str:
        """One of "outage", "server_error", "rate_limit", "malformed", "api_error", "ok"."""
        if self.faults.outage:
            return "outage"
        roll = self._rng.random()
        for name, outcome in zip(SHARES, ("server_error", "rate_limit", "malformed", "api_error"), strict=True):
            share = getattr(self.faults, name)
            if roll < share:
                return outcome
            roll -= share
        return "ok"

    def spoil(self, users: list[dict]) -> list[dict]:
        """Break the `bad_records` share of a good answer's users."""
        if not self.faults.bad_records:
            return users
        return [
            _break_user(user, self._rng.randrange(4)) if self._rng.random() < self.faults.bad_records else user
            for user in users
        ]
