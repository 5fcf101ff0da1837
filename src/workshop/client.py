"""One HTTP client for the course's own services (the mock API, the inbox), with one error policy.

Every call has a timeout; a service that does not answer, answers late or
refuses becomes a `ServiceError` that says which service, what happened and
what to do, never a requests traceback.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from .errors import ServiceError

_sessions = threading.local()
TIMEOUT = 10.0  # seconds; the services are on this machine

# Prefect's server answers 503 when its database was busy with another writer (SQLite, a fresh server's own
# background services included) and means "try again"; Prefect's own client retries 429, 502 and 503 five times
# with growing waits (prefect.client.base). Its REST API gets the same here: waits of 0, 2, 4, 8, 16 s, 30 s at
# most. A refused connection is not retried: it means the server is down, and says so at once.
class _PrefectRetry(Retry):
    """Prefect's retries, and a request that found its kept-alive connection closed by the server as it went out
    (no answer at all) sent once more, if sending it twice cannot do its work twice (not a POST)."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and self._is_read_error(error) and (
                not isinstance(error, ProtocolError) or str(method).upper() not in Retry.DEFAULT_ALLOWED_METHODS):
            raise error  # a late answer, or a POST that may have done its work: as before, no second try
        return super().increment(method, url, response, error, _pool, _stacktrace)


PREFECT_RETRY = _PrefectRetry(total=5, connect=0, read=1, status=5, status_forcelist=(429, 502, 503),
                              allowed_methods=None, backoff_factor=1, backoff_jitter=0.2, raise_on_status=False)


def _session(name: str, retry: Retry | None) -> requests.Session:
    if not hasattr(_sessions, name):  # one per thread: sessions are not thread-safe
        session = requests.Session()
        # The services are on loopback: a proxy from the environment must not be asked for them.
        session.trust_env = False
        if retry is not None:
            session.mount("http://", HTTPAdapter(max_retries=retry))
            session.mount("https://", HTTPAdapter(max_retries=retry))
        setattr(_sessions, name, session)
    return getattr(_sessions, name)


def local_session() -> requests.Session:
    """A requests session for the course's own services: one try per request (a 503 from the mock API is a lesson)."""
    return _session("local", None)


def prefect_session() -> requests.Session:
    """A requests session for the Prefect server's REST API, retrying what Prefect's own client retries."""
    return _session("prefect", PREFECT_RETRY)


class ServiceClient:
    """Talks JSON to one course service at `base_url`."""

    title = "course service"  # what a person calls it, for messages

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.auth = auth  # (user, password): a room's services ask for the room's password

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = f"{method} {path}"
        try:
            response = local_session().request(method, self.base_url + path, timeout=TIMEOUT, auth=self.auth, **kwargs)
        except requests.ConnectionError:  # ConnectTimeout included: nothing is listening there
            raise ServiceError(
                f"The {self.title} is not answering at {self.base_url}. Run `workshop.start()` in the notebook "
                "or `python -m workshop up` in a terminal."
            ) from None
        except requests.Timeout:
            raise ServiceError(
                f"The {self.title} at {self.base_url} took more than {TIMEOUT:g} s to answer {where}. "
                "`python -m workshop status` says whether it is healthy; `down` then `up` restarts it."
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 401:
            raise ServiceError(
                f"The {self.title} at {self.base_url} asks for the room's password, and this course folder has "
                "another one or none: join the room again with the line the instructor gives."
            )
        if response.status_code >= 400 or payload is None:
            detail = payload.get("error") if isinstance(payload, dict) else response.text[:200]
            raise ServiceError(f"The {self.title} at {self.base_url} refused {where} (HTTP {response.status_code}): {detail}")
        return payload
