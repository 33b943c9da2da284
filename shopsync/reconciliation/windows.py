"""Find exactly which ids differ between Shopify and the ERP, with few Shopify API calls.

Counts are compared over `created_at` windows. A window whose counts agree is left alone; one
that disagrees is split in two at the ERP's median creation time, and only the left half is
counted on Shopify (the right half's count is the parent's minus the left's). Once a window
holds one page of records (250), its ids are listed with `fields=id` and compared with the
ERP's. So k differences among N records cost on the order of k·log2(N/250) calls, and a store
in step costs exactly one count call. When a window has so many differences that listing all
of it is no dearer than bisecting, it is listed at once, which caps the worst case near the
N/250 calls of a full listing.

Limit, inherent to counts: a window holding as many missing records as extra ones has equal
counts, so a missing record and an extra one that share every window above their leaf are not
seen. Missing records are repaired anyway by the updated_at catch-up as soon as they change;
`deep=True` lists every id (N/250 calls) and sees everything.

Windows are whole seconds, both bounds inclusive, as Shopify's `created_at_min/max` are;
Shopify's times carry offsets, the ERP stores UTC, and both are compared as instants.
"""

import datetime as dt
import math
from dataclasses import dataclass, field

from shopsync.db import utcnow

PAGE = 250  # the most records one list call returns
FLOOR = int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp())  # before any Shopify store


def instant(seconds):
    """Return epoch seconds as a UTC-aware datetime."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def shopify_time(seconds):
    """Format epoch seconds as a Shopify time filter value."""
    return instant(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(moment):
    """Return a datetime as whole epoch seconds (rounded down)."""
    return math.floor(moment.timestamp())


@dataclass
class Differences:
    """What a comparison of one entity found."""

    shopify_count: int = 0
    erp_count: int = 0
    missing: set = field(default_factory=set)  # in Shopify, not live in the ERP
    extra: set = field(default_factory=set)  # live in the ERP, gone from Shopify
    calls: int = 0  # Shopify requests made
    counted: int = 0  # windows counted on Shopify
    listed: int = 0  # windows whose ids were listed


class WindowComparison:
    """Compare one entity's records created in [since, until] on Shopify and in the ERP."""

    def __init__(self, client, model, resource):
        self.client, self.model, self.resource = client, model, resource
        self.found = Differences()

    def run(self, until=None, deep=False):
        """Compare records created up to `until` (default now) and return the Differences."""
        since, until = FLOOR, epoch(until or utcnow())
        start = self.client.request_count
        try:
            if deep:
                self.found.erp_count = self._erp_count(since, until)
                self.found.shopify_count = self._compare(since, until)
            else:
                shopify = self._count(since, until)
                self.found.shopify_count = shopify
                self.found.erp_count = self._examine(since, until, shopify)
        finally:
            self.found.calls = self.client.request_count - start
        return self.found

    # Shopify side: the only calls that cost.

    def _window(self, lo, hi):
        return {"created_at_min": shopify_time(lo), "created_at_max": shopify_time(hi)}

    def _count(self, lo, hi):
        self.found.counted += 1
        return self.client.count(self.resource, **self._window(lo, hi))

    def _shopify_ids(self, lo, hi):
        self.found.listed += 1
        records = self.client.iter_records(self.resource, fields="id", limit=PAGE,
                                           **self._window(lo, hi))
        return {record["id"] for record in records}

    # ERP side: local queries, cheap.

    def _erp_where(self, lo, hi):
        model = self.model
        return (model.deleted_at.is_null() & (model.created_at >= instant(lo))
                & (model.created_at < instant(hi + 1)))

    def _erp_count(self, lo, hi):
        return self.model.select().where(self._erp_where(lo, hi)).count()

    def _erp_ids(self, lo, hi):
        query = self.model.select(self.model.shopify_id).where(self._erp_where(lo, hi))
        return {shopify_id for (shopify_id,) in query.tuples()}

    def _erp_median(self, lo, hi, erp):
        """Return the second that splits the ERP's records of [lo, hi] in two halves."""
        query = (self.model.select(self.model.created_at).where(self._erp_where(lo, hi))
                 .order_by(self.model.created_at).offset((erp - 1) // 2).limit(1))
        moment = query.scalar()
        return epoch(moment) if moment else (lo + hi) // 2

    # The search.

    def _compare(self, lo, hi):
        """List a window's ids on both sides and record the differences; return Shopify's count."""
        shopify, erp = self._shopify_ids(lo, hi), self._erp_ids(lo, hi)
        self.found.missing |= shopify - erp
        self.found.extra |= erp - shopify
        return len(shopify)

    def _listing_is_cheaper(self, shopify, difference):
        """Tell whether listing a window costs no more than bisecting it for `difference` ids."""
        pages = math.ceil(shopify / PAGE)
        return pages <= abs(difference) * math.log2(shopify / PAGE)

    def _examine(self, lo, hi, shopify, erp=None):
        """Find the differences in [lo, hi] given Shopify's count there (and the ERP's, when
        known); return the ERP's count."""
        if erp is None:
            erp = self._erp_count(lo, hi)
        difference = shopify - erp
        if difference == 0:
            return erp
        if shopify == 0:  # all of the ERP's records here are gone from Shopify: no call needed
            self.found.extra |= self._erp_ids(lo, hi)
        elif (erp == 0 or lo == hi or shopify <= PAGE
              or self._listing_is_cheaper(shopify, difference)):
            self._compare(lo, hi)
        else:
            mid = min(max(self._erp_median(lo, hi, erp), lo), hi - 1)
            left_erp = self._erp_count(lo, mid)
            # A half the ERP holds less than a page of is listed at once: one call both counts
            # it and names its ids, where a count would be followed by a list.
            if left_erp <= PAGE * 4 // 5:
                left = self._compare(lo, mid)
            else:
                left = self._count(lo, mid)
                self._examine(lo, mid, left, left_erp)
            self._examine(mid + 1, hi, shopify - left, erp - left_erp)
        return erp
