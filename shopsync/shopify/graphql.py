"""Shopify GraphQL Admin API transport: POST graphql.json, paced by calculated query cost.

Every response reports `extensions.cost` (requested and actual cost, and the bucket's
maximum, current level and restore rate). The client waits before a query until the bucket,
restoring since it was last seen, holds what that query requested last time; a THROTTLED
error (inside an HTTP 200) is waited out and the query sent again. Queries are retried after
5xx, timeouts and connection errors; mutations only when they cannot have arrived.
"""

from collections.abc import Iterator
from typing import Any

from shopsync.shopify.errors import ShopifyRequestError
from shopsync.shopify.transport import Transport, json_body

THROTTLED = "THROTTLED"
MIN_WAIT = 0.05  # seconds: the least a throttled query waits before it is sent again


def _messages(errors):
    return "; ".join(str(error.get("message", error)) if isinstance(error, dict) else str(error)
                     for error in errors)


class GraphQLClient(Transport):
    """Runs GraphQL queries and mutations against one shop within its cost budget."""

    api = "graphql"

    def __init__(self, base_url, access_token, *, pace=True, **options):
        super().__init__(base_url, access_token, **options)
        self.pace = pace  # wait for room before sending (False: only wait out THROTTLED)
        self.requested_cost = 0  # points requested by queries that ran
        self.actual_cost = 0  # points they actually cost
        self._status = None  # (available, maximum, restore rate, clock when seen)
        self._expected = {}  # query text -> the cost it requested last time
        self._query = None
        self._body = None

    def execute(self, query: str, variables: dict[str, Any] | None = None, *,
                mutation: bool = False) -> dict[str, Any]:
        """Run one operation and return its `data`; raise ShopifyRequestError on its errors."""
        self._query = query
        response = self.send("POST", "graphql.json", retryable=not mutation,
                             json={"query": query, "variables": variables or {}})
        body = self._body if self._body is not None else json_body(response)
        cost = (body.get("extensions") or {}).get("cost") or {}
        if cost.get("actualQueryCost") is not None:
            self.requested_cost += cost.get("requestedQueryCost") or 0
            self.actual_cost += cost["actualQueryCost"]
        if body.get("errors"):
            raise ShopifyRequestError(f"GraphQL: {_messages(body['errors'])}", response.status_code,
                                      body["errors"])
        search = (body.get("extensions") or {}).get("search") or []
        warnings = [w for entry in search for w in entry.get("warnings") or []]
        if warnings:  # Shopify ignores a filter it does not understand: never read everything
            raise ShopifyRequestError(f"GraphQL search: {_messages(warnings)}", response.status_code,
                                      warnings)
        return body.get("data") or {}

    def _throttled(self, response):
        """Read the cost report; return how long to wait when the query was THROTTLED."""
        self._body = None
        if response.status_code != 200:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        self._body = body if isinstance(body, dict) else {}
        cost = (self._body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus")
        if status:
            self._status = (status["currentlyAvailable"], status["maximumAvailable"],
                            status["restoreRate"], self.clock())
        if cost.get("requestedQueryCost") is not None:
            self._expected[self._query] = cost["requestedQueryCost"]
        codes = {(error.get("extensions") or {}).get("code")
                 for error in self._body.get("errors") or () if isinstance(error, dict)}
        if THROTTLED not in codes:
            return None
        return max(MIN_WAIT, self._shortfall(cost.get("requestedQueryCost") or 0))

    def _shortfall(self, needed):
        """Return the seconds until the bucket holds `needed` points, as last seen."""
        if self._status is None:
            return 0.0
        available, maximum, rate, seen = self._status
        now = available + (self.clock() - seen) * rate
        return max(0.0, min(needed, maximum) - now) / rate if rate else 0.0

    def _wait_for_room(self):
        """Sleep until the bucket has room for what this query cost last time."""
        expected = self._expected.get(self._query)
        if self.pace and expected:
            wait = self._shortfall(expected)
            if wait > 0:
                self.sleep(wait)

    def paginate(self, query: str, path: str,
                 variables: dict[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the `nodes` of a connection page by page, following pageInfo.endCursor.

        `query` takes `$after: String`; `path` names the connection in `data`.
        """
        variables = dict(variables or {}, after=None)
        while True:
            connection = self.execute(query, variables)[path]
            yield connection["nodes"]
            info = connection["pageInfo"]
            if not info["hasNextPage"]:
                return
            variables["after"] = info["endCursor"]
