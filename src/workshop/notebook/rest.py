"""Prefect's REST API from a notebook: one session that does what every REST client of Prefect's server should.

    api = workshop.PrefectREST()
    api.call("POST", "/automations/filter", json={"limit": 10})   # the answer's JSON, or a readable error
    api.request("POST", "/automations/", json=payload)             # the requests.Response itself
"""

from __future__ import annotations

from typing import Any

import requests

from .. import settings
from ..client import prefect_session


class PrefectREST:
    """Requests to `{PREFECT_API_URL}/...`, as the notebook's own Prefect client would send them."""

    def __init__(self, api_url: str | None = None):
        current = settings.current()
        self.api = (api_url or current.prefect_api_url or current.course_prefect_api_url).rstrip("/")
        # The same retries as Prefect's own client (a busy server answers 503 or 429 for a moment), no proxy for a
        # server on this machine.
        self.session = prefect_session()
        self.headers: dict[str, str] = {}
        self.auth = None
        if current.prefect_api_key:  # Prefect Cloud: the API key, as a bearer token
            self.headers["Authorization"] = f"Bearer {current.prefect_api_key.get_secret_value()}"
        elif current.in_room or current.hosts_room:  # a classroom's server asks for the room's password (basic auth)
            self.auth = current.room_auth

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.api}{path}", headers=self.headers, auth=self.auth, timeout=30, **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON (None for an empty answer); an error answer raises, saying what the server said."""
        response = self.request(method, path, **kwargs)
        if not response.ok:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None
