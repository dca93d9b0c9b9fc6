"""The validation ledger: which replay days passed their blocking checks, and the evidence of
those that did not (schema `validation`).

A day's raw rows are inspected by the staging data tests, and the staging views filter on this
ledger (macros/validated_days.sql): a day that was skipped by hand, or that failed and is not
being re-delivered, is not read, so it never reaches intermediate models, features, snapshots
or predictions. (Within one dbt build, a failed test stops everything downstream of it.) A failed day also
stops the replay: a later window refuses to run until the day is re-delivered (and passes) or
skipped. The failing rows of each failed test are kept per day until the day passes, whereas
a `test_failures` table is dropped when its test next passes.
"""

import dataclasses
import datetime as dt
import json

import duckdb

from fti_assets.stateful.warehouse import transaction

SCHEMA = "validation"
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
NEVER_DELIVERED = "never delivered"  # no row in the ledger

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {SCHEMA}.replay_days (
        day date primary key,
        status varchar not null,
        failed_checks json,
        reason varchar,
        updated_at timestamp not null
    )""",
    f"""create table if not exists {SCHEMA}.failing_rows (
        day date not null,
        test varchar not null,
        relation varchar not null,
        failing_row json not null,
        recorded_at timestamp not null
    )""",
)


class DayBlocked(RuntimeError):
    """A replay day before the requested window failed its checks and was neither re-delivered nor skipped."""


@dataclasses.dataclass(frozen=True)
class FailedCheck:
    test: str
    relation: str | None  # the test's stored failures (schema test_failures), if any


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.sql(statement)


def _exists(connection: duckdb.DuckDBPyConnection) -> bool:
    return bool(connection.sql(
        f"select 1 from information_schema.tables where table_schema = '{SCHEMA}' and table_name = 'replay_days'"
    ).fetchall())


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _upsert(connection, days, status, checks, reason, at) -> None:
    """Set the status of `days`; a skipped day stays skipped (its rows are never read again)."""
    skipped = {d for (d,) in connection.execute(
        f"select day from {SCHEMA}.replay_days where status = ? and day between ? and ?",
        [SKIPPED, min(days), max(days)],
    ).fetchall()} if status != SKIPPED else set()
    checks_json = json.dumps(checks) if checks is not None else None
    rows = [[day, status, checks_json, reason, at] for day in days if day not in skipped]
    if rows:
        connection.executemany(f"insert or replace into {SCHEMA}.replay_days values (?, ?, ?, ?, ?)", rows)


def record_passed(connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> None:
    """The days start..end passed every blocking check: their kept failing rows are dropped."""
    ensure_schema(connection)
    days = _days(start, end)
    with transaction(connection):
        connection.execute(f"delete from {SCHEMA}.failing_rows where day between ? and ?", [start, end]).fetchall()
        _upsert(connection, days, PASSED, None, None, _now())


def record_failed(
    connection: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, checks: list[FailedCheck]
) -> None:
    """The window start..end failed these checks. dbt tests see the window as a whole, so each of
    its days is marked failed (a single replay day, the schedule's unit, is exact). The failing
    rows are copied out of `test_failures`, which the next run would overwrite."""
    ensure_schema(connection)
    at = _now()
    with transaction(connection):
        connection.execute(f"delete from {SCHEMA}.failing_rows where day between ? and ?", [start, end]).fetchall()
        _upsert(connection, _days(start, end), FAILED, sorted({c.test for c in checks}), None, at)
        for check in checks:
            if check.relation is None:
                continue
            for day in _days(start, end):
                connection.execute(
                    f"insert into {SCHEMA}.failing_rows select ?, ?, ?, to_json(t), ? from {check.relation} as t",
                    [day, check.test, check.relation, at],
                ).fetchall()


class SkipRefused(ValueError):
    """The day did not fail, and skipping it was not forced."""


def day_state(connection: duckdb.DuckDBPyConnection, day: dt.date) -> tuple[str, str | None]:
    """`day`'s status in the ledger (NEVER_DELIVERED without a row) and its skip reason, if any."""
    rows = connection.execute(
        f"select status, reason from {SCHEMA}.replay_days where day = ?", [day]
    ).fetchall() if _exists(connection) else []
    return rows[0] if rows else (NEVER_DELIVERED, None)


_NOT_FAILED = {
    PASSED: "passed its checks",
    NEVER_DELIVERED: "was never delivered",
    SKIPPED: "is already skipped ({reason})",
}


def skip(connection: duckdb.DuckDBPyConnection, day: dt.date, reason: str, force: bool = False) -> None:
    """Leave a day out of the replay for good: its rows are never read, the replay moves on.
    A day that did not fail only with `force`: a mistyped date would drop a good day from every
    feature built after it."""
    if not reason:
        raise ValueError("skipping a replay day needs a reason (it is kept in validation.replay_days)")
    status, previous = day_state(connection, day)
    if status != FAILED and not force:
        raise SkipRefused(
            f"replay day {day} {_NOT_FAILED[status].format(reason=previous)}; "
            "only a failed day is skipped without --force"
        )
    ensure_schema(connection)
    with transaction(connection):
        _upsert(connection, [day], SKIPPED, None, reason, _now())


def blocking_day(connection: duckdb.DuckDBPyConnection, start: dt.date) -> tuple[dt.date, list[str]] | None:
    """The first day before `start` that failed its checks and is not repaired or skipped."""
    if not _exists(connection):
        return None
    rows = connection.execute(
        f"select day, failed_checks from {SCHEMA}.replay_days where status = ? and day < ? order by day limit 1",
        [FAILED, start],
    ).fetchall()
    return (rows[0][0], json.loads(rows[0][1] or "[]")) if rows else None


def refuse_if_blocked(connection: duckdb.DuckDBPyConnection, start: dt.date) -> None:
    """Raise DayBlocked, naming the failed day and its checks, if the replay may not reach `start`."""
    blocked = blocking_day(connection, start)
    if blocked:
        day, checks = blocked
        raise DayBlocked(
            f"replay day {day} failed its checks ({', '.join(checks) or 'see validation.failing_rows'}); "
            f"days after it do not run until it is re-delivered (fix its source, run that day again) "
            f"or skipped (`fti skip-day {day} --reason ...`). Its failing rows: "
            f"select * from {SCHEMA}.failing_rows where day = '{day}'"
        )
