"""List queries by Shopify's REST rules: filters, limits, fields and opaque page_info cursors."""

import base64
import binascii
import json
import math
from dataclasses import dataclass
from itertools import islice

from shopsync.simulator.data import iso, parse_time

DEFAULT_LIMIT, MAX_LIMIT = 50, 250
STATUSES = ("open", "closed", "cancelled", "any")
TIME_FILTERS = ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
FILTERS = ("status", *TIME_FILTERS, "since_id", "ids")
PAGE_PARAMS = ("limit", "fields", "page_info")  # all a page_info request may carry
ROW_FIELDS = {"id", "created_at", "updated_at"}  # fields a generated Row can answer alone
PAGINATION_DOCS = "https://shopify.dev/api/usage/pagination-rest"


class BadRequest(Exception):
    """A request Shopify would answer with 400; `errors` is the body's "errors" value."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


def _int(name, value):
    """Parse a positive integer parameter."""
    try:
        number = int(value)
    except ValueError:
        raise BadRequest({name: "expected Integer"}) from None
    if number < 0:
        raise BadRequest({name: "must be positive"})
    return number


@dataclass(frozen=True)
class Filters:
    """The filters of a list or count request; `raw` is what a page_info token carries."""

    raw: tuple  # ((name, value), ...) as received
    status: str | None = None
    times: tuple = (None, None, None, None)  # epoch bounds in TIME_FILTERS order
    since_id: int | None = None
    ids: frozenset | None = None

    @classmethod
    def parse(cls, kind, args):
        """Validate the filters present in `args` (orders default to status=open)."""
        raw = tuple((name, args[name]) for name in FILTERS if name in args)
        values = dict(raw)
        status = values.get("status", "open") if kind == "orders" else None
        if status not in (None, *STATUSES):
            raise BadRequest({"status": f"must be one of {', '.join(STATUSES)}"})
        times = []
        for name in TIME_FILTERS:
            try:
                times.append(parse_time(values[name]) if name in values else None)
            except ValueError:
                raise BadRequest({name: "must be an ISO 8601 time"}) from None
        since_id = _int("since_id", values["since_id"]) if "since_id" in values else None
        ids = None
        if "ids" in values:
            ids = frozenset(_int("ids", part) for part in values["ids"].split(",") if part)
        return cls(raw, status, tuple(times), since_id, ids)

    def match(self, row):
        """Tell whether a Row passes the status and time filters."""
        if self.status == "open" and (row.closed or row.cancelled):
            return False
        if (self.status == "closed" and not row.closed) or (
                self.status == "cancelled" and not row.cancelled):
            return False
        created_min, created_max, updated_min, updated_max = self.times
        return not ((created_min is not None and row.created < created_min)
                    or (created_max is not None and row.created > created_max)
                    or (updated_min is not None and row.updated < updated_min)
                    or (updated_max is not None and row.updated > updated_max))

    def rows(self, collection, cursor=None, backwards=False):
        """Iterate over matching Rows after `cursor` (or before it when `backwards`)."""
        after, before = self.since_id, None
        if cursor is not None and backwards:
            before = cursor
        elif cursor is not None:
            after = cursor if after is None else max(after, cursor)
        created_min, created_max = self.times[:2]
        created = None
        if created_min is not None or created_max is not None:
            created = (-math.inf if created_min is None else created_min,
                       math.inf if created_max is None else created_max)
        rows = collection.rows(after, before, reverse=backwards, ids=self.ids, created=created)
        return (row for row in rows if self.match(row))


def parse_limit(args):
    """Return the page size: default 50, at most 250."""
    if "limit" not in args:
        return DEFAULT_LIMIT
    limit = _int("limit", args["limit"])
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest({"limit": f"must be between 1 and {MAX_LIMIT}"})
    return limit


def parse_fields(args):
    """Return the requested field names, or None for whole records."""
    fields = [name.strip() for name in args.get("fields", "").split(",") if name.strip()]
    return frozenset(fields) or None


def encode_cursor(kind, filters, last_id, backwards):
    """Return an opaque page_info token carrying the filters and the position."""
    state = {"r": kind, "f": filters.raw, "c": last_id, "b": backwards}
    text = json.dumps(state, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(kind, token, args):
    """Return (filters, cursor id, backwards) of a page_info request, or raise BadRequest."""
    extra = [name for name in args if name not in PAGE_PARAMS]
    if extra:
        raise BadRequest({extra[0]: f"{extra[0]} cannot be passed when page_info is present. "
                                    f"See {PAGINATION_DOCS} for more information."})
    try:
        state = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if state["r"] != kind:
            raise ValueError(state["r"])
        filters = Filters.parse(kind, dict(state["f"]))
        return filters, int(state["c"]), bool(state["b"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise BadRequest({"page_info": "Invalid value."}) from None


@dataclass
class Page:
    """One page of rows, with the tokens of its neighbours (None when there is none)."""

    rows: list
    previous: str | None
    next: str | None


def find_page(collection, filters, limit, cursor=None, backwards=False):
    """Return the page of `limit` matching rows after (or before) `cursor`, in id order."""
    rows = list(islice(filters.rows(collection, cursor, backwards), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(rows, None, None)
    has_previous, has_next = (more, True) if backwards else (cursor is not None, more)
    kind = collection.kind
    return Page(rows,
                encode_cursor(kind, filters, rows[0].id, True) if has_previous else None,
                encode_cursor(kind, filters, rows[-1].id, False) if has_next else None)


def count(collection, filters):
    """Count the matching live records."""
    if filters.raw == () and collection.kind != "orders":
        return len(collection)
    return sum(1 for _ in filters.rows(collection))


def render(collection, row, fields):
    """Return the record of a Row, cut down to `fields`; id-only never builds the record."""
    if fields and fields <= ROW_FIELDS and row.index >= 0:
        full = {"id": row.id, "created_at": iso(row.created), "updated_at": iso(row.updated)}
        return {name: full[name] for name in ("id", "created_at", "updated_at") if name in fields}
    record = collection.record(row)
    return record if not fields else {k: v for k, v in record.items() if k in fields}
