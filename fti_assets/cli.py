"""`fti`: run the system from the command line, with the same jobs the Dagster UI runs."""

import argparse
import datetime as dt
import json
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
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

    from fti_assets import resume
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
    plan = resume.plan_id(steps)
    with dg.DagsterInstance.get() as instance:
        done = resume.completed(instance, plan, [name for name, *_ in steps])
    for name, job, window, run_config in steps:
        if name in done:
            print(f"{name}: done by run {done[name][:8]} before this one stopped; not run again", flush=True)
            continue
        finished = run_apart(name, job, window, run_config, log_file, verbose, resume.tags(plan, name))
        if not finished.success:
            sys.exit(f"{name} failed:\n" + "\n".join(finished.failures))
        print(finished.line, flush=True)
    return log_file


def promote(version: int, reason: str) -> None:
    """Set `champion` to a model version (upgrade or rollback); exits with the reason if refused."""
    from fti_assets import manifest
    from fti_assets.stateful.warehouse import connect
    from fti_assets.training_pipeline import rollout

    with connect(_warehouse("promote")) as connection:
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


def stream(day: dt.date, speed: float, alias: str, minutes_before: list[int]) -> None:
    """Replay one day live against the online model and print what it measured."""
    from fti_assets.live_day import run_day

    folder = _warehouse("stream").parent / "stream" / str(day)
    print(f"replaying {day} at {speed:g}x into {folder} (events, online store); requests to {alias} "
          f"at {', '.join(map(str, minutes_before))} min before each departure", flush=True)
    try:
        report = run_day(day, speed, folder, alias, minutes_before, settings.prediction_log_dir())
    except (LookupError, FileNotFoundError) as problem:
        sys.exit(f"stream: {problem}")
    print("\n".join(report.lines()))


def skip_day(day: dt.date, reason: str, force: bool) -> None:
    """Leave a replay day that failed its checks out of the replay, so the days after it can run."""
    from fti_assets.stateful import day_validation
    from fti_assets.stateful.warehouse import connect

    with connect(_warehouse("skip-day")) as connection:
        try:
            day_validation.skip(connection, day, reason, force)
        except ValueError as bad:
            sys.exit(f"skip-day refused: {bad}")
    print(f"replay day {day} skipped ({reason}): its rows are never read; the days after it may run")


def verify() -> None:
    """Re-check every training snapshot and model artifact against its recorded hash; exit 1 on any change."""
    from fti_assets.stateful.warehouse import connect
    from fti_assets.verify import verify_all

    with connect(_warehouse("verify"), read_only=True) as connection:
        findings = verify_all(connection, settings.model_store_path())
    for finding in findings:
        print(finding)
    changed = [f for f in findings if f.problem]
    print(f"{len(findings) - len(changed)} of {len(findings)} match their recorded hashes")
    if changed:
        sys.exit(f"fti verify: {len(changed)} stored item(s) changed since they were written")


def _warehouse(command: str, create: bool = False) -> Path:
    """The warehouse a command acts on, or one line saying why it cannot: only `fti main` creates one."""
    from fti_assets.stateful.warehouse import WarehousePathError, check_path

    path = settings.warehouse_path()
    try:
        check_path(path, read_only=not create)
    except (WarehousePathError, FileNotFoundError) as problem:
        sys.exit(f"fti {command}: {problem}")
    return path


class _Parser(argparse.ArgumentParser):
    """Errors in one line, without the usage block: the message is what a user needs to read."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


DAYS = f"YYYY-MM-DD within the replay, {REPLAY_START}..{REPLAY_END}"


def replay_day(text: str) -> dt.date:
    """A day of the replay (argparse type): a wrong date stops the command before any job starts."""
    try:
        day = dt.date.fromisoformat(text) if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text) else None
    except ValueError:
        day = None
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day: expected {DAYS}")
    if not dt.date.fromisoformat(REPLAY_START) <= day <= dt.date.fromisoformat(REPLAY_END):
        raise argparse.ArgumentTypeError(f"{day} is outside the replay: expected {DAYS}")
    return day


def _number(kind: type, accepts: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """An argparse type: a `kind` (int or float) that `accepts`, else a message naming what was `expected`."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


def _reason(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a reason: it is kept in validation.replay_days")
    return text


def table_name(text: str) -> str:
    """`schema.table` (argparse type): also what keeps the name safe inside the export's SQL."""
    if not re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*", text):
        raise argparse.ArgumentTypeError(f"{text!r}: expected schema.table, e.g. inference.predictions")
    return text


def model_fields(text: str) -> dict:
    """ModelConfig fields as JSON (argparse type): a misspelt field is refused, not silently ignored."""
    import pydantic

    from fti_assets.training_pipeline.config import ModelConfig

    try:
        fields = json.loads(text)
    except json.JSONDecodeError as bad:
        raise argparse.ArgumentTypeError(f"not JSON: {bad}") from None
    if not isinstance(fields, dict):
        raise argparse.ArgumentTypeError("expected a JSON object of ModelConfig fields, e.g. '{\"max_iter\": 50}'")
    unknown = sorted(set(fields) - set(ModelConfig.model_fields))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown ModelConfig field {', '.join(map(repr, unknown))}; fields: {', '.join(ModelConfig.model_fields)}"
        )
    try:
        config = ModelConfig(**fields)
    except pydantic.ValidationError as bad:
        error = bad.errors()[0]
        raise argparse.ArgumentTypeError(f"{error['loc'][0]} = {error['input']!r}: {error['msg']}") from None
    for split in ("validation_days", "test_days"):
        if getattr(config, split) < 1:
            raise argparse.ArgumentTypeError(f"{split} = {getattr(config, split)}: expected 1 or more days")
    return {name: getattr(config, name) for name in fields}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fti", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    main_parser = commands.add_parser(
        "main", help="Replay 2013: build features, train up to the cutoff, score the days after it."
    )
    main_parser.add_argument("--start", type=replay_day, default=REPLAY_START, help="first day to build (YYYY-MM-DD)")
    main_parser.add_argument("--end", type=replay_day, default=REPLAY_END, help="last day to build and score")
    main_parser.add_argument("--cutoff", type=replay_day, default=TRAINING_CUTOFF, help="last day of training data")
    main_parser.add_argument("--scoring-start", type=replay_day, default=SCORING_START, help="first day to score")
    main_parser.add_argument("--verbose", action="store_true", help="print every Dagster event, not one line per job")
    main_parser.add_argument(
        "--model", type=model_fields, default=None, metavar="JSON",
        help='hyperparameters of both models (ModelConfig fields), e.g. \'{"max_iter": 50}\'',
    )
    promote_parser = commands.add_parser(
        "promote", help="Set champion to a model version (upgrade or rollback) if the live features match it."
    )
    promote_parser.add_argument(
        "--version", type=_number(int, lambda v: v >= 1, "a model version, 1 or more"), required=True,
        help="model version (registry.model_versions)",
    )
    promote_parser.add_argument("--reason", default="", help="recorded in registry.alias_history")
    serve_parser = commands.add_parser(
        "serve", help="Serve online predictions over HTTP from the online store and the model behind an alias."
    )
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=_number(int, lambda v: 1 <= v <= 65535, "a port, 1..65535"), default=8000)
    serve_parser.add_argument("--alias", default="champion", help="the registry alias to serve and follow")
    serve_parser.add_argument(
        "--threshold", type=_number(float, lambda v: 0 <= v <= 1, "a probability, 0..1"), default=0.5,
        help="probability at or above which a flight is predicted disrupted",
    )
    export_parser = commands.add_parser(
        "export", help="Copy tables to Parquet files for ad-hoc SQL that never blocks the pipelines."
    )
    export_parser.add_argument(
        "tables", type=table_name, nargs="*", default=["inference.predictions"], help="schema.table ..."
    )
    export_parser.add_argument("--to", default=str(settings.REPO_ROOT / "data" / "export"), help="output folder")
    skip_parser = commands.add_parser(
        "skip-day", help="Leave a replay day that failed its checks out of the replay (its rows are never read)."
    )
    skip_parser.add_argument("day", type=replay_day, help="YYYY-MM-DD")
    skip_parser.add_argument("--reason", type=_reason, required=True, help="kept in validation.replay_days")
    skip_parser.add_argument(
        "--force", action="store_true", help="skip a day that did not fail (passed, never delivered, already skipped)"
    )
    commands.add_parser("verify", help="Re-check every training snapshot and model artifact against its recorded hash.")
    stream_parser = commands.add_parser(
        "stream", help="Replay one day live: events stream into the online store, flights are requested at their times."
    )
    stream_parser.add_argument("--day", type=replay_day, default=STREAM_DAY, help="the local day to replay")
    stream_parser.add_argument(
        "--speed", type=_number(float, lambda v: math.isfinite(v) and v > 0, "a number above 0"), default=1800.0,
        help="replayed seconds per second (1800: a day in 48 s)",
    )
    stream_parser.add_argument("--alias", default="intraday_champion", help="the registry alias to request")
    stream_parser.add_argument(
        "--minutes-before", type=_number(int, lambda v: v > 0, "whole minutes above 0"), nargs="+",
        default=[360, 120, 30], help="when each flight is requested, in minutes before its scheduled departure",
    )
    return parser


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with arguments taken together (argparse checks each alone), or None."""
    if args.command == "export" and Path(args.to).exists() and not Path(args.to).is_dir():
        return f"--to {args.to} is a file, not a folder"
    if args.command != "main":
        return None
    if args.start > args.end:
        return f"--start {args.start} is after --end {args.end}"
    if not args.start <= args.cutoff <= args.end:
        return f"--cutoff {args.cutoff} is outside --start..--end ({args.start}..{args.end})"
    if not args.cutoff < args.scoring_start <= args.end:
        return (
            f"--scoring-start {args.scoring_start} must be after --cutoff {args.cutoff} and at most "
            f"--end {args.end}: the days scored are days the models did not train on"
        )
    return _too_short_to_train(args)


def _too_short_to_train(args: argparse.Namespace) -> str | None:
    """The model's time split needs more than its validation and test days up to the cutoff. Known
    before any run only for a new warehouse, whose first feature day will be --start."""
    if settings.warehouse_path().exists():
        return None
    from fti_assets.training_pipeline.config import ModelConfig

    config = ModelConfig(**(args.model or {}))
    split = config.validation_days + config.test_days
    if (args.cutoff - args.start).days >= split:
        return None
    return (
        f"--start {args.start}..--cutoff {args.cutoff} is {(args.cutoff - args.start).days + 1} days; the "
        f"training needs more than {config.validation_days} validation + {config.test_days} test days: a --cutoff "
        f"from {args.start + dt.timedelta(days=split)}, or shorter splits with --model "
        "'{\"validation_days\": 7, \"test_days\": 7}'"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The checked arguments: a wrong invocation stops here, before anything is read or written."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem:
        parser.exit(2, f"fti {args.command}: {problem}\n")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
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
        skip_day(args.day, args.reason, args.force)
    if args.command == "stream":
        stream(args.day, args.speed, args.alias, args.minutes_before)
    if args.command == "verify":
        verify()
    if args.command == "main":
        from fti_assets.runner import Interrupted
        from fti_assets.summary import render

        _warehouse("main", create=True)
        started = time.perf_counter()
        try:
            log_file = run_main(
                str(args.start), str(args.end), str(args.cutoff), str(args.scoring_start), args.verbose, args.model
            )
        except Interrupted as interrupted:
            sys.exit(str(interrupted))
        except KeyboardInterrupt:
            sys.exit("interrupted before any job started: nothing was written")
        print(render())
        print(f"\nmain job: {time.perf_counter() - started:.0f} s; every event: {log_file}")
    elif args.command == "export":
        from fti_assets.export import export_tables

        try:
            written = export_tables(_warehouse("export"), Path(args.to), tuple(args.tables))
        except LookupError as missing:
            sys.exit(f"fti export: {missing}")
        for path in written:
            print(path)


if __name__ == "__main__":
    main()
