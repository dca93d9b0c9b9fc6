"""Readable errors for failed dbt tests: which table, which column, which rows.

dbt prints only the test's name and a count; a failing test keeps its rows (`store_failures`,
schema test_failures, only when it fails: macros/test_materialization.sql), so the error can show them.
"""

from typing import Any

import duckdb

MAX_ROWS_SHOWN = 5


def failed_tests(run_results: dict[str, Any], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The tests of a dbt invocation that failed with severity error, with what they test."""
    failures = []
    for result in run_results["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        if node.get("resource_type") not in {"test", "unit_test"} or result["status"] not in {"fail", "error"}:
            continue
        attached = node.get("attached_node") or next(iter(node.get("depends_on", {}).get("nodes", [])), "")
        target = manifest["nodes"].get(attached) or manifest.get("sources", {}).get(attached) or {}
        failures.append(
            {
                "test": node.get("name", result["unique_id"]),
                "kind": (node.get("test_metadata") or {}).get("name", node.get("resource_type")),
                "table": target.get("relation_name") or attached,
                "column": node.get("column_name"),
                "failing_rows": result.get("failures"),
                "failures_relation": node.get("relation_name"),
                "message": result.get("message"),
            }
        )
    return failures


def describe(failures: list[dict[str, Any]], connection: duckdb.DuckDBPyConnection | None) -> str:
    lines = []
    for failure in failures:
        where = failure["table"] + (f", column {failure['column']}" if failure["column"] else "")
        lines.append(
            f"dbt test {failure['kind']} failed on {where}: "
            f"{failure['failing_rows'] if failure['failing_rows'] is not None else '?'} failing row(s)"
            + (f" ({failure['message']})" if failure["kind"] == "unit_test" or failure["failing_rows"] is None else "")
        )
        if connection is not None and failure["failures_relation"]:
            try:
                rows = connection.sql(
                    f"select * from {failure['failures_relation']} limit {MAX_ROWS_SHOWN}"
                ).fetchdf()
            except duckdb.Error:
                continue
            for row in rows.to_dict("records"):
                lines.append(f"    {row}")
    return "\n".join(lines)


def gate_outcome(run_results: dict[str, Any], manifest: dict[str, Any]) -> tuple[bool, list[tuple[str, str | None]]]:
    """Whether this invocation ran the validation gate (error-severity data tests on the models
    that name a replay date column, i.e. the daily staging views), and the gate tests that
    failed, each with its stored failures relation."""
    ran, failed = False, []
    for result in run_results["results"]:
        node = manifest["nodes"].get(result["unique_id"], {})
        attached = manifest["nodes"].get(node.get("attached_node") or "", {})
        if node.get("resource_type") != "test" or not attached.get("config", {}).get("meta", {}).get("replay_date"):
            continue
        if node.get("config", {}).get("severity", "ERROR").upper() != "ERROR":
            continue
        ran = True
        if result["status"] in {"fail", "error"}:
            failed.append((node.get("name", result["unique_id"]), node.get("relation_name")))
    return ran, failed
