"""Relay connections as Shopify serves them: first/after (or last/before), opaque cursors."""

import base64
import binascii
import json
from itertools import islice

from graphql import GraphQLError

MAX_PAGE = 250  # Shopify's largest first/last


def encode_cursor(key):
    """Return an opaque cursor for a position (a JSON-able sort key)."""
    text = json.dumps({"last": key}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(token):
    """Return the position a cursor encodes, or raise a GraphQLError."""
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["last"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {token}") from None


def page_size(args):
    """Return (size, backwards) from first/last, checked as Shopify checks them."""
    first, last = args.get("first"), args.get("last")
    if (first is None) == (last is None):
        raise GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    if not 0 <= size <= MAX_PAGE:
        raise GraphQLError(f"The first and last arguments must be between 0 and {MAX_PAGE}")
    return size, last is not None


class Edge:
    """An object of a connection and its cursor, encoded only when asked for."""

    __slots__ = ("key", "node")

    def __init__(self, key, node):
        self.key, self.node = key, node

    @property
    def cursor(self):
        return encode_cursor(self.key)


class PageInfo:
    """A connection's pageInfo; its cursors are encoded only when asked for."""

    __slots__ = ("hasNextPage", "hasPreviousPage", "keys")

    def __init__(self, keys, has_previous, more):
        self.keys, self.hasPreviousPage, self.hasNextPage = keys, has_previous, more

    @property
    def startCursor(self):  # noqa: N802 (GraphQL's name)
        return encode_cursor(self.keys[0]) if self.keys else None

    @property
    def endCursor(self):  # noqa: N802
        return encode_cursor(self.keys[-1]) if self.keys else None


def build(items, keys, has_previous, more):
    """Return a connection of one page of `items` (with their sort keys) and its pageInfo."""
    return {"edges": [Edge(k, n) for k, n in zip(keys, items, strict=True)], "nodes": items,
            "pageInfo": PageInfo(keys, has_previous, more)}


def connection(items, args, key):
    """Page an in-memory list (in its order) by first/after or last/before."""
    size, backwards = page_size(args)
    keys = [key(item) for item in items]
    if args.get("reverse"):
        items, keys = items[::-1], keys[::-1]
    start, stop = 0, len(items)
    if args.get("after") is not None:
        after = decode_cursor(args["after"])
        start = keys.index(after) + 1 if after in keys else len(items)
    if args.get("before") is not None:
        before = decode_cursor(args["before"])
        stop = keys.index(before) if before in keys else 0
    window = range(start, max(start, stop))
    chosen = window[-size:] if backwards else window[:size]
    if backwards:
        more_before, more_after = bool(chosen) and chosen[0] > start, stop < len(items)
    else:
        more_before, more_after = start > 0, bool(chosen) and chosen[-1] < stop - 1
    return build([items[i] for i in chosen], [keys[i] for i in chosen], more_before, more_after)


def stream(rows, args, key):
    """Page rows that arrive sorted and already past the `after` cursor: take first + 1."""
    size, _ = page_size(args)
    taken = list(islice(rows, size + 1))
    more = len(taken) > size
    taken = taken[:size]
    return taken, [key(row) for row in taken], args.get("after") is not None, more
