"""Smoke test of the benchmark command: it runs end to end at tiny sizes and reports
every comparison. It asserts no timing: benchmarks are not tests."""

import json

from benchmarks.__main__ import BENCHES, main
from helpers import ROOT

EXPECTED_KEYS = {
    "xlnet": {"speedup", "memory_bytes"},
    "roberta": {
        "with_special_tokens_mask",
        "without_special_tokens_mask",
        "ours_over_floor",
        "peer_over_floor",
    },
    "t5": {"speedup"},
    "spanbert": {"speedup"},
    "distillation": {"speedup", "memory_ratio"},
    "site": {"build_seconds", "seconds_per_added_page", "growth_vs_linear"},
    "editloop": {"first_page_cold_seconds", "markdown_edit_median_seconds"},
}


def test_quick_run_reports_every_comparison(tmp_path):
    out = tmp_path / "results.json"
    main(["--quick", "--out", str(out)])
    results = json.loads(out.read_text())
    assert set(results["comparisons"]) == set(BENCHES) == set(EXPECTED_KEYS)
    for name, keys in EXPECTED_KEYS.items():
        assert keys <= set(results["comparisons"][name]), name
    assert results["machine"]["cpu"] and results["quick"] is True


def test_committed_results_are_a_full_run_with_every_comparison():
    results = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert results["quick"] is False
    assert set(results["comparisons"]) == set(EXPECTED_KEYS)
