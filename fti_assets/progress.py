"""What a run shows on the terminal when `fti` starts it: a one-line progress bar of its steps.

Dagster's console logger prints every event at DEBUG (thousands of lines for a year's replay),
which hides progress and the result. Runs started by `fti` name this logger in their run
config instead, so the console logger is not created: the terminal shows one line per job,
redrawn in place while it runs, and the whole event log goes to a file (and, as always, to the
instance's event log that the UI reads). Runs that name no logger (`dagster dev`, schedules)
keep Dagster's default console output.
"""

import logging
import sys
import time
from pathlib import Path
from typing import TextIO

import dagster as dg

LOGGER_NAME = "fti_progress"
LINE_FORMAT = "%(asctime)s - %(levelname)s - %(message)s"


class StepProgress(logging.Handler):
    """Redraws `<label> [done/started steps] <running step> <seconds>` as steps start and end."""

    def __init__(self, label: str, stream: TextIO):
        super().__init__(level=logging.DEBUG)
        self.label, self.stream = label, stream
        self.started_at = time.perf_counter()
        self.running: list[str] = []
        self.done = self.failed = 0
        self.interactive = stream.isatty()

    def emit(self, record: logging.LogRecord) -> None:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        if event is None or event.step_key is None:
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.running.append(event.step_key)
        elif kind in {"STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"}:
            if event.step_key in self.running:
                self.running.remove(event.step_key)
            self.done += 1
            self.failed += kind == "STEP_FAILURE"
        else:
            return
        if self.interactive:
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()

    def line(self) -> str:
        now = f"running {', '.join(self.running)}" if self.running else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.label} [{self.done} steps done{failed}] {now} {time.perf_counter() - self.started_at:.0f} s"

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\r\033[K")
            self.stream.flush()
        super().close()


@dg.logger(
    config_schema={
        "label": dg.Field(str, default_value="run", description="What the progress line calls the run."),
        "log_file": dg.Field(str, default_value="", description="Where every event goes (empty: nowhere)."),
        "progress": dg.Field(bool, default_value=True, description="Redraw a progress line on a terminal."),
    },
    description="A progress line on the terminal and the full event log in a file (runs started by `fti`).",
)
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger(LOGGER_NAME, level=logging.DEBUG)
    if config["log_file"]:
        Path(config["log_file"]).parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(config["log_file"])
        to_file.setFormatter(logging.Formatter(LINE_FORMAT))
        logger.addHandler(to_file)
    if config["progress"]:
        logger.addHandler(StepProgress(config["label"], sys.stderr))
    return logger


def logger_config(label: str, log_file: Path | None, verbose: bool) -> dict:
    """Run config for a run's loggers: the progress line and the log file, plus Dagster's own
    console logger (every event on the terminal) when `verbose`."""
    loggers = {"progress": {"config": {"label": label, "log_file": str(log_file or ""), "progress": not verbose}}}
    if verbose:
        loggers["console"] = {"config": {"log_level": "DEBUG"}}
    return {"loggers": loggers}


def stage_line(name: str, result: dg.ExecuteInProcessResult, seconds: float) -> str:
    """One line for a finished run: what it materialized, the rows it reported, its checks."""
    materialized = result.get_asset_materialization_events()
    rows = {}
    for event in materialized:
        count = event.materialization.metadata.get("dagster/row_count")
        if count is not None:
            # A window's partitions each carry the window's count: take it once.
            key = event.asset_key.to_user_string()
            rows[key] = max(rows.get(key, 0), int(count.value))
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    warned = sum(not c.passed and c.severity == dg.AssetCheckSeverity.WARN for c in checks)
    failed = sum(not c.passed for c in checks) - warned
    largest = ", ".join(f"{key} {count:,}" for key, count in sorted(rows.items(), key=lambda kv: -kv[1])[:3])
    return (
        f"{name}: {len({e.asset_key for e in materialized})} assets"
        + (f" (rows: {largest})" if largest else "")
        + f", {len(checks) - warned - failed}/{len(checks)} checks passed"
        + (f", {warned} warned" if warned else "")
        + (f", {failed} failed" if failed else "")
        + f", {seconds:.0f} s"
    )
