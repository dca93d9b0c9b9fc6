"""A one-step job in the warehouse's pool, run as its own process by the dead-run tests:
`python -m tests.reliability.pool_holder SECONDS` holds the `duckdb_writer` slot that long."""

import sys
import time

import dagster as dg

from fti_assets.resources import WAREHOUSE_POOL


@dg.op(pool=WAREHOUSE_POOL)
def hold_the_warehouse(context: dg.OpExecutionContext) -> None:
    time.sleep(context.op_config["seconds"])


@dg.job
def hold_job() -> None:
    hold_the_warehouse()


if __name__ == "__main__":
    from fti_assets.runner import clear_dead_runs, failure_messages

    with dg.DagsterInstance.get() as instance:
        clear_dead_runs(instance)
        result = hold_job.execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": {"hold_the_warehouse": {"config": {"seconds": float(sys.argv[1])}}}},
        )
    print("RESULT", result.success, result.run_id, failure_messages(result), flush=True)
