"""Notebook 01: what to retry, and how long to wait."""

from __future__ import annotations

import requests

from . import call_learner, exercise

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


def _response(status: int, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


@exercise(
    "wait_seconds",
    task="Wait what the server asks for (Retry-After), else back off exponentially",
    hints=[
        "Look for the header first: response.headers.get('Retry-After') is None when the server sent none.",
        "The header is text, such as '3': turn it into a number of seconds with float(...).",
        "Without the header, attempt 0 waits 0.1 s, attempt 1 0.2 s, attempt 2 0.4 s: 0.1 * 2 ** attempt.",
    ],
    solution='''
# exercise: wait_seconds
def wait_seconds(response, attempt: int) -> float:
    """Seconds to wait before the next attempt."""
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        return float(retry_after)  # the server knows best
    return 0.1 * 2 ** attempt  # 0.1 s, 0.2 s, 0.4 s, ...
''',
)
def wait_seconds(function):
    for status, header, attempt in [(429, "3", 0), (503, "2", 4)]:
        got = call_learner(function, _response(status, header), attempt,
                           shown=f"a {status} response with headers {{'Retry-After': {header!r}}} and attempt={attempt}")
        assert isinstance(got, (int, float)) and not isinstance(got, bool), (
            f"return a number of seconds; with 'Retry-After: {header}' you returned {got!r} (the header is text: float(...) it)"
        )
        assert got == float(header), f"when the server says 'Retry-After: {header}', wait {header} s; you returned {got}"
    for status, attempt in [(503, 0), (503, 3), (429, 1)]:
        got = call_learner(function, _response(status), attempt,
                           shown=f"a {status} response without a Retry-After header and attempt={attempt}")
        expected = 0.1 * 2**attempt
        assert isinstance(got, (int, float)) and abs(got - expected) < 1e-9, (
            f"with no Retry-After header, attempt {attempt} should wait 0.1 * 2 ** {attempt} = {expected:g} s; you returned {got!r}"
        )
