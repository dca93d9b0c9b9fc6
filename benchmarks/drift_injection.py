"""Drift alarms on the main job's warehouse: alarms per feature-day, and how soon injected shifts alarm.

    python benchmarks/drift_injection.py [--warehouse data/warehouse.duckdb] [--shift-day 2013-12-16]

Reads (read-only) the champion's stored bins, training-day counts and thresholds, and the days it
scored (inference.scored_features); injects each shift into the scored rows from --shift-day on and
recomputes the PSI the way monitoring.mon_feature_drift does (stateful/feature_baselines.py, checked
against that model by tests/inference_pipeline/test_monitoring_metrics.py). Prints per injection the
first alarm it caused (a day that alarms shifted and not unshifted) and the delay in days (0: on the
first shifted day).
"""

import argparse
import datetime as dt

import duckdb
import numpy as np
import pandas as pd

from fti_assets import settings
from fti_assets.stateful import feature_baselines

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


def alarms(
    rows: pd.DataFrame, bins: pd.DataFrame, training_daily: pd.DataFrame, thresholds: pd.DataFrame
) -> pd.DataFrame:
    scored_daily = feature_baselines.daily_bins(rows, bins)
    training_daily = training_daily[~training_daily["day"].isin(set(scored_daily["day"]))]
    psi = feature_baselines.trailing_psi(pd.concat([training_daily, scored_daily], ignore_index=True))
    psi = psi[psi["day"].isin(set(scored_daily["day"]))].merge(thresholds, on="feature")
    return psi.assign(is_alarm=psi["psi"] > psi["threshold"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warehouse", default=str(settings.warehouse_path()))
    parser.add_argument("--shift-day", type=dt.date.fromisoformat, default=dt.date(2013, 12, 16))
    args = parser.parse_args()
    with duckdb.connect(args.warehouse, read_only=True) as connection:
        version = connection.execute("select max(model_version) from inference.feature_drift_thresholds").fetchone()[0]
        thresholds = connection.execute(
            "select feature, threshold from inference.feature_drift_thresholds where model_version = ?", [version]
        ).df()
        bins = connection.execute("select * from inference.feature_baselines where model_version = ?", [version]).df()
        bins = bins[bins["feature"].isin(thresholds["feature"])]
        training_daily = connection.execute(
            "select * from inference.feature_daily_bins where model_version = ?", [version]
        ).df()
        training_daily["day"] = pd.to_datetime(training_daily["day"]).dt.date
        rows = connection.execute(
            "select s.*, p.origin, p.dest from inference.scored_features s "
            "join features.flight_spine_v1 p using (flight_id) where s.model_version = ?", [version]
        ).df()
        stored = connection.execute(
            "select count(*), count(*) filter (where is_alarm) "
            "from monitoring.mon_feature_drift where model_version = ?",
            [version],
        ).fetchone()
    ordinary = alarms(rows, bins, training_daily, thresholds)
    print(f"model version {version}: monitoring.mon_feature_drift {stored[1]}/{stored[0]} feature-days alarm; "
          f"recomputed here {int(ordinary['is_alarm'].sum())}/{len(ordinary)}")
    print(ordinary[ordinary["is_alarm"]][["day", "feature", "psi", "threshold"]].to_string(index=False))
    after = pd.to_datetime(rows["scheduled_dep_date"]).dt.date >= args.shift_day
    for name, (feature, shift) in INJECTIONS.items():
        shifted = rows.copy()
        shifted.loc[after, feature] = shift(shifted[after])
        checked = alarms(shifted, bins, training_daily, thresholds)
        # Alarms the shift caused: the unshifted day did not alarm.
        caused = checked.merge(ordinary, on=["day", "feature"], suffixes=("", "_unshifted"))
        fired = caused[
            (caused["feature"] == feature)
            & caused["is_alarm"]
            & ~caused["is_alarm_unshifted"]
            & (caused["day"] >= args.shift_day)
        ]
        first = fired["day"].min() if len(fired) else None
        on_day = checked[(checked["feature"] == feature) & (checked["day"] == args.shift_day)].iloc[0]
        unshifted = ordinary[(ordinary["feature"] == feature) & (ordinary["day"] == args.shift_day)].iloc[0]
        delay = (first - args.shift_day).days if first else "never"
        print(
            f"{name}: first alarm {first} (delay {delay}); shift day psi {on_day['psi']:.3f} "
            f"(unshifted {unshifted['psi']:.3f}) vs threshold {on_day['threshold']:.3f}"
        )


if __name__ == "__main__":
    main()
