"""The mock randomuser API, seen from a notebook: its URLs, its faults, what it has answered."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from .. import settings
from ..client import ServiceClient
from ..contract import FAULTS, HEALTH, MOCK_SITES, STATS, Faults
from ..errors import WorkshopError


def data_api_url() -> str:
    """What the pipeline calls: WORKSHOP_API_URL (e.g. https://randomuser.me/api/) or the mock's primary site."""
    return settings.current().api_url or MockAPI().primary_url


class MockAPI(ServiceClient):
    """Control the mock API from a notebook: its URLs, its faults, what it has seen."""

    title = "mock API"

    def __init__(self, base_url: str | None = None):
        current = settings.current()
        super().__init__(base_url or current.mock_url, auth=current.room_auth)

    @property
    def primary_url(self) -> str:
        return self.url("primary")

    @property
    def mirror_url(self) -> str:
        return self.url("mirror")

    def url(self, site: str = "primary") -> str:
        if site not in MOCK_SITES:
            raise WorkshopError(f"Unknown site {site!r}; the mock API has {', '.join(MOCK_SITES)}.")
        return self.base_url + MOCK_SITES[site]

    def nationalities(self) -> list[str]:
        """The `nat` codes the mock can serve: all of randomuser.me's, or those in a recording it replays."""
        return self._call("GET", HEALTH)["nationalities"]

    def set_faults(self, site: str = "primary", **faults) -> Faults:
        """Replace a site's faults, e.g. `set_faults(server_errors=0.3, latency=0.05)`."""
        self.url(site)
        checked = Faults.from_dict(faults)  # fail here, with the same message, before any request
        self._call("PUT", f"{FAULTS}/{site}", json=checked.to_dict())
        return checked

    def clear_faults(self) -> None:
        """Both sites healthy again."""
        self._call("DELETE", FAULTS)

    def faults(self) -> dict[str, Faults]:
        return {site: Faults.from_dict(values) for site, values in self._call("GET", FAULTS).items()}

    @contextlib.contextmanager
    def faulty(self, site: str = "primary", **faults) -> Iterator[Faults]:
        """`with mock.faulty(outage=True): ...` then the site's previous faults come back."""
        before = self.faults()[site]
        try:
            yield self.set_faults(site, **faults)
        finally:
            self.set_faults(site, **before.to_dict())

    def stats(self, site: str = "primary") -> Counter:
        """How many requests the site answered, and with which outcome."""
        self.url(site)
        return Counter(self._call("GET", STATS)[site])

    def reset_stats(self) -> None:
        self._call("DELETE", STATS)
