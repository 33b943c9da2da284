"""A chaos run: the whole service under a changing store while its processes and services fail.

    python -m bench chaos --minutes N --seed S [--restore-rate R] [--database-url URL]
                          [--output PATH|-]

The bundled simulator's store changes all the time and sends webhooks with duplicates,
reordering and losses, while a schedule drawn from the seed SIGKILLs the web (gunicorn and its
workers), worker and scheduler processes (a supervisor restarts them as a process manager
would, each under its DYNO name), restarts Redis empty (a redis-server of the run's own),
cuts PostgreSQL and storms the Shopify API with 429s and 5xx. PostgreSQL is cut with a TCP
proxy between the service and the server, never restarted: the server is shared. Then the
faults stop and, after one reconciliation, the ERP must equal the store record for record and
to the cent, with no webhook pending and every periodic job run again (bench/truth.py).
"""

import argparse
import contextlib
import dataclasses
import os
import random
import signal
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from bench.common import SECRET, Context, make_app
from bench.truth import jobs_ran_since, judge, pending_webhooks
from shopsync import migrations
from shopsync.db import db, utcnow
from shopsync.models import ReconciliationReport
from shopsync.reconciliation import runs
from shopsync.simulator import Activity, SimulatorServer, Store, WebhookOptions
from shopsync.testing.databases import own_database
from shopsync.testing.processes import Processes, RedisServer, free_port, wait_until
from shopsync.testing.tcp_proxy import TcpProxy

# Periodic jobs 20 times as often, as in the real-process tests: the minute jobs every 3 s.
SCALE = 0.05
FAULTS = ("kill web", "kill worker", "kill scheduler", "restart Redis empty", "cut PostgreSQL",
          "API storm")
GAP = (2.0, 10.0)  # seconds between the starts of two faults
OUTAGE = (1.0, 8.0)  # seconds Redis or PostgreSQL stays down
STORM = (5.0, 20.0)  # seconds of API errors
STORM_STATUSES = (429, 500, 502, 503)
RESTART_DELAY = 1.0  # a process manager restarts a crashed process after about this long
SETTLE_TIMEOUT = 180.0  # seconds the calm phase may take to drain webhooks and run jobs
# The store is on a bigger plan than the classic one (1,000 points restoring 50/s): its GraphQL
# bucket restores 1,000 points/s. On the classic plan the first reconciliations, fetching
# the store's orders whole (~65 points each) on both workers, hold them for minutes.
RESTORE_RATE = 1000.0


class Timeline:
    """Fault and recovery events, with seconds since the start."""

    def __init__(self, echo=print):
        self.start, self.events, self.echo = time.monotonic(), [], echo
        self.lock = threading.Lock()

    def __call__(self, text):
        with self.lock:
            line = f"{time.monotonic() - self.start:7.1f} s  {text}"
            self.events.append(line)
        self.echo(line)


class Supervisor:
    """Run each role's process and restart it whenever it exits, as a process manager would."""

    def __init__(self, processes, commands, timeline):
        self.processes, self.commands, self.timeline = processes, commands, timeline
        self.running, self.killed, self.unexpected = {}, set(), []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="supervisor")

    def start(self):
        """Start every role's process and the watch; return self."""
        for role in self.commands:
            self._spawn(role)
        self._thread.start()
        return self

    def _spawn(self, role):
        self.running[role] = self.processes.spawn(*self.commands[role], DYNO=role)

    def kill(self, role):
        """SIGKILL a role's process and its children, as a crashed dyno loses them all."""
        proc = self.running[role]
        pids = _children(proc.pid) + [proc.pid]
        self.killed.add(proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self):
        """Stop watching (the processes are stopped with `Processes.stop`)."""
        self._stop.set()
        self._thread.join()

    def _last_words(self, role, proc):
        """Return the last line of a process's log (Processes.spawn names it)."""
        with open(self.processes.logs[proc.pid], errors="replace") as log:
            lines = log.read().strip().splitlines()
        return lines[-1] if lines else "(nothing logged)"

    def _watch(self):
        while not self._stop.wait(0.2):
            for role, proc in list(self.running.items()):
                if proc.poll() is None:
                    continue
                if proc.pid not in self.killed:
                    self.unexpected.append(f"{role} exited by itself with status {proc.returncode}: "
                                           f"{self._last_words(role, proc)}")
                    self.timeline(self.unexpected[-1])
                time.sleep(RESTART_DELAY)
                self._spawn(role)
                self.timeline(f"{role} restarted by the supervisor")


def _children(pid):
    """Return the pids of a process's children."""
    with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]
    return []


@dataclasses.dataclass
class Rig:
    """What a chaos run acts on."""

    supervisor: Supervisor
    redis: RedisServer
    proxy: TcpProxy
    shop: SimulatorServer
    timeline: Timeline


def schedule(seed, seconds):
    """Return [(start second, fault, duration, target)], every kind once per round in a seeded order.

    Faults of different kinds overlap (a kill during a database cut, a Redis restart during a
    storm); one kind waits for its previous occurrence to end.
    """
    rng, at, plan, free = random.Random(seed), 0.0, [], dict.fromkeys(FAULTS, 0.0)
    while True:
        for fault in rng.sample(FAULTS, len(FAULTS)):
            at = max(at + rng.uniform(*GAP), free[fault])
            duration = 0.0 if fault.startswith("kill") else rng.uniform(
                *(STORM if fault == "API storm" else OUTAGE))
            if at + duration > seconds:
                return plan
            target = (f"{fault.split()[1]}.{rng.choice([1, 2]) if fault == 'kill worker' else 1}"
                      if fault.startswith("kill")
                      else rng.choice(STORM_STATUSES) if fault == "API storm" else None)
            plan.append((at, fault, duration, target))
            free[fault] = at + duration


def summary(plan):
    """Return {fault: (how many, seconds in all)} of a schedule."""
    out = {}
    for _, fault, duration, _ in plan:
        count, seconds = out.get(fault, (0, 0.0))
        out[fault] = (count + 1, seconds + duration)
    return out


def inflict(rig, fault, duration, target):
    """Cause one fault, wait out its duration and undo it (the supervisor restarts the killed)."""
    say = rig.timeline
    if fault.startswith("kill"):
        say(f"SIGKILL {target}")
        rig.supervisor.kill(target)
    elif fault == "restart Redis empty":
        say(f"Redis killed (down {duration:.1f} s)")
        rig.redis.kill()
        time.sleep(duration)
        rig.redis.start()
        say("Redis restarted empty")
    elif fault == "cut PostgreSQL":
        say(f"PostgreSQL cut at the proxy (down {duration:.1f} s)")
        rig.proxy.down()
        time.sleep(duration)
        rig.proxy.up()
        say("PostgreSQL restored at the proxy")
    else:
        faults = rig.shop.faults
        faults.error_status, faults.error_rate = target, 0.6
        say(f"API storm: 60% of calls answered {target} for {duration:.1f} s")
        time.sleep(duration)
        faults.reset()
        say("API storm over")


def proxied(database_url, proxy):
    """Return `database_url` pointing at the proxy."""
    parts = urlsplit(database_url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))


def settle(app, rig, calm_since):
    """Let the service drain everything, then run one reconciliation (catch-up and deep)."""
    if not rig.shop.wait_for_webhooks(timeout=SETTLE_TIMEOUT):
        rig.timeline("the simulator still has webhooks to send")
    with app.app_context(), db.connection_context():
        try:  # what does not happen in time shows in the outcome
            wait_until(lambda: not pending_webhooks(), SETTLE_TIMEOUT, 1.0, "no webhook pending")
            wait_until(lambda: jobs_ran_since(calm_since), SETTLE_TIMEOUT, 1.0,
                       "the frequent periodic jobs to run again")
        except TimeoutError as exc:
            rig.timeline(str(exc))
        rig.timeline("service drained; one reconciliation (catch-up, then a deep full run)")
        reports = runs.run_catchup() + runs.run_deep()
        healed = sum(len((report.details or {}).get("healed") or []) for report in
                     ReconciliationReport.select().where(ReconciliationReport.id.in_(reports)))
        rig.timeline(f"the reconciliation applied {healed} records the webhooks had not")


def chaos(database_url, minutes, seed, workdir, echo=print, restore_rate=RESTORE_RATE):
    """Run the chaos for `minutes` against a database of its own; return the Outcome."""
    timeline = Timeline(echo)
    store = Store.generate(seed=seed, orders=50, products=20, customers=50)
    redis = RedisServer(workdir).start()
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = free_port()
    options = WebhookOptions(duplicate_rate=0.1, drop_rate=0.05, reorder_window=1.0, seed=seed)
    shop = SimulatorServer(store, webhook_url=f"http://127.0.0.1:{port}/webhooks/shopify",
                           webhook_secret=SECRET, webhook_options=options,
                           graphql_restore_rate=restore_rate).start()
    seconds = minutes * 60
    ctx = Context(database_url, redis.url, workdir)
    shopify = {"SHOPIFY_API_BASE_URL": shop.base_url, "SHOPIFY_ACCESS_TOKEN": shop.access_token}
    # The final reconciliation looks at everything up to now, since before the run began.
    final = {"CATCHUP_SETTLE_SECONDS": 0, "RECONCILE_SETTLE_SECONDS": 0,
             "CATCHUP_OVERLAP_SECONDS": int(seconds + SETTLE_TIMEOUT * 2 + 600)}
    app = make_app(ctx, SCHEDULE_SCALE=SCALE, **shopify, **final)
    with app.app_context(), db.connection_context():
        migrations.upgrade()
    env = {**ctx.env(), **shopify, "DATABASE_URL": proxied(database_url, proxy),
           "SHOPSYNC_SCHEDULE_SCALE": str(SCALE)}
    processes = Processes(env, workdir)
    web = ("-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2",
           "wsgi:app")
    supervisor = Supervisor(processes, {"web.1": web, "worker.1": ("worker.py",),
                                        "worker.2": ("worker.py",),
                                        "scheduler.1": ("-m", "shopsync.scheduler")}, timeline)
    rig = Rig(supervisor, redis, proxy, shop, timeline)
    activity = None
    try:
        supervisor.start()
        timeline(f"started: web, 2 workers, scheduler; store of {store.count('orders', status='any')} "
                 f"orders changing ~2/s, webhooks 10% duplicated, 5% lost, reordered within 1 s; "
                 f"GraphQL bucket restoring {restore_rate:g} points/s")
        activity = Activity(store, rate=2.0, seed=seed).start()
        began, plan, latest = time.monotonic(), schedule(seed, seconds), {}
        for at, fault, *details in plan:
            time.sleep(max(0.0, began + at - time.monotonic()))
            if fault in latest:
                latest[fault].join()  # the previous one of its kind is over
            latest[fault] = threading.Thread(target=inflict, args=(rig, fault, *details), daemon=True)
            latest[fault].start()
        time.sleep(max(0.0, began + seconds - time.monotonic()))
        for thread in latest.values():
            thread.join()
        activity.stop()
        activity = None
        calm_since = utcnow()
        timeline("faults over, store activity stopped")
        settle(app, rig, calm_since)
        with app.app_context(), db.connection_context():
            outcome = judge(store, shop.deliveries, calm_since, supervisor.unexpected)
        timeline("judged")
        return dataclasses.replace(outcome, timeline=timeline.events,
                                   faults=summary(plan))
    finally:
        if activity:
            activity.stop()
        supervisor.stop()
        processes.stop()
        shop.stop()
        proxy.close()
        redis.kill()
        db.close_all() if hasattr(db.obj, "close_all") else db.close()


def parse_args(argv):
    """Parse the chaos command line."""
    from bench.__main__ import DEFAULT_DATABASE_URL

    parser = argparse.ArgumentParser(prog="python -m bench chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long the faults go on")
    parser.add_argument("--seed", type=int, default=1, help="the fault schedule and the store's changes")
    parser.add_argument("--restore-rate", type=float, default=RESTORE_RATE,
                        help="the store's GraphQL points restored per second (classic plan: 50)")
    parser.add_argument("--database-url", default=os.environ.get("SHOPSYNC_BENCH_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL),
                        help="PostgreSQL server to create the run's own database on")
    parser.add_argument("--output", default="-",
                        help="Markdown file to record the run in (default '-': none)")
    return parser.parse_args(argv)


def main(argv):
    """Run the chaos; print the timeline and the outcome; return 0 if it passed."""
    from bench.__main__ import machine, section, update_doc

    args = parse_args(argv)
    command = " ".join(["python -m bench chaos", *argv])
    about = machine(args.database_url, None)
    print(about, flush=True)
    load, moment, started = os.getloadavg()[0], utcnow(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shopsync-chaos-") as workdir, \
            own_database(args.database_url, workdir, "bench_chaos") as url:
        outcome = chaos(url, args.minutes, args.seed, workdir,
                        echo=lambda line: print(line, flush=True), restore_rate=args.restore_rate)
    text = outcome.report()
    print(text, flush=True)
    if args.output != "-":
        update_doc(args.output, {"chaos": section("chaos", ([], text, "", moment,
                                                            time.monotonic() - started, load),
                                                  command, about)})
        print(f"wrote {args.output}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
