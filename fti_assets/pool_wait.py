"""Waiting for a pool slot: never silent, never spinning, never forever.

Dagster's executor asks the event log storage for a slot of the step's pool (`duckdb_writer`),
and while the answer is no it loops without sleeping (in dagster 1.13 the interval to the next
check is `min(0, ...)`), printing nothing the user sees. The storage's claim is therefore where
waiting is made humane (`PoolWaiting`, mixed into the instance's event log storage):
- each refused claim is paced to one per `POLL_SECONDS` per step, asleep, so waiting costs no CPU;
- a holder whose process is dead is cleared on the spot (run_health) and the claim retried;
- a progress line names the holder, since when it holds the slot and whether its process lives,
  at the start of the wait and every `warehouse_lock.REPORT_SECONDS`, once per waiting run
  (stderr, and the run's event log for the UI);
- past `FTI_WAREHOUSE_LOCK_TIMEOUT` (the same limit as the warehouse's file lock) the run ends
  with that message instead of hanging.
"""

import sys
import time

from dagster._utils.concurrency import ConcurrencyClaimStatus

from fti_assets import run_health
from fti_assets.stateful import warehouse_lock

POLL_SECONDS = 1.0
LIVENESS = {True: "alive", False: "gone", None: "unknown here (another host, or none recorded)"}


class PoolWaitTimeout(TimeoutError):
    """A step waited for its pool longer than the configured limit."""


class PoolWaiting:
    """An event log storage mixin: see the module. Put it before Dagster's storage class."""

    def claim_concurrency_slot(
        self, concurrency_key: str, run_id: str, step_key: str, priority: int | None = None
    ) -> ConcurrencyClaimStatus:
        waits = self.__dict__.setdefault("_pool_waits", {})
        reported = self.__dict__.setdefault("_pool_reports", {})  # run -> when it last said it waits
        key = (run_id, step_key)
        if key in waits:
            # One refused claim per step and POLL_SECONDS, asleep: the executor calls again at once.
            time.sleep(max(0.0, waits[key]["tried"] + POLL_SECONDS - time.monotonic()))
        status = super().claim_concurrency_slot(concurrency_key, run_id, step_key, priority)
        if status.is_claimed:
            waits.pop(key, None)
            return status
        now = time.monotonic()
        wait = waits.setdefault(key, {"since": now})
        wait["tried"] = now
        holders = self._holders(concurrency_key, run_id)
        cleared = [c for c in (run_health.free_if_done(self._instance, holder) for holder in holders) if c]
        if cleared:
            for each in cleared:
                self._report(run_id, each.line)
            wait["tried"] = now - POLL_SECONDS  # a slot came free: claim again without sleeping
        elif now - wait["since"] > warehouse_lock.timeout_seconds():
            waits.pop(key)
            raise PoolWaitTimeout(self._waiting_line(concurrency_key, step_key, holders, now - wait["since"]) + (
                f"; gave up after {warehouse_lock.timeout_seconds():.0f} s ({warehouse_lock.TIMEOUT_ENV}). "
                "Wait for that run to finish, or stop it (the Dagster UI, or Ctrl-C where it runs), and run again."
            ))
        elif now - reported.get(run_id, -warehouse_lock.REPORT_SECONDS) >= warehouse_lock.REPORT_SECONDS:
            reported[run_id] = now  # one line per run, not one per waiting step
            self._report(run_id, self._waiting_line(concurrency_key, step_key, holders, now - wait["since"]))
        return status.with_sleep_interval(0.0)

    def _holders(self, concurrency_key: str, run_id: str) -> dict[str, str]:
        """The other runs holding the pool's slots: run id -> which step holds one, since when."""
        info = self.get_concurrency_info(concurrency_key)
        assigned = {(step.run_id, step.step_key): step.assigned_timestamp for step in info.pending_steps}
        holders = {}
        for slot in info.claimed_slots:
            if slot.run_id != run_id and slot.run_id not in holders:
                at = assigned.get((slot.run_id, slot.step_key))
                holders[slot.run_id] = f"its step {slot.step_key}" + (
                    f" since {run_health.clock(at.timestamp())}" if at else ""
                )
        return holders

    def _waiting_line(self, concurrency_key: str, step_key: str, holders: dict[str, str], waited: float) -> str:
        runs = [(self._instance.get_run_by_id(holder), holding) for holder, holding in holders.items()]
        held_by = "; ".join(
            f"{run_health.describe(self._instance, run)}, {holding}, process {LIVENESS[run_health.is_alive(run)]}"
            for run, holding in runs if run is not None
        ) or "a run that has just finished"
        return f"{step_key} waits for the warehouse (pool {concurrency_key}) for {waited:.0f} s: held by {held_by}"

    def _report(self, run_id: str, line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        run = self._instance.get_run_by_id(run_id)
        if run is not None:
            self._instance.report_engine_event(line, run)
