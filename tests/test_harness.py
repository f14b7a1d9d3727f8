"""The training harness: seeded, resumable after an interrupt, and the same
training under torchrun with two CPU processes as in one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from harness_worker import StaticMaskObjective, build, config, dataset

from experiments import harness
from helpers import ROOT

# Two processes average their gradients in another order than one process sums
# them: float32 rounding, amplified a little by Adam over a few steps.
DDP_ATOL = 1e-5


def _train(run_dir, steps=6, dropout=0.1, **kwargs):
    model = build(dropout)
    result = harness.train(
        model, dataset(), StaticMaskObjective(), config(steps), run_dir, **kwargs
    )
    return model, result


def _losses(history):
    return [
        {k: v for k, v in row.items() if k != "tokens_per_s"} for row in history
    ]


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path):
    # dropout on: the resumed run must also replay the random streams
    straight, straight_result = _train(tmp_path / "straight")

    def interrupt(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    with pytest.raises(harness.Interrupted, match="step 3"):
        _train(tmp_path / "resumed", on_step=interrupt)
    saved = harness.load_checkpoint(tmp_path / "resumed")
    assert saved["step"] == 3 and not saved["finished"]
    resumed, resumed_result = _train(tmp_path / "resumed")
    assert resumed_result.summary["steps_run"] == 3
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert _losses(resumed_result.history) == _losses(straight_result.history)


def test_runs_are_seeded_and_log_every_metric(tmp_path):
    first, result = _train(tmp_path / "a", steps=4, evaluate=lambda m: {"x": 1.0})
    second, _ = _train(tmp_path / "b", steps=4)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert [row["step"] for row in metrics["history"]] == [1, 2, 3, 4]
    assert {"loss", "mlm", "pair", "lr", "tokens_per_s"} <= set(
        metrics["history"][0]
    )
    assert metrics["evals"] == [{"step": 4, "x": 1.0}]
    summary = metrics["summary"]
    for key in ("tokens_per_s", "collate_share", "peak_rss_mb", "step_ms"):
        assert summary[key] > 0
    assert result.summary == summary


def test_a_finished_run_is_rerun_unless_reuse_is_asked(tmp_path):
    _train(tmp_path, steps=2)
    _, again = _train(tmp_path, steps=2)
    assert again.summary["steps_run"] == 2
    _, reused = _train(tmp_path, steps=2, reuse_finished=True)
    assert reused.summary["steps_run"] == 0 and len(reused.history) == 2


class _EpochAware(list):
    """A dataset that records the epochs it is told (as DynamicMasking is)."""

    def __init__(self, examples: list) -> None:
        super().__init__(examples)
        self.epochs: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epochs.append(epoch)


def test_a_dataset_is_told_each_epoch_also_after_a_resume(tmp_path):
    # 64 examples in batches of 8: epoch e is steps 8e to 8e + 7
    def interrupt(step):
        if step == 11:
            os.kill(os.getpid(), signal.SIGINT)

    data = _EpochAware(dataset())
    with pytest.raises(harness.Interrupted, match="step 11"):
        harness.train(
            build(),
            data,
            StaticMaskObjective(),
            config(20),
            tmp_path,
            on_step=interrupt,
        )
    assert data.epochs == [0, 1]
    data = _EpochAware(dataset())
    harness.train(build(), data, StaticMaskObjective(), config(20), tmp_path)
    assert data.epochs == [1, 2]  # the resumed epoch first


def test_the_schedule_warms_up_then_decays_to_zero():
    c = harness.TrainConfig(
        steps=10, batch_size=1, learning_rate=1.0, warmup_steps=2
    )
    lrs = [harness.learning_rate(c, s) for s in range(10)]
    assert lrs[:3] == [0.5, 1.0, 1.0] and lrs[-1] == pytest.approx(1 / 8)
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False))


def test_two_torchrun_processes_train_like_one(tmp_path):
    steps = 4
    single = build()
    harness.train(
        single, dataset(), StaticMaskObjective(), config(steps), tmp_path / "one"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    worker = ROOT / "tests" / "harness_worker.py"
    command = [
        *(sys.executable, "-m", "torch.distributed.run"),
        *("--standalone", "--nproc_per_node=2"),
        *(str(worker), str(tmp_path / "two"), "--steps", str(steps)),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    two = torch.load(tmp_path / "two" / "params.pt")
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    worst = max(
        (value - two[key]).abs().max().item()
        for key, value in single.state_dict().items()
    )
    moved = max(
        (value - build().state_dict()[key]).abs().max().item()
        for key, value in single.state_dict().items()
    )
    assert moved > 100 * DDP_ATOL  # training did change the parameters
    assert worst <= DDP_ATOL


def test_the_heap_limit_is_set_where_glibc_is(monkeypatch):
    if sys.platform.startswith("linux"):
        assert harness.limit_heap_growth() in (True, False)  # glibc or musl
    monkeypatch.setattr(sys, "platform", "darwin")
    assert harness.limit_heap_growth() is False
