"""One HTTP session to a shop's Admin API: the token header, refresh on 401, retries, backoff.

REST and GraphQL clients build on it and add their own rate limiting through two hooks:
`_wait_for_room()` before each request and `_throttled(response)` after it.
"""

import logging
import random
import time
from typing import Any

import requests

from shopsync.shopify.errors import (
    ShopifyAccessError,
    ShopifyError,
    ShopifyRequestError,
    ShopifyUnavailable,
)
from shopsync.shopify.tokens import as_tokens

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds, on every call
MAX_THROTTLED = 50  # consecutive throttled answers one call may meet before giving up
TOKEN_HEADER = "X-Shopify-Access-Token"

log = logging.getLogger(__name__)


def describe(response: requests.Response) -> tuple[str, object]:
    """Return (text, errors) from a Shopify error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        text = "; ".join(f"{name}: {problem}" for name, problem in errors.items())
    else:
        text = str(errors) if errors else (response.text[:200] or response.reason)
    return text, errors


def json_body(response: requests.Response) -> Any:
    """Return the JSON body of a successful response, or raise ShopifyError."""
    try:
        return response.json()
    except ValueError:
        raise ShopifyError(f"{response.request.method} {response.url}: HTTP "
                           f"{response.status_code} with a body that is not JSON",
                           response.status_code) from None


class Transport:
    """Sends calls to one base URL with a token source; retries what is safe to retry."""

    def __init__(self, base_url, access_token, *, timeout=DEFAULT_TIMEOUT, max_retries=5,
                 backoff=0.5, max_backoff=30.0, session=None, sleep=time.sleep,
                 clock=time.monotonic):
        self.base_url = base_url.rstrip("/")
        self.tokens = as_tokens(access_token)  # a token string or a token source
        self.timeout = timeout
        self.max_retries = max_retries  # retries after 5xx, timeouts and connection errors
        self.backoff, self.max_backoff = backoff, max_backoff
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        self.sleep, self.clock = sleep, clock
        self.request_count = 0  # HTTP requests sent, retries included
        self.throttled_count = 0  # throttled answers received
        self.retry_count = 0  # retries after failures (throttling not included)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def granted_scopes(self) -> set[str] | None:
        """Return the scopes granted to the app, or None when unknown."""
        return self.tokens.scopes()

    def require_scope(self, scope: str) -> None:
        """Raise ShopifyAccessError unless the app was granted `scope` (when that is known)."""
        granted = self.granted_scopes()
        if granted is not None and scope not in granted:
            raise ShopifyAccessError(f"{scope} not granted: add it to the app's scopes in the "
                                     f"Dev Dashboard, release, and reinstall "
                                     f"(granted: {', '.join(sorted(granted)) or 'none'})", 403)

    def _wait_for_room(self):
        """Sleep until the rate limit allows another call (subclasses pace here)."""

    def _throttled(self, response):
        """Return the seconds to wait when `response` says the call was throttled, else None."""
        return None

    def send(self, method: str, path: str, *, retryable: bool, params: dict[str, Any] | None = None,
             json: dict[str, Any] | None = None) -> requests.Response:
        """Send one call, refreshing the token once on 401, waiting out throttling and
        retrying failures with exponential backoff when `retryable` (else only a connect
        timeout, which cannot have reached Shopify); return the response."""
        failures = throttled = 0
        refreshed = False
        while True:
            self._wait_for_room()
            token = self.tokens.get()
            self.request_count += 1
            try:
                response = self.session.request(method, f"{self.base_url}/{path}", params=params,
                                                json=json, timeout=self.timeout,
                                                headers={TOKEN_HEADER: token})
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not retryable and not isinstance(exc, requests.ConnectTimeout):
                    raise ShopifyUnavailable(f"{method} {path}: {exc}") from exc
                status, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 401 and not refreshed and self.tokens.refresh(token):
                    refreshed = True
                    continue
                delay = self._throttled(response)
                if delay is not None:
                    throttled += 1
                    self.throttled_count += 1
                    if throttled > MAX_THROTTLED:
                        raise ShopifyUnavailable(f"{method} {path}: still throttled after "
                                                 f"{MAX_THROTTLED} tries", status)
                    self.sleep(delay)
                    continue
                if status < 400:
                    return response
                text, errors = describe(response)
                if status == 401:
                    raise ShopifyAccessError(f"{method} {path}: HTTP 401: the access token was "
                                             f"refused ({text})", status, errors)
                if status < 500:
                    raise ShopifyRequestError(f"{method} {path}: HTTP {status}: {text}",
                                              status, errors)
                if not retryable:
                    raise ShopifyUnavailable(f"{method} {path}: HTTP {status}: {text}", status)
                problem = f"HTTP {status}: {text}"
            failures += 1
            if failures > self.max_retries:
                raise ShopifyUnavailable(f"{method} {path}: gave up after {failures} tries; "
                                         f"last: {problem}", status)
            delay = min(self.max_backoff, self.backoff * 2 ** (failures - 1))
            delay *= random.uniform(0.5, 1.0)
            log.warning("Shopify %s %s failed (%s); retry %d in %.2fs", method, path, problem,
                        failures, delay)
            self.retry_count += 1
            self.sleep(delay)
