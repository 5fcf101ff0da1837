"""The draw, request by request, of the faults a mock API site injects (their schema: `contract.Faults`)."""

from __future__ import annotations

import copy
import random

from ..contract import SHARES, Faults

# What randomuser.me itself answers (with HTTP 200) when it has a problem.
API_ERROR_MESSAGE = "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue. Thank you."



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
