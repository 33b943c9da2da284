"""Shared by the benchmarks: result rows, their app and schema, CPU and memory readings, HTTP load.

Child processes and a database of a run's own come from shopsync.testing, as for the tests.

A benchmark module has `run(ctx)` returning a list of `Row`s; `ctx` says where the services
are and whether to run with tiny sizes (`ctx.quick`, for the smoke test).
"""

import concurrent.futures
import contextlib
import math
import multiprocessing
import os
import secrets
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psycopg2

from shopsync import create_app, migrations
from shopsync.db import db
from shopsync.models import ALL_MODELS
from shopsync.signing import sign

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "bench-webhook-secret"
ADMIN_TOKEN = "bench-admin-token"
# The service refuses a short session key; each run makes its own.
SESSION_KEY = secrets.token_hex(32)
WEBHOOK_PATH = "/webhooks/shopify"
ROUNDS = 8  # turns each server takes in a throughput comparison (in_turns)


@dataclass
class Row:
    """One figure as measured, with its same-run baseline and its target when it has them."""

    benchmark: str
    measure: str
    value: float
    unit: str
    baseline: float | None = None  # same unit as value, measured in the same run
    baseline_label: str = ""
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self):
        """Return value / baseline, or None without a baseline."""
        return self.value / self.baseline if self.baseline else None


@dataclass
class Context:
    """Where a benchmark runs: its own database, Redis (None: in-process stand-in), a work dir."""

    database_url: str
    redis_url: str | None
    workdir: str
    quick: bool = False
    sizes: tuple | None = None  # (small, large) store sizes, where a benchmark takes them
    graphql_restore_rate: float | None = None  # the simulator's, where a benchmark takes it
    queue: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:10]}")

    def env(self):
        """Return the environment of the service's processes for this context."""
        return {"DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url or "",
                "SHOPSYNC_QUEUE": self.queue, "SHOPIFY_WEBHOOK_SECRET": SECRET,
                "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": SESSION_KEY,
                "SHOPSYNC_ENV_FILE": "/nonexistent", "PYTHONPATH": ROOT}


def make_app(ctx, **config):
    """Return an app bound to the context's database and queue."""
    return create_app({"DATABASE_URL": ctx.database_url, "REDIS_URL": ctx.redis_url,
                       "RQ_QUEUE": ctx.queue, "SHOPIFY_WEBHOOK_SECRET": SECRET,
                       "SHOPSYNC_ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": SESSION_KEY, **config})


def fresh_schema():
    """Drop every table of the bound database and create the current schema."""
    db.drop_tables([*ALL_MODELS, migrations.SchemaMigration], safe=True)
    migrations.upgrade()


# Seconds between the ANALYZEs `autoanalyzed` runs: about autovacuum's naptime (60 s) or less.
ANALYZE_SECONDS = 30


@contextlib.contextmanager
def autoanalyzed(database_url, every=ANALYZE_SECONDS):
    """ANALYZE the database every `every` seconds meanwhile if its server's autovacuum is off
    (as on this machine), as autovacuum would: without statistics the planner scans a growing
    table whole for each page's deletes of an order's lines, and the run slows as it grows."""
    if not database_url.startswith("postgres"):
        yield
        return
    with contextlib.closing(psycopg2.connect(database_url)) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("SHOW autovacuum")
            if cursor.fetchone()[0] == "on":
                yield
                return
        done = threading.Event()

        def analyze():
            while not done.wait(every):
                with conn.cursor() as cursor:
                    cursor.execute("ANALYZE")

        thread = threading.Thread(target=analyze, name="autoanalyze", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


def close_database():
    """Close every pooled connection of the bound database."""
    db.close_all() if hasattr(db.obj, "close_all") else db.close()


def peak_rss_mb():
    """Return this process's peak resident set size in MB.

    VmHWM, not getrusage's ru_maxrss: that one also remembers the memory of the parent that
    forked this process before it exec'd, so a child of a big parent would report the parent.
    """
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def cpu_by_process(pids):
    """Return {pid: CPU seconds (user + system) used so far} for `pids` and their descendants."""
    tick, seconds, todo = os.sysconf("SC_CLK_TCK"), {}, list(pids)
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                todo += [int(child) for child in children.read().split()]
        except FileNotFoundError:
            continue  # it has just exited
        seconds[pid] = (int(fields[11]) + int(fields[12])) / tick
    return seconds


def cpu_used(before, after):
    """Return the CPU seconds used between two cpu_by_process readings."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def backend_pids(database_url):
    """Return the pids of the PostgreSQL backends connected to `database_url`'s database."""
    name = f" {urlsplit(database_url).path.lstrip('/')} "
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                command = cmdline.read().decode(errors="replace")
        except FileNotFoundError:
            continue
        if command.startswith("postgres: ") and name in command:
            pids.append(int(pid))
    return pids


@dataclass(frozen=True)
class Deliveries:
    """Signed webhook deliveries: each body once, then (body index, topic, webhook id) per POST."""

    bodies: tuple
    items: tuple

    def request(self, i, host):
        """Return the raw HTTP/1.1 request of delivery `i`."""
        body_index, topic, webhook_id = self.items[i]
        body = self.bodies[body_index]
        head = (f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"X-Shopify-Topic: {topic}\r\nX-Shopify-Hmac-Sha256: {sign(body, SECRET)}\r\n"
                f"X-Shopify-Webhook-Id: {webhook_id}\r\nX-Shopify-Shop-Domain: bench.myshopify.com\r\n"
                f"X-Shopify-API-Version: 2025-10\r\n\r\n")
        return head.encode() + body


@dataclass
class Load:
    """What a load run saw: statuses, latencies (seconds) and its wall time."""

    statuses: Counter
    latencies: list
    seconds: float

    @property
    def sent(self):
        return sum(self.statuses.values())

    @property
    def rate(self):
        """Return completed requests per second."""
        return self.sent / self.seconds if self.seconds else 0.0


def _exchange(address, request):
    """Send one request on a new connection; return the response's status code (0 on error)."""
    try:
        with socket.create_connection(address, timeout=30) as sock:
            sock.sendall(request)
            head = sock.recv(65536)
            while sock.recv(65536):
                pass
        return int(head[9:12])
    except (OSError, ValueError):
        return 0


def _ready():
    """Let a new load process settle (it has imported this module to run this)."""
    time.sleep(0.2)


def _client(url, deliveries, indices, threads, rate, start, deadline):
    """Post `indices` from `threads` threads (closed loop, or open loop at `rate`); return results."""
    parts = urlsplit(url)
    address, host = (parts.hostname, parts.port), parts.netloc
    statuses, latencies, lock = Counter(), [], threading.Lock()
    shared = iter(indices)

    def loop(k):
        mine = shared if rate is None else iter(indices[k::threads])
        period = threads / rate if rate else 0.0
        for n, i in enumerate(mine):
            request = deliveries.request(i, host)
            planned = start + k / rate + n * period if rate else time.monotonic()
            if planned >= deadline:
                return
            time.sleep(max(0.0, planned - time.monotonic()))
            status = _exchange(address, request)
            took = time.monotonic() - planned  # from the planned send: no coordinated omission
            with lock:
                statuses[status] += 1
                latencies.append(took)

    time.sleep(max(0.0, start - time.monotonic()))
    pool = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses, latencies, time.monotonic()


class Clients:
    """Load-generating processes of `threads` threads each, started once for many load runs."""

    def __init__(self, processes=2, threads=8):
        self.processes, self.threads, self.pool = processes, threads, None

    def __enter__(self):
        context = multiprocessing.get_context("spawn")
        self.pool = concurrent.futures.ProcessPoolExecutor(self.processes, mp_context=context)
        for warm in [self.pool.submit(_ready) for _ in range(self.processes)]:
            warm.result()  # every child is up, this module imported, before a start is planned
        return self

    def __exit__(self, *exc):
        self.pool.shutdown()

    def post(self, url, deliveries, rate=None, duration=None):
        """POST every delivery (or until `duration` s); return a Load.

        Without `rate` each thread sends as soon as its previous request is answered (maximum
        throughput); with `rate` requests go out at that pace and latency counts from the
        planned send time.
        """
        processes = self.processes
        rate_each = rate / processes if rate else None
        start = time.monotonic() + 0.2
        deadline = start + duration if duration else math.inf
        futures = [self.pool.submit(_client, url, deliveries,
                                    list(range(p, len(deliveries.items), processes)), self.threads,
                                    rate_each, start + p / rate if rate else start, deadline)
                   for p in range(processes)]
        results = [future.result() for future in futures]
        statuses, latencies = Counter(), []
        for counts, times, _ in results:
            statuses.update(counts)
            latencies.extend(times)
        return Load(statuses, latencies, max(end for _, _, end in results) - start)


@dataclass
class Turns:
    """Servers loaded in turns: each one's loads summed over the rounds, and its rate per round."""

    loads: dict  # name: Load, summed over the rounds
    rates: dict  # name: [req/s in each round]
    cpu: dict  # name: [CPU seconds by reading, summed over the rounds]
    turn: float  # seconds of each turn

    def plan(self):
        """Describe the turns, for a row."""
        return f"{len(next(iter(self.rates.values())))} rounds of {self.turn:g} s in turns"

    def spread(self, name, baseline):
        """Return the lowest and the highest ratio of `name`'s rate to `baseline`'s in a round, as
        text: the noise the summed ratio was taken through."""
        ratios = [rate / base for rate, base in zip(self.rates[name], self.rates[baseline], strict=True)
                  if base]
        return f"{min(ratios):.2f}–{max(ratios):.2f}× per round"


def in_turns(clients, urls, items, seconds, rounds=ROUNDS, readings=None):
    """Post to each server of `urls` ({name: url}) in a closed loop, in turns; return Turns.

    Each server gets `rounds` turns of `seconds / rounds`, the order rotating every round, so
    that a neighbour's load on this shared machine falls on every server alike rather than on
    one long phase. `items(name, round)` returns a turn's deliveries; `readings(url)`, if given,
    a list of cpu_by_process readings to take around each turn.
    """
    names, done, cpu = list(urls), {name: [] for name in urls}, {name: [] for name in urls}
    for k in range(rounds):
        for name in names[k % len(names):] + names[:k % len(names)]:
            before = readings(urls[name]) if readings else []
            done[name].append(clients.post(urls[name], items(name, k), duration=seconds / rounds))
            after = readings(urls[name]) if readings else []
            cpu[name].append([cpu_used(start, end) for start, end in zip(before, after, strict=True)])
    loads = {name: Load(sum((load.statuses for load in done[name]), Counter()),
                        [took for load in done[name] for took in load.latencies],
                        sum(load.seconds for load in done[name])) for name in names}
    return Turns(loads, {name: [load.rate for load in done[name]] for name in names},
                 {name: [sum(used) for used in zip(*cpu[name], strict=True)] for name in names},
                 seconds / rounds)
