"""Notebook 01: what is worth another attempt, first as a rule about status codes, then as the real task's retry condition."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import requests

from . import PREFIX, _effects, call_learner, exercise

_RETRYABLE = {200: False, 201: False, 400: False, 401: False, 404: False, 422: False,
              429: True, 500: True, 502: True, 503: True, 504: True}


@exercise(
    "is_retryable_status",
    task="Decide which HTTP status codes are worth another attempt",
    hints=[
        "Ask of each code: would the same request, sent again a bit later, get a better answer?",
        "4xx codes say the request itself is wrong (it will stay wrong), except 429: 'too many requests, slow down'. 5xx codes are the server's trouble, often passing.",
        "return status_code == 429 or status_code >= 500",
    ],
    solution='''
# exercise: is_retryable_status
def is_retryable_status(status_code: int) -> bool:
    """True when another attempt may succeed: rate limited (429) or a server error (5xx)."""
    return status_code == 429 or status_code >= 500
''',
)
def is_retryable_status(function):
    got = {code: call_learner(function, code, shown=f"status_code={code}") for code in _RETRYABLE}
    not_bool = [code for code, value in got.items() if not isinstance(value, bool)]
    assert not not_bool, f"return True or False; for {not_bool[0]} you returned {got[not_bool[0]]!r}"
    wasted = [code for code in _RETRYABLE if got[code] and not _RETRYABLE[code]]
    assert not wasted, f"{wasted} would be retried, but the same request will get the same answer: it is the request that is wrong (or it succeeded)"
    missed = [code for code in _RETRYABLE if _RETRYABLE[code] and not got[code]]
    assert not missed, f"{missed} would not be retried, but 429 (slow down) and 5xx (the server's trouble) usually pass"


def _failed_attempt(exception: Exception):
    from prefect.states import Failed

    return Failed(data=exception, message=f"Task run encountered an exception {type(exception).__name__}: {exception}")


@exercise(
    "retry_condition",
    task="Give fetch_page the retry condition that retries what another attempt can fix, and nothing else",
    hints=[
        "Prefect calls retry_condition_fn(task, task_run, state) after a failed attempt; "
        "state.result(raise_on_failure=False) is the exception that attempt raised.",
        "Another attempt can fix the source's trouble (TransientAPIError, a dropped connection, a timeout), "
        "not a request the API refused (APIRequestError) and not a bug in our code (a KeyError, say).",
        "return isinstance(failure, (TransientAPIError, requests.ConnectionError, requests.Timeout))",
    ],
    solution='''
# exercise: retry_condition
def retry_condition(task, task_run, state) -> bool:
    """Prefect asks this after a failed attempt of fetch_page: try again?"""
    failure = state.result(raise_on_failure=False)  # the exception the attempt raised
    return isinstance(failure, (TransientAPIError, requests.ConnectionError, requests.Timeout))
''',
)
def retry_condition(function, *, task, transient: type[Exception], refused: type[Exception]):
    # Prefect calls the condition on the task's own thread, where no event loop runs: so do we.
    cases = {
        transient("HTTP 503 from the API"): True,
        requests.ConnectionError("connection reset by peer"): True,
        requests.ReadTimeout("read timed out (10 s)"): True,
        refused("HTTP 400 from the API: results must be from 1 to 5000"): False,
        KeyError("results"): False,  # a bug of ours: another attempt runs the same bug
    }
    first_attempt = SimpleNamespace(name="fetch page 1", run_count=1)  # what Prefect passes as task_run, in short
    with ThreadPoolExecutor(1) as pool:
        for failure, wanted in cases.items():
            got = pool.submit(call_learner, function, task, first_attempt, _failed_attempt(failure),
                              shown=f"the state of an attempt that raised {failure!r}").result()
            assert isinstance(got, bool), f"return True or False; for an attempt that raised {failure!r} you returned {got!r}"
            if wanted:
                assert got, f"an attempt that raised {failure!r} would not be retried, yet the source may well answer next time"
            else:
                assert not got, f"an attempt that raised {failure!r} would be retried, but another attempt fails the same way"
    _real_bad_day(function, task)


def _real_bad_day(function, task) -> None:
    """The real task with your condition, on a faulty mock: two server errors then an answer; then a request the API refuses."""
    from prefect import flow

    from ..notebook import runs
    from ..notebook.mock import MockAPI, data_api_url

    fetch = task.with_options(retry_condition_fn=function, retry_delay_seconds=0.1, retry_jitter_factor=None)

    @flow(name=f"{PREFIX}exercise-retries")
    def bad_day(nat: str | None = None):
        return fetch(data_api_url(), page=1, results=5, seed="exercise", nat=nat)

    with MockAPI().faulty(server_errors=0.5, seed=7):  # this seed answers two server errors, then the users
        survived = _effects.run_in_thread(lambda: bad_day(return_state=True))
    refused = _effects.run_in_thread(lambda: bad_day(nat="XX", return_state=True))  # the mock answers 400
    attempts = {name: [t.run_count for t in runs.task_runs(runs.flow_run_id(state))]
                for name, state in (("bad day", survived), ("refused", refused))}
    assert survived.is_completed() and attempts["bad day"] == [3], (
        f"with your condition, the task should survive two server errors on its third attempt; it made {attempts['bad day']} attempts "
        f"and the run ended {survived.type.value}"
    )
    assert refused.is_failed() and attempts["refused"] == [1], (
        f"with your condition, a request the API refuses (400) should fail at once; it made {attempts['refused']} attempts"
    )
    print("  On the real server: the task survived two server errors on its third attempt, and gave up at once on a 400.\n"
          f"  In the UI: {runs.flow_run_url(runs.flow_run_id(survived))}")
