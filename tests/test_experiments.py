"""The experiments run end to end on tiny sizes, and the committed results are theirs."""

import json

import pytest

from experiments import ernie_continual
from helpers import ROOT


def test_ernie_experiment_runs_and_writes_its_outputs(tmp_path):
    ernie_continual.main(["--steps-per-task", "30", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "ernie_continual.json").read_text())
    assert set(results["runs"]) == {
        "sequential",
        "continual multi-task (ERNIE 2.0)",
        "joint multi-task",
    }
    for run in results["runs"].values():
        assert len(run["steps"]) == len(next(iter(run["accuracy"].values())))
    assert (tmp_path / "ernie_continual.svg").read_text().startswith("<?xml")


def test_committed_ernie_results_show_what_the_page_says():
    results = json.loads(
        (ROOT / "docs/assets/generated/ernie_continual.json").read_text()
    )
    final = {
        name: [acc[-1] for acc in run["accuracy"].values()]
        for name, run in results["runs"].items()
    }
    first_task = results["tasks"][0]
    seq = results["runs"]["sequential"]["accuracy"][first_task]
    assert max(seq) > 0.95 and seq[-1] < 0.8  # sequential training forgot task 0
    assert (
        min(final["continual multi-task (ERNIE 2.0)"]) > 0.95
    )  # the ERNIE schedule kept every task


def test_compression_table_runs_and_the_committed_table_has_every_variant(
    monkeypatch, tmp_path
):
    from experiments import compression_table

    monkeypatch.setattr(
        compression_table,
        "CONFIG",
        dict(
            vocab_size=200,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        ),
    )
    compression_table.main(["--repeats", "1", "--out", str(tmp_path)])
    fresh = json.loads((tmp_path / "compression_table.json").read_text())
    committed = json.loads(
        (ROOT / "docs/assets/generated/compression_table.json").read_text()
    )
    variants = [
        "fp32",
        "pruned 30%",
        "pruned 50%",
        "pruned 70%",
        "int8 dynamic",
        "bf16 autocast",
    ]
    for results in (fresh, committed):
        assert [r["variant"] for r in results["rows"]] == variants
        assert results["machine"]["cpu"] and results["machine"]["torch"]
    pruned = {
        r["variant"]: r["sparsity"] for r in committed["rows"] if "sparsity" in r
    }
    assert pruned == pytest.approx(
        {"pruned 30%": 0.3, "pruned 50%": 0.5, "pruned 70%": 0.7}, abs=1e-3
    )
