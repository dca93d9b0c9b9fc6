"""What `fti main` prints: rows per table of each layer, and the SQL to look at them."""

from fti_assets.stateful.warehouse import connect
from fti_assets import settings

SCHEMAS = ("raw", "features")


def table_counts(schemas: tuple[str, ...] = SCHEMAS) -> list[tuple[str, str, int]]:
    with connect(settings.warehouse_path(), read_only=True) as connection:
        tables = connection.sql(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in {tuple(schemas) if len(schemas) > 1 else f'({schemas[0]!r})'} "
            "and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        return [
            (schema, table, connection.sql(f'select count(*) from "{schema}"."{table}"').fetchall()[0][0])
            for schema, table in tables
        ]


def render() -> str:
    lines = [f"Warehouse: {settings.warehouse_path()}", ""]
    lines += [f"  {schema}.{table:<40} {rows:>10,} rows" for schema, table, rows in table_counts()]
    lines += [
        "",
        "Look at the features with plain SQL (dbt's own profile, from dbt_project/):",
        "  cd dbt_project && dbt show --inline \"select * from features.fg_route_history_v1 "
        "where origin = 'JFK' and dest = 'LAX' order by as_of_date desc\"",
        "or with DuckDB from Python (read-only, so it never blocks a writer that is not running):",
        f"  python -c \"import duckdb; print(duckdb.connect('{settings.warehouse_path()}', "
        "read_only=True).sql('select * from features.flight_spine_v1 limit 5'))\"",
    ]
    return "\n".join(lines)
