"""Run the benchmarks, print a table and write docs/BENCHMARKS.md.

    python -m bench [--quick] [--sizes SMALL,LARGE] [--graphql-restore-rate POINTS]
                    [--output PATH|-] [--database-url URL] [--redis-url URL] [NAME...]
    python -m bench chaos --minutes N --seed S     (see bench/chaos.py)

Each benchmark gets a PostgreSQL database of its own (created beside --database-url, dropped
afterwards) and its own RQ queue on --redis-url. In docs/BENCHMARKS.md only the sections of
the benchmarks that ran are replaced; the text around them (method, profiles) is kept.
"""

import argparse
import contextlib
import datetime as dt
import importlib
import os
import platform
import re
import shlex
import sys
import tempfile
import time
import traceback

import psycopg2
from redis import Redis

from bench.common import Context
from shopsync.testing.databases import own_database

NAMES = ("ingest", "processing", "burst", "backfill", "bulk", "reconciliation", "dashboard", "books")
DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "BENCHMARKS.md")
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
HEADER = ("benchmark", "measure", "value", "baseline (same run)", "ratio", "target", "met")
INTRO = "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); see bench/.\n"


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(NAMES)})")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--sizes", type=_sizes, metavar="SMALL,LARGE",
                        help="store sizes of the bulk benchmark, in orders (default: its own)")
    parser.add_argument("--graphql-restore-rate", type=float, metavar="POINTS",
                        help="GraphQL cost points the bulk benchmark's simulator restores per "
                             "second (default: Shopify's classic 50)")
    parser.add_argument("--output", help="Markdown file to update ('-': none; default: "
                                         "docs/BENCHMARKS.md, none with --quick)")
    parser.add_argument("--database-url", default=os.environ.get("SHOPSYNC_BENCH_DATABASE_URL",
                                                                 DEFAULT_DATABASE_URL),
                        help="PostgreSQL server to create the benchmark databases on ('sqlite': none)")
    parser.add_argument("--redis-url", default=os.environ.get("SHOPSYNC_BENCH_REDIS_URL",
                                                              DEFAULT_REDIS_URL),
                        help="Redis for the queues ('none': each process's in-process stand-in)")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark {', '.join(sorted(unknown))}: choose from {', '.join(NAMES)}")
    args.names = args.names or list(NAMES)
    args.redis_url = None if args.redis_url == "none" else args.redis_url
    if args.output is None:
        args.output = "-" if args.quick else DOC
    return args


def _sizes(text):
    """Parse SMALL,LARGE into a pair of positive ints."""
    try:
        small, large = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("give two sizes: SMALL,LARGE") from None
    if not 0 < small <= large:
        raise argparse.ArgumentTypeError("sizes must be positive, the small one first")
    return small, large


def run_benchmark(name, ctx):
    """Run one benchmark; return (rows, a note)."""
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bench.{name}":
            raise
        return [], f"bench/{name}.py is not there: not run."
    return module.run(ctx), ""


def machine(database_url, redis_url):
    """Describe this machine and the services, as measured now."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    parts = [f"{os.cpu_count()} × {cpu}", f"{memory / 2**20:.0f} GiB RAM", platform.platform(),
             f"Python {platform.python_version()}"]
    if database_url.startswith("postgres"):
        with contextlib.closing(psycopg2.connect(database_url)) as conn, conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            parts.append(f"PostgreSQL {cursor.fetchone()[0]}")
    if redis_url:
        parts.append(f"Redis {Redis.from_url(redis_url).info('server')['redis_version']}")
    return ", ".join(parts)


def fmt(value, unit=""):
    """Format a figure with sensible precision."""
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 or float(value).is_integer() else 1 if abs(value) >= 10 else 2
    return f"{value:,.{digits}f}{' ' + unit if unit else ''}"


def cells(row):
    """Return the table cells of a row."""
    baseline = f"{fmt(row.baseline, row.unit)} ({row.baseline_label})" if row.baseline is not None else ""
    ratio = f"{row.ratio:.2f}×" if row.ratio is not None else ""
    met = "" if row.met is None else "yes" if row.met else "**no**"
    return (row.benchmark, row.measure, fmt(row.value, row.unit), baseline, ratio, row.target, met)


def table(rows):
    """Return rows as a Markdown table."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def section(name, result, command, about):
    """Return the Markdown block of one benchmark's results."""
    rows, text, error, started, seconds, load = result
    lines = [f"<!-- bench:{name}:begin -->", f"### {name}", "",
             f"Measured {started:%Y-%m-%d %H:%M} UTC by `{command}` in {seconds:.0f} s "
             f"on {about}; load average at the start {load:.2f}.", ""]
    if rows:
        lines += [table(rows), ""]
    if text:
        lines += ["```", text.rstrip(), "```", ""]
    if error:
        lines += ["**Failed:**", "```", error.rstrip(), "```", ""]
    return "\n".join(lines + [f"<!-- bench:{name}:end -->"])


def update_doc(path, blocks):
    """Replace each benchmark's block in the Markdown file (appending new ones); keep the rest."""
    text = open(path).read() if os.path.exists(path) else INTRO
    for name, block in blocks.items():
        pattern = re.compile(rf"<!-- bench:{name}:begin -->.*?<!-- bench:{name}:end -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _, block=block: block, text)
        else:
            text = f"{text.rstrip()}\n\n{block}\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as out:
        out.write(text)


def main(argv=None):
    """Run the chosen benchmarks; return the exit status (1 if one failed)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["chaos"]:
        from bench import chaos

        return chaos.main(argv[1:])
    args = parse_args(argv)
    command = " ".join(["python -m bench", shlex.join(argv)]).strip()
    about = machine(args.database_url, args.redis_url)
    print(about, flush=True)
    results = {}
    with tempfile.TemporaryDirectory(prefix="shopsync-bench-") as workdir:
        for name in args.names:
            print(f"== {name}", flush=True)
            load, started, rows, text, error = os.getloadavg()[0], time.monotonic(), [], "", ""
            moment = dt.datetime.now(dt.UTC)
            try:
                with own_database(args.database_url, workdir, f"bench_{name}") as url:
                    rows, text = run_benchmark(name, Context(
                        url, args.redis_url, workdir, args.quick, sizes=args.sizes,
                        graphql_restore_rate=args.graphql_restore_rate))
            except Exception:
                error = traceback.format_exc()
                print(error, file=sys.stderr, flush=True)
            results[name] = (rows, text, error, moment, time.monotonic() - started, load)
            print(table(rows) if rows else "", text, sep="\n", flush=True)
    print("\n" + table([row for rows, *_ in results.values() for row in rows]))
    if args.output != "-":
        update_doc(args.output, {name: section(name, result, command, about)
                                 for name, result in results.items()})
        print(f"wrote {args.output}")
    return 1 if any(error for _, _, error, *_ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
