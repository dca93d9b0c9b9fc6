"""Drift alarms on the main job's warehouse: alarms per feature-day, and how soon injected shifts alarm.

    python benchmarks/drift_injection.py [--warehouse data/warehouse.duckdb] [--shift-day 2013-12-16]

Reads (read-only) the latest scoring version's stored bins, training-day counts, segment values and
thresholds, and the days it scored (inference.scored_features); injects each shift into the scored
rows from --shift-day on and recomputes both checks the way monitoring.mon_feature_drift and
mon_segment_drift do (stateful/feature_baselines.py, stateful/segment_drift.py, checked against
those models by tests/inference_pipeline/test_monitoring_metrics.py). Prints the alarms per
feature-day (a feature-day alarms when either check does), then per injection the first alarm it
caused (a check that alarms shifted and not unshifted), which check, and the delay in days (0: on
the first shifted day).
"""

import argparse
import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from fti_assets import settings
from fti_assets.stateful import feature_baselines, segment_drift

INJECTIONS = {
    "EWR pressure +25 mb": ("pressure_mb", lambda r: r["pressure_mb"] + np.where(r["origin"] == "EWR", 25, 0)),
    "JFK temperature +30 F": ("temp_f", lambda r: r["temp_f"] + np.where(r["origin"] == "JFK", 30, 0)),
    "JFK-LAX route delays doubled": (
        "route_mean_arr_delay_minutes_7d",
        lambda r: r["route_mean_arr_delay_minutes_7d"] * np.where((r["origin"] == "JFK") & (r["dest"] == "LAX"), 2, 1),
    ),
    "all route delays doubled": ("route_mean_arr_delay_minutes_7d", lambda r: r["route_mean_arr_delay_minutes_7d"] * 2),
    "plane_seats missing": ("plane_seats", lambda r: r["plane_seats"] * np.nan),
}


def population_alarms(
    rows: pd.DataFrame, bins: pd.DataFrame, training_daily: pd.DataFrame, thresholds: pd.DataFrame
) -> pd.DataFrame:
    scored_daily = feature_baselines.daily_bins(rows, bins)
    training_daily = training_daily[~training_daily["day"].isin(set(scored_daily["day"]))]
    psi = feature_baselines.trailing_psi(pd.concat([training_daily, scored_daily], ignore_index=True))
    psi = psi[psi["day"].isin(set(scored_daily["day"]))].merge(thresholds, on="feature")
    return psi.assign(is_alarm=psi["psi"] > psi["threshold"])


def alarms(rows: pd.DataFrame, stored: dict) -> pd.DataFrame:
    """Every check's row per day and feature: `check` names it (population PSI, or the segment
    baseline and segment), `statistic` and `threshold` its figures."""
    population = population_alarms(rows, stored["bins"], stored["training_daily"], stored["thresholds"])
    segments = segment_drift.statistics(rows, stored["segment_thresholds"], stored["segment_values"])
    named = segments["baseline"] + " " + segments["segment"].fillna("")
    return pd.concat(
        [
            population.rename(columns={"psi": "statistic"}).assign(check="population psi"),
            segments.assign(check=named.str.strip(), is_alarm=segments["is_alarm"].eq(True)),
        ],
        ignore_index=True,
    )[["day", "feature", "check", "statistic", "threshold", "is_alarm"]]


def read_stored(connection: duckdb.DuckDBPyConnection, version: int) -> dict:
    def rows(sql: str) -> pd.DataFrame:
        frame = connection.execute(sql, [version]).df()
        if "day" in frame:
            frame["day"] = pd.to_datetime(frame["day"]).dt.date
        return frame

    thresholds = rows("select feature, threshold from inference.feature_drift_thresholds where model_version = ?")
    bins = rows("select * from inference.feature_baselines where model_version = ?")
    return {
        "thresholds": thresholds,
        "bins": bins[bins["feature"].isin(thresholds["feature"])],
        "training_daily": rows("select * from inference.feature_daily_bins where model_version = ?"),
        "segment_thresholds": rows("select * from inference.segment_drift_thresholds where model_version = ?"),
        "segment_values": rows("select * from inference.segment_daily_values where model_version = ?"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", default=str(settings.warehouse_path()))
    parser.add_argument("--shift-day", type=dt.date.fromisoformat, default=dt.date(2013, 12, 16))
    args = parser.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as connection:
        # The latest version that scored days with stored baselines (the intraday model scores
        # none in batch).
        version = connection.execute(
            "select max(model_version) from inference.feature_drift_thresholds "
            "where model_version in (select model_version from inference.scored_features)"
        ).fetchone()[0]
        stored = read_stored(connection, version)
        rows = connection.execute(
            "select s.*, p.carrier, p.origin, p.dest from inference.scored_features s "
            "join inference.predictions p using (flight_id, model_version) where s.model_version = ?", [version]
        ).df()
        population, segments = (
            connection.execute(
                f"select count(*), count(*) filter (where is_alarm) from monitoring.{model} where model_version = ?",
                [version],
            ).fetchone()
            for model in ("mon_feature_drift", "mon_segment_drift")
        )
    ordinary = alarms(rows, stored)
    by_feature_day = ordinary.groupby(["day", "feature"])["is_alarm"].any()
    print(
        f"model version {version}: {int(by_feature_day.sum())}/{len(by_feature_day)} feature-days alarm "
        f"(either check); stored mon_feature_drift {population[1]}/{population[0]}, "
        f"mon_segment_drift {segments[1]}/{segments[0]} rows; recomputed here "
        + ", ".join(f"{c} {int(g['is_alarm'].sum())}/{len(g)}" for c, g in ordinary.groupby(
            ordinary["check"].str.startswith("population").map({True: "population", False: "segment"})
        ))
    )
    print(ordinary[ordinary["is_alarm"]].sort_values(["day", "feature"]).to_string(index=False))
    after = pd.to_datetime(rows["scheduled_dep_date"]).dt.date >= args.shift_day
    for name, (feature, shift) in INJECTIONS.items():
        shifted = rows.copy()
        shifted.loc[after, feature] = shift(shifted[after])
        checked = alarms(shifted, stored)
        # Alarms the shift caused: the same check on the unshifted day did not alarm.
        caused = checked.merge(ordinary, on=["day", "feature", "check"], suffixes=("", "_unshifted"))
        fired = caused[
            (caused["feature"] == feature)
            & caused["is_alarm"]
            & ~caused["is_alarm_unshifted"]
            & (caused["day"] >= args.shift_day)
        ].sort_values(["day", "check"])
        first = fired.iloc[0] if len(fired) else None
        delay = (first["day"] - args.shift_day).days if first is not None else "never"
        detail = (
            f"{first['day']} by {first['check']} ({first['statistic']:.3g} vs threshold {first['threshold']:.3g})"
            if first is not None else "none"
        )
        print(f"{name}: first alarm {detail}; delay {delay}")


if __name__ == "__main__":
    main()
