"""Sequential multi-task learning (ERNIE 2.0, Sun et al. 2020, its continual
multi-task learning; the AAAI version numbers no sections), the framework's core
idea.

Pre-training tasks arrive one at a time. Training only on the newest task
(*continual learning*) forgets the old ones. Training on all tasks from the start
(*multi-task learning*) needs every task up front. ERNIE 2.0 does both: stage s
trains on tasks 1..s together, and each task's iterations are spread over all the
stages it takes part in:

    stage 1: task 1
    stage 2: task 1, task 2
    stage 3: task 1, task 2, task 3    (task 1's N₁ iterations: split over 3 stages)

Every step picks one task, and the model adds that task's learned *task embedding*
to its input embeddings, so one shared encoder can tell the tasks apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import nn

from snippets._checks import INT_DTYPES, check_generator, check_positive_int


# --8<-- [start:core]
class ContinualMultiTaskSchedule:
    """Yields a task index for every training step: stage s trains tasks 0..s on
    a shuffled mix. `tasks` is a list of names; `iterations_per_task` an int for
    every task, or a list with one int per task."""

    def __init__(
        self,
        tasks: Sequence[str],
        iterations_per_task: int | Sequence[int],
        *,
        shuffle: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        tasks = _check_tasks(tasks)
        iterations = _check_iterations(iterations_per_task, len(tasks))
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be a bool, got {type(shuffle).__name__}")
        check_generator(generator, torch.device("cpu"))
        self.tasks, self.iterations = tasks, iterations
        T = len(tasks)
        # stage_iterations[s][t]: task t's share in stage s; task t takes part in
        # the T - t stages s >= t, and the remainder goes to the earliest ones
        self.stage_iterations = [[0] * T for _ in range(T)]
        for t, total in enumerate(iterations):
            base, extra = divmod(total, T - t)
            for k, s in enumerate(range(t, T)):
                self.stage_iterations[s][t] = base + (k < extra)
        steps = []
        for shares in self.stage_iterations:
            stage = torch.repeat_interleave(torch.arange(T), torch.tensor(shares))
            if shuffle:
                stage = stage[torch.randperm(len(stage), generator=generator)]
            steps.append(stage)
        self._steps = torch.cat(steps)

    def steps(self) -> torch.Tensor:
        return self._steps.clone()

    def __iter__(self) -> Iterator[int]:
        return iter(self._steps.tolist())

    def __len__(self) -> int:
        return len(self._steps)


class TaskEmbedding(nn.Module):
    """Adds a learned vector per task to the input embeddings:
    e + task_embedding[task_id], in the embeddings' dtype."""

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
        task_ids = _check_task_ids(embeddings, task_ids, self.embedding)
        task = self.embedding(task_ids).to(embeddings.dtype)  # [B, H]
        return embeddings + task[:, None, :]


# --8<-- [end:core]


def sequential_schedule(num_tasks: int, iterations_per_task: int) -> torch.Tensor:
    """The continual-learning baseline: all of task 0, then all of task 1, ..."""
    check_positive_int(num_tasks, "num_tasks")
    check_positive_int(iterations_per_task, "iterations_per_task")
    return torch.arange(num_tasks).repeat_interleave(iterations_per_task)


def joint_schedule(
    num_tasks: int,
    iterations_per_task: int,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The multi-task baseline: every task from the first step, shuffled."""
    steps = sequential_schedule(num_tasks, iterations_per_task)
    check_generator(generator, torch.device("cpu"))
    return steps[torch.randperm(len(steps), generator=generator)]


def _check_tasks(tasks: object) -> list[str]:
    """A list (or tuple) of distinct names. A bare string is refused rather than
    split into one task per letter."""
    if isinstance(tasks, str) or not isinstance(tasks, (list, tuple)):
        raise TypeError(
            f"tasks must be a list of task names, got {type(tasks).__name__} "
            f"{tasks!r}"
        )
    if not tasks:
        raise ValueError("tasks must name at least one task")
    if not all(isinstance(t, str) for t in tasks):
        raise TypeError(f"tasks must be names (str), got {tasks!r}")
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be distinct names, got {tasks!r}")
    return list(tasks)


def _check_iterations(iterations: object, num_tasks: int) -> list[int]:
    """One int for every task, or one int per task; floats are refused."""
    if isinstance(iterations, int) and not isinstance(iterations, bool):
        iterations = [iterations] * num_tasks
    if not isinstance(iterations, (list, tuple)):
        raise TypeError(
            "iterations_per_task must be an int or a list of ints, got "
            f"{type(iterations).__name__}"
        )
    if len(iterations) != num_tasks:
        raise ValueError(
            f"iterations_per_task has {len(iterations)} entries for {num_tasks} "
            "tasks"
        )
    return [check_positive_int(n, "iterations_per_task") for n in iterations]


def _check_task_ids(
    embeddings: object, task_ids: object, table: nn.Embedding
) -> torch.Tensor:
    """`task_ids` as int64 [B] on the embeddings' device, or a clear error."""
    H, T = table.embedding_dim, table.num_embeddings
    if not isinstance(embeddings, torch.Tensor):
        raise TypeError(
            f"embeddings must be a tensor, got {type(embeddings).__name__}"
        )
    if not embeddings.is_floating_point():
        raise TypeError(f"embeddings must be floating, got {embeddings.dtype}")
    if embeddings.dim() != 3 or embeddings.shape[-1] != H:
        raise ValueError(
            f"embeddings must be [B, L, hidden_size={H}], got "
            f"{tuple(embeddings.shape)}"
        )
    B = embeddings.shape[0]
    if isinstance(task_ids, int) and not isinstance(task_ids, bool):
        task_ids = torch.full((B,), task_ids, device=embeddings.device)
    if not isinstance(task_ids, torch.Tensor) or task_ids.dtype not in INT_DTYPES:
        raise TypeError(
            f"task_ids must be an int or an integer tensor [B], got {task_ids!r}"
        )
    if task_ids.shape not in ((), (B,)):
        raise ValueError(f"task_ids must be [B={B}], got {tuple(task_ids.shape)}")
    task_ids = task_ids.to(embeddings.device, torch.int64).expand(B)
    if B and (task_ids.min() < 0 or task_ids.max() >= T):
        raise ValueError(f"task_ids must be in [0, {T}), got {task_ids.tolist()}")
    return task_ids
