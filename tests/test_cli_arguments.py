"""A wrong `fti` invocation is refused in one line on stderr, before anything is read or written:
no warehouse created, no file exported, no Dagster run started."""

import datetime as dt

import duckdb
import pandas as pd
import pytest

from fti_assets import cli
from fti_assets.stateful import day_validation
from fti_assets.stateful.warehouse import connect
from fti_assets.training_pipeline.config import TrainingConfig
from fti_assets.training_pipeline.model import time_split

PASSED_DAY, FAILED_DAY, SKIPPED_DAY = dt.date(2013, 5, 5), dt.date(2013, 5, 6), dt.date(2013, 5, 7)  # 05-08: never delivered
DAYS = "expected YYYY-MM-DD within the replay, 2013-01-01..2013-12-31"


def files(root) -> set:
    return {path.relative_to(root) for path in root.rglob("*")}


def refusal(argv: list[str], capsys) -> str:
    """The one line a user reads when `fti argv` is refused (a SystemExit with a text prints it on stderr)."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    code = stopped.value.code
    assert code not in (0, None)
    stderr = capsys.readouterr().err + (f"{code}\n" if isinstance(code, str) else "")
    (line,) = stderr.splitlines()
    return line


@pytest.fixture
def ledger(isolated_env):
    """A warehouse holding only the validation ledger: one passed, one failed and one skipped day."""
    path = isolated_env / "warehouse" / "warehouse.duckdb"
    check = [day_validation.FailedCheck("unique_stg_flights_flight_id", None)]
    with connect(path) as connection:
        day_validation.record_passed(connection, PASSED_DAY, PASSED_DAY)
        for day in (FAILED_DAY, SKIPPED_DAY):
            day_validation.record_failed(connection, day, day, check)
        day_validation.skip(connection, SKIPPED_DAY, "duplicated delivery")
    return path


def replay_days(warehouse) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.sql("select day, status, reason from validation.replay_days order by day").fetchall()


WITHOUT_WAREHOUSE = [
    (["main", "--start", "2013-02-30"], f"argument --start: '2013-02-30' is not a day: {DAYS}"),
    (["main", "--start", "2013-1-5"], "'2013-1-5' is not a day"),
    (["main", "--end", "2014-01-01"], f"argument --end: 2014-01-01 is outside the replay: {DAYS}"),
    (["main", "--start", "2013-06-01", "--end", "2013-05-01"], "--start 2013-06-01 is after --end 2013-05-01"),
    (["main", "--start", "2013-03-01", "--cutoff", "2013-02-01"], "--cutoff 2013-02-01 is outside --start..--end"),
    (["main", "--scoring-start", "2013-11-30"], "--scoring-start 2013-11-30 must be after --cutoff 2013-11-30"),
    (["main", "--end", "2013-11-30"], "at most --end 2013-11-30"),
    (
        ["main", "--cutoff", "2013-02-01", "--scoring-start", "2013-02-02"],
        "needs more than 61 validation + 61 test days: a --cutoff from 2013-05-03",
    ),
    (
        ["main", "--model", '{"validation_days": 100, "test_days": 100}', "--cutoff", "2013-07-01",
         "--scoring-start", "2013-07-02"],
        "a --cutoff from 2013-07-20",
    ),
    (["main", "--model", "{max_iter: 50}"], "argument --model: not JSON"),
    (["main", "--model", "[50]"], "expected a JSON object of ModelConfig fields"),
    (["main", "--model", '{"max_iterr": 50}'], "unknown ModelConfig field 'max_iterr'"),
    (["main", "--model", '{"max_iter": "lots"}'], "max_iter = 'lots'"),
    (["main", "--model", '{"test_days": 0}'], "test_days = 0: expected 1 or more days"),
    (["stream", "--day", "2013-02-29"], "argument --day: '2013-02-29' is not a day"),
    (["stream", "--speed", "0"], "argument --speed: '0': expected a number above 0"),
    (["stream", "--speed", "nan"], "expected a number above 0"),
    (["stream", "--minutes-before", "120", "-30"], "'-30': expected whole minutes above 0"),
    (["serve", "--port", "0"], "argument --port: '0': expected a port, 1..65535"),
    (["serve", "--port", "65536"], "expected a port, 1..65535"),
    (["serve", "--threshold", "1.5"], "argument --threshold: '1.5': expected a probability, 0..1"),
    (["promote", "--version", "0"], "argument --version: '0': expected a model version, 1 or more"),
    (["export", "predictions"], "'predictions': expected schema.table"),
    (["export", "inference.predictions; drop table x"], "expected schema.table"),
    (["skip-day", "2013-05-32", "--reason", "typo"], "'2013-05-32' is not a day"),
    (["skip-day", "2013-05-05", "--reason", " "], "argument --reason: expected a reason"),
    (["skip-day", "2013-05-05"], "the following arguments are required: --reason"),
    (["skip-day", "2013-05-05", "--reason", "test"], "No warehouse at"),
    (["export", "no_such.table", "--to", "export"], "No warehouse at"),
    (["promote", "--version", "1"], "No warehouse at"),
    (["verify"], "No warehouse at"),
    (["stream"], "No warehouse at"),
    (["serve"], "no online store at"),
    (["nope"], "invalid choice: 'nope'"),
]


@pytest.mark.parametrize(("argv", "fragment"), WITHOUT_WAREHOUSE, ids=[" ".join(a) for a, _ in WITHOUT_WAREHOUSE])
def test_a_wrong_invocation_is_refused_in_one_line_and_writes_nothing(argv, fragment, isolated_env, capsys, monkeypatch):
    monkeypatch.chdir(isolated_env)  # where a relative --to would write
    before = files(isolated_env)

    assert fragment in refusal(argv, capsys)
    assert files(isolated_env) == before  # no warehouse, no log, no Dagster run


WITH_LEDGER = [
    (["skip-day", "2013-05-05", "--reason", "test"], "replay day 2013-05-05 passed its checks; only a failed day"),
    (["skip-day", "2013-05-08", "--reason", "test"], "replay day 2013-05-08 was never delivered"),
    (["skip-day", "2013-05-07", "--reason", "test"], "replay day 2013-05-07 is already skipped (duplicated delivery)"),
    (["export", "no_such.table", "--to", "export"], "no table no_such.table in"),
    # The first table exists, yet nothing is written: every name is checked before the first file.
    (["export", "validation.replay_days", "validation.no_such", "--to", "export"], "tables in validation: validation."),
]


@pytest.mark.parametrize(("argv", "fragment"), WITH_LEDGER, ids=[" ".join(a) for a, _ in WITH_LEDGER])
def test_a_command_refused_by_the_state_it_acts_on_changes_nothing(argv, fragment, ledger, capsys, monkeypatch):
    monkeypatch.chdir(ledger.parent)
    days = replay_days(ledger)

    assert fragment in refusal(argv, capsys)
    assert replay_days(ledger) == days
    assert not (ledger.parent / "export").exists()


def test_a_failed_day_is_skipped_without_force_and_a_passed_one_with_it(ledger, capsys):
    cli.main(["skip-day", str(FAILED_DAY), "--reason", "no fixed file"])
    cli.main(["skip-day", str(PASSED_DAY), "--reason", "known bad sensor", "--force"])

    assert replay_days(ledger) == [
        (PASSED_DAY, "skipped", "known bad sensor"),
        (FAILED_DAY, "skipped", "no fixed file"),
        (SKIPPED_DAY, "skipped", "duplicated delivery"),
    ]
    assert capsys.readouterr().err == ""


def test_a_valid_fti_main_parses_to_days_and_model_fields(isolated_env):
    argv = ["main", "--start", "2013-03-01", "--end", "2013-04-30", "--cutoff", "2013-04-15",
            "--scoring-start", "2013-04-16", "--model", '{"validation_days": 14, "test_days": 14, "max_iter": 50}']
    args = cli.build_parser().parse_args(argv)

    assert cli.argument_problem(args) is None
    assert (args.start, args.cutoff, args.scoring_start) == (dt.date(2013, 3, 1), dt.date(2013, 4, 15), dt.date(2013, 4, 16))
    assert args.model == {"validation_days": 14, "test_days": 14, "max_iter": 50}
    defaults = cli.parse_args(["main"])
    assert (defaults.start, defaults.end, defaults.model) == (dt.date(2013, 1, 1), dt.date(2013, 12, 31), None)


def test_the_shortest_window_fti_main_accepts_is_the_shortest_the_time_split_accepts(isolated_env):
    config = TrainingConfig(validation_days=14, test_days=7)
    model = '{"validation_days": 14, "test_days": 7}'
    start, shortest = dt.date(2013, 3, 1), dt.date(2013, 3, 22)

    for cutoff, accepted in ((shortest, True), (shortest - dt.timedelta(days=1), False)):
        args = cli.build_parser().parse_args(
            ["main", "--start", str(start), "--cutoff", str(cutoff), "--model", model,
             "--scoring-start", str(cutoff + dt.timedelta(days=1))]
        )
        assert (cli.argument_problem(args) is None) == accepted, cutoff
        frame = pd.DataFrame({"scheduled_dep_date": pd.date_range(start, cutoff)})
        if accepted:
            time_split(frame, config)
        else:
            with pytest.raises(ValueError, match="too short"):
                time_split(frame, config)


def test_a_short_window_is_left_to_the_training_when_the_warehouse_may_hold_earlier_days(ledger):
    args = cli.build_parser().parse_args(["main", "--cutoff", "2013-02-01", "--scoring-start", "2013-02-02"])

    assert cli.argument_problem(args) is None
