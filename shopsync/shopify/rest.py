"""Shopify REST Admin API client: streams pages by Link cursors and stays inside the rate limit.

One client per thread: it paces itself from the X-Shopify-Shop-Api-Call-Limit header of its
own responses, so clients sharing a store's bucket may still meet (and survive) 429s.
"""

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from shopsync.shopify.errors import ShopifyRequestError
from shopsync.shopify.scopes import SCOPES
from shopsync.shopify.transport import Transport, json_body

BUCKET_MARGIN = 1  # requests left free at the top of the bucket, for other callers
DEFAULT_RETRY_AFTER = 2.0  # seconds, when a 429 carries no Retry-After
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})  # safe to resend after any failure
# Order fields that are not on orders.json: transactions come from each order's
# transactions.json; REST has no total refunded (the transactions tell it).
NOT_LISTED = {"transactions", "total_refunded"}
CHECKED_TRANSACTION = ("id", "status")  # a transaction's fields when only compared
LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([^",;]+)"?')


def next_page_info(link_header: str | None) -> str | None:
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


class ShopifyClient(Transport):
    """A REST Admin API client for one shop: one session, timeouts, retries, rate limiting."""

    api = "rest"
    windows_per_call = 1  # count_windows counts one window a call

    def __init__(self, base_url, access_token, *, leak_rate=2.0, **options):
        super().__init__(base_url, access_token, **options)
        self.leak_rate = leak_rate  # the bucket's leak rate, requests per second (0: no pacing)
        self._bucket = None  # (used, size, clock when the response arrived)

    def iter_pages(self, resource: str, limit: int = 250, fields: Sequence[str] | str | None = None,
                   **filters: Any) -> Iterator[list[dict[str, Any]]]:
        """Yield each page (a list of records) as it arrives, following rel="next" cursors.

        Filters go on the first request only; later ones carry page_info, limit and fields.
        Orders default to status=any, and come with their transactions (a call per order)
        when whole or when `fields` names them.
        """
        self._require(resource)
        names = fields.split(",") if isinstance(fields, str) else fields
        transactions = resource == "orders" and (names is None or "transactions" in names)
        if resource == "orders":
            filters.setdefault("status", "any")
        paging = {"limit": limit} if names is None else {
            "limit": limit, "fields": _param([name for name in names if name not in NOT_LISTED])}
        params = {**paging, **{k: _param(v) for k, v in filters.items() if v is not None}}
        while True:
            response = self.request("GET", f"{resource}.json", params)
            page = json_body(response)[resource]
            if transactions:
                for record in page:
                    record["transactions"] = self.transactions(
                        record["id"], None if names is None else CHECKED_TRANSACTION)
            yield page
            page_info = next_page_info(response.headers.get("Link"))
            if page_info is None:
                return
            params = {**paging, "page_info": page_info}

    def iter_records(self, resource: str, limit: int = 250, fields: Sequence[str] | str | None = None,
                     **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield every matching record in id order, one page in memory at a time."""
        for page in self.iter_pages(resource, limit, fields, **filters):
            yield from page

    def count(self, resource: str, **filters: Any) -> int:
        """Count matching records (orders default to status=any)."""
        self._require(resource)
        if resource == "orders":
            filters.setdefault("status", "any")
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        return json_body(self.request("GET", f"{resource}/count.json", params))["count"]

    def count_windows(self, resource: str, windows: Sequence[tuple[datetime, datetime]]
                      ) -> list[tuple[int, str | None]]:
        """Return (count, None) of records created in each [lo, hi) window: a call each."""
        return [(self.count(resource, created_at_min=lo,
                            created_at_max=hi - timedelta(seconds=1)), None)
                for lo, hi in windows]

    def get(self, resource: str, record_id: int,
            fields: Sequence[str] | str | None = None) -> dict[str, Any] | None:
        """Return one record (a whole order with its transactions), or None when Shopify does
        not know it."""
        params = None if fields is None else {"fields": _param(fields)}
        try:
            response = self.request("GET", f"{resource}/{int(record_id)}.json", params)
        except ShopifyRequestError as exc:
            if exc.status == 404:
                return None
            raise
        record = json_body(response)[resource.removesuffix("s")]
        if resource == "orders" and fields is None:
            record["transactions"] = self.transactions(record["id"])
        return record

    def transactions(self, order_id, fields=None):
        """Return every transaction of an order (none when Shopify does not know the order)."""
        self._require("orders")
        params = None if fields is None else {"fields": _param(fields)}
        try:
            response = self.request("GET", f"orders/{int(order_id)}/transactions.json", params)
        except ShopifyRequestError as exc:
            if exc.status == 404:
                return []
            raise
        return json_body(response)["transactions"]

    def list_webhooks(self, **filters: Any) -> list[dict[str, Any]]:
        """Return every webhook subscription (filters: topic, address)."""
        return list(self.iter_records("webhooks", **filters))

    def create_webhook(self, topic: str, address: str, format: str = "json") -> dict[str, Any]:
        """Subscribe `address` to `topic` and return the subscription."""
        spec = {"webhook": {"topic": topic, "address": address, "format": format}}
        return json_body(self.request("POST", "webhooks.json", json=spec))["webhook"]

    def delete_webhook(self, webhook_id: int) -> bool:
        """Delete a subscription; tell whether it existed."""
        try:
            self.request("DELETE", f"webhooks/{int(webhook_id)}.json")
        except ShopifyRequestError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _require(self, resource):
        """Raise ShopifyAccessError unless the scope reading `resource` was granted."""
        if resource in SCOPES:
            self.require_scope(SCOPES[resource])

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                json: dict[str, Any] | None = None) -> requests.Response:
        """Send one call, pacing, waiting out 429s and retrying failures; return the response.

        5xx, timeouts and connection errors are retried with exponential backoff, up to
        max_retries; a POST only when it cannot have reached Shopify (connect timeout).
        """
        return self.send(method, path, retryable=method in IDEMPOTENT, params=params, json=json)

    def _throttled(self, response):
        """Remember the bucket level a response reports; return a 429's Retry-After."""
        used, _, size = response.headers.get("X-Shopify-Shop-Api-Call-Limit", "").partition("/")
        if used.isdigit() and size.isdigit():
            self._bucket = (int(used), int(size), self.clock())
        if response.status_code != 429:
            return None
        try:
            return max(0.0, float(response.headers.get("Retry-After", DEFAULT_RETRY_AFTER)))
        except ValueError:
            return DEFAULT_RETRY_AFTER

    def _wait_for_room(self):
        """Sleep until the bucket, leaking since it was measured, has room below the margin."""
        if self._bucket is None or not self.leak_rate:
            return
        used, size, measured = self._bucket
        ceiling = size - BUCKET_MARGIN if size > BUCKET_MARGIN else size
        level = used - (self.clock() - measured) * self.leak_rate
        if level + 1 > ceiling:
            self.sleep((level + 1 - ceiling) / self.leak_rate)
