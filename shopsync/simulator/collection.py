"""One resource of a store: generated records overlaid with created, changed and deleted ones."""

import bisect
import copy
import heapq
from operator import attrgetter

from shopsync.simulator.data import Row, parse_time


def row_of(record):
    """Return the Row describing a stored record."""
    return Row(record["id"], parse_time(record["created_at"]), parse_time(record["updated_at"]),
               record.get("closed_at") is not None, record.get("cancelled_at") is not None)


class Collection:
    """The live records of one kind in id order, built on demand. Callers hold the store lock."""

    def __init__(self, factory):
        self.factory = factory
        self.kind = factory.kind
        self.next_index = factory.n  # generation index of the next created record
        self._created = []  # ids of records created after generation, ascending
        self._records = {}  # id -> current record of created or changed ids (never mutated)
        self._rows = {}  # id -> Row of those records
        self._deleted = set()  # deleted generated ids

    def __len__(self):
        return self.factory.n + len(self._created) - len(self._deleted)

    def __contains__(self, record_id):
        return self.row(record_id) is not None

    def __iter__(self):
        """Yield a copy of every live record in id order."""
        for row in self.rows():
            yield self.record(row, owned=True)

    def ids(self):
        """Return every live id in ascending order."""
        return [row.id for row in self.rows()]

    def get(self, record_id):
        """Return a copy of a live record, or None."""
        row = self.row(record_id)
        return None if row is None else self.record(row, owned=True)

    @property
    def created_ids(self):
        """Return the ids of live records created after generation, ascending."""
        return list(self._created)

    @property
    def max_id(self):
        """Return the highest id ever used by this kind."""
        return max(self.factory.ids.last, self._created[-1] if self._created else 0)

    def row(self, record_id):
        """Return the Row of a live id, or None."""
        if record_id in self._rows:
            return self._rows[record_id]
        index = self.factory.ids.index(record_id)
        if index is None or record_id in self._deleted:
            return None
        return self.factory.row(index)

    def record(self, row, owned=False):
        """Return the record of a Row, to read only unless `owned` asks for a private copy."""
        record = self.factory.record(row.index) if row.index >= 0 else self._records[row.id]
        return copy.deepcopy(record) if owned else record

    def rows(self, after=None, before=None, reverse=False, ids=None, created=None):
        """Iterate over live Rows with after < id < before, ascending unless `reverse`.

        `created` = (lo, hi) epoch seconds only narrows the generated records read: callers
        still filter by creation time (it skips those that cannot match).
        """
        low = -1 if after is None else after
        high = float("inf") if before is None else before
        if ids is not None:
            wanted = sorted((i for i in set(ids) if low < i < high), reverse=reverse)
            return (row for row in map(self.row, wanted) if row is not None)
        lo = bisect.bisect_right(self._created, low)
        hi = bisect.bisect_left(self._created, high)
        extra = self._created[lo:hi]
        stored = (self._rows[i] for i in (reversed(extra) if reverse else extra))
        if created is not None:
            stored = (row for row in stored if created[0] <= row.created <= created[1])
        return heapq.merge(self._generated(low, high, reverse, created), stored,
                           key=attrgetter("id"), reverse=reverse)

    def _generated(self, low, high, reverse, created=None):
        """Yield live Rows of generated ids in (low, high) (that may be created in `created`)."""
        ids = self.factory.ids
        lo, hi = bisect.bisect_right(ids, low), bisect.bisect_left(ids, high)
        if created is not None:
            start, stop = self.factory.index_range(*created)
            lo, hi = max(lo, start), min(hi, stop)
        for i in range(hi - 1, lo - 1, -1) if reverse else range(lo, hi):
            row = self.factory.row(i)
            if row.id not in self._deleted:
                yield self._rows.get(row.id, row)

    def put(self, record):
        """Store a created or changed record; the collection owns it from now on."""
        row = row_of(record)
        if row.id not in self._rows and self.factory.ids.index(row.id) is None:
            bisect.insort(self._created, row.id)
        self._records[row.id] = record
        self._rows[row.id] = row

    def delete(self, record_id):
        """Delete a live id."""
        self._records.pop(record_id, None)
        self._rows.pop(record_id, None)
        position = bisect.bisect_left(self._created, record_id)
        if position < len(self._created) and self._created[position] == record_id:
            del self._created[position]
        else:
            self._deleted.add(record_id)
