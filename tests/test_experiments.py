"""The experiments run end to end on tiny sizes, and the committed results
are theirs."""

import json
import math

import pytest
import torch

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


def test_albert_sop_quick_runs_end_to_end_and_its_losses_fall(tmp_path):
    from experiments import albert_sop

    results = albert_sop.main(
        ["--quick", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]
    )
    written = json.loads((tmp_path / "albert_sop.json").read_text())
    assert written == json.loads(json.dumps(results))
    assert set(written) >= {
        "settings",
        "paper",
        "data",
        "runs",
        "verdict",
        "machine",
        "wall_s",
    }
    for arm in ("nsp", "sop"):
        run = written["runs"][arm]
        assert set(run["eval"]) >= {"nsp", "sop", "mlm", "step"}
        for task in ("nsp", "sop", "mlm"):
            assert 0 <= run["eval"][task]["accuracy"] <= 100
            assert run["eval"][task]["n"] > 0
        history = run["history"]
        assert history[-1]["loss"] < history[0]["loss"]  # training loss falls
        summary = run["summary"]
        assert {"tokens_per_s", "collate_share", "peak_rss_mb"} <= set(summary)
    assert set(written["verdict"]) == {
        "nsp_model_learned_nsp",
        "sop_model_learned_sop",
        "nsp_model_at_chance_on_sop",
        "sop_model_above_chance_on_nsp",
        "sop_model_beats_nsp_model_on_sop",
        "direction_reproduces",
    }
    table = (tmp_path / "_albert_sop_table.md").read_text()
    assert table.startswith("| Pre-trained with |") and "(paper 86.5)" in table
    assert (tmp_path / "albert_sop.svg").read_text().startswith("<?xml")


def test_the_runner_knows_every_experiment_and_rejects_others(capsys):
    from experiments.__main__ import EXPERIMENTS, main

    for name in EXPERIMENTS:
        module = __import__(f"experiments.{name}", fromlist=["main"])
        assert callable(module.main)
    with pytest.raises(SystemExit):
        main(["no_such_experiment"])
    assert "unknown experiment" in capsys.readouterr().err


def test_committed_albert_results_are_what_the_page_says():
    from experiments import albert_sop

    generated = ROOT / "docs/assets/generated"
    results = json.loads((generated / "albert_sop.json").read_text())
    # the page's table is the experiment's own rendering of the committed JSON
    assert (generated / "_albert_sop_table.md").read_text() == albert_sop.table(
        results
    )
    page = (ROOT / "docs/architecture/_albert_sop_experiment.md").read_text()
    assert '--8<-- "docs/assets/generated/_albert_sop_table.md"' in page
    # "nothing is learned to compare": no head beats its majority class, each
    # gives one answer to every pair, and the pair losses stay at ln 2
    verdict = results["verdict"]
    assert not verdict["direction_reproduces"]
    assert not verdict["nsp_model_learned_nsp"]
    assert not verdict["sop_model_learned_sop"]
    for arm in albert_sop.ARMS:
        run = results["runs"][arm]
        for task in albert_sop.ARMS:
            assert run["eval"][task]["answered_1"] in (0.0, 100.0)
        assert abs(run["history"][-1]["pair"] - math.log(2)) < 0.02
        assert round(run["eval"]["mlm"]["accuracy"]) == 8  # "8%"
        assert run["summary"]["peak_rss_mb"] < 2048
    s = results["settings"]
    assert (s["steps"], s["batch_size"], s["max_length"]) == (400, 32, 128)
    assert 125_000 * 4096 * 512 // (400 * 32 * 128) == 160_000  # "160,000 times"


def test_spanbert_masking_quick_runs_end_to_end_and_its_losses_fall(tmp_path):
    from experiments import spanbert_masking

    results = spanbert_masking.main(
        ["--quick", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]
    )
    written = json.loads((tmp_path / "spanbert_masking.json").read_text())
    assert written == json.loads(json.dumps(results))
    assert set(written) >= {"settings", "paper", "data", "runs", "verdict"}
    assert set(written) >= {"machine", "wall_s"}
    assert set(written["runs"]) == set(spanbert_masking.ARMS)
    for arm, run in written["runs"].items():
        ours = run["eval"]
        for probe in ("span_tokens", "span_exact", "token_probe"):
            assert 0 <= ours[probe]["accuracy"] <= 100 and ours[probe]["n"] > 0
        assert math.isfinite(ours["span_loss"]["loss"])
        assert ("sbo_head_span_tokens" in ours) == (arm == "span_sbo")
        history = run["history"]
        assert history[-1]["mlm"] < history[0]["mlm"]  # training loss falls
        # every arm predicts its share of the tokens: the budgets are equal
        assert abs(run["masked_share"] - 15) < 1.5
        assert {"tokens_per_s", "collate_share", "peak_rss_mb"} <= set(
            run["summary"]
        )
    assert "direction_reproduces" in written["verdict"]
    table = (tmp_path / "_spanbert_masking_table.md").read_text()
    assert table.startswith("| Pre-trained with |") and "79.0" in table
    assert (tmp_path / "spanbert_masking.svg").read_text().startswith("<?xml")


def test_t5_objectives_quick_runs_end_to_end_and_its_losses_fall(tmp_path):
    from experiments import t5_objectives

    results = t5_objectives.main(
        ["--quick", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]
    )
    written = json.loads((tmp_path / "t5_objectives.json").read_text())
    assert written == json.loads(json.dumps(results))
    assert set(written) >= {"settings", "paper", "data", "runs", "verdict"}
    assert set(written) >= {"machine", "wall_s"}
    assert set(written["runs"]) == set(t5_objectives.ARMS)
    settings = t5_objectives.Settings(**written["settings"])
    rows = [list(range(5, 5 + settings.length))] * 3
    for arm, run in written["runs"].items():
        # the reported lengths are the ones the collator builds
        objective = t5_objectives.Denoising(arm, 8000, settings)
        batch = objective.collate(rows, torch.Generator().manual_seed(0))
        assert run["lengths"] == {
            "inputs": batch["input_ids"].shape[1],
            "targets": batch["labels"].shape[1],
        }
        ours = run["eval"]
        assert math.isfinite(ours["loss_per_target_token"])
        assert math.isfinite(ours["loss_per_corrupted_token"])
        assert ours["corrupted_accuracy"]["n"] > 0
        assert run["timing"]["step_ms"] > 0 and run["text_tokens_per_s"] > 0
        history = run["history"]
        assert history[-1]["denoise"] < history[0]["denoise"]  # loss falls
    targets = [written["runs"][a]["lengths"]["targets"] for a in t5_objectives.ARMS]
    assert targets == sorted(targets, reverse=True)  # BERT-style longest
    table = (tmp_path / "_t5_objectives_table.md").read_text()
    assert table.startswith("| Objective |") and "83.49" in table
    assert (tmp_path / "t5_objectives.svg").read_text().startswith("<?xml")
