"""dagster-dbt's dbt resource, with dbt run in the step's own process on a manifest parsed once.

dagster-dbt turns dbt's structured log events into asset materializations and asset check
results (`DbtCliInvocation.stream()`), reading them from a `dbt` subprocess's stdout. Here the
same events come from dbt's in-process runner (fti_assets/dbt/in_process.py) on a thread, so
the selection, the events, the checks and the artifacts stay dagster-dbt's own.
"""

import importlib.metadata
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from packaging import version

from fti_assets.dbt import in_process
from fti_assets.manifest import Parsed, parsed

_DONE = object()


class DbtCommand:
    """The part of `subprocess.Popen` that DbtCliInvocation reads, for a dbt command running
    on a thread of this process: its args, its exit code, and its events instead of stdout."""

    def __init__(self, args: Sequence[str], dbt_manifest: Any):
        self.args = ["dbt", *args]
        self.returncode: int | None = None
        self.exception: BaseException | None = None
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.drained = False
        self._thread = threading.Thread(target=self._run, args=(list(args), dbt_manifest), name="dbt", daemon=True)
        self._thread.start()

    def _run(self, args: list[str], dbt_manifest: Any) -> None:
        try:
            outcome = in_process.invoke(args, dbt_manifest, self.events.put)
            self.returncode, self.exception = outcome.returncode, outcome.exception
        finally:
            self.events.put(_DONE)

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode


@dataclass
class InProcessInvocation(DbtCliInvocation):
    """A dbt invocation whose events come from dbt's callbacks rather than a subprocess's stdout."""

    parsed: Parsed | None = field(default=None, repr=False)

    def get_artifact(self, artifact: str) -> dict[str, Any]:
        # dbt writes no manifest.json for a command given a parsed manifest: it is that one.
        if artifact == "manifest.json" and self.parsed is not None:
            return dict(self.parsed.artifact)
        return super().get_artifact(artifact)  # type: ignore[arg-type]

    def _stream_stdout(self) -> Iterator[dict[str, Any]]:
        command: DbtCommand = self.process  # type: ignore[assignment]
        try:
            while not command.drained:
                event = command.events.get()
                if event is _DONE:
                    command.drained = True
                    break
                if event["info"]["level"] == "error":
                    self._error_messages.append(event["info"]["msg"])
                yield event
        except DagsterExecutionInterruptedError:
            # dbt cannot be stopped from another thread: let the command finish (and close
            # its warehouse connection) before the step gives up its writer's lock.
            dg.get_dagster_logger().info(f"Interrupted: waiting for `{self.dbt_command}` to finish.")
            command.wait()
            raise
        if command.exception is not None:
            self._error_messages.append(f"{type(command.exception).__name__}: {command.exception}")


class InProcessDbtResource(DbtCliResource):
    """`DbtCliResource` whose `cli()` runs dbt in this process: dbt is imported and the project
    parsed once per process (`manifest.parsed()`), not once per command. `dbt` on the command
    line is unchanged."""

    @cached_property
    def _cli_version(self) -> version.Version:
        # The parent asks the `dbt` executable (a 4 s subprocess); this process runs the library.
        return version.parse(importlib.metadata.version("dbt-core"))

    def cli(
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: Any = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.OpExecutionContext | dg.AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        cleaned_args, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=manifest or {},
            dagster_dbt_translator=dagster_dbt_translator or DagsterDbtTranslator(),
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(params.dbt_project.project_dir if params.dbt_project else self.project_dir)
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        profile_args = [*(["--profile", self.profile] if self.profile else []),
                        *(["--target", self.target] if self.target else [])]
        indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
        dbt_args = [
            *self.global_config_flags,
            *cleaned_args,
            *in_process.location_args(project_dir, target_path),
            # dagster-dbt echoes every event it reads; dbt's own terminal log would repeat them.
            *in_process.NO_LOGS,
            *profile_args,
            *params.selection_args,
            *indirect,
        ]
        project = parsed(project_dir)
        command = DbtCommand(dbt_args, project.manifest)
        return InProcessInvocation(
            process=command,  # type: ignore[arg-type]
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            cli_version=self._cli_version,
            project=params.dbt_project,
            context=context,
            parsed=project,
        )
