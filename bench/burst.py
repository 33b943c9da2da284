"""Burst: ingest and a worker together on one machine, as deployed by the Procfile.

The web runs as the Procfile's `web` line says (gunicorn with its defaults), with one
`worker.py`, PostgreSQL and Redis, and the load generator on the same 2 cores. The burst is
bench/processing.py's: orders created and updated, 20% of the deliveries sent twice, posted
in a closed loop over 16 connections. In one run:

1. ingest alone: the webhook endpoint, a no-op Flask endpoint and the bare durable receiver
   (bench/bare_receiver.py), each in a closed loop under the same gunicorn settings, taking
   turns (8 rounds of 1.25 s, 10 s each in all) so that a neighbour's load falls on all three
   alike; then the webhook endpoint under each of SETTINGS, in turns with the Procfile's in
   the same way;
2. the burst stored with no worker running (ingest of the burst alone), then drained by the
   worker alone (processing alone);
3. the burst again on an empty database with the worker running: its p99, the deliveries
   applied per second from the first receipt to the last application, the lag from receipt
   to application, and the rate at which the backlog left at the end of the burst drains.

End to end is judged against 1 / (1/ingest + 1/processing): the rate the two reach when they
take turns on the machine. Every rate counts unique deliveries (a duplicate is answered and
counted, never applied).
"""

import os
import shlex

from peewee import fn
from rq import Queue, Worker

from bench.common import (
    ROOT,
    ROUNDS,
    Clients,
    Row,
    close_database,
    fresh_schema,
    in_turns,
    make_app,
)
from bench.ingest import deliveries, order_bodies
from bench.processing import _check, burst
from shopsync.db import db, utcnow
from shopsync.health import percentile
from shopsync.models import WebhookLog, WebhookStatus
from shopsync.queue import connect
from shopsync.testing.processes import Processes, wait_until

BURST = 16_000  # deliveries, duplicates included: about 10 s of ingest here
# gunicorn settings the webhook endpoint is measured under besides the Procfile's: sync workers
# (one request at a time each) against gthread workers (threads share a process).
SETTINGS = (("--workers", "2"), ("--workers", "4"), ("--workers", "2", "--threads", "2"),
            ("--workers", "2", "--threads", "8"), ("--workers", "4", "--threads", "4"))
MAX_RATE = 6000  # requests/s no endpoint here reaches; bounds the deliveries prepared


def web_options():
    """Return the gunicorn options of the Procfile's `web` line, without its app."""
    with open(f"{ROOT}/Procfile") as procfile:
        line = next(line for line in procfile if line.startswith("web:"))
    words = shlex.split(line.split(":", 1)[1])
    assert words[0] == "gunicorn", line
    return [word for word in words[1:] if word != "wsgi:app"]


def run(ctx):
    """Measure the burst end to end against ingest and processing alone; return rows."""
    if not ctx.redis_url:
        return []  # the worker needs the web's Redis
    seconds = 0.5 if ctx.quick else 10.0
    total = 200 if ctx.quick else BURST
    sequence, posts, newest = burst(total)
    app = make_app(ctx)
    with app.app_context(), db.connection_context():
        fresh_schema()
    close_database()
    procs = Processes(ctx.env(), ctx.workdir)
    found = {}
    try:
        with Clients(*((1, 4) if ctx.quick else (2, 8))) as clients:
            urls = {name: procs.web(app, None, web_options()) for name, app in (
                ("hook", "wsgi:app"), ("bare", "bench.bare_receiver:app"), ("noop", "bench.noop:app"))}
            found["alone"] = _ingest_alone(app, clients, urls, seconds, ctx.quick)
            found["settings"] = _settings(app, procs, clients, urls["hook"], seconds, ctx.quick)
            found["stored"] = clients.post(urls["hook"], posts)
            worker = procs.worker()
            with app.app_context():
                found["processing"] = _applied_rate(_wait_applied(len(sequence)))
            procs.stop(worker)
            with app.app_context(), db.connection_context():
                fresh_schema()
            close_database()
            procs.worker()
            queue = Queue(ctx.queue, connection=connect(ctx.redis_url))
            wait_until(lambda: Worker.count(queue=queue) >= 1, 30, message="the worker")
            started = utcnow()
            found["burst"] = clients.post(urls["hook"], posts)
            ended = utcnow()
            with app.app_context():
                found["timeline"] = _timeline(_wait_applied(len(sequence)), started, ended)
                with db.connection_context():
                    found["lost"] = _check(newest, len(sequence), len(posts.items) - len(sequence))
                close_database()
    finally:
        procs.stop()
        Queue(ctx.queue, connection=connect(ctx.redis_url)).empty()  # and the jobs' hashes
    return _rows(found, len(sequence), len(posts.items))


def _ingest_alone(app, clients, urls, seconds, quick):
    """Post to each server of `urls` ({name: url}) in a closed loop, in turns; return Turns."""
    bodies = order_bodies(20 if quick else 200)
    rounds = 2 if quick else ROUNDS
    for name, url in urls.items():
        clients.post(url, deliveries(bodies, f"{name}-warm", 200))  # every gunicorn worker connected
    turns = in_turns(clients, urls, lambda name, k: deliveries(
        bodies, f"{name}-{k}", int(MAX_RATE * seconds / rounds)), seconds, rounds)
    with app.app_context(), db.connection_context():
        WebhookLog.delete().execute()  # pending, and no worker runs yet
    close_database()
    return turns


def _settings(app, procs, clients, procfile_url, seconds, quick):
    """Measure the webhook endpoint under each of SETTINGS, in turns with the Procfile's;
    return {settings: Turns}."""
    found = {}
    for options in SETTINGS[:1] if quick else SETTINGS:
        url = procs.web("wsgi:app", None, options)
        found[" ".join(options)] = _ingest_alone(app, clients, {"procfile": procfile_url, "other": url},
                                                 seconds, quick)
        procs.stop(procs.servers.pop(url))
    return found


def _wait_applied(unique):
    """Wait until `unique` webhooks are processed; return their (received_at, processed_at)."""
    def applied():
        with db.connection_context():
            return WebhookLog.select().where(WebhookLog.status != WebhookStatus.PENDING).count()

    wait_until(lambda: applied() >= unique, 900, 0.2, f"{unique} webhooks applied")
    with db.connection_context():
        times = list(WebhookLog.select(WebhookLog.received_at, WebhookLog.processed_at).tuples())
        assert WebhookLog.select(fn.COUNT(WebhookLog.id)).where(
            WebhookLog.status == WebhookStatus.FAILED).scalar() == 0
    close_database()
    return times


def _applied_rate(times):
    """Return webhooks applied per second from the first application to the last."""
    done = sorted(processed for _, processed in times)
    return (len(done) - 1) / (done[-1] - done[0]).total_seconds()


def _timeline(times, started, ended):
    """Return end-to-end rate, lag p95 and the drain after the burst from the burst's timestamps."""
    last = max(processed for _, processed in times)
    after = [processed for _, processed in times if processed > ended]
    lags = [(processed - received).total_seconds() for received, processed in times]
    return {"end_to_end": len(times) / (last - started).total_seconds(),
            "lag_p95": percentile(lags, 0.95), "lag_max": max(lags),
            "backlog": len(after),
            "drain": len(after) / (last - ended).total_seconds() if len(after) > 1 else None}


def _rows(found, unique, total):
    """Turn the measurements into result rows."""
    alone, stored, burst_load = found["alone"], found["stored"], found["burst"]
    hook, noop, bare = (alone.loads[name].rate for name in ("hook", "noop", "bare"))
    share = unique / total  # deliveries that are applied, not duplicates
    ingest = stored.rate * share
    processing = found["processing"]
    together = 1 / (1 / ingest + 1 / processing)
    line = found["timeline"]
    p99 = percentile(burst_load.latencies, 0.99) * 1000
    rows = [
        Row("burst", f"ingest alone, webhook endpoint ({alone.plan()}; {alone.spread('hook', 'bare')})",
            hook, "req/s", bare, "bare receiver", "≥ 0.95× bare", hook >= 0.95 * bare),
        Row("burst", f"ingest alone, webhook endpoint against no-op ({alone.spread('hook', 'noop')})",
            hook, "req/s", noop, "no-op Flask endpoint"),
        Row("burst", f"ingest alone, bare receiver against no-op ({alone.spread('bare', 'noop')})",
            bare, "req/s", noop, "no-op Flask endpoint"),
        Row("burst", f"ingest of the burst alone ({total:,} deliveries, {unique:,} unique)",
            ingest, "unique/s"),
        Row("burst", "processing alone, 1 worker", processing, "unique/s"),
        Row("burst", "applied end to end during the burst", line["end_to_end"], "unique/s",
            together, "1/(1/ingest + 1/processing)", "≥ 0.8×", line["end_to_end"] >= 0.8 * together),
        Row("burst", "burst posted with the worker running", burst_load.rate * share, "unique/s",
            ingest, "ingest of the burst alone"),
        Row("burst", "p99 latency during the burst (16 connections, closed loop)", p99, "ms"),
        Row("burst", "lag receipt → applied, p95", line["lag_p95"] * 1000, "ms"),
        Row("burst", "lag receipt → applied, max", line["lag_max"] * 1000, "ms"),
        Row("burst", "backlog left at the end of the burst", line["backlog"], "webhooks"),
    ]
    procfile = " ".join([*web_options(), f"WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '')}"])
    rows += [Row("burst", f"ingest alone, webhook endpoint, gunicorn {settings} "
                          f"({turns.spread('other', 'procfile')})",
                 turns.loads["other"].rate, "req/s", turns.loads["procfile"].rate,
                 f"the Procfile's, {procfile}, in turns") for settings, turns in found["settings"].items()]
    if line["drain"]:
        rows.append(Row("burst", "drain after the burst", line["drain"], "unique/s", processing,
                        "processing alone, 1 worker", "≥ 0.9×", line["drain"] >= 0.9 * processing))
    errors = sum(n for load in (stored, burst_load) for status, n in load.statuses.items()
                 if status != 200)
    rows.append(Row("burst", "non-200 answers to the burst", errors, "requests", target="0",
                    met=errors == 0))
    rows += [Row("burst", name, count, "", target="0", met=count == 0)
             for name, count in found["lost"].items()]
    return rows
