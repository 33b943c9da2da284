"""Bulk operations of a simulated store: run in a thread, JSONL at an expiring URL, finish webhook.

An operation goes CREATED -> RUNNING -> COMPLETED (its `url`), FAILED (`errorCode`, and
`partialDataUrl` when some lines were written) or, through bulkOperationCancel, CANCELING ->
CANCELED; each end sends `bulk_operations/finish`. Shopify runs one bulk query per shop at a
time before API version 2026-01 and five from then on; one more is refused with
OPERATION_IN_PROGRESS. From 2026-01 `groupObjects` defaults to false: children then come after
the page of root objects, not right after their parent. The result URLs are signed and expire
after seven days, like the storage links Shopify hands out, so reading them needs no access
token.
"""

import hashlib
import hmac
import itertools
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field

from flask import abort, request, send_file
from graphql import GraphQLError

from shopsync.simulator.graphql.bulk_query import PAGE_INFO, InvalidBulkQuery, items, lines, plan
from shopsync.simulator.graphql.nodes import gid, utc
from shopsync.simulator.store import Event

FINISH_TOPIC = "bulk_operations/finish"
URL_LIFETIME = 7 * 24 * 3600  # seconds a result URL stays valid
FIRST_ID = 7_300_000_000
ACTIVE = {"CREATED", "RUNNING", "CANCELING"}
ENCODE = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode  # one JSONL line
# The scope each root connection needs; without it the operation fails with ACCESS_DENIED.
SCOPES = {"orders": "read_orders", "products": "read_products", "customers": "read_customers"}


def concurrency(api_version):
    """Return how many bulk queries may run at once for a shop on `api_version`."""
    return 1 if api_version < "2026-01" else 5


@dataclass
class Operation:
    """One bulk query and where it stands."""

    id: int
    query: str
    created_at: float
    status: str = "CREATED"
    error_code: str | None = None
    completed_at: float | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    expires: float | None = None  # when the result URL stops working
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def gid(self):
        return gid("BulkOperation", self.id)


class BulkOperations:
    """The bulk operations of one simulated shop."""

    def __init__(self, sim, clock=time.time):
        self.sim, self.clock = sim, clock
        self.limit = concurrency(sim.api_version)
        self.page_delay = 0.0  # seconds between root pages: lets tests see RUNNING and cancel
        self.fail_after = None  # (errorCode, root objects): the next operation fails there
        self.hold = threading.Event()  # tests clear it to hold operations RUNNING; release or cancel sets it
        self.hold.set()
        self.url_lifetime = URL_LIFETIME
        self._operations = {}
        self._ids = itertools.count(FIRST_ID, 11)
        self._lock = threading.Lock()
        self._secret = os.urandom(16)
        self._directory = tempfile.mkdtemp(prefix="shopsync-sim-bulk-")

    def close(self):
        """Stop every running operation and delete the result files."""
        for operation in list(self._operations.values()):
            operation.stop.set()
        self.hold.set()
        shutil.rmtree(self._directory, ignore_errors=True)

    def run_query(self, text, group=None):
        """Start a bulk query; return (Operation or None, userErrors).

        `group`: children right after their parent (default before 2026-01), else after the
        page of root objects they belong to.
        """
        group = self.sim.api_version < "2026-01" if group is None else group
        try:
            checked = plan(text)
        except InvalidBulkQuery as exc:
            return None, [{"code": "INVALID", "field": ["query"], "message": str(exc)}]
        with self._lock:
            active = [o for o in self._operations.values() if o.status in ACTIVE]
            if len(active) >= self.limit:
                return None, [{"code": "OPERATION_IN_PROGRESS", "field": None,
                               "message": f"A bulk query operation for this app and shop is "
                                          f"already in progress: {active[0].gid}."}]
            operation = Operation(next(self._ids), text, self.clock())
            self._operations[operation.id] = operation
        threading.Thread(target=self._run, args=(operation, checked, group), daemon=True,
                         name=f"bulk-{operation.id}").start()
        return operation, []

    def cancel(self, operation_id):
        """Ask a running operation to stop; return (Operation or None, userErrors)."""
        operation = self._operations.get(operation_id)
        if operation is None:
            return None, [{"field": ["id"], "message": "Bulk operation does not exist"}]
        with self._lock:
            if operation.status not in ACTIVE:
                return operation, [{"field": None, "message": f"A bulk operation cannot be "
                                    f"canceled when it is {operation.status.lower()}"}]
            operation.status = "CANCELING"
        operation.stop.set()
        self.hold.set()
        return operation, []

    def get(self, operation_id):
        """Return an operation, or None."""
        return self._operations.get(operation_id)

    def current(self):
        """Return the latest operation, or None."""
        return max(self._operations.values(), key=lambda o: o.id, default=None)

    def graphql(self, operation):
        """Return an operation as a BulkOperation object."""
        if operation is None:
            return None
        written = operation.file_size is not None and self.clock() < operation.expires
        url = self._url(operation) if written else None
        return {"typename": "BulkOperation", "id": operation.gid, "type": "QUERY",
                "status": "EXPIRED" if operation.expires and not written else operation.status,
                "errorCode": operation.error_code, "createdAt": utc(operation.created_at),
                "completedAt": utc(operation.completed_at),
                "objectCount": str(operation.object_count),
                "rootObjectCount": str(operation.root_object_count),
                "fileSize": None if operation.file_size is None else str(operation.file_size),
                "url": url if operation.status == "COMPLETED" else None,
                "partialDataUrl": url if operation.status == "FAILED" else None,
                "query": operation.query}

    # The result files.

    def _path(self, operation_id):
        return os.path.join(self._directory, f"{operation_id}.jsonl")

    def _signature(self, operation_id, expires):
        message = f"{operation_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _url(self, operation):
        expires = int(operation.expires)
        return (f"{self.sim.url}/bulk-results/{operation.id}.jsonl?expires={expires}"
                f"&signature={self._signature(operation.id, expires)}")

    def result_path(self, operation_id, expires, signature):
        """Return the file a signed URL points to, or None when the URL is wrong or expired."""
        good = hmac.compare_digest(signature, self._signature(operation_id, expires))
        if not good or self.clock() >= expires or self.get(operation_id) is None:
            return None
        return self._path(operation_id)

    # Running.

    def _run(self, operation, checked, group):
        from shopsync.simulator.graphql.resolvers import Root

        operation.status = "RUNNING"
        self.hold.wait()
        failure, after = None, None
        if SCOPES.get(checked.root) not in self.sim.tokens.scopes:
            return self._finish(operation, "FAILED", "ACCESS_DENIED", written=False)
        fail_code, fail_at = self.fail_after or (None, None)
        self.fail_after = None
        with open(self._path(operation.id), "w", encoding="utf-8") as out:
            while failure is None and not operation.stop.is_set():
                try:
                    data = checked.query.run(Root(self.sim, {}), {"bulkAfter": after})
                except GraphQLError:
                    failure = "INTERNAL_SERVER_ERROR"
                    break
                connection, page, later = data[checked.root], [], []
                for node in items(connection):
                    if operation.root_object_count == fail_at:
                        failure = fail_code
                        break
                    for line in lines(node, checked.shapes):
                        (page if group or "__parentId" not in line else later).append(ENCODE(line))
                    operation.root_object_count += 1
                self._write(out, operation, page + later)
                if not connection[PAGE_INFO]["hasNextPage"]:
                    break
                after = connection[PAGE_INFO]["endCursor"]
                out.flush()
                operation.stop.wait(self.page_delay)
        if operation.stop.is_set():
            return self._finish(operation, "CANCELED", None, written=False)
        self._finish(operation, "FAILED" if failure else "COMPLETED", failure,
                     written=operation.object_count > 0 or failure is None)

    @staticmethod
    def _write(out, operation, page):
        """Write a page of encoded lines at once."""
        if page:
            out.write("\n".join(page) + "\n")
            operation.object_count += len(page)

    def _finish(self, operation, status, error_code, written):
        """Close an operation and send bulk_operations/finish."""
        now = self.clock()
        if written:
            operation.file_size = os.path.getsize(self._path(operation.id))
            operation.expires = now + self.url_lifetime
        operation.status, operation.error_code = status, error_code
        operation.completed_at = now if status == "COMPLETED" else None
        payload = {"admin_graphql_api_id": operation.gid, "completed_at": utc(operation.completed_at),
                   "created_at": utc(operation.created_at),
                   "error_code": error_code.lower() if error_code else None,
                   "status": status.lower(), "type": "query"}
        self.sim.webhooks.submit(Event(str(uuid.uuid4()), (FINISH_TOPIC,), payload, utc(now)),
                                 self.sim.targets)


class BulkRoot:
    """The bulk operation fields of the QueryRoot and Mutation (mixed into the resolvers)."""

    def currentBulkOperation(self, info, type="QUERY"):  # noqa: N802 (GraphQL's name)
        return self.sim.bulk.graphql(self.sim.bulk.current()) if type == "QUERY" else None

    def bulkOperation(self, info, id):  # noqa: N802
        return self.sim.bulk.graphql(self.sim.bulk.get(_number(id)))

    def bulkOperationRunQuery(self, info, query, groupObjects=None):  # noqa: N802, N803
        operation, errors = self.sim.bulk.run_query(query, groupObjects)
        return {"bulkOperation": self.sim.bulk.graphql(operation), "userErrors": errors}

    def bulkOperationCancel(self, info, id):  # noqa: N802
        operation, errors = self.sim.bulk.cancel(_number(id))
        return {"bulkOperation": self.sim.bulk.graphql(operation), "userErrors": errors}


def _number(value):
    from shopsync.simulator.graphql.resolvers import parse_gid

    return parse_gid(value, "BulkOperation")[1]


def register(app, sim):
    """Serve the result files at their signed URLs (no access token, as storage links)."""

    @app.get("/bulk-results/<int:operation_id>.jsonl")
    def bulk_result(operation_id):
        """Send one JSONL result file (Range requests honoured), or 403 when expired."""
        try:
            expires = int(request.args.get("expires", ""))
        except ValueError:
            abort(403)
        path = sim.bulk.result_path(operation_id, expires, request.args.get("signature", ""))
        if path is None:
            abort(403)
        return send_file(path, mimetype="application/jsonl", conditional=True)
