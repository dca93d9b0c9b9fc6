"""Online serving benchmark: the store lookup, the model call, and the service over HTTP at a fixed rate.

Needs a warehouse with a champion (`fti main`). It materializes a private online store from it
(as of the end of the last replayed day), starts `fti serve` in its own process on a free
127.0.0.1 port, and drives it with an open-loop async httpx client: requests leave on a fixed
schedule whatever the answers do, and a request's latency counts from its scheduled time, so a
stalled server cannot hide its queue. Every figure is printed with a floor measured in the
same run:

- whole-vector lookup in process (store read + vector) against one SQLite primary-key read;
- the single-row model call (fast path) against its trees alone on an encoded row, and
  `Pipeline.predict_proba` on the same rows against the fast path;
- one flight at a sustained rate, and batches of 100, against GET /model on the same server
  under the same load (the HTTP stack alone: no store read, no model).

    .venv/bin/python benchmarks/online_serving.py --seconds 10 --rate 200 --json benchmarks/results/online.json
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GOALS = {"lookup_p99_us": 50.0, "http_one_p99_ms": 5.0}


def percentiles(values_s: list[float], scale: float) -> dict[str, float]:
    values = np.array(values_s) * scale
    return {"p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)), "n": len(values)}


def timed(call, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def prepare(warehouse: Path, store: Path, flights_wanted: int):
    """Materialize the store for the live views; the last replayed day's flights as requests."""
    import duckdb

    from fti_assets import manifest as dbt_manifest
    from fti_assets.feature_views.declared import view_named
    from fti_assets.feature_views.online import FlightRequest, replay_clock
    from fti_assets.online_pipeline.materialize import materialize
    from fti_assets.stateful import registry

    manifest = dbt_manifest.load()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        champion = registry.resolve(connection, "champion")
        view = view_named(f"{champion.feature_view}_v{champion.feature_view_version}")
        last_day = connection.sql(f"select max(scheduled_dep_date) from features.{view.spine_relation}").fetchall()[0][
            0
        ]
        clock = replay_clock(last_day)
        materialize(connection, store, [view], manifest, clock)
        rows = connection.execute(
            f"select flight_id, carrier, origin, dest, tailnum, scheduled_dep_at from features.{view.spine_relation} "
            "where scheduled_dep_date = ? order by hash(flight_id) limit ?",
            [last_day, flights_wanted],
        ).fetchall()
    flights = [FlightRequest(c, int(fid.split("-")[1]), o, d, t, at, clock) for fid, c, o, d, t, at in rows]
    return champion, view, flights


def in_process(store: Path, model_store: Path, champion, view, flights, repeat: int) -> dict:
    import pandas as pd

    from fti_assets.feature_views.fast_model import FastModel
    from fti_assets.feature_views.online import OnlineView
    from fti_assets.feature_views.view import model_inputs
    from fti_assets.stateful import model_store as artifacts
    from fti_assets.stateful import online_store

    reader, path = online_store.Reader(store), OnlineView(view)
    keyed = [(f, path.keys(f)) for f in flights]
    requests = itertools.cycle(keyed)

    def lookup():
        flight, keys = next(requests)
        path.vector(flight, reader.read([k for k in keys if k]).rows, keys)

    probe = sqlite3.connect(store)
    one_key = [keyed[0][1][0]]

    def floor_read(statement="select key, event_at, vals from feature_rows where key = ?"):
        probe.execute(statement, one_key).fetchall()

    for call in (lookup, floor_read):
        timed(call, 200)  # warm caches and statements
    lookup_times, floor_times = timed(lookup, repeat), timed(floor_read, repeat)

    pipeline = artifacts.load(model_store, champion.artifact_path, champion.artifact_sha256)
    fast = FastModel(pipeline)
    vectors = [path.vector(f, reader.read([k for k in ks if k]).rows, ks) for f, ks in keyed]
    frames = [model_inputs(pd.DataFrame([v]), view) for v in vectors[:50]]
    rows, one_row_frames = itertools.cycle(vectors), itertools.cycle(frames)
    fast_times = timed(lambda: fast.predict_proba([next(rows)]), repeat)
    transformed = itertools.cycle([fast.transform([v]) for v in vectors[:200]])
    trees_times = timed(lambda: fast.raw(next(transformed)), repeat)
    sklearn_times = timed(lambda: pipeline.predict_proba(next(one_row_frames)), 50)
    return {
        "lookup_us": percentiles(lookup_times, 1e6),
        "sqlite_one_key_us": percentiles(floor_times, 1e6),
        "model_fast_us": percentiles(fast_times, 1e6),
        "model_trees_only_us": percentiles(trees_times, 1e6),
        "model_predict_proba_us": percentiles(sklearn_times, 1e6),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def service(env: dict[str, str], port: int):
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("fti")), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the service did not start: {process.stdout.read() if process.poll() is not None else 'timeout'}"
                )
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


async def fixed_rate(client, method: str, url: str, bodies: list, rate: float, seconds: float) -> dict:
    """Open loop: request i leaves at start + i / rate; latency from that scheduled time."""
    import httpx

    count = int(rate * seconds)
    latencies, failures = [], 0
    start = time.perf_counter() + 0.05

    async def one(i: int):
        nonlocal failures
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        body = bodies[i % len(bodies)] if bodies else None
        try:
            response = await (client.post(url, json=body) if method == "POST" else client.get(url))
            failures += response.status_code != 200
        except httpx.HTTPError:
            failures += 1
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(i) for i in range(count)))
    achieved = count / (time.perf_counter() - start)
    return {**percentiles(latencies, 1e3), "failures": failures, "rate": rate, "achieved_rate": achieved}


async def over_http(port: int, flights, rate: float, seconds: float) -> dict:
    import httpx

    def body(f):
        return {
            "carrier": f.carrier,
            "flight_number": f.flight_number,
            "origin": f.origin,
            "dest": f.dest,
            "tailnum": f.tailnum,
            "scheduled_dep_at": f.scheduled_dep_at.isoformat() + "Z",
        }

    singles = [body(f) for f in flights]
    batches = [{"flights": singles[i : i + 100]} for i in range(0, len(singles) - 99, 100)] or [
        {"flights": singles[:100]}
    ]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    # No pool timeout: a request waiting for a connection is queued, and its wait counts in its latency.
    timeout = httpx.Timeout(30, pool=None)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=timeout) as client:
        await fixed_rate(client, "POST", "/predict", singles, rate, 1.0)  # warm-up: connections, first calls
        floor = await fixed_rate(client, "GET", "/model", [], rate, seconds)
        one = await fixed_rate(client, "POST", "/predict", singles, rate, seconds)
        batch_rate = max(rate / 10, 1.0)
        floor_batch = await fixed_rate(client, "GET", "/model", [], batch_rate, seconds)
        batch = await fixed_rate(client, "POST", "/predict/batch", batches, batch_rate, seconds)
    return {
        "http_floor_ms": floor,
        "http_one_ms": one,
        "http_floor_batch_rate_ms": floor_batch,
        "http_batch100_ms": batch,
    }


def server_side(log: Path) -> dict:
    """The service's own time per request (store read, vector, model), from its prediction log."""
    by_size: dict[int, list[float]] = {}
    for path in log.glob("served-*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            by_size.setdefault(record["batch_size"], []).append(record["latency_ms"])
    # A batch's records share its latency: one value per request.
    one = by_size.get(1, [])
    batch = by_size.get(100, [])[::100]
    return {"server_one_ms": percentiles(one, 1.0), "server_batch100_ms": percentiles(batch, 1.0)}


def verdict(value: float, goal: float) -> str:
    return "PASS" if value <= goal else "FAIL"


def report(results: dict) -> str:
    r = results
    speedup = r["model_predict_proba_us"]["p50"] / r["model_fast_us"]["p50"]
    lines = [
        f"online serving benchmark ({r['flights']} flights of {r['day']}, model version {r['model_version']})",
        "",
        "| figure | p50 | p99 | floor p50 | floor p99 | p99 / floor p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]

    def row(name, value, floor, unit):
        lines.append(
            f"| {name} | {value['p50']:.1f} {unit} | {value['p99']:.1f} {unit} | {floor['p50']:.1f} {unit} "
            f"| {floor['p99']:.1f} {unit} | {value['p99'] / floor['p99']:.1f}x |"
        )

    row("whole vector lookup, in process (floor: one SQLite key read)", r["lookup_us"], r["sqlite_one_key_us"], "us")
    row(
        "single-row model call, fast path (floor: its trees alone on a ready row)",
        r["model_fast_us"],
        r["model_trees_only_us"],
        "us",
    )
    row(
        "single-row `Pipeline.predict_proba` (floor: the fast path)",
        r["model_predict_proba_us"],
        r["model_fast_us"],
        "us",
    )
    one, batch = r["http_one_ms"], r["http_batch100_ms"]
    row(f"HTTP one flight at {one['rate']:.0f}/s (floor: GET /model, same rate)", one, r["http_floor_ms"], "ms")
    row(
        f"HTTP batch of 100 at {batch['rate']:.0f}/s (floor: GET /model, same rate)",
        batch,
        r["http_floor_batch_rate_ms"],
        "ms",
    )
    lines += [
        "",
        "inside the service (store read, vector, model; from its log): "
        f"one flight p50 {r['server_one_ms']['p50']:.2f} ms, p99 {r['server_one_ms']['p99']:.2f} ms; "
        f"batch of 100 p50 {r['server_batch100_ms']['p50']:.2f} ms, p99 {r['server_batch100_ms']['p99']:.2f} ms",
        f"failed requests: one {one['failures']} / {one['n']}, batch {batch['failures']} / {batch['n']}; "
        f"achieved rates {one['achieved_rate']:.0f}/s and {batch['achieved_rate']:.1f}/s",
        f"goals: lookup p99 <= {GOALS['lookup_p99_us']:.0f} us: "
        f"{verdict(r['lookup_us']['p99'], GOALS['lookup_p99_us'])}; "
        f"HTTP one flight p99 <= {GOALS['http_one_p99_ms']:.0f} ms: {verdict(one['p99'], GOALS['http_one_p99_ms'])}",
        f"model call: predict_proba / fast path = {speedup:.0f}x at p50",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each HTTP phase")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="requests per second for one flight (batches: a tenth)"
    )
    parser.add_argument("--repeat", type=int, default=5000, help="in-process calls per figure")
    parser.add_argument("--flights", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    from fti_assets import settings

    warehouse, model_store = settings.warehouse_path(), settings.model_store_path()
    with tempfile.TemporaryDirectory(prefix="online-bench-") as scratch:
        store = Path(scratch) / "online_store.sqlite"
        champion, view, flights = prepare(warehouse, store, args.flights)
        results = {
            "flights": len(flights),
            "day": str(flights[0].prediction_at),
            "model_version": champion.version,
            **in_process(store, model_store, champion, view, flights, args.repeat),
        }
        print({k: v for k, v in results.items() if k.endswith("_us")}, flush=True)
        env = {
            **os.environ,
            "FTI_WAREHOUSE": str(warehouse),
            "FTI_MODEL_STORE": str(model_store),
            "FTI_ONLINE_STORE": str(store),
            "FTI_PREDICTION_LOG": str(Path(scratch) / "log"),
        }
        port = free_port()
        with service(env, port):
            results.update(asyncio.run(over_http(port, flights, args.rate, args.seconds)))
        results.update(server_side(Path(scratch) / "log"))
    results["measured_at"] = dt.datetime.now(dt.UTC).isoformat()
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
