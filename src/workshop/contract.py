"""The HTTP contract between the course's servers and their clients: the paths and names both sides use.

The servers (`servers/`) and the clients (`notebook/`, `supervisor/`) import
these; neither writes them out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .errors import WorkshopError
from .settings import PREFIX

CONTROL = "/_workshop/"  # the course's own endpoints on the mock API and the inbox, beside what they serve
HEALTH = CONTROL + "health"  # answers {"service": <id>} with the ids below
MESSAGES = CONTROL + "messages"  # the inbox's messages: GET (?after=ID&channel=/c), GET /ID, DELETE
EVENTS = CONTROL + "events"  # the inbox's messages as server-sent events
BOARD = CONTROL + "board"  # a room's progress board on its inbox (and BOARD + ".json")
FAULTS = CONTROL + "faults"  # the mock's faults: GET, DELETE, PUT FAULTS/<site>
STATS = CONTROL + "stats"  # the mock's counts of what it answered: GET, DELETE

MOCK_API_ID = f"{PREFIX}mock-api"
INBOX_ID = f"{PREFIX}inbox"
PREFECT_SERVICES_ID = f"{PREFIX}prefect-services"  # a scaled room's process of Prefect's background services
MOCK_SITES = {"primary": "/api/", "mirror": "/mirror/api/"}

HUB_INBOX = "/inbox"  # where a room's hub shows the inbox (its proxy keeps the path)
UI_BASE_IN_HUB = "/prefect"  # where a room with a hub serves the Prefect UI: the hub routes that path to it


# The mock's faults, as PUT FAULTS/<site> takes them and GET FAULTS answers.
# The shares are drawn once per request from one random number, so they must add up to 1 at most.
SHARES = ("server_errors", "rate_limits", "malformed", "api_errors")

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
