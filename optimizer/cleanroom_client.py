"""The HTTP client the measurement services use to ask the clean-room gateway (``/api/v1/clean-rooms/``).

Timeouts on every request; retries with exponential backoff and jitter (tenacity) on what may pass: a 5xx answer, a
timeout, a dropped connection. A refusal (4xx: a broken rule, a spent budget, a bad key) is final and raised at once
with the rule it names. After the last attempt it raises ``CleanRoomUnavailable`` saying how often it tried and
what the last failure was.

Each query carries an ``Idempotency-Key`` (a new UUID per query, the same on each of its retries): an attempt whose
answer never arrived (a timeout after the gateway answered and spent the epsilon) is answered again on retry with the
same numbers (``replayed``), and the privacy budget is charged once.
"""

from __future__ import annotations

import uuid

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

RETRY_STATUSES = frozenset({500, 502, 503, 504})


class CleanRoomClientError(Exception):
    """The gateway refused (``status`` 4xx; ``rule`` names a clean-room rule when that was the reason)."""

    def __init__(self, message: str, *, status: int | None = None, rule: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.rule = rule


class CleanRoomUnavailable(CleanRoomClientError):
    """No answer after every attempt (timeouts, dropped connections or 5xx)."""

    def __init__(self, message: str, *, attempts: int, status: int | None = None):
        super().__init__(message, status=status)
        self.attempts = attempts


class _Retryable(Exception):
    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class CleanRoomClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout_s: float = 20.0,
        attempts: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 8.0,
        headers: dict[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/") + "/"
        self.attempts = attempts
        self._wait = wait_exponential_jitter(multiplier=backoff_s, max=backoff_max_s, jitter=backoff_s)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            headers={"Authorization": f"Api-Key {api_key}", "Accept": "application/json", **(headers or {})},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CleanRoomClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def datasets(self) -> list[dict]:
        return self._request("GET", "clean-rooms/")["results"]

    def query(self, *, dataset: str, sql: str, epsilon: float | None = None, request_key: str | None = None) -> dict:
        """One query; ``request_key`` (default: a new UUID) is sent as ``Idempotency-Key`` on every attempt."""
        body: dict = {"sql": sql}
        if epsilon is not None:
            body["epsilon"] = epsilon
        headers = {"Idempotency-Key": request_key or str(uuid.uuid4())}
        return self._request("POST", f"clean-rooms/{dataset}/query/", json=body, headers=headers)

    def _request(self, method: str, path: str, **kwargs) -> dict:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, _Retryable)),
            retry_error_callback=self._give_up,
        )
        return retrying(self._once, method, path, **kwargs)

    def _once(self, method: str, path: str, **kwargs) -> dict:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed ({type(exc).__name__}: {exc})") from exc
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", status=response.status_code)
        if response.status_code >= 400:
            error = _error_body(response)
            raise CleanRoomClientError(
                f"The clean-room gateway refused ({response.status_code}): {error.get('message', response.text[:200])}",
                status=response.status_code,
                rule=error.get("rule"),
            )
        return response.json()

    def _give_up(self, state: RetryCallState):
        last = state.outcome.exception() if state.outcome else None
        reason = getattr(last, "reason", str(last))
        raise CleanRoomUnavailable(
            f"The clean-room gateway at {self.base_url} did not answer after {state.attempt_number} attempts; "
            f"last: {reason}.",
            attempts=state.attempt_number,
            status=getattr(last, "status", None),
        )


def _error_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body.get("error", {}) if isinstance(body, dict) else {}
