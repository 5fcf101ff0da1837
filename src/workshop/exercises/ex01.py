"""Notebook 01: what is worth another attempt, first as a rule about status codes, then as the retry condition of a
task written the way much code is (`raise_for_status()`), which the notebook's own condition does not cover."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import requests

from . import PREFIX, _calls, call_learner, exercise
from .predictions import prediction

# The codes whose answer is clear. Others are a choice each team makes: 408 and 425 are often retried, 501 and 505
# never help, a 500 may be a bug of the server's that another attempt meets again. The check asks none of those.
_RETRYABLE = {200: False, 201: False, 400: False, 401: False, 403: False, 404: False, 422: False,
              429: True, 502: True, 503: True, 504: True}

naive_outage = prediction(
    "naive_outage",
    question="The API answers every request with HTTP 503 and a plain-text body. What will the naive run's failure name?",
    options=("HTTPError", "JSONDecodeError", "TimeoutError", "KeyError"),
    answer='''
# prediction: naive_outage
naive_outage = "JSONDecodeError"  # "HTTPError", "JSONDecodeError", "TimeoutError" or "KeyError"?
''',
    why="""
`requests.get` does not raise for an error status: a 503 is an answer like any other, and `response.json()` then
tries to read `503 Service Unavailable` as JSON. So the failure names the *symptom* (a JSON parsing error), far from
its cause (the server was down). Nothing in the naive code looks at `response.status_code`; an `HTTPError` would
only come from `response.raise_for_status()`. The robust version below looks at the status first.
""",
)


@exercise(
    "is_retryable_status",
    task="Decide which HTTP status codes are worth another attempt",
    hints=[
        "Ask of each code: would the same request, sent again a bit later, get a better answer?",
        "Which codes say the request itself is wrong, so that sending it again gets the same answer, and which one of "
        "those says only 'not so fast'? And which codes say the server, or one in front of it, is in trouble for now?",
        "4xx: the request is wrong, except 429 (too many requests: slow down, then try again). 502, 503 and 504: a "
        "server or a gateway in trouble, often for a moment. `return status_code == 429 or status_code >= 500` is one "
        "answer (it retries every 5xx: a choice, see the solution).",
    ],
    solution='''
# exercise: is_retryable_status
def is_retryable_status(status_code: int) -> bool:
    """True when another attempt may succeed: rate limited (429) or a server in trouble (5xx)."""
    return status_code == 429 or status_code >= 500
''',
    why="""
A 4xx says the *request* is wrong: sent again, it gets the same answer (and a 401 or 403 retried in a loop can lock an
account). 429 is the exception: the request is fine, it came too soon, and `Retry-After` says when to come back.
502, 503 and 504 say a server, or a gateway in front of it, is in trouble now; that often passes within seconds. A
success (2xx) is not retried either: nothing went wrong.

The rest is a **choice**, and teams differ: retrying every 5xx is common, but 501 (not implemented) and 505 never get
better, a 500 may be a bug of the server's that each attempt meets again, and 408 (request timeout) and 425 (too
early) are usually worth another try. The check asks only about the codes whose answer is clear. The usual wrong
answers retry every error (`status_code >= 400`: the 400s stay wrong), or forget 429.
""",
)
def is_retryable_status(function):
    got = {code: call_learner(function, code, shown=f"status_code={code}") for code in _RETRYABLE}
    not_bool = [code for code, value in got.items() if not isinstance(value, bool)]
    assert not not_bool, f"return True or False; for {not_bool[0]} you returned {got[not_bool[0]]!r}"
    wasted = [code for code in _RETRYABLE if got[code] and not _RETRYABLE[code]]
    assert not wasted, (f"{wasted} would be retried, but the same request gets the same answer: it is the request that "
                        "is wrong, or it succeeded")
    missed = [code for code in _RETRYABLE if _RETRYABLE[code] and not got[code]]
    assert not missed, (f"{missed} would not be retried, but each says the request was fine and the server (or a "
                        "gateway before it) could not answer it now, which often passes; a 429 asks you to come back later")


def _attempt_that_raised(exception: Exception):
    from prefect.states import Failed

    return Failed(data=exception, message=f"Task run encountered an exception {type(exception).__name__}: {exception}")


def _http_error(status: int) -> requests.HTTPError:
    """What `raise_for_status()` raises for an answer with this status: the answer rides along as `.response`."""
    answer = requests.Response()
    answer.status_code, answer.url = status, "http://127.0.0.1:4280/api/?page=1"
    return requests.HTTPError(f"{status} Error for url: {answer.url}", response=answer)


@exercise(
    "retry_condition",
    task="Give fetch_raw, which calls raise_for_status(), a retry condition that retries what another attempt can fix",
    hints=[
        "Prefect calls retry_condition_fn(task, task_run, state) after a failed attempt, and `failure` is the exception "
        "that attempt raised. Which exceptions can an attempt of fetch_raw raise, for a 503, for a 404, for a dropped "
        "connection?",
        "For every error status, raise_for_status() raises the same class, requests.HTTPError. What does that "
        "exception carry that tells a 503 from a 404, and which function of yours already decides by status code?",
        "failure.response.status_code is the answer's status. One answer: `return (isinstance(failure, "
        "requests.HTTPError) and is_retryable_status(failure.response.status_code)) or isinstance(failure, "
        "(requests.ConnectionError, requests.Timeout))`.",
    ],
    solution='''
# exercise: retry_condition
def retry_condition(task, task_run, state) -> bool:
    """Prefect asks this after a failed attempt of fetch_raw: try again?"""
    failure = state.result(raise_on_failure=False)  # the exception the attempt raised
    if isinstance(failure, requests.HTTPError):  # raise_for_status(): the answer's status says which kind
        return is_retryable_status(failure.response.status_code)
    return isinstance(failure, (requests.ConnectionError, requests.Timeout))
''',
    why="""
`raise_for_status()` turns every error answer into one class, `requests.HTTPError`, so the *type* of the exception no
longer says whether another attempt can help; the answer it carries does: `failure.response.status_code`, judged by
the rule of exercise 1. A dropped connection or a timeout is the network's trouble, worth another attempt; anything
else (a `KeyError` in our own code, say) is a bug that every attempt meets again.

The usual wrong answers: reusing `is_retryable`, which decides by the pipeline's own exception classes and so never
retries an `HTTPError`, not even a 503; `isinstance(failure, requests.HTTPError)` alone, which retries a 404 five
times; `isinstance(failure, requests.RequestException)`, which is `HTTPError`'s parent too. Note `requests.Timeout`
and `requests.ConnectionError` are both `RequestException`s, but neither is an `HTTPError`.
""",
)
def retry_condition(function, *, task):
    # Prefect calls the condition on the task's own thread, where no event loop runs: so do we.
    cases = {
        _http_error(503): True,
        _http_error(429): True,
        requests.ConnectionError("connection reset by peer"): True,
        requests.ReadTimeout("read timed out (10 s)"): True,
        _http_error(404): False,
        _http_error(400): False,
        KeyError("results"): False,  # a bug of ours: another attempt runs the same bug
    }
    first_attempt = SimpleNamespace(name="fetch raw page 1", run_count=1)  # what Prefect passes as task_run, in short
    with ThreadPoolExecutor(1) as pool:
        for failure, wanted in cases.items():
            said = (f"HTTPError for an answer with status {failure.response.status_code}"
                    if isinstance(failure, requests.HTTPError) else repr(failure))
            got = pool.submit(call_learner, function, task, first_attempt, _attempt_that_raised(failure),
                              shown=f"the state of an attempt that raised {said}").result()
            assert isinstance(got, bool), f"return True or False; for an attempt that raised {said} you returned {got!r}"
            if wanted and isinstance(failure, requests.HTTPError):
                assert got, (f"an attempt that raised {said} would not be retried. raise_for_status() raises one class "
                             "for every error status: what in the exception tells this answer from a 404?")
            elif wanted:
                assert got, f"an attempt that raised {said} would not be retried, yet the network may well answer next time"
            else:
                assert not got, (f"an attempt that raised {said} would be retried, but another attempt gets the same "
                                 "answer: it is the request, or our code, that is wrong")
    _real_bad_day(function, task)


def _real_bad_day(function, task) -> None:
    """The real task with your condition, on a faulty mock: two server errors then an answer; then a request the API refuses."""
    from prefect import flow

    from ..notebook import runs
    from ..notebook.mock import MockAPI, data_api_url

    fetch = task.with_options(retry_condition_fn=function, retry_delay_seconds=0.1, retry_jitter_factor=None)

    @flow(name=f"{PREFIX}exercise-retries")
    def bad_day(results: int = 5):
        return fetch(data_api_url(), page=1, results=results, seed="exercise")

    with MockAPI().faulty(server_errors=0.5, seed=7):  # this seed answers a 503 and a 500, then the users
        survived = _calls.run_in_thread(lambda: bad_day(return_state=True))
    refused = _calls.run_in_thread(lambda: bad_day(results=0, return_state=True))  # the mock answers 400
    attempts = {name: [t.run_count for t in runs.task_runs(runs.flow_run_id(state))]
                for name, state in (("bad day", survived), ("refused", refused))}
    assert survived.is_completed() and attempts["bad day"] == [3], (
        f"with your condition, fetch_raw should survive two server errors on its third attempt; it made "
        f"{attempts['bad day']} attempts and the run ended {survived.type.value}"
    )
    assert refused.is_failed() and attempts["refused"] == [1], (
        f"with your condition, a request the API refuses (400) should fail at once; it made {attempts['refused']} attempts"
    )
    print("  On the real server: fetch_raw survived a 503 and a 500 on its third attempt, and gave up at once on a 400.\n"
          f"  In the UI: {runs.flow_run_url(runs.flow_run_id(survived))}")
