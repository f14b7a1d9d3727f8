"""One small training harness for every experiment: seeded, resumable, and the same
code under `torchrun` (DistributedDataParallel). An experiment supplies four things:

    model      a torch module (experiments.models.tiny_model builds them)
    dataset    any sequence of examples (a list is fine)
    objective  collate(examples, generator) -> batch;  loss(model, batch) -> terms
    config     TrainConfig(steps=..., batch_size=..., learning_rate=..., seed=...)

and calls `train(model, dataset, objective, config, run_dir)`. The objective builds
its batch with the snippets' own batch builders, drawing every random choice from
the `generator` it is handed, and returns its loss as named `Term(total, count)`: a
sum over this process's prediction targets and their number. The harness divides by
the number of targets over all processes, so a loss is the same mean whether the
global batch runs in one process or many.

What the harness does, so that no experiment has to:

- **Seeds everything.** Model initialisation is the caller's (`tiny_model` seeds
  it); the data order comes from `DistributedSampler(seed=config.seed)`; the
  collator's generator and the global torch RNG (dropout) are reseeded at every step
  from (seed, step, rank). A run is a pure function of its config, and a resumed run
  is the uninterrupted run.
- **Shows progress** with tqdm: the loss and the tokens per second.
- **Logs metrics** to `run_dir/metrics.json`: the config, the loss every `log_every`
  steps, the evaluations, and a summary with tokens/s, the collator's share of a
  step, the peak RSS.
- **Stays small**: the peak RSS is logged, and glibc's heap is kept from growing
  with every differently sized batch (`limit_heap_growth`).
- **Checkpoints and resumes.** `run_dir/checkpoint.pt` is written every
  `checkpoint_every` steps and when the run is interrupted (Ctrl-C or SIGTERM stop
  it after the current step). Rerunning the same command with the same config
  resumes from it; a finished run or a changed config starts afresh (or, with
  `reuse_finished=True`, a finished run is loaded).
- **Scales out** on PyTorch's own engine: under `torchrun --nproc_per_node=N` each
  process takes `batch_size / N` examples of every global batch
  (DistributedSampler), gradients are averaged by DistributedDataParallel (gloo on
  CPU, nccl on CUDA), and only rank 0 logs, evaluates and writes files.

A dataset with a `set_epoch(epoch)` method (RoBERTa's `DynamicMasking`) is told the
epoch whenever one starts, as the sampler is, also after a resume.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler

COLLATE_BUDGET = 0.05  # the collator may take at most 5% of a training step


class Term(NamedTuple):
    """One loss term on this process: the sum over its targets, and their number."""

    total: torch.Tensor
    count: torch.Tensor | int


class Objective(Protocol):
    def collate(
        self, examples: list, generator: torch.Generator
    ) -> dict[str, torch.Tensor]:
        """Build one batch (on the CPU) from a list of examples."""
        ...

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor]
    ) -> dict[str, Term]:
        """Named loss terms; the training loss is the sum of their global means."""
        ...


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: int
    batch_size: int  # global: over all processes together
    learning_rate: float = 1e-3
    warmup_steps: int = (
        0  # linear warm-up, then linear decay to 0 (BERT's schedule)
    )
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 100
    eval_every: int = 0  # 0: evaluate once, at the end
    identity: str = (
        ""  # what else the run depends on (data, model): a change starts afresh
    )


@dataclasses.dataclass
class RunResult:
    model: nn.Module  # the trained model (unwrapped from DDP)
    history: list[dict]  # one row per logged step
    evals: list[dict]  # one row per evaluation
    summary: dict  # tokens/s, collator share, peak RSS, wall time, ...


class Interrupted(KeyboardInterrupt):
    """Raised after a stop request (Ctrl-C, SIGTERM), once a checkpoint is saved."""


# ---- processes ----


@dataclasses.dataclass(frozen=True)
class Process:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_process() -> Process:
    """This process's place: a torchrun worker, or the only process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return Process(rank, world_size, device)


def finish() -> None:
    """Leave the process group, if torchrun's processes started one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def seed_for(seed: int, *parts: object) -> int:
    """A 63-bit seed derived from `seed` and any labels (step, rank, purpose)."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed % 2**32)
    except ImportError:
        pass


def learning_rate(config: TrainConfig, step: int) -> float:
    """BERT's schedule at `step` (0-based): linear warm-up, then decay to 0."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    remaining = config.steps - step
    return (
        config.learning_rate
        * remaining
        / max(config.steps - config.warmup_steps, 1)
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def limit_heap_growth(threshold: int = 1 << 20) -> bool:
    """Serve allocations of `threshold` bytes or more from mmap, on glibc.

    glibc raises its mmap threshold each time a large block is freed, up to
    32 MB; after that, the logits of every step (their row count changes with
    the number of masked tokens) are carved from the heap, which fragments and
    grows: a 400-step run reached 1.9 GB instead of 0.5 GB. A fixed threshold
    turns that off. Elsewhere this does nothing and returns False."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-3, threshold))  # -3: M_MMAP_THRESHOLD
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False


# ---- files ----


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def _fingerprint(config: TrainConfig, model: nn.Module, world_size: int) -> str:
    model_config = getattr(model, "config", None)
    described = {
        "train": dataclasses.asdict(config),
        "model": model_config.to_dict()
        if model_config is not None
        else repr(model),
        "world_size": world_size,
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_checkpoint(run_dir: Path | str) -> dict | None:
    path = Path(run_dir) / "checkpoint.pt"
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


# ---- the loop ----


class _StopRequest:
    """Turns Ctrl-C and SIGTERM into a request to stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: dict[int, Any] = {}

    def __enter__(self):
        if hasattr(signal, "SIGTERM") and _main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nstopping after this step and writing a checkpoint "
            "(press Ctrl-C again to stop at once)",
            file=sys.stderr,
        )

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


class _Forward(nn.Module):
    """The model and its objective's loss as one module, for DDP to wrap."""

    def __init__(self, model: nn.Module, objective: Objective) -> None:
        super().__init__()
        self.model = model
        self.objective = objective

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, Term]:
        return self.objective.loss(self.model, batch)


def _agreed(flag: bool, process: Process) -> bool:
    """True if any process raised `flag`: all of them then stop at the same step."""
    if process.world_size == 1:
        return flag
    shared = torch.tensor([float(flag)], device=process.device)
    dist.all_reduce(shared)
    return bool(shared.item())


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum())
    return int(batch["input_ids"].numel())


def train(
    model: nn.Module,
    dataset: Sequence,
    objective: Objective,
    config: TrainConfig,
    run_dir: Path | str,
    *,
    evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
    name: str = "train",
    reuse_finished: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> RunResult:
    """Train `model` on `dataset` with `objective` (see the module docstring)."""
    process = init_process()
    limit_heap_growth()
    run_dir = Path(run_dir)
    if process.world_size > 1 and config.batch_size % process.world_size:
        raise ValueError(
            f"batch_size={config.batch_size} must be divisible by the number of "
            f"processes ({process.world_size})"
        )
    local_batch = config.batch_size // process.world_size
    sampler = DistributedSampler(
        dataset,
        num_replicas=process.world_size,
        rank=process.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=True,
    )
    steps_per_epoch = len(sampler) // local_batch
    if steps_per_epoch == 0:
        raise ValueError(
            f"the dataset has {len(dataset)} examples, fewer than one global batch "
            f"({config.batch_size})"
        )

    seed_everything(config.seed)
    model.to(process.device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.learning_rate,
    )

    fingerprint = _fingerprint(config, model, process.world_size)
    history: list[dict] = []
    evals: list[dict] = []
    window: dict[str, list[float]] = {}  # the losses since the last logged step
    window_tokens, start = 0, 0
    saved = load_checkpoint(run_dir)
    if saved is not None and saved["fingerprint"] == fingerprint:
        if not saved["finished"] or reuse_finished:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            start, history, evals = saved["step"], saved["history"], saved["evals"]
            window, window_tokens = saved["window"], saved["window_tokens"]
            if process.is_main and start < config.steps:
                print(
                    f"{name}: resuming from step {start} ({run_dir})",
                    file=sys.stderr,
                )
    if process.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)

    forward: nn.Module = _Forward(model, objective)
    if process.world_size > 1:
        # DDP runs the whole forward pass, the objective's loss included; a static
        # graph lets an objective leave some heads (NSP, pooler) unused
        forward = nn.parallel.DistributedDataParallel(
            forward,
            device_ids=[process.device.index]
            if process.device.type == "cuda"
            else None,
            static_graph=True,
        )

    def save(step: int, finished: bool) -> None:
        if process.is_main:
            state = {
                "fingerprint": fingerprint,
                "step": step,
                "finished": finished,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
                "evals": evals,
                "window": window,
                "window_tokens": window_tokens,
            }
            tmp = run_dir / "checkpoint.pt.tmp"
            torch.save(state, tmp)
            tmp.replace(run_dir / "checkpoint.pt")
            write_metrics(step, summary=None)

    def write_metrics(step: int, summary: dict | None) -> None:
        _write_json(
            run_dir / "metrics.json",
            {
                "name": name,
                "config": dataclasses.asdict(config),
                "world_size": process.world_size,
                "step": step,
                "history": history,
                "evals": evals,
                "summary": summary,  # null until the run has finished
            },
        )

    def run_eval(step: int) -> None:
        if evaluate is not None and process.is_main:
            model.eval()
            with torch.no_grad():
                result = evaluate(model)
            model.train()
            evals.append({"step": step, **result})
        if process.world_size > 1:
            dist.barrier()

    timing = {"collate_s": 0.0, "compute_s": 0.0, "steps": 0, "tokens": 0}
    window_start = time.perf_counter()
    wall_start = time.perf_counter()
    progress = _progress(config.steps, start, name, disabled=not process.is_main)
    model.train()
    step, epoch, order = start, -1, []
    with _StopRequest() as stop:
        while step < config.steps:
            if _agreed(stop.requested, process):
                if step > start:
                    save(step, finished=False)
                progress.close()
                raise Interrupted(
                    f"{name}: stopped at step {step}; rerun the same command to "
                    f"resume from {run_dir / 'checkpoint.pt'}"
                )
            if step // steps_per_epoch != epoch:
                epoch = step // steps_per_epoch
                sampler.set_epoch(epoch)
                if hasattr(dataset, "set_epoch"):  # e.g. fresh masks per epoch
                    dataset.set_epoch(epoch)
                # this process's share of the epoch's permutation
                order = list(sampler)
            position = step % steps_per_epoch
            indices = order[position * local_batch : (position + 1) * local_batch]
            torch.manual_seed(seed_for(config.seed, "torch", step, process.rank))
            generator = torch.Generator().manual_seed(
                seed_for(config.seed, "collate", step, process.rank)
            )

            t0 = time.perf_counter()
            batch = objective.collate([dataset[i] for i in indices], generator)
            t1 = time.perf_counter()
            batch = _to(batch, process.device)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            terms = forward(batch)
            names = sorted(terms)
            # one all-reduce: each term's number of targets, and the tokens
            shared = torch.tensor(
                [float(terms[k].count) for k in names]
                + [float(_batch_tokens(batch))],
                dtype=torch.float64,
                device=process.device,
            )
            if process.world_size > 1:
                dist.all_reduce(shared)
            counts = shared[: len(names)].clamp(min=1)
            # this process's sum over all processes' target count; DDP averages the
            # gradients over processes, hence the factor world_size
            loss = sum(
                terms[k].total * (process.world_size / counts[i].item())
                for i, k in enumerate(names)
            )
            loss.backward()
            if config.max_grad_norm:
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if process.device.type == "cuda":
                torch.cuda.synchronize(process.device)
            t2 = time.perf_counter()
            step += 1

            means = torch.stack([terms[k].total.detach().float() for k in names])
            if process.world_size > 1:
                dist.all_reduce(means)
            means = (means / counts.float()).tolist()
            for k, value in zip(names, means, strict=True):
                window.setdefault(k, []).append(value)
            window.setdefault("loss", []).append(sum(means))
            tokens = int(shared[len(names)].item())
            timing["collate_s"] += t1 - t0
            timing["compute_s"] += t2 - t1
            timing["steps"] += 1
            timing["tokens"] += tokens
            window_tokens += tokens
            progress.update(1)

            if step % config.log_every == 0 or step == config.steps:
                elapsed = time.perf_counter() - window_start
                row = {"step": step, "lr": learning_rate(config, step - 1)}
                row |= {k: sum(v) / len(v) for k, v in window.items()}
                row["tokens_per_s"] = window_tokens / max(elapsed, 1e-9)
                history.append(row)
                progress.set_postfix(
                    loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:,.0f}"
                )
                window, window_tokens = {}, 0
                window_start = time.perf_counter()
            if (
                config.eval_every
                and step % config.eval_every == 0
                and step < config.steps
            ):
                run_eval(step)
            if on_step is not None:
                on_step(step)
            if step % config.checkpoint_every == 0:
                save(step, finished=False)
    progress.close()
    if not evals or evals[-1]["step"] != step:
        run_eval(step)
    save(step, finished=True)
    if process.world_size > 1:  # every process returns rank 0's evaluations
        shared_evals = [evals]
        dist.broadcast_object_list(shared_evals, src=0)
        evals = shared_evals[0]

    summary = _summary(timing, time.perf_counter() - wall_start, process)
    if process.is_main:
        write_metrics(step, summary)
        if timing["steps"]:
            _print_summary(name, summary)
    return RunResult(model, history, evals, summary)


def _progress(total: int, initial: int, name: str, *, disabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=name,
        disable=disabled,
        dynamic_ncols=True,
    )


def _summary(timing: dict, wall_s: float, process: Process) -> dict:
    steps = timing["steps"]
    step_s = timing["collate_s"] + timing["compute_s"]
    return {
        "steps_run": steps,
        "wall_s": wall_s,
        "tokens_per_s": timing["tokens"] / step_s if step_s else math.nan,
        "collate_ms_per_step": 1000 * timing["collate_s"] / steps if steps else 0.0,
        "step_ms": 1000 * step_s / steps if steps else 0.0,
        "collate_share": timing["collate_s"] / step_s if step_s else 0.0,
        "peak_rss_mb": peak_rss_mb(),
        "world_size": process.world_size,
        "device": str(process.device),
        "torch_threads": torch.get_num_threads(),
    }


def _print_summary(name: str, s: dict) -> None:
    verdict = "within" if s["collate_share"] <= COLLATE_BUDGET else "OVER"
    print(
        f"{name}: {s['steps_run']} steps, {s['tokens_per_s']:,.0f} tokens/s, "
        f"{s['step_ms']:.0f} ms per step; collator "
        f"{s['collate_ms_per_step']:.1f} ms "
        f"= {100 * s['collate_share']:.1f}% of a step ({verdict} the "
        f"{100 * COLLATE_BUDGET:.0f}% budget); peak RSS {s['peak_rss_mb']:,.0f} MB",
        file=sys.stderr,
    )
