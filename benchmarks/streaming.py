"""Streaming benchmark: what freshness buys, how fresh the online features are, how fast events go in.

Needs a warehouse from `fti main` (the batch champion and the intraday champion, trained to the
same cutoff). Prints, in one run:

- accuracy: the intraday model's test ROC AUC at each horizon (6 h, 2 h, 30 min before the
  scheduled departure) next to the batch model's (features as of local midnight) on the same
  flights of the same test period, each through its own feature view (goal at 2 h: +0.05);
  `--compare-version N` adds another registered intraday model (one trained on an earlier view
  version, say) on the same rows, through its own view;
- freshness: one day replayed live (`fti stream`'s machinery) at `--speed`: event pushed to
  the log -> its online feature committed, p50/p99 (goal p99 <= 1 s), with request latencies;
- freshness under load: January's events offered at `--rate` events per second (5,000: the
  ingestion goal), consumed as they arrive: p50/p99 of the same lag;
- ingestion: a whole year's events appended to the event log and consumed into the online
  store, events per second (goal >= 5,000), against the floor of appending them to the log alone.

    .venv/bin/python benchmarks/streaming.py --json benchmarks/results/streaming.json
    .venv/bin/python benchmarks/streaming.py --accuracy-only --compare-version 3
"""

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fti_assets import manifest, settings  # noqa: E402
from fti_assets.feature_views.compatibility import check_fingerprint  # noqa: E402
from fti_assets.live_day import run_day  # noqa: E402
from fti_assets.stateful import event_log, registry  # noqa: E402
from fti_assets.stateful.warehouse import connect  # noqa: E402
from fti_assets.streaming_pipeline import replay  # noqa: E402
from fti_assets.streaming_pipeline.processor import Processor  # noqa: E402
from fti_assets.training_pipeline import champion, model, snapshot  # noqa: E402

GOALS = {"auc_gain_at_120_min": 0.05, "freshness_p99_ms": 1000.0, "events_per_second": 5000.0}


def accuracy(warehouse: Path, compare: int | None = None) -> dict:
    """Both champions on the intraday model's test flights, per horizon; with `compare`, that
    registered intraday version too, on the same rows through its own view."""
    with connect(warehouse, read_only=True) as connection:
        dbt_manifest = manifest.load()
        intraday = registry.resolve(connection, "intraday_champion")
        batch = registry.resolve(connection, "champion")
        intraday_view, batch_view = (check_fingerprint(row, dbt_manifest) for row in (intraday, batch))
        first, last = (dt.date.fromisoformat(d) for d in intraday.metrics["periods"]["test"])
        table = connection.execute(
            f"select table_name from {snapshot.SCHEMA}.snapshots where snapshot_id = ?", [intraday.snapshot_id]
        ).fetchall()[0][0]
        rows = snapshot.read_snapshot(connection, table, intraday_view)
        dates = rows["scheduled_dep_date"].dt.date
        rows = rows[(dates >= first) & (dates <= last)].reset_index(drop=True)
        intraday_model, _ = registry.load_model(connection, settings.model_store_path(), intraday.version)
        batch_model, _ = registry.load_model(connection, settings.model_store_path(), batch.version)
        flights = rows.drop_duplicates("flight_id")[["flight_id", "scheduled_dep_date"]]
        batch_rows = champion.rows_through_view(connection, batch_view, flights)
        if compare is not None:
            compared = registry.resolve(connection, compare)
            compared_view = check_fingerprint(compared, dbt_manifest)
            if compared_view.keys != intraday_view.keys:
                raise ValueError(f"version {compare} reads {compared_view.name}: not an intraday model")
            compared_model, _ = registry.load_model(connection, settings.model_store_path(), compared.version)
            compared_rows = champion.rows_through_view(connection, compared_view, rows[list(intraday_view.keys)])
    batch_scores = dict(
        zip(batch_rows["flight_id"], model.predict_proba(batch_model, batch_rows, batch_view), strict=True)
    )
    rows["intraday"] = model.predict_proba(intraday_model, rows, intraday_view)
    rows["batch"] = rows["flight_id"].map(batch_scores)
    result = {"test_period": f"{first}..{last}", "intraday_version": intraday.version, "batch_version": batch.version}
    if compare is not None:
        rows["compared"] = model.predict_proba(compared_model, compared_rows, compared_view)
        result["compared_version"] = compared.version
        result["compared_view"] = f"{compared_view.name}_v{compared_view.version}"
    for minutes, at in rows.groupby("minutes_before_departure"):
        y = at[intraday_view.label].astype(bool).to_numpy()
        online, midnight = roc_auc_score(y, at["intraday"]), roc_auc_score(y, at["batch"])
        result[f"{minutes}_min"] = {
            "flights": len(at), "intraday_roc_auc": online, "batch_roc_auc": midnight, "gain": online - midnight,
        }
        if compare is not None:
            result[f"{minutes}_min"]["compared_roc_auc"] = roc_auc_score(y, at["compared"])
    return result


def ingestion(warehouse: Path, folder: Path) -> dict:
    """A year's events into the log and through the stream, a month at a time (bounded memory)."""
    with connect(warehouse, read_only=True) as connection:
        first, last = connection.sql(f"select min(event_at), max(event_at) from {replay.EVENTS_RELATION}").fetchall()[0]
        months = []
        at = dt.datetime(first.year, first.month, 1)
        while at <= last:
            following = dt.datetime(at.year + at.month // 12, at.month % 12 + 1, 1)
            months.append(replay.read_events(connection, at, following))
            at = following
    floor_log = event_log.connect(folder / "floor.sqlite")
    started = time.perf_counter()
    for events in months:
        for i in range(0, len(events), 5000):
            event_log.append(floor_log, events[i : i + 5000])
    floor_seconds = time.perf_counter() - started
    floor_log.close()
    log = event_log.connect(folder / "events.sqlite")
    processor = Processor(folder / "events.sqlite", folder / "online.sqlite")
    started = time.perf_counter()
    for events in months:
        for i in range(0, len(events), 5000):
            event_log.append(log, events[i : i + 5000])
            processor.drain()
    seconds = time.perf_counter() - started
    processor.close()
    log.close()
    count = sum(len(m) for m in months)
    return {
        "events": count,
        "seconds": seconds,
        "events_per_second": count / seconds,
        "append_only_events_per_second": count / floor_seconds,
        "ratio_to_append_only": seconds / floor_seconds,
    }


def freshness_under_load(warehouse: Path, folder: Path, rate: float) -> dict:
    """January's events replayed at `rate` events per second on average, the stream processor
    consuming beside the replay: event appended -> its online row committed."""
    with connect(warehouse, read_only=True) as connection:
        events = replay.read_events(connection, dt.datetime(2013, 1, 1, 5), dt.datetime(2013, 2, 1, 5))
    speed = (events[-1].event_at - events[0].event_at).total_seconds() / (len(events) / rate)
    log = event_log.connect(folder / "load.sqlite")
    processor = Processor(folder / "load.sqlite", folder / "load_online.sqlite")
    batches, stop = [], threading.Event()
    consuming = threading.Thread(target=processor.run, args=(stop,), kwargs={"on_batch": batches.append})
    consuming.start()
    started = time.perf_counter()
    replay.Replay(events, speed).play(log)
    played = time.perf_counter() - started
    while sum(b.events for b in batches) < len(events):
        time.sleep(0.01)
    stop.set()
    consuming.join()
    processor.close()
    log.close()
    lags = np.array([
        (b.committed_at - event_log.from_microseconds(r)).total_seconds() * 1000 for b in batches for r in b.received_at
    ])
    return {
        "events": len(events),
        "offered_events_per_second": len(events) / played,
        "freshness_ms": {q: float(np.percentile(lags, q)) for q in (50, 99, 100)},
    }


def freshness(day: dt.date, speed: float, folder: Path) -> dict:
    report = run_day(day, speed, folder)
    latencies = np.array([a.latency_ms for a in report.answers])
    return {
        "day": str(day),
        "speed": speed,
        "events": report.events,
        "requests": len(report.answers),
        "freshness_ms": {q: float(np.percentile(report.freshness_ms, q)) for q in (50, 99, 100)},
        "request_latency_ms": {q: float(np.percentile(latencies, q)) for q in (50, 99)},
        "lines": report.lines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day", default="2013-12-17", help="the day replayed live for freshness")
    parser.add_argument("--speed", type=float, default=3600.0, help="replayed seconds per second for that day")
    parser.add_argument("--rate", type=float, default=5000.0, help="events per second offered in the load test")
    parser.add_argument("--compare-version", type=int, help="another registered intraday model to score beside")
    parser.add_argument("--accuracy-only", action="store_true", help="skip the freshness and ingestion figures")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    warehouse = settings.warehouse_path()
    results: dict = {"machine": {"cores": __import__("os").cpu_count()}, "goals": GOALS}
    results["accuracy"] = accuracy(warehouse, args.compare_version)
    for horizon in ("360_min", "120_min", "30_min"):
        if horizon in results["accuracy"]:
            a = results["accuracy"][horizon]
            compared = (
                f", version {results['accuracy']['compared_version']} ({results['accuracy']['compared_view']}) "
                f"{a['compared_roc_auc']:.3f}"
                if "compared_roc_auc" in a
                else ""
            )
            print(
                f"ROC AUC {horizon.replace('_', ' ')} before departure: intraday {a['intraday_roc_auc']:.3f}, "
                f"batch {a['batch_roc_auc']:.3f}{compared} on the same {a['flights']:,} test flights "
                f"({a['gain']:+.3f} over batch)"
            )
    if args.accuracy_only:
        write_json(args.json, results)
        return
    with tempfile.TemporaryDirectory() as folder:
        results["freshness"] = freshness(dt.date.fromisoformat(args.day), args.speed, Path(folder) / "day")
        print("\n".join(results["freshness"]["lines"]))
        results["freshness_under_load"] = freshness_under_load(warehouse, Path(folder), args.rate)
        f = results["freshness_under_load"]
        print(
            f"freshness under load: {f['events']:,} events (January) offered at "
            f"{f['offered_events_per_second']:,.0f}/s: p50 {f['freshness_ms'][50]:.0f} ms, "
            f"p99 {f['freshness_ms'][99]:.0f} ms, max {f['freshness_ms'][100]:.0f} ms"
        )
        results["ingestion"] = ingestion(warehouse, Path(folder))
    i = results["ingestion"]
    print(
        f"ingestion: {i['events']:,} events (2013) in {i['seconds']:.1f} s: {i['events_per_second']:,.0f} events/s "
        f"into the online store; appending to the log alone {i['append_only_events_per_second']:,.0f}/s "
        f"({i['ratio_to_append_only']:.1f}x the floor)"
    )
    write_json(args.json, results)


def write_json(path: Path | None, results: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
