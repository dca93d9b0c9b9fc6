"""The benchmark suite's smallest configuration runs, reports every figure, and derives its ratios and
targets from what it measured (not the values themselves: timings vary)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.run_all import PEAK_STAGES, ROWS

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quick_suite_reports_every_figure(tmp_path):
    output = tmp_path / "quick.json"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "run_all.py"), "--quick",
         "--json", str(output), "--workdir", str(tmp_path / "work")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    report = json.loads(output.read_text())
    scale = report["scales"]["1"]
    # --quick leaves out the main job (it alone takes minutes); it must say so, with a reason.
    assert scale["skipped"].keys() == {"main_job"}, scale["skipped"]
    main_job_figures = {name for name, stage, *_ in ROWS if stage == "main_job"}
    for name, _stage, _key, _unit, _label in ROWS:
        if name in main_job_figures:
            assert name not in scale["figures"]
            continue
        figure = scale["figures"].get(name)
        assert figure is not None, f"figure {name} missing"
        assert set(figure) == {"median", "min", "max", "n"} and figure["n"] == 1
    for stage in PEAK_STAGES:
        assert stage == "main_job" or scale["peak_rss_mib"].get(stage, 0) > 0, f"no peak memory for {stage}"
    assert {c["target"] for c in report["targets"] if c["scale"] == "1"} >= {
        "snapshot build within 1.2x of hand-written ASOF query",
        "batch scoring (one day) within 1.2x of predict_proba",
    }
    assert all(c["status"] in {"PASS", "FAIL", "NOT RUN"} for c in report["targets"])

    # Derived figures are computed from the measured ones (one repeat: the median is the value).
    def value(name: str) -> float:
        return scale["figures"][name]["median"]

    assert value("snapshot_ratio") == pytest.approx(value("snapshot_s") / value("hand_written_s"))
    assert value("scoring_day_ratio") == pytest.approx(value("scoring_day_s") / value("predict_day_s"))
    assert value("scoring_year_ratio") == pytest.approx(value("scoring_year_s") / value("predict_year_s"))
    assert value("day_over_full") == pytest.approx(value("feature_day_s") / value("feature_full_s"))
    assert value("warm_day_over_full") == pytest.approx(value("feature_day_warm_s") / value("feature_full_s"))
    assert value("feature_full_s") == pytest.approx(value("feature_full_ingest_s") + value("feature_full_dbt_s"))
    assert 0 < value("scoring_day_rows") < value("scoring_year_rows")
    for check in report["targets"]:
        if check["status"] != "NOT RUN":
            assert check["status"] == ("PASS" if check["value"] <= check["limit"] else "FAIL"), check
    assert report["markdown"].startswith("| stage | 1x |")

    # The printed table: one line per figure, the targets and the JSON path.
    for _name, _stage, _key, _unit, label in ROWS:
        assert label in completed.stdout, f"table row {label!r} not printed"
    assert "targets:" in completed.stdout
    assert f"JSON: {output}" in completed.stdout


def test_the_readme_performance_table_is_the_published_results():
    """The README's table is generated from the published JSON files it names (run_all.py --merge ... --readme)."""
    import re

    from benchmarks.runner import HEADLINE, README_END, README_START, markdown, merge_scales

    section = (REPO_ROOT / "README.md").read_text().split(README_START, 1)[1].split(README_END, 1)[0]
    sources = re.findall(r"`(benchmarks/published/[^`]+\.json)`", section)
    assert sources, "the README's table names no published results"
    scales = merge_scales([json.loads((REPO_ROOT / source).read_text())["scales"] for source in sources])
    assert markdown(scales, HEADLINE) in section


def test_a_later_run_of_some_stages_adds_its_figures_to_the_earlier_run_of_that_scale():
    from benchmarks.runner import merge_scales

    def run(figures, peaks, skipped):
        return {"figures": figures, "peak_rss_mib": peaks, "details": {}, "skipped": skipped}

    full = {"10": run({"full_s": {"median": 60}, "day_s": {"median": 5}}, {"feature_full": 2000, "feature_day": 900},
                      {"main_job": "not requested"})}
    main_only = {"10": run({"full_s": {"median": 56}, "main_job_s": {"median": 900}},
                           {"feature_full": 2500, "main_job": 12000}, {"feature_day": "not requested"}),
                 "100": run({"full_s": {"median": 700}}, {"feature_full": 18000}, {})}
    merged = merge_scales([full, main_only])
    assert list(merged) == ["10", "100"]
    assert merged["10"]["figures"] == {"full_s": {"median": 56}, "day_s": {"median": 5}, "main_job_s": {"median": 900}}
    assert merged["10"]["peak_rss_mib"] == {"feature_full": 2500, "feature_day": 900, "main_job": 12000}
    assert merged["10"]["skipped"] == {}
