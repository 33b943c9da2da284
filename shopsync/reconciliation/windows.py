"""Find exactly which ids differ between Shopify and the ERP, with few Shopify API calls.

History is cut into creation-time windows: one per UTC day from the ERP's oldest record, plus
one before it. Shopify counts every window, and names the newest `updated_at` in each, many
windows per GraphQL query (aliases); the ERP does the same locally. A window is listed
(ids and `updated_at`, a page of 250 a call) only where the counts differ or Shopify holds a
newer change than the ERP. So k differences on different days cost the counting queries
(days / 200) plus about k listings, and offsetting differences (a missing record and an
extra one) are found unless they share a day. When listing everything costs no more calls
than counting (small stores, or REST, which counts one window a call), everything is listed.
`deep=True` always lists everything, which also finds a missing and an extra record that
share a day.

Windows are whole seconds, [lo, hi); Shopify's times carry offsets, the ERP stores UTC, and
both are compared as instants. A comparison whose worker is asked to stop ends at its next
page or window (queue.Stopping), for its run to hand it over.
"""

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

from shopsync import queue
from shopsync.db import utcnow
from shopsync.schemas import parse_time

PAGE = 250  # the most records one list call returns
DAY = 86400
FLOOR = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp())  # before any Shopify store


def instant(seconds: float) -> dt.datetime:
    """Return epoch seconds as a UTC-aware datetime."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def shopify_time(seconds: float) -> str:
    """Format epoch seconds as a Shopify time filter value."""
    return instant(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(moment: dt.datetime) -> int:
    """Return a datetime as whole epoch seconds (rounded down)."""
    return math.floor(moment.timestamp())


@dataclass
class Differences:
    """What a comparison of one entity found."""

    shopify_count: int = 0
    erp_count: int = 0
    missing: set = field(default_factory=set)  # in Shopify, not live in the ERP
    extra: set = field(default_factory=set)  # live in the ERP, gone from Shopify
    stale: set = field(default_factory=set)  # in both, Shopify's version newer (or its books)
    lacking: set = field(default_factory=set)  # of stale: orders lacking a transaction
    totals: set = field(default_factory=set)  # of stale: orders whose totals differ
    calls: int = 0  # Shopify requests made
    counted: int = 0  # windows counted on Shopify
    listed: int = 0  # windows whose ids were listed


@dataclass
class Window:
    """[lo, hi) in epoch seconds, with what each side holds there."""

    lo: int
    hi: int
    erp: int = 0
    erp_newest: dt.datetime | None = None
    shopify: int = 0
    shopify_newest: dt.datetime | None = None


class WindowComparison:
    """Compare one entity's records created up to `until` on Shopify and in the ERP."""

    def __init__(self, client, model, resource, fields=("id", "updated_at"), books=None):
        self.client, self.model, self.resource = client, model, resource
        # What a listing asks for, and (orders) `books(records)` -> (lacking, totals) ids.
        self.fields, self.books = fields, books
        self.found = Differences()

    def run(self, until: dt.datetime | None = None, deep: bool = False) -> Differences:
        """Compare records created up to `until` (default now) and return the Differences."""
        end = epoch(until or utcnow())
        start = self.client.request_count
        try:
            windows = self._erp_windows(end)
            self.found.erp_count = sum(w.erp for w in windows)
            counting = math.ceil(len(windows) / self.client.windows_per_call)
            if deep or math.ceil(max(self.found.erp_count, 1) / PAGE) <= counting:
                self.found.shopify_count = self._compare(FLOOR, end + 1, end)
            else:
                self._count(windows)
                self.found.shopify_count = sum(w.shopify for w in windows)
                for window in windows:
                    queue.hand_over_point()
                    if self._differs(window, end):
                        self._compare(window.lo, window.hi, end)
        finally:
            self.found.calls = self.client.request_count - start
        return self.found

    def _live(self, lo, hi):
        model = self.model
        return (model.deleted_at.is_null() & (model.created_at >= instant(lo))
                & (model.created_at < instant(hi)))

    def _erp_windows(self, until):
        """Return the day windows up to `until`, with the ERP's count and newest change in each."""
        model = self.model
        rows = list(model.select(model.created_at, model.updated_at)
                    .where(self._live(FLOOR, until + 1)).tuples())
        first = min((epoch(created) for created, _ in rows), default=until)
        day = max(FLOOR, first - first % DAY)
        starts = [FLOOR] + list(range(day, until + 1, DAY))[FLOOR == day:]
        windows = [Window(lo, hi) for lo, hi in zip(starts, starts[1:] + [until + 1], strict=True)]
        for created, updated in rows:
            window = windows[bisect.bisect_right(starts, epoch(created)) - 1]
            window.erp += 1
            if window.erp_newest is None or updated > window.erp_newest:
                window.erp_newest = updated
        return windows

    def _count(self, windows):
        """Ask Shopify for each window's count and newest change."""
        bounds = [(instant(w.lo), instant(w.hi)) for w in windows]
        for window, (count, newest) in zip(windows, self.client.count_windows(self.resource, bounds),
                                           strict=True):
            window.shopify, window.shopify_newest = count, parse_time(newest)
        self.found.counted += len(windows)

    @staticmethod
    def _differs(window, until):
        """Tell whether a window must be listed: counts differ, or Shopify changed a record
        (settled before `until`) after the ERP's newest change there."""
        if window.shopify != window.erp:
            return True
        newest = window.shopify_newest
        return bool(newest and epoch(newest) <= until and window.erp_newest
                    and newest > window.erp_newest)

    def _compare(self, lo, hi, until):
        """List [lo, hi) on both sides and record the differences; return Shopify's count."""
        self.found.listed += 1
        theirs = {}
        for page in self.client.iter_pages(self.resource, fields=self.fields, limit=PAGE,
                                           created_at_min=shopify_time(lo),
                                           created_at_max=shopify_time(hi - 1)):
            queue.hand_over_point()
            theirs.update((record["id"], parse_time(record.get("updated_at"))) for record in page)
            if self.books:
                lacking, totals = self.books(page)
                self.found.lacking |= lacking
                self.found.totals |= totals
        model = self.model
        mine = dict(model.select(model.shopify_id, model.updated_at).where(self._live(lo, hi))
                    .tuples())
        self.found.missing |= theirs.keys() - mine.keys()
        self.found.extra |= mine.keys() - theirs.keys()
        self.found.stale |= {i for i, updated in theirs.items() if i in mine and updated
                             and epoch(updated) <= until and updated > mine[i]}
        self.found.stale |= (self.found.lacking | self.found.totals) & mine.keys()
        return len(theirs)
