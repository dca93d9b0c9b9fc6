"""What `fti main` prints: rows per schema, the champion's metrics, and SQL to query the results."""

from fti_assets import settings
from fti_assets.stateful.warehouse import connect

SCHEMAS = ("raw", "features", "training", "registry", "inference", "monitoring")

QUERIES = {
    "Tomorrow's riskiest flights (the last scored day)": """
select flight_id, scheduled_dep_at, carrier, origin, dest, round(probability, 3) as probability
from inference.predictions
where scheduled_dep_date = (select max(scheduled_dep_date) from inference.predictions)
order by probability desc
limit 5""",
    "Yesterday's five least accurate carriers (50+ labelled flights)": """
select segment as carrier, labelled_flights, round(roc_auc, 3) as roc_auc, round(brier_score, 3) as brier
from monitoring.mon_daily_performance_by_segment
where segment_type = 'carrier' and labelled_flights >= 50
  and scheduled_dep_date = (select max(scheduled_dep_date) from monitoring.mon_daily_performance)
order by roc_auc
limit 5""",
}


def table_counts(connection) -> list[tuple[str, int, int]]:
    """(schema, tables, rows) for each schema of the stateful layer that exists."""
    tables = connection.sql(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in {SCHEMAS} and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    totals: dict[str, list[int]] = {}
    for schema, table in tables:
        rows = connection.sql(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0]
        totals.setdefault(schema, [0, 0])
        totals[schema][0] += 1
        totals[schema][1] += rows
    return [(schema, *totals[schema]) for schema in SCHEMAS if schema in totals]


def render() -> str:
    path = settings.warehouse_path()
    with connect(path, read_only=True) as connection:
        lines = [f"Warehouse: {path}"]
        for schema, count, rows in table_counts(connection):
            lines.append(f"  {schema:<11} {count:>3} tables {rows:>12,} rows")
        if not connection.sql(
            "select 1 from information_schema.tables where table_schema = 'inference' and table_name = 'predictions'"
        ).fetchall():
            lines += [
                "",
                "No model has been trained or scored yet: run `fti main` "
                "(or the training_job, then the inference_job).",
            ]
            return "\n".join(lines)
        champions = connection.sql(
            """select a.alias, v.version, v.metrics->>'$.test.model.roc_auc', v.metrics->>'$.test.baseline.roc_auc'
            from registry.model_versions v join registry.alias_history a
                on a.version = v.version and a.alias in ('champion', 'intraday_champion') and a.valid_to is null
            order by a.alias"""
        ).fetchall()
        if champions:
            lines.append("")
        for alias, version, auc, baseline in champions:
            what = "Champion" if alias == "champion" else "Intraday champion (6 h, 2 h, 30 min before departure)"
            lines.append(
                f"{what}: model version {version}, test ROC AUC {float(auc):.3f} (route baseline {float(baseline):.3f})"
            )
        if any(alias == "intraday_champion" for alias, *_ in champions):
            lines.append("A December day live, streamed at 1800x: fti stream --day 2013-12-17")
        for title, sql in QUERIES.items():
            lines += ["", f"{title}:", sql.strip(), "", str(connection.sql(sql))]
    lines += [
        "Run your own SQL through dbt's profile:  cd dbt_project && ../.venv/bin/dbt show --inline \"select ...\"",
        "or export tables to Parquet and query the files (never blocks a run):  fti export inference.predictions",
    ]
    return "\n".join(lines)
