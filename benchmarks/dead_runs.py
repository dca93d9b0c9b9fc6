"""Recovery benchmark: how soon `fti main` starts working again after a run died, and what a wait costs.

- For each job of `fti main` (quick window): one run SIGKILLed during that job, then the time
  from launching `fti main` again to its first step, against a clean `fti main`'s in the same
  run (the floor: process start, definitions, the first run's set-up). Target: within 10 s.
- A step waiting for a live holder of the warehouse's pool: its process's CPU over the wait, as
  a share of one core. Target: under 5 %.

    .venv/bin/python benchmarks/dead_runs.py --json benchmarks/results/dead_runs.json
"""

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.common import QUICK_MODEL, QUICK_WINDOW  # noqa: E402

TARGETS = {"first_step_after_kill_s": 10.0, "waiting_cpu_share": 0.05}
# (job, step whose n-th start in the run's log marks it, n)
STAGES = [
    ("features", "dbt_models", 1),
    ("batch training", "flight_disruption_model", 1),
    ("intraday training", "flight_disruption_model", 2),
    ("scoring", "inference__batch_predictions", 1),
    ("online materialization", "online__online_features", 1),
]
FIRST_STEP = " - STEP_START - "


def environment(root: Path) -> dict:
    home = root / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return {**os.environ, "DAGSTER_HOME": str(home), "FTI_WAREHOUSE": str(root / "warehouse.duckdb"),
            "FTI_MODEL_STORE": str(root / "store")}


def start_main(env: dict) -> subprocess.Popen:
    first, last = QUICK_WINDOW
    window = ["--start", str(first), "--end", str(last), "--cutoff", str(last - dt.timedelta(days=1)),
              "--scoring-start", str(last)]
    return subprocess.Popen(
        [sys.executable, "-m", "fti_assets.cli", "main", *window, "--model", json.dumps(QUICK_MODEL)],
        env=env, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def log_of(env: dict, since: float) -> Path | None:
    logs = [p for p in (Path(env["FTI_WAREHOUSE"]).parent / "logs").glob("*.log") if p.stat().st_mtime >= since]
    return max(logs, key=lambda p: p.stat().st_mtime, default=None)


def wait_for(process: subprocess.Popen, env: dict, since: float, marker: str, count: int = 1) -> float:
    """Seconds from `since` until `marker` appears `count` times in the run's log."""
    while True:
        path = log_of(env, since)
        if path is not None and path.read_text().count(marker) >= count:
            return time.time() - since
        if process.poll() is not None:
            raise RuntimeError(f"fti main ended before {marker!r}: {process.stderr.read()[-2000:]}")
        time.sleep(0.02)


def timed_main(env: dict) -> dict:
    """One `fti main`: seconds to its first step and to its end, and its exit code."""
    since = time.time()
    process = start_main(env)
    first_step = wait_for(process, env, since, FIRST_STEP)
    process.wait()
    return {"first_step_s": first_step, "finished_s": time.time() - since, "exit_code": process.returncode}


def restart_after_kill(root: Path, stage: tuple[str, str, int]) -> dict:
    """`fti main` SIGKILLed during the stage's job, then timed as it runs again."""
    _, step, nth = stage
    env = environment(root)
    since = time.time()
    killed = start_main(env)
    wait_for(killed, env, since, f" - {step}{FIRST_STEP}", nth)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    return timed_main(env)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def waiting_cpu_share(root: Path, seconds: float) -> float:
    """A step in the pool waits `seconds` behind a live holder (tests/reliability/pool_holder.py)."""
    env = environment(root)
    holder_command = [sys.executable, "-m", "tests.reliability.pool_holder"]
    holder = subprocess.Popen([*holder_command, "600"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        for line in holder.stderr:
            if "STEP_START" in line:
                break
        waiter = subprocess.Popen([*holder_command, "1"], env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        for line in waiter.stderr:
            if "waits for the warehouse" in line:
                break
        before, started = cpu_seconds(waiter.pid), time.monotonic()
        time.sleep(seconds)
        share = (cpu_seconds(waiter.pid) - before) / (time.monotonic() - started)
        waiter.kill()
        waiter.wait()
        return share
    finally:
        holder.kill()
        holder.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wait-seconds", type=float, default=20.0, help="how long the waiting step is measured")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dead_runs_") as folder:
        root = Path(folder)
        floor = timed_main(environment(root / "clean"))
        print(f"clean fti main: first step after {floor['first_step_s']:.1f} s, "
              f"finished in {floor['finished_s']:.0f} s")
        results = {"clean": floor, "after_kill": {}}
        for stage in STAGES:
            figures = restart_after_kill(root / stage[0].replace(" ", "_"), stage)
            results["after_kill"][stage[0]] = figures
            verdict = "PASS" if figures["exit_code"] == 0 and figures["first_step_s"] <= 10 else "FAIL"
            print(f"killed during {stage[0]}: next fti main's first step after {figures['first_step_s']:.1f} s "
                  f"({figures['first_step_s'] / floor['first_step_s']:.2f}x a clean start), finished in "
                  f"{figures['finished_s']:.0f} s, exit {figures['exit_code']}: {verdict} (target 10 s)")
        share = waiting_cpu_share(root / "wait", args.wait_seconds)
        results["waiting_cpu_share"] = share
        print(f"a step waiting {args.wait_seconds:.0f} s for a live holder used {share:.2%} of a core: "
              f"{'PASS' if share < TARGETS['waiting_cpu_share'] else 'FAIL'} (target 5 %)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"targets": TARGETS, **results}, indent=2))


if __name__ == "__main__":
    main()
