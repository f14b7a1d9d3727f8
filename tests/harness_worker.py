"""A few harness steps on a tiny BERT, alone or as one of torchrun's processes.

    python tests/harness_worker.py OUT [--steps N] [--dropout P]
    torchrun --standalone --nproc_per_node=2 tests/harness_worker.py OUT

tests/test_harness.py runs it both ways and compares the parameters. The masks
are drawn once, with the data (static masking), so a batch is the same whether
one process builds it or two build a half each; the number of masked tokens
differs from row to row, so the losses' global normalisation is exercised.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

if __name__ == "__main__":  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from experiments import harness  # noqa: E402
from experiments.models import (  # noqa: E402
    encode,
    predicted_logits,
    sentence_pair_head,
    tiny_model,
)

VOCAB = 120
MASK, PAD = 4, 0


def dataset(n: int = 64, seed: int = 0) -> list[tuple]:
    g = torch.Generator().manual_seed(seed)
    examples = []
    for i in range(n):
        length = int(torch.randint(6, 17, (), generator=g))
        ids = torch.randint(5, VOCAB, (length,), generator=g)
        chosen = torch.rand(length, generator=g) < 0.25
        chosen[0] = True  # at least one target per row
        examples.append(
            (ids.masked_fill(chosen, MASK), ids.where(chosen, -100), i % 2)
        )
    return examples


class StaticMaskObjective:
    def collate(self, examples: list, generator: torch.Generator) -> dict:
        length = max(len(ids) for ids, _, _ in examples)
        ids = torch.full((len(examples), length), PAD)
        labels = torch.full((len(examples), length), -100)
        for row, (x, y, _) in enumerate(examples):
            ids[row, : len(x)], labels[row, : len(y)] = x, y
        return {
            "input_ids": ids,
            "attention_mask": (ids != PAD).long(),
            "labels": labels,
            "pair_labels": torch.tensor([c for _, _, c in examples]),
        }

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden, pooled = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        pair = sentence_pair_head(model)(pooled)
        return {
            "mlm": harness.Term(
                F.cross_entropy(logits, targets, reduction="sum"), len(targets)
            ),
            "pair": harness.Term(
                F.cross_entropy(pair, batch["pair_labels"], reduction="sum"),
                len(pair),
            ),
        }


def build(dropout: float = 0.0):
    return tiny_model("bert", VOCAB, layers=2, hidden=32, dropout=dropout)


def config(steps: int, **overrides) -> harness.TrainConfig:
    settings = dict(
        steps=steps,
        batch_size=8,
        learning_rate=3e-3,
        warmup_steps=2,
        log_every=1,
        checkpoint_every=1000,
    )
    return harness.TrainConfig(**(settings | overrides))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.0)
    args = parser.parse_args(argv)
    model = build(args.dropout)
    harness.train(
        model, dataset(), StaticMaskObjective(), config(args.steps), args.out
    )
    if harness.init_process().is_main:
        torch.save(model.state_dict(), args.out / "params.pt")


if __name__ == "__main__":
    main()
