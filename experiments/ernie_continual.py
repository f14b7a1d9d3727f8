"""Toy check of ERNIE 2.0's claim: continual multi-task training does not
forget, sequential training does.

Three synthetic sequence-classification tasks share one tiny encoder
(embeddings + task embedding + a small MLP over the mean of the token states),
each with its own output head. The encoder is trained three ways, with the same
number of steps per task:

- sequential: task 0, then task 1, then task 2 (continual learning without replay);
- continual multi-task: `ContinualMultiTaskSchedule` (ERNIE 2.0);
- joint: all tasks shuffled together from the first step (classic multi-task
  learning).

Each task's held-out accuracy is recorded as training goes on. The output is
docs/assets/generated/ernie_continual.{json,svg}.

    .venv/bin/python -m experiments ernie_continual [--quick]
    .venv/bin/python -m experiments.ernie_continual [--steps-per-task N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import nn

from experiments import cli
from snippets.ernie.continual_multitask import (
    ContinualMultiTaskSchedule,
    TaskEmbedding,
    joint_schedule,
    sequential_schedule,
)

OUT = cli.OUT
QUICK_OUT = cli.RUNS / "ernie-quick"
VOCAB, LENGTH, HIDDEN = 16, 10, 12
TASKS = [
    "contains token 0",
    "more small tokens than large",
    "first token < last token",
]


def make_data(
    n: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(0, VOCAB, (n, LENGTH), generator=generator)
    labels = torch.stack(
        [
            (x == 0).any(1),
            (x < VOCAB // 2).sum(1) > LENGTH // 2,
            x[:, 0] < x[:, -1],
        ],
        dim=1,
    ).long()  # [n, task]
    return x, labels


class SharedEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, HIDDEN)
        self.positions = nn.Embedding(LENGTH, HIDDEN)
        self.task_embedding = TaskEmbedding(len(TASKS), HIDDEN)
        self.mlp = nn.Sequential(nn.Linear(HIDDEN * 2, HIDDEN), nn.Tanh())
        self.heads = nn.ModuleList(nn.Linear(HIDDEN, 2) for _ in TASKS)

    def forward(self, x: torch.Tensor, task: int) -> torch.Tensor:
        h = self.task_embedding(self.tokens(x) + self.positions.weight, task)
        pooled = torch.cat(
            [h.mean(1), h[:, 0] - h[:, -1]], dim=-1
        )  # mean and an end-to-end contrast
        return self.heads[task](self.mlp(pooled))


def train(
    schedule: torch.Tensor,
    *,
    seed: int,
    eval_every: int,
    batch_size: int = 64,
    lr: float = 0.02,
) -> dict:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SharedEncoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    eval_x, eval_y = make_data(2000, torch.Generator().manual_seed(10_000 + seed))
    curves = {t: [] for t in range(len(TASKS))}
    checkpoints = []
    for step, task in enumerate(schedule.tolist()):
        x, y = make_data(batch_size, g)
        loss = nn.functional.cross_entropy(model(x, task), y[:, task])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % eval_every == 0 or step + 1 == len(schedule):
            with torch.no_grad():
                for t in range(len(TASKS)):
                    curves[t].append(
                        float(
                            (model(eval_x, t).argmax(-1) == eval_y[:, t])
                            .float()
                            .mean()
                        )
                    )
            checkpoints.append(step + 1)
    return {
        "steps": checkpoints,
        "accuracy": {TASKS[t]: c for t, c in curves.items()},
    }


def run(steps_per_task: int = 1500, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    n = len(TASKS)
    schedules = {
        "sequential": sequential_schedule(n, steps_per_task),
        "continual multi-task (ERNIE 2.0)": ContinualMultiTaskSchedule(
            TASKS, steps_per_task, generator=g
        ).steps(),
        "joint multi-task": joint_schedule(n, steps_per_task, generator=g),
    }
    eval_every = max(steps_per_task // 20, 1)
    return {
        "tasks": TASKS,
        "steps_per_task": steps_per_task,
        "seed": seed,
        "stage_boundaries": [steps_per_task * k for k in range(1, n)],
        "runs": {
            name: train(s, seed=seed, eval_every=eval_every)
            for name, s in schedules.items()
        },
    }


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot("ernie-continual")
    runs = results["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(12, 3.4), sharey=True)
    for ax, (name, run_) in zip(axes, runs.items(), strict=True):
        for task, acc in run_["accuracy"].items():
            ax.plot(run_["steps"], acc, label=task)
        for boundary in results["stage_boundaries"]:
            ax.axvline(boundary, color="grey", lw=0.6, ls=":")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylim(0.4, 1.02)
    axes[0].set_ylabel("held-out accuracy")
    axes[-1].legend(fontsize=8, loc="lower right")
    cli.save_svg(fig, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps-per-task", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--quick", action="store_true", help="30 steps per task, under .cache/"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.steps_per_task = 30
        if args.out == OUT:
            args.out = QUICK_OUT
    start = time.perf_counter()
    results = run(args.steps_per_task, args.seed)
    results["seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ernie_continual.json").write_text(
        json.dumps(results, indent=1) + "\n"
    )
    plot(results, args.out / "ernie_continual.svg")
    for name, r in results["runs"].items():
        print(
            f"{name:34} final accuracy: "
            + ", ".join(f"{acc[-1]:.3f}" for acc in r["accuracy"].values())
        )
    print(
        f"wrote {args.out}/ernie_continual.json and .svg in {results['seconds']} s"
    )


if __name__ == "__main__":
    main()
