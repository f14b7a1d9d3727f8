"""Contract rows for snippets.roberta (see tests/contract.py for the rules)."""

from __future__ import annotations

import torch
from contract import (
    Row,
    assert_labels,
    count,
    generator,
    ids,
    mask,
    probability,
    token_id,
)

from snippets.roberta.dynamic_masking import (
    mask_tokens,
)

VOCAB = 100  # every integer dtype holds every id


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, VOCAB, (3, 12), generator=g)
    special = torch.zeros(3, 12, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return {"input_ids": input_ids, "special_tokens_mask": special}


def _masked(result, kw) -> None:
    inputs, labels = result
    assert inputs.shape == kw["input_ids"].shape
    assert_labels(labels, kw["input_ids"])


ROWS = [
    Row(
        mask_tokens,
        lambda: {
            **_batch(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(1),
        },
        kinds={
            "input_ids": ids,
            "special_tokens_mask": mask,
            "mask_token_id": token_id,
            "vocab_size": count(1),
            "mlm_probability": probability(high_open=True),
            "mask_replace_prob": probability(low_open=False),
            "random_replace_prob": probability(low_open=False),
            "generator": generator,
        },
        aligned=("input_ids", "special_tokens_mask"),
        check=_masked,
    ),
]
