"""dbt run inside this Python process, with a manifest parsed once (no Dagster here).

A `dbt` subprocess pays for importing dbt (about 4 s here) and for loading its parse state on
every call, more than one replay day's models take. dbt's programmatic runner skips both when
handed an already parsed manifest (`dbtRunner(manifest=...)`). dbt keeps its flags, adapters
and event manager in module globals, so one command runs at a time per process.
"""

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PARTIAL_PARSE_FILE = "partial_parse.msgpack"

_one_command_at_a_time = threading.Lock()


@dataclass(frozen=True)
class Outcome:
    """What a dbt command returned, with the exit code the `dbt` executable would have given."""

    returncode: int
    exception: BaseException | None


def location_args(project_dir: Path, target_path: Path) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
            "--target-path", str(target_path), "--log-path", str(target_path)]


# dbt's debug log file (every statement of every node) costs about 5 ms a node, and a replay
# command's target folder, where it would go, is deleted once its events are read. Its
# terminal log formats every event, debug ones included, before filtering them by level;
# `on_event` callers already receive each event.
NO_LOGS = ("--log-level", "none", "--log-level-file", "none")


def parse(project_dir: Path, extra_args: Sequence[str] = ()) -> Any:
    """Parse the project in this process and return dbt's Manifest object.

    The parse starts from the project's partial parse state and saves it back (atomically:
    concurrent processes never read a half-written file), like `dbt parse` in `dbt_project/`."""
    from dbt.cli.main import dbtRunner

    kept = project_dir / "target" / PARTIAL_PARSE_FILE
    with tempfile.TemporaryDirectory(prefix="fti-dbt-parse-") as private:
        target = Path(private)
        if kept.exists():
            shutil.copy(kept, target / PARTIAL_PARSE_FILE)
        with _one_command_at_a_time:
            result = dbtRunner().invoke(["parse", *location_args(project_dir, target), "--quiet", *extra_args])
        if not result.success:
            raise RuntimeError(f"`dbt parse` failed in {project_dir}; run it there to see why: {result.exception}")
        keep_parse_state(target, project_dir)
    return result.result


def keep_parse_state(target_path: Path, project_dir: Path) -> None:
    """Keep a command's parse state as the project's, for the next process or `dbt` command."""
    state = target_path / PARTIAL_PARSE_FILE
    if state.exists():
        kept = project_dir / "target" / PARTIAL_PARSE_FILE
        kept.parent.mkdir(exist_ok=True)
        copying = kept.with_name(f"partial_parse.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.copy(state, copying)
        os.replace(copying, kept)


def invoke(args: Sequence[str], manifest: Any, on_event: Callable[[dict[str, Any]], None] | None = None) -> Outcome:
    """Run a dbt command (`args` as after `dbt`) on an already parsed manifest.

    `on_event` receives every structured log event of info level or above, as the dict that
    `dbt --log-format json` prints per line (what dagster-dbt reads from a subprocess)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    def forward(message) -> None:
        if on_event is not None and message.info.level != "debug":
            on_event(msg_to_dict(message))

    with _one_command_at_a_time:
        try:
            result = dbtRunner(manifest=manifest, callbacks=[forward]).invoke([*args, "--no-write-json"])
        finally:
            _release_warehouse()
    _write_run_results(result.result, args)
    # The dbt executable's exit codes: 1 when nodes failed, 2 when dbt itself failed.
    if result.success:
        return Outcome(0, None)
    return Outcome(2 if result.exception is not None else 1, result.exception)


def _write_run_results(result: Any, args: Sequence[str]) -> None:
    """Write run_results.json, the one artifact read after a command (by dagster-dbt and the
    failure messages). dbt would also write manifest.json after every command (0.3-0.5 s),
    which here is the parsed manifest the command was given."""
    if not hasattr(result, "write") or "--target-path" not in args:
        return
    target = Path(args[list(args).index("--target-path") + 1])
    target.mkdir(parents=True, exist_ok=True)
    result.write(str(target / "run_results.json"))


def _release_warehouse() -> None:
    """dbt-duckdb leaves its connection open after a command; while it is open this process
    cannot open the warehouse with another configuration (read-only), so close it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()
