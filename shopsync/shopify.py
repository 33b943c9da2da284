"""Shopify REST Admin API client: streams pages by Link cursors and stays inside the rate limit.

One client per thread: it paces itself from the X-Shopify-Shop-Api-Call-Limit header of its
own responses, so clients sharing a store's bucket may still meet (and survive) 429s.
"""

import logging
import random
import re
import time
from datetime import UTC, date, datetime
from urllib.parse import unquote, urlsplit

import requests

from shopsync.config import DEFAULT_API_VERSION

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds, on every call
BUCKET_MARGIN = 1  # requests left free at the top of the bucket, for other callers
DEFAULT_RETRY_AFTER = 2.0  # seconds, when a 429 carries no Retry-After
MAX_THROTTLED = 50  # consecutive 429s one call may meet before giving up
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})  # safe to resend after any failure
LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')

log = logging.getLogger(__name__)


class ShopifyError(Exception):
    """A Shopify API call failed. `status` is the last HTTP status (None without a response)."""

    def __init__(self, message, status=None, errors=None):
        super().__init__(message)
        self.status, self.errors = status, errors


class ShopifyRequestError(ShopifyError):
    """Shopify refused the call (4xx other than 429): retrying would not help."""


class ShopifyUnavailable(ShopifyError):
    """Shopify kept failing (5xx, 429, timeouts, connection errors) past the retry budget."""


def next_page_info(link_header):
    """Return the page_info of a Link header's rel="next" URL, exactly as given, or None."""
    for url, rel in LINK.findall(link_header or ""):
        if rel == "next":
            for pair in urlsplit(url).query.split("&"):
                name, _, value = pair.partition("=")
                if name == "page_info":
                    return unquote(value)
    return None


def _param(value):
    """Render a filter value for a query string (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _describe(response):
    """Return (text, errors) from a Shopify error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, dict):
        text = "; ".join(f"{name}: {_param(problem)}" for name, problem in errors.items())
    else:
        text = str(errors) if errors else (response.text[:200] or response.reason)
    return text, errors


def _body(response):
    """Return the JSON body of a successful response, or raise ShopifyError."""
    try:
        return response.json()
    except ValueError:
        raise ShopifyError(f"{response.request.method} {response.url}: HTTP "
                           f"{response.status_code} with a body that is not JSON",
                           response.status_code) from None


class ShopifyClient:
    """A REST Admin API client for one shop: one session, timeouts, retries, rate limiting."""

    def __init__(self, base_url, access_token, *, leak_rate=2.0, timeout=DEFAULT_TIMEOUT,
                 max_retries=5, backoff=0.5, max_backoff=30.0, session=None,
                 sleep=time.sleep, clock=time.monotonic):
        self.base_url = base_url.rstrip("/")
        self.leak_rate = leak_rate  # the bucket's leak rate, requests per second (0: no pacing)
        self.timeout = timeout
        self.max_retries = max_retries  # retries after 5xx, timeouts and connection errors
        self.backoff, self.max_backoff = backoff, max_backoff
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": access_token,
                                     "Accept": "application/json"})
        self.sleep, self.clock = sleep, clock
        self.request_count = 0  # HTTP requests sent, retries included
        self.throttled_count = 0  # 429s received
        self.retry_count = 0  # retries after failures (429s not included)
        self._bucket = None  # (used, size, clock when the response arrived)

    @classmethod
    def from_config(cls, config, **options):
        """Build a client from settings: SHOPIFY_API_BASE_URL or SHOPIFY_SHOP (+ version)."""
        base_url = config.get("SHOPIFY_API_BASE_URL")
        if not base_url:
            shop = config.get("SHOPIFY_SHOP")
            if not shop:
                raise ValueError("set SHOPIFY_SHOP or SHOPIFY_API_BASE_URL")
            version = config.get("SHOPIFY_API_VERSION") or DEFAULT_API_VERSION
            base_url = f"https://{shop}/admin/api/{version}"
        return cls(base_url, config.get("SHOPIFY_ACCESS_TOKEN") or "", **options)

    def close(self):
        """Close the HTTP session."""
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def iter_pages(self, resource, limit=250, fields=None, **filters):
        """Yield each page (a list of records) as it arrives, following rel="next" cursors.

        Filters go on the first request only; later ones carry page_info, limit and fields.
        Orders default to status=any.
        """
        if resource == "orders":
            filters.setdefault("status", "any")
        paging = {"limit": limit} if fields is None else {"limit": limit, "fields": _param(fields)}
        params = {**paging, **{k: _param(v) for k, v in filters.items() if v is not None}}
        while True:
            response = self.request("GET", f"{resource}.json", params)
            yield _body(response)[resource]
            page_info = next_page_info(response.headers.get("Link"))
            if page_info is None:
                return
            params = {**paging, "page_info": page_info}

    def iter_records(self, resource, limit=250, fields=None, **filters):
        """Yield every matching record in id order, one page in memory at a time."""
        for page in self.iter_pages(resource, limit, fields, **filters):
            yield from page

    def count(self, resource, **filters):
        """Count matching records (orders default to status=any)."""
        if resource == "orders":
            filters.setdefault("status", "any")
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        return _body(self.request("GET", f"{resource}/count.json", params))["count"]

    def get(self, resource, record_id, fields=None):
        """Return one record, or None when Shopify does not know it."""
        params = None if fields is None else {"fields": _param(fields)}
        try:
            response = self.request("GET", f"{resource}/{int(record_id)}.json", params)
        except ShopifyRequestError as exc:
            if exc.status == 404:
                return None
            raise
        return _body(response)[resource.removesuffix("s")]

    def list_webhooks(self, **filters):
        """Return every webhook subscription (filters: topic, address)."""
        return list(self.iter_records("webhooks", **filters))

    def create_webhook(self, topic, address, format="json"):
        """Subscribe `address` to `topic` and return the subscription."""
        spec = {"webhook": {"topic": topic, "address": address, "format": format}}
        return _body(self.request("POST", "webhooks.json", json=spec))["webhook"]

    def delete_webhook(self, webhook_id):
        """Delete a subscription; tell whether it existed."""
        try:
            self.request("DELETE", f"webhooks/{int(webhook_id)}.json")
        except ShopifyRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def request(self, method, path, params=None, json=None):
        """Send one call, pacing, waiting out 429s and retrying failures; return the response.

        5xx, timeouts and connection errors are retried with exponential backoff, up to
        max_retries; a POST only when it cannot have reached Shopify (connect timeout).
        """
        failures = throttled = 0
        while True:
            self._wait_for_room()
            self.request_count += 1
            try:
                response = self.session.request(method, f"{self.base_url}/{path}", params=params,
                                                json=json, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if method not in IDEMPOTENT and not isinstance(exc, requests.ConnectTimeout):
                    raise ShopifyUnavailable(f"{method} {path}: {exc}") from exc
                status, problem = None, f"{type(exc).__name__}: {exc}"
            else:
                self._measure(response)
                status = response.status_code
                if status == 429:
                    throttled += 1
                    self.throttled_count += 1
                    if throttled > MAX_THROTTLED:
                        raise ShopifyUnavailable(f"{method} {path}: still throttled after "
                                                 f"{MAX_THROTTLED} tries", status)
                    self.sleep(self._retry_after(response))
                    continue
                if status < 400:
                    return response
                text, errors = _describe(response)
                if status < 500:
                    raise ShopifyRequestError(f"{method} {path}: HTTP {status}: {text}",
                                              status, errors)
                if method not in IDEMPOTENT:
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

    def _measure(self, response):
        """Remember the bucket level a response reports, as of its arrival (a safe bound)."""
        used, _, size = response.headers.get("X-Shopify-Shop-Api-Call-Limit", "").partition("/")
        if used.isdigit() and size.isdigit():
            self._bucket = (int(used), int(size), self.clock())

    def _wait_for_room(self):
        """Sleep until the bucket, leaking since it was measured, has room below the margin."""
        if self._bucket is None or not self.leak_rate:
            return
        used, size, measured = self._bucket
        ceiling = size - BUCKET_MARGIN if size > BUCKET_MARGIN else size
        level = used - (self.clock() - measured) * self.leak_rate
        if level + 1 > ceiling:
            self.sleep((level + 1 - ceiling) / self.leak_rate)

    @staticmethod
    def _retry_after(response):
        """Return the seconds a 429 asks to wait."""
        try:
            return max(0.0, float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
        except ValueError:
            return DEFAULT_RETRY_AFTER
