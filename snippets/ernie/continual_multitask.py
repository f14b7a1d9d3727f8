"""Sequential multi-task learning (ERNIE 2.0, Sun et al. 2020, §3.2 and Figure 2), the framework's core idea.

Pre-training tasks arrive one at a time. Training only on the newest task (*continual learning*)
forgets the old ones. Training on all tasks from the start (*multi-task learning*) needs every
task up front. ERNIE 2.0 does both: stage s trains on tasks 1..s together, and each task's
iterations are spread over all the stages it takes part in:

    stage 1: task 1
    stage 2: task 1, task 2
    stage 3: task 1, task 2, task 3            (task 1's N₁ iterations are split over 3 stages)

Every step picks one task, and the model adds that task's learned *task embedding* to its input
embeddings (§3.3), so one shared encoder can tell the tasks apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from snippets._checks import check_positive_int


# --8<-- [start:core]
class ContinualMultiTaskSchedule:
    """Yields a task index for every training step: stage s trains tasks 0..s on a shuffled mix."""

    def __init__(
        self,
        tasks: Sequence[str],
        iterations_per_task: int | Sequence[int],
        *,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        if not tasks:
            raise ValueError("tasks must name at least one task")
        iterations = (
            [iterations_per_task] * len(tasks)
            if isinstance(iterations_per_task, int)
            else list(iterations_per_task)
        )
        if len(iterations) != len(tasks):
            raise ValueError(
                f"iterations_per_task has {len(iterations)} entries for {len(tasks)} tasks"
            )
        for n in iterations:
            check_positive_int(n, "iterations_per_task")
        self.tasks, self.iterations = list(tasks), iterations
        T = len(tasks)
        # stage_iterations[s][t]: task t's share in stage s; task t takes part in the T - t stages s >= t
        self.stage_iterations = [[0] * T for _ in range(T)]
        for t, total in enumerate(iterations):
            base, extra = divmod(total, T - t)
            for k, s in enumerate(range(t, T)):
                self.stage_iterations[s][t] = base + (
                    k < extra
                )  # the remainder goes to the earliest stages
        steps = []
        for shares in self.stage_iterations:
            stage = torch.repeat_interleave(torch.arange(T), torch.tensor(shares))
            steps.append(
                stage[torch.randperm(len(stage), generator=generator)]
                if shuffle
                else stage
            )
        self._steps = torch.cat(steps)

    def steps(self) -> torch.Tensor:
        return self._steps.clone()

    def __iter__(self) -> Iterator[int]:
        return iter(self._steps.tolist())

    def __len__(self) -> int:
        return len(self._steps)


class TaskEmbedding(nn.Module):
    """Adds a learned vector per task to the input embeddings: e + task_embedding[task_id]."""

    def __init__(self, num_tasks: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(
            check_positive_int(num_tasks, "num_tasks"),
            check_positive_int(hidden_size, "hidden_size"),
        )

    def forward(
        self, embeddings: torch.Tensor, task_ids: torch.Tensor | int
    ) -> torch.Tensor:
        """`embeddings` [B, L, H]; `task_ids` an int or [B]."""
        task_ids = (
            torch.as_tensor(task_ids, device=embeddings.device)
            .long()
            .expand(embeddings.shape[0])
        )
        if (task_ids < 0).any() or (
            task_ids >= self.embedding.num_embeddings
        ).any():
            raise ValueError(
                f"task ids must be in [0, {self.embedding.num_embeddings}), got {task_ids.tolist()}"
            )
        return embeddings + self.embedding(task_ids)[:, None, :]


# --8<-- [end:core]


def sequential_schedule(num_tasks: int, iterations_per_task: int) -> torch.Tensor:
    """The continual-learning baseline: all of task 0, then all of task 1, ..."""
    return torch.arange(num_tasks).repeat_interleave(iterations_per_task)


def joint_schedule(
    num_tasks: int,
    iterations_per_task: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The multi-task baseline: every task from the first step, shuffled."""
    steps = sequential_schedule(num_tasks, iterations_per_task)
    return steps[torch.randperm(len(steps), generator=generator)]
