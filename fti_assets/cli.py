"""`fti`: run the system from the command line, with the same jobs the Dagster UI runs."""

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from fti_assets import settings

REPLAY_START, REPLAY_END = "2013-01-01", "2013-12-31"
TRAINING_CUTOFF, SCORING_START = "2013-11-30", "2013-12-01"
# A scored December weekday, after both models' cutoff: `fti stream` compares them on it.
STREAM_DAY = "2013-12-17"


def run_main(
    start: str, end: str, cutoff: str, scoring_start: str, verbose: bool = False, model: dict | None = None
) -> Path:
    """Features for the whole replay, the batch and the intraday models trained up to the cutoff,
    the rest scored day by day. `model`: ModelConfig fields for both models (else its defaults).

    Prints one line per job (a progress line while it runs); every event goes to the returned
    log file, and to the terminal too when `verbose`."""
    import dagster as dg

    from fti_assets.definitions import build
    from fti_assets.runner import run_apart

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    os.environ.setdefault("DAGSTER_HOME", str(settings.REPO_ROOT / "dagster_home"))
    log_file = settings.warehouse_path().parent / "logs" / f"fti-main-{time.strftime('%Y%m%dT%H%M%S')}.log"
    fit = {"flight_disruption_model": {"config": model}} if model else {}
    training = {"ops": {"training_snapshot": {"config": {"cutoff": cutoff}}, **fit}}
    intraday_training = {
        "ops": {
            "training_snapshot": {"config": {"cutoff": cutoff, "feature_view": "flight_disruption_intraday_v2"}},
            **fit,
        }
    }
    steps = [
        (f"feature_job {start}..{end}", "feature_job", (start, end), {}),
        (f"training_job (cutoff {cutoff})", "training_job", None, training),
        (f"training_job intraday (cutoff {cutoff})", "training_job", None, intraday_training),
        (f"inference_job {scoring_start}..{end}", "inference_job", (scoring_start, end), {}),
    ]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    build()  # once, here: each job's process starts from it
    for name, job, window, run_config in steps:
        finished = run_apart(name, job, window, run_config, log_file, verbose)
        if not finished.success:
            sys.exit(f"{name} failed:\n" + "\n".join(finished.failures))
        print(finished.line, flush=True)
    return log_file


def promote(version: int, reason: str) -> None:
    """Set `champion` to a model version (upgrade or rollback); exits with the reason if refused."""
    from fti_assets import manifest
    from fti_assets.stateful.warehouse import connect
    from fti_assets.training_pipeline import rollout

    with connect(settings.warehouse_path()) as connection:
        try:
            done = rollout.promote(connection, manifest.load(), version, reason)
        except rollout.PromotionRefused as refused:
            sys.exit(f"promote refused: {refused}")
    print(f"{done.alias}: version {done.previous} -> {done.version}, reading {done.feature_view} ({done.reason})")


def serve(host: str, port: int, alias: str, threshold: float) -> None:
    """Run the online prediction service until interrupted, with the streaming pipeline beside
    it: events pushed to POST /events reach the online store within the second."""
    import threading

    import uvicorn

    from fti_assets.online_pipeline.service import create_app
    from fti_assets.online_pipeline.serving import Server
    from fti_assets.streaming_pipeline.processor import Processor

    try:
        server = Server(
            settings.warehouse_path(), settings.online_store_path(), settings.model_store_path(),
            settings.prediction_log_dir(), alias=alias, threshold=threshold,
        )
    except (LookupError, FileNotFoundError) as problem:
        sys.exit(f"serve: {problem}")
    print(f"serving model version {server.served.version} ({alias}) on http://{host}:{port} (docs: /docs)", flush=True)
    processor, stop = Processor(settings.event_log_path(), settings.online_store_path()), threading.Event()
    streaming = threading.Thread(target=processor.run, args=(stop,), name="streaming-pipeline", daemon=True)
    streaming.start()
    try:
        uvicorn.run(
            create_app(server, settings.event_log_path()), host=host, port=port, log_level="warning", access_log=False
        )
    finally:
        stop.set()
        streaming.join()
        processor.close()


def stream(day: str, speed: float, alias: str, minutes_before: list[int]) -> None:
    """Replay one day live against the online model and print what it measured."""
    import datetime as dt

    from fti_assets.live_day import run_day

    folder = settings.warehouse_path().parent / "stream" / day
    print(f"replaying {day} at {speed:g}x into {folder} (events, online store); requests to {alias} "
          f"at {', '.join(map(str, minutes_before))} min before each departure", flush=True)
    try:
        report = run_day(
            dt.date.fromisoformat(day), speed, folder, alias, minutes_before, settings.prediction_log_dir()
        )
    except (LookupError, FileNotFoundError) as problem:
        sys.exit(f"stream: {problem}")
    print("\n".join(report.lines()))


def skip_day(day: str, reason: str) -> None:
    """Leave a replay day that failed its checks out of the replay, so the days after it can run."""
    import datetime as dt

    from fti_assets.stateful import day_validation
    from fti_assets.stateful.warehouse import connect

    with connect(settings.warehouse_path()) as connection:
        try:
            day_validation.skip(connection, dt.date.fromisoformat(day), reason)
        except ValueError as bad:
            sys.exit(f"skip-day refused: {bad}")
    print(f"replay day {day} skipped ({reason}): its rows are never read; the days after it may run")


def verify() -> None:
    """Re-check every training snapshot and model artifact against its recorded hash; exit 1 on any change."""
    from fti_assets.stateful.warehouse import connect
    from fti_assets.verify import verify_all

    with connect(settings.warehouse_path(), read_only=True) as connection:
        findings = verify_all(connection, settings.model_store_path())
    for finding in findings:
        print(finding)
    changed = [f for f in findings if f.problem]
    print(f"{len(findings) - len(changed)} of {len(findings)} match their recorded hashes")
    if changed:
        sys.exit(f"fti verify: {len(changed)} stored item(s) changed since they were written")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fti", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    main_parser = commands.add_parser(
        "main", help="Replay 2013: build features, train up to the cutoff, score the days after it."
    )
    main_parser.add_argument("--start", default=REPLAY_START)
    main_parser.add_argument("--end", default=REPLAY_END)
    main_parser.add_argument("--cutoff", default=TRAINING_CUTOFF, help="last day of training data")
    main_parser.add_argument("--scoring-start", default=SCORING_START, help="first day to score")
    main_parser.add_argument("--verbose", action="store_true", help="print every Dagster event, not one line per job")
    main_parser.add_argument(
        "--model", type=json.loads, default=None, metavar="JSON",
        help='hyperparameters of both models (ModelConfig fields), e.g. \'{"max_iter": 50}\'',
    )
    promote_parser = commands.add_parser(
        "promote", help="Set champion to a model version (upgrade or rollback) if the live features match it."
    )
    promote_parser.add_argument("--version", type=int, required=True, help="model version (registry.model_versions)")
    promote_parser.add_argument("--reason", default="", help="recorded in registry.alias_history")
    serve_parser = commands.add_parser(
        "serve", help="Serve online predictions over HTTP from the online store and the model behind an alias."
    )
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--alias", default="champion", help="the registry alias to serve and follow")
    serve_parser.add_argument(
        "--threshold", type=float, default=0.5, help="probability at or above which a flight is predicted disrupted"
    )
    export_parser = commands.add_parser(
        "export", help="Copy tables to Parquet files for ad-hoc SQL that never blocks the pipelines."
    )
    export_parser.add_argument("tables", nargs="*", default=["inference.predictions"], help="schema.table ...")
    export_parser.add_argument("--to", default=str(settings.REPO_ROOT / "data" / "export"), help="output folder")
    skip_parser = commands.add_parser(
        "skip-day", help="Leave a replay day that failed its checks out of the replay (its rows are never read)."
    )
    skip_parser.add_argument("day", help="YYYY-MM-DD")
    skip_parser.add_argument("--reason", required=True, help="kept in validation.replay_days")
    commands.add_parser("verify", help="Re-check every training snapshot and model artifact against its recorded hash.")
    stream_parser = commands.add_parser(
        "stream", help="Replay one day live: events stream into the online store, flights are requested at their times."
    )
    stream_parser.add_argument("--day", default=STREAM_DAY, help="the local day to replay (YYYY-MM-DD)")
    stream_parser.add_argument(
        "--speed", type=float, default=1800.0, help="replayed seconds per second (1800: a day in 48 s)"
    )
    stream_parser.add_argument("--alias", default="intraday_champion", help="the registry alias to request")
    stream_parser.add_argument(
        "--minutes-before", type=int, nargs="+", default=[360, 120, 30],
        help="when each flight is requested, in minutes before its scheduled departure",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=Warning, module="dagster")
    # Before any OpenMP library loads (scikit-learn's, in the training and scoring bodies): its
    # threads wait for work asleep instead of spinning. On a 2-core machine shared with another
    # busy process, a spinning thread stalls every parallel step of the model fit; measured
    # here, a fit with 2 threads took 14.2 s against 6.1 s with 1 thread, 4.8 s passive.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    if args.command == "promote":
        promote(args.version, args.reason)
    if args.command == "serve":
        serve(args.host, args.port, args.alias, args.threshold)
    if args.command == "skip-day":
        skip_day(args.day, args.reason)
    if args.command == "stream":
        stream(args.day, args.speed, args.alias, args.minutes_before)
    if args.command == "verify":
        verify()
    if args.command == "main":
        from fti_assets.summary import render

        started = time.perf_counter()
        log_file = run_main(args.start, args.end, args.cutoff, args.scoring_start, args.verbose, args.model)
        print(render())
        print(f"\nmain job: {time.perf_counter() - started:.0f} s; every event: {log_file}")
    elif args.command == "export":
        from pathlib import Path

        from fti_assets.export import export_tables

        for path in export_tables(settings.warehouse_path(), Path(args.to), tuple(args.tables)):
            print(path)


if __name__ == "__main__":
    main()
