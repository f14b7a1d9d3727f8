"""Fit the budget: training tokens per second of tiny models on this machine.

    .venv/bin/python -m experiments.budget [--steps N]

Times forward + backward + AdamW steps of ALBERT and BERT at a few sizes, on
random token ids of length 128 with 15% of them predicted, with the vocabulary
projection at the predicted positions only and, for comparison, at every
position. It prints a table and writes nothing: the sizes the experiments use
are chosen from it (see the README's experiments section).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from experiments.machine import machine_info
from experiments.models import encode, mlm_head, sentence_pair_head, tiny_model

SIZES = [("albert", 128, 4), ("albert", 256, 4), ("bert", 128, 4), ("bert", 256, 4)]


def tokens_per_second(
    kind: str, hidden: int, layers: int, *, predicted_only: bool, steps: int
) -> float:
    vocab, batch, length = 8000, 32, 128
    model = tiny_model(kind, vocab, hidden=hidden, layers=layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    labels = ids.where(torch.rand(batch, length, generator=g) < 0.15, -100)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    pair_labels = torch.randint(0, 2, (batch,), generator=g)
    times = []
    for _ in range(steps + 2):  # two warm-up steps
        start = time.perf_counter()
        hidden_states, pooled = encode(model, inputs)
        if predicted_only:
            where = labels != -100
            logits, targets = mlm_head(model)(hidden_states[where]), labels[where]
        else:
            logits, targets = mlm_head(model)(hidden_states), labels
        loss = F.cross_entropy(logits.flatten(0, -2), targets.flatten())
        loss = loss + F.cross_entropy(
            sentence_pair_head(model)(pooled), pair_labels
        )
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return batch * length / statistics.median(times[2:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    m = machine_info()
    print(f"{m['cpu']}, {m['torch_threads']} torch threads, torch {m['torch']}")
    print(
        "model   hidden layers  tokens/s (logits at predicted | at all positions)"
    )
    for kind, hidden, layers in SIZES:
        rates = [
            tokens_per_second(
                kind, hidden, layers, predicted_only=p, steps=args.steps
            )
            for p in (True, False)
        ]
        print(
            f"{kind:7} {hidden:6} {layers:6}  {rates[0]:9,.0f} | {rates[1]:9,.0f}"
        )


if __name__ == "__main__":
    main()
