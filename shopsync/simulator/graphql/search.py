"""Shopify's search syntax for the `query:` argument: `created_at:>='2026-01-01T00:00:00Z'`.

Terms separated by spaces must all hold (AND); `OR` joins alternatives. Fields: id,
created_at, updated_at, and status for orders. A field Shopify does not know is ignored with
a warning in `extensions.search`, as Shopify does.
"""

import operator
import re
from dataclasses import dataclass, field

from graphql import GraphQLError

from shopsync.simulator.data import parse_time

TERM = re.compile(r"""(?P<neg>-)?(?P<field>\w+):(?P<op><=|>=|<|>|=)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "=": operator.eq, None: operator.eq}
STATUSES = {"any", "open", "closed", "cancelled", "not_closed"}


def _status(row, value):
    return {"any": True, "open": not row.closed and not row.cancelled, "closed": row.closed,
            "cancelled": row.cancelled, "not_closed": not row.closed}[value]


@dataclass(frozen=True)
class Term:
    """One `field:op value` condition."""

    field: str
    op: str | None
    value: object
    negated: bool = False

    def match(self, row):
        if self.field == "status":
            held = _status(row, self.value)
        else:
            actual = {"id": row.id, "created_at": row.created, "updated_at": row.updated}[self.field]
            held = OPS[self.op](actual, self.value)
        return held != self.negated


@dataclass
class Search:
    """A parsed query: alternatives (OR) of conjunctions (AND) of Terms, and the warnings."""

    text: str
    groups: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def match(self, row):
        """Tell whether a Row satisfies the query."""
        return not self.groups or any(all(t.match(row) for t in g) for g in self.groups)

    def ids(self):
        """Return the ids when the query is only `id:N OR id:M …`, else None."""
        if self.groups and all(len(g) == 1 and g[0].field == "id" and g[0].op in (None, "=")
                               and not g[0].negated for g in self.groups):
            return {g[0].value for g in self.groups}
        return None

    def bound(self, name, ops):
        """Return the tightest value one conjunction gives `name` by `ops`, or None."""
        if len(self.groups) != 1:
            return None
        values = [t.value for t in self.groups[0] if t.field == name and t.op in ops
                  and not t.negated]
        if not values:
            return None
        return max(values) if ops[0].startswith(">") else min(values)

    def report(self):
        """Return the `extensions.search` entry Shopify adds when a query had warnings."""
        return {"path": [], "query": self.text, "parsed": {}, "warnings": self.warnings}


def _value(name, raw):
    text = raw[1:-1] if raw[:1] in "'\"" else raw
    try:
        if name == "id":
            return int(text)
        if name in ("created_at", "updated_at"):
            return parse_time(text.replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"Invalid search value for {name}: {raw}") from None
    return text


def parse(text, kind):
    """Parse a search query for `kind` ("orders", "products", "customers")."""
    search = Search(text or "")
    known = {"id", "created_at", "updated_at"} | ({"status"} if kind == "orders" else set())
    group = []
    for token in re.findall(r"""'[^']*'|"[^"]*"|\S+""", text or ""):
        if token == "OR":
            search.groups.append(group)
            group = []
            continue
        if token == "AND":
            continue
        match = TERM.fullmatch(token)
        if match is None or match["field"] not in known:
            name = match["field"] if match else token
            search.warnings.append({"field": name, "message": "Invalid search field for this query."})
            continue
        value = _value(match["field"], match["value"])
        if match["field"] == "status" and value not in STATUSES:
            search.warnings.append({"field": "status", "message": f"Invalid value: {value}"})
            continue
        group.append(Term(match["field"], match["op"], value, bool(match["neg"])))
    search.groups.append(group)
    search.groups = [g for g in search.groups if g]
    return search
