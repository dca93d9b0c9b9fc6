"""Per-segment drift baselines: what monitoring.mon_segment_drift compares each scored day with,
calibrated on the training rows and written with the model version at registration.

A population PSI (feature_baselines) does not see a shift confined to one airport or one route:
a third of the day's values moving is less than ordinary weather moves all of them, and a
route's delays doubling is lost among two hundred routes. So features measured per segment
(constants.SEGMENT_DRIFT_BASELINES) are also compared segment by segment:
- "other airports": each airport's day value minus the median of the airports' values that day
  (the gap), against that airport's usual gap: the statistic is |gap - median training gap|.
- "own past": each segment's day value against the range of its own values over the window of
  days before it, and its step (the change from its previous value, less the day's median change
  over the segments) against the range of its steps there; it moved when either lies further
  outside its range than the range is wide. The statistic is the share of the day's flights
  (with a value) on moved segments.
Each threshold is the statistic's high quantile over the training days times a margin, as for
the PSI.
"""

import duckdb
import numpy as np
import pandas as pd

from fti_assets.constants import (
    CALENDAR_FEATURES,
    DRIFT_THRESHOLD_MARGIN,
    DRIFT_THRESHOLD_QUANTILE,
    DRIFT_WINDOW_DAYS,
    SEGMENT_DRIFT_BASELINES,
    SEGMENT_DRIFT_MIN_PAST_DAYS,
)

SCHEMA = "inference"
THRESHOLDS_TABLE = f"{SCHEMA}.segment_drift_thresholds"
DAILY_TABLE = f"{SCHEMA}.segment_daily_values"
OTHER_AIRPORTS, OWN_PAST = "other airports", "own past"
# The spine columns inference.predictions keeps, in the order a segment's name joins them.
SEGMENT_COLUMNS = ("carrier", "origin", "dest")

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"""create table if not exists {THRESHOLDS_TABLE} (
        model_version integer not null,
        feature varchar not null,
        baseline varchar not null,
        segment_by varchar not null,
        segment varchar,
        center double,
        threshold double,
        window_days integer not null,
        min_past_days integer not null,
        calibration_days integer not null
    )""",
    f"""create table if not exists {DAILY_TABLE} (
        model_version integer not null,
        day date not null,
        feature varchar not null,
        segment varchar not null,
        value double not null,
        flights bigint not null
    )""",
)


def ensure_schema(connection: duckdb.DuckDBPyConnection) -> None:
    for statement in DDL:
        connection.sql(statement)


def segmented(groups, features: tuple[str, ...]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per monitored feature of a group with a declared segment baseline: (baseline, the spine
    columns of its segment). `groups` are a view's FeatureGroupRefs."""
    kinds = {}
    for group in groups:
        baseline = SEGMENT_DRIFT_BASELINES.get(group.name)
        if baseline is None:
            continue
        segment_by = tuple(c for c in SEGMENT_COLUMNS if c in {spine for spine, _ in group.join_keys})
        if len(segment_by) != len(group.join_keys):
            raise ValueError(
                f"feature group {group.name}: per-segment drift needs join keys among {SEGMENT_COLUMNS} "
                f"(the columns predictions keep), got {[spine for spine, _ in group.join_keys]}"
            )
        kinds.update(
            {c: (baseline, segment_by) for c in group.columns if c in features and c not in CALENDAR_FEATURES}
        )
    return kinds


def segment_names(rows: pd.DataFrame, segment_by: tuple[str, ...]) -> pd.Series:
    """Each row's segment, its columns' values joined by "/" (JFK, JFK/LAX, B6/JFK)."""
    first, *rest = (rows[c].astype(str) for c in segment_by)
    return first.str.cat(rest, sep="/") if rest else first


class RowKeys:
    """Each row's day and segment, numbered once for all the features of a call: per feature,
    grouping a million rows by a date and a string cost most of a training's segment baselines."""

    def __init__(self, rows: pd.DataFrame, day_column: str = "scheduled_dep_date"):
        self.rows = rows
        self.day_codes, self.days = pd.factorize(pd.to_datetime(rows[day_column]), sort=True)
        self._cells: dict[tuple[str, ...], tuple[np.ndarray, pd.Index]] = {}

    def cells(self, segment_by: tuple[str, ...]) -> tuple[np.ndarray, pd.Index]:
        """Each row's (day, segment) as one number, in day then segment order (-1 without a
        day), and the segments' names."""
        if segment_by not in self._cells:
            segment_codes, segments = pd.factorize(segment_names(self.rows, segment_by), sort=True)
            cells = np.where(self.day_codes >= 0, self.day_codes * len(segments) + segment_codes, -1)
            self._cells[segment_by] = (cells, segments)
        return self._cells[segment_by]


def segment_values(
    rows: pd.DataFrame, feature: str, segment_by: tuple[str, ...], keys: RowKeys | None = None
) -> pd.DataFrame:
    """Per day and segment with a value: the median of the feature over its flights (they share
    one feature row, so it is that row's value, exactly), and how many flights had a value."""
    keys = keys or RowKeys(rows)
    cells, segments = keys.cells(segment_by)
    values = rows[feature].astype("float64").to_numpy()
    counted = ~np.isnan(values) & (cells >= 0)
    grouped = pd.Series(values[counted]).groupby(cells[counted])
    found = grouped.agg(value="median", flights="size")
    cell = found.index.to_numpy()
    return pd.DataFrame(
        {
            "day": keys.days[cell // len(segments)].date,
            "segment": segments[cell % len(segments)],
            "value": found["value"].to_numpy(),
            "flights": found["flights"].to_numpy(),
        }
    )


def airport_gaps(values: pd.DataFrame) -> pd.DataFrame:
    """Each segment's value minus the median of that day's segment values, on days with two
    segments or more (an airport alone has no neighbour to differ from)."""
    by_day = values.groupby("day")["value"]
    gaps = values.assign(gap=values["value"] - by_day.transform("median"))
    return gaps[by_day.transform("size") >= 2].reset_index(drop=True)


def own_past_moves(
    values: pd.DataFrame, window_days: int = DRIFT_WINDOW_DAYS, min_past_days: int = SEGMENT_DRIFT_MIN_PAST_DAYS
) -> pd.DataFrame:
    """Per day and segment with at least `min_past_days` values in the `window_days` days before
    it: whether it moved against that window, in level or in step.

    Level: the value lies further outside the window's range (low, high) than the range is wide.
    Step: its change from the segment's previous value, less the median change of all segments
    that day (`step`), lies further outside the range of the window's steps than that range is
    wide (judged with `min_past_days` steps in it). A trailing mean moves a little each day, so a
    doubling is a step beyond its usual ones even where the doubled value stays within the
    level's range for the month (a route whose delays swing from -10 to +29 minutes); a storm
    moves every route's mean on the same day, and the day's median step takes that out."""
    if values.empty:
        return values.assign(low=np.nan, high=np.nan, past_days=0, step=np.nan, moved=False)
    table = values.pivot(index="day", columns="segment", values="value")
    table.index = pd.to_datetime(table.index)
    table = table.reindex(pd.date_range(table.index.min(), table.index.max()))
    changes = table - table.ffill().shift(1)
    steps = changes.sub(changes.median(axis=1), axis=0)
    windows = {"value": table.rolling(window_days, min_periods=1), "step": steps.rolling(window_days, min_periods=1)}
    past = {
        "low": windows["value"].min(),
        "high": windows["value"].max(),
        "past_days": windows["value"].count(),
        "step_low": windows["step"].min(),
        "step_high": windows["step"].max(),
        "past_steps": windows["step"].count(),
    }
    # Each of `values`' rows looks up its own cell of the day x segment grids (stacking the
    # grids and joining them back cost most of a training's segment baselines).
    day_at = table.index.get_indexer(pd.to_datetime(values["day"]))
    segment_at = table.columns.get_indexer(values["segment"])
    judged = values.reset_index(drop=True).assign(
        **{name: grid.shift(1).to_numpy()[day_at, segment_at] for name, grid in past.items()},
        step=steps.to_numpy()[day_at, segment_at],
    )
    judged = judged[judged["past_days"] >= min_past_days].reset_index(drop=True)
    judged["moved"] = _outside(judged["value"], judged["low"], judged["high"]) | (
        (judged["past_steps"] >= min_past_days) & _outside(judged["step"], judged["step_low"], judged["step_high"])
    )
    return judged


def _outside(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """Further outside [low, high] than the range is wide (False where any is NaN, as NaN compares)."""
    width = high - low
    return (value > high + width) | (value < low - width)


def moved_share(moves: pd.DataFrame) -> pd.DataFrame:
    """Per day: the share of the judged flights that are on moved segments, and those segments."""
    moved_flights = moves["flights"].where(moves["moved"], 0)
    daily = pd.DataFrame({"day": moves["day"], "flights": moves["flights"], "moved_flights": moved_flights})
    shares = daily.groupby("day").sum()
    names = moves[moves["moved"]].groupby("day")["segment"].agg(sorted)
    return pd.DataFrame(
        {"share": shares["moved_flights"] / shares["flights"], "moved_segments": names.reindex(shares.index)}
    ).reset_index()


def _threshold(statistic: np.ndarray, quantile: float, margin: float) -> float | None:
    return float(np.quantile(statistic, quantile)) * margin if len(statistic) else None


def thresholds(
    training_rows: pd.DataFrame,
    kinds: dict[str, tuple[str, tuple[str, ...]]],
    model_version: int,
    window_days: int = DRIFT_WINDOW_DAYS,
    min_past_days: int = SEGMENT_DRIFT_MIN_PAST_DAYS,
    quantile: float = DRIFT_THRESHOLD_QUANTILE,
    margin: float = DRIFT_THRESHOLD_MARGIN,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The calibrated thresholds (per airport for "other airports", per feature for "own past";
    NULL without a training day to calibrate on) and the training days' segment values that
    "own past" windows start from."""
    rows, daily = [], []
    keys = RowKeys(training_rows)
    for feature, (baseline, segment_by) in kinds.items():
        values = segment_values(training_rows, feature, segment_by, keys)
        common = (feature, baseline, ",".join(segment_by))
        if baseline == OTHER_AIRPORTS:
            for segment, gaps in airport_gaps(values).groupby("segment"):
                center = float(gaps["gap"].median())
                spread = _threshold(np.abs(gaps["gap"].to_numpy() - center), quantile, margin)
                rows.append((*common, segment, center, spread, len(gaps)))
        elif baseline == OWN_PAST:
            shares = moved_share(own_past_moves(values, window_days, min_past_days))["share"].to_numpy()
            rows.append((*common, None, None, _threshold(shares, quantile, margin), len(shares)))
            daily.append(values.assign(feature=feature))
        else:
            raise ValueError(f"feature {feature}: unknown drift baseline {baseline!r}")
    table = pd.DataFrame(
        rows, columns=["feature", "baseline", "segment_by", "segment", "center", "threshold", "calibration_days"]
    ).assign(model_version=model_version, window_days=window_days, min_past_days=min_past_days)
    columns = ["model_version", "day", "feature", "segment", "value", "flights"]
    if not daily:
        return table, pd.DataFrame(columns=columns)
    return table, pd.concat(daily, ignore_index=True).assign(model_version=model_version)[columns]


def statistics(rows: pd.DataFrame, thresholds_table: pd.DataFrame, training_values: pd.DataFrame) -> pd.DataFrame:
    """What mon_segment_drift reports for the days of `rows` (scored rows with their segment
    columns), from a version's stored thresholds and training values: one row per day, feature
    and airport ("other airports"), or per day and feature ("own past", segment None)."""
    frames = []
    keys = RowKeys(rows)
    for (feature, baseline, segment_by), stored in thresholds_table.groupby(["feature", "baseline", "segment_by"]):
        values = segment_values(rows, feature, tuple(segment_by.split(",")), keys)
        if baseline == OTHER_AIRPORTS:
            judged = _against_other_airports(values, stored)
        else:
            judged = _against_own_past(values, stored.iloc[0], training_values[training_values["feature"] == feature])
        frames.append(judged.assign(feature=feature, baseline=baseline))
    columns = ["day", "feature", "baseline", "segment", "statistic", "threshold", "moved_segments"]
    result = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    return result.assign(is_alarm=(result["statistic"] > result["threshold"]).where(result["threshold"].notna()))


def _against_other_airports(values: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    gaps = airport_gaps(values).merge(stored[["segment", "center", "threshold"]], on="segment")
    return gaps.assign(statistic=(gaps["gap"] - gaps["center"]).abs(), moved_segments=None)


def _against_own_past(values: pd.DataFrame, stored: pd.Series, training_values: pd.DataFrame) -> pd.DataFrame:
    """The days of `values` against windows of the days before them: training days that were
    not scored, then scored days."""
    days = set(values["day"])
    history = training_values.loc[~training_values["day"].isin(days), ["day", "segment", "value", "flights"]]
    history = pd.concat([history, values], ignore_index=True)
    moves = own_past_moves(history, stored["window_days"], stored["min_past_days"])
    shares = moved_share(moves[moves["day"].isin(days)])
    return shares.rename(columns={"share": "statistic"}).assign(segment=None, threshold=stored["threshold"])


def record(
    connection: duckdb.DuckDBPyConnection,
    training_rows: pd.DataFrame,
    groups,
    features: tuple[str, ...],
    model_version: int,
) -> None:
    """Store a version's segment thresholds and its training days' segment values; the caller's
    transaction (the registration) makes it all or nothing."""
    table, values = thresholds(training_rows, segmented(groups, features), model_version)
    ensure_schema(connection)
    for name, rows in ((THRESHOLDS_TABLE, table), (DAILY_TABLE, values)):
        connection.register("new_rows", rows)
        try:
            connection.sql(f"insert into {name} by name select * from new_rows")
        finally:
            connection.unregister("new_rows")
