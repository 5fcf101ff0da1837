"""The users pipeline built in notebook 01, as a module the later notebooks import.

fetch_page  - one page of users from a randomuser-style API, with retries that
              back off, honour Retry-After and give up at once on mistakes
clean_users - raw records -> a typed DataFrame, plus the records that failed
              validation, each with its reason (nothing is dropped silently)
publish     - the table to a CSV file and to Prefect artifacts on the run page
users_pipeline - the flow: pages fetched concurrently, cleaned, published; when
              the source fails (not our request, not our code), a
              `workshop.source.unhealthy` event (notebook 03)
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pandas as pd
import requests
from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

import workshop

OUTPUT_DIR = Path(__file__).resolve().parent / "output"


class TransientAPIError(Exception):
    """The API had a hiccup (5xx, 429, a broken or error answer): trying again can help."""


class APIRequestError(Exception):
    """The API refused the request itself (4xx): trying again will not help."""


# What another attempt can fix; when these exhaust the retries, the source is at fault.
RETRYABLE = (TransientAPIError, requests.ConnectionError, requests.Timeout, TimeoutError)
LONGEST_WAIT = 60.0  # seconds: a Retry-After asking for more is capped, so one answer cannot stall a run


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """Seconds a Retry-After header asks for: a number of seconds, or an HTTP date (RFC 9110 allows both)."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default  # unreadable: wait the default rather than fail the attempt for it
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), LONGEST_WAIT)


def is_retryable(task, task_run, state) -> bool:
    """Prefect asks this after a failed attempt: retry only what another attempt can fix."""
    return isinstance(state.result(raise_on_failure=False), RETRYABLE)


@task(
    retries=5,
    retry_delay_seconds=exponential_backoff(backoff_factor=0.1),  # 0.1 s, 0.2 s, 0.4 s, 0.8 s, 1.6 s
    retry_jitter_factor=0.5,  # spread the retries so clients do not come back in step
    retry_condition_fn=is_retryable,
    task_run_name="fetch page {page}",
)
def fetch_page(api_url: str, page: int, results: int, seed: str, nat: str | None = None) -> list[dict]:
    logger = get_run_logger()
    params = {"results": results, "page": page, "seed": seed, **({"nat": nat} if nat else {})}
    # The request's own timeout, in seconds (connect, read): Prefect's timeout_seconds
    # cannot interrupt a blocking call in a worker thread.
    response = requests.get(api_url, params=params, timeout=(3.05, 10))

    if response.status_code == 429:
        # Prefect's retry delay is fixed in advance; the server's Retry-After is
        # honoured by waiting it out here before the attempt fails.
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        logger.warning("Rate limited (HTTP 429): waiting %.1f s as the API asked", wait)
        time.sleep(wait)
        raise TransientAPIError("rate limited (HTTP 429)")
    if response.status_code >= 500:
        raise TransientAPIError(f"HTTP {response.status_code} from {api_url}")
    if response.status_code >= 400:
        raise APIRequestError(f"HTTP {response.status_code} from {api_url}: {response.text[:200]}")
    try:
        payload = response.json()
    except ValueError:
        raise TransientAPIError(f"malformed JSON from {api_url} ({len(response.content)} bytes)") from None
    if not isinstance(payload, dict):
        raise TransientAPIError(f"unexpected answer from {api_url}: {type(payload).__name__}")
    if "error" in payload:
        raise TransientAPIError(f"the API answered with an error: {payload['error']}")
    if not isinstance(payload.get("results"), list):
        raise TransientAPIError(f"no results list in the answer from {api_url}")
    return payload["results"]


def _field(record: dict, *path: str):
    value = record
    for depth, key in enumerate(path):
        if not isinstance(value, dict):
            raise ValueError(f"{'.'.join(path[:depth]) or 'the record'} is not an object: {value!r}")
        if value.get(key) in (None, ""):
            raise ValueError(f"missing {'.'.join(path[:depth + 1])}")
        value = value[key]
    return value


def _timestamp(record: dict, *path: str) -> pd.Timestamp:
    raw = _field(record, *path)
    try:
        return pd.Timestamp(raw).tz_convert("UTC")
    except (ValueError, TypeError):
        raise ValueError(f"{'.'.join(path)} is not a date: {raw!r}") from None


def _coordinate(record: dict, axis: str, limit: float) -> float:
    raw = _field(record, "location", "coordinates", axis)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{axis} is not a number: {raw!r}") from None
    if not -limit <= value <= limit:
        raise ValueError(f"{axis} {value} is out of range")
    return value


def parse_user(record: dict) -> dict:
    """One raw record -> one clean row. Raises ValueError saying what is wrong."""
    email = str(_field(record, "email"))
    if "@" not in email:
        raise ValueError(f"email without @: {email!r}")
    registered = _timestamp(record, "registered", "date")
    return {
        "user_id": str(_field(record, "login", "uuid")),
        "full_name": f"{_field(record, 'name', 'first')} {_field(record, 'name', 'last')}",
        "email": email,
        "gender": str(_field(record, "gender")),
        "age": int(_field(record, "dob", "age")),
        "date_of_birth": _timestamp(record, "dob", "date"),
        "nationality": str(_field(record, "nat")),
        "country": str(_field(record, "location", "country")),
        "city": str(_field(record, "location", "city")),
        "latitude": _coordinate(record, "latitude", 90),
        "longitude": _coordinate(record, "longitude", 180),
        # Text, always: "SK1N 7GF" in Britain, 36413 in France, and leading zeros matter.
        "postcode": str(_field(record, "location", "postcode")),
        "registered": registered,
        "tenure_years": round((datetime.now(UTC) - registered).days / 365.25, 2),
    }


COLUMNS = {
    "user_id": "string",
    "full_name": "string",
    "email": "string",
    "gender": "category",
    "age": "Int64",
    "date_of_birth": "datetime64[ns, UTC]",
    "nationality": "category",
    "country": "string",
    "city": "string",
    "latitude": "float64",
    "longitude": "float64",
    "postcode": "string",
    "registered": "datetime64[ns, UTC]",
    "tenure_years": "float64",
}


@task
def clean_users(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split raw records into clean rows and quarantined ones (with the reason)."""
    rows, quarantined = [], []
    for position, record in enumerate(records):
        try:
            rows.append(parse_user(record))
        except (ValueError, TypeError) as problem:
            quarantined.append({"position": position, "reason": str(problem), "record": json.dumps(record, ensure_ascii=False)})
    users = pd.DataFrame(rows, columns=list(COLUMNS)).astype(COLUMNS)
    return users, pd.DataFrame(quarantined, columns=["position", "reason", "record"])


@task
def publish(users: pd.DataFrame, quarantined: pd.DataFrame, name: str = "users") -> Path:
    """Save the clean table and show it, with a quality summary, on the flow run's page."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    path = OUTPUT_DIR / f"{name}.csv"
    users.to_csv(path, index=False)
    preview = users.head(20).astype({"date_of_birth": str, "registered": str}).astype(object)
    create_table_artifact(key=f"{workshop.PREFIX}{name}", table=preview.where(preview.notna(), None).to_dict("records"),
                          description=f"First 20 of {len(users)} clean users")
    reasons = quarantined["reason"].value_counts().to_dict() if len(quarantined) else {}
    lines = [f"# {name}: {len(users)} clean, {len(quarantined)} quarantined", "", f"Saved to `{path.name}`.", ""]
    lines += [f"- {count} x {reason}" for reason, count in reasons.items()] or ["No record failed validation."]
    create_markdown_artifact(key=f"{workshop.PREFIX}{name}-quality", markdown="\n".join(lines))
    return path


def report_unhealthy_source(api_url: str, failure: Exception) -> None:
    """Tell Prefect, as an event about the data source, that it failed us.

    Inside a flow run, Prefect links the event to the run, its flow and its
    deployment as *related* resources, so automations can match on either.
    """
    parts = urlsplit(api_url)
    emit_event(
        event="workshop.source.unhealthy",
        resource={"prefect.resource.id": f"workshop.source.{parts.netloc}{parts.path}", "prefect.resource.name": api_url},
        payload={"error": f"{type(failure).__name__}: {failure}"},
    )


class PipelineResult(NamedTuple):
    flow_run_id: str  # find the run in the UI: workshop.runs.flow_run_url(result.flow_run_id)
    records_in: int
    users: pd.DataFrame  # the clean table
    quarantined: pd.DataFrame  # position, reason, record


@flow(name=f"{workshop.PREFIX}users-pipeline", task_runner=ThreadPoolTaskRunner(max_workers=8))
def users_pipeline(
    n_users: int = 100,
    page_size: int = 25,
    api_url: str | None = None,
    seed: str = "workshop",
    nat: str | None = None,
    name: str = "users",
) -> PipelineResult:
    """Fetch `n_users` users in pages of `page_size`, concurrently; clean; publish."""
    logger = get_run_logger()
    api_url = api_url or workshop.data_api_url()
    pages = range(1, math.ceil(n_users / page_size) + 1)
    futures = [fetch_page.submit(api_url, page, page_size, seed, nat) for page in pages]
    try:
        records = [record for future in futures for record in future.result()][:n_users]
    except RETRYABLE as failure:  # the source failed us; a 4xx (our request) or a bug in our code is not its fault
        report_unhealthy_source(api_url, failure)
        raise
    users, quarantined = clean_users(records)
    logger.info("%d records in: %d clean, %d quarantined (from %s)", len(records), len(users), len(quarantined), api_url)
    publish(users, quarantined, name)
    return PipelineResult(str(runtime.flow_run.id), len(records), users, quarantined)
