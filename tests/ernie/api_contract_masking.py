"""Contract rows for ERNIE's knowledge masking (see tests/contract.py for the
rules; the other ERNIE modules have their own file)."""

from __future__ import annotations

import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    assert_labels,
    count,
    generator,
    ids,
    mask,
    probability,
    token_id,
)

from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans

VOCAB, B, L = 100, 3, 12
SMALL_VOCAB = "the ids and the [MASK] id are not below vocab_size 1"


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(B, L, generator=g) < 0.4
    starts[:, 0] = True
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return {
        "input_ids": torch.randint(5, VOCAB, (B, L), generator=g),
        "unit_ids": starts.long().cumsum(1) - 1,
        "special_tokens_mask": special,
    }


def _whole_units(result, kw) -> None:
    inputs, labels = result
    ids_, units = kw["input_ids"], kw["unit_ids"].long()
    assert inputs.shape == ids_.shape
    assert_labels(labels, ids_)
    special = kw.get("special_tokens_mask")
    valid = torch.ones_like(ids_, dtype=torch.bool)
    if special is not None:
        valid = ~special.bool()
    selected = labels != -100
    assert not (selected & ~valid).any()
    masked = inputs.long() == kw["mask_token_id"]
    for b in range(ids_.shape[0]):  # a unit is chosen whole, and replaced as one
        for u in units[b].unique():
            unit = (units[b] == u) & valid[b]
            assert selected[b][unit].all() or not selected[b][unit].any()
            chosen = unit & selected[b]
            assert masked[b][chosen].all() or not masked[b][chosen].any()


def _units(result, kw) -> None:
    n = kw["seq_len"]
    assert result.dtype == torch.int64 and result.shape == (n,)
    if n:
        assert (
            int(result[0]) == 0
            and ((result.diff() == 0) | (result.diff() == 1)).all()
        )
    for start, end in kw["spans"]:
        assert (result[start:end] == result[start]).all()


ROWS = [
    Row(
        knowledge_mask,
        lambda: {
            **_batch(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(1),
        },
        kinds={
            "input_ids": ids,
            "unit_ids": ids,
            "special_tokens_mask": mask,
            "mlm_probability": probability(high_open=True),
            "mask_token_id": token_id,
            "vocab_size": count(1),
            "generator": generator,
        },
        aligned=("input_ids", "unit_ids", "special_tokens_mask"),
        check=_whole_units,
        expect={
            "vocab_size-value-minimum": (RAISE, SMALL_VOCAB),
            "unit_ids-id-vocab_size": (OK, "unit ids are not token ids"),
        },
        extra=[
            # ids reaching 2e7 cost what compact ids cost: they are renumbered
            Variant(
                "unit_ids-huge",
                lambda kw: {**kw, "unit_ids": kw["unit_ids"] * 10_000_000},
                OK,
                "unit_ids",
            ),
            Variant(
                "unit_ids-one-unit",
                lambda kw: {**kw, "unit_ids": torch.zeros(B, L, dtype=torch.long)},
                OK,
                "unit_ids",
            ),
            Variant(
                "all-special",
                lambda kw: {
                    **kw,
                    "special_tokens_mask": torch.ones(B, L, dtype=torch.bool),
                },
                OK,
                "special_tokens_mask",
            ),
        ],
    ),
    Row(
        units_from_spans,
        lambda: {"seq_len": 10, "spans": [(0, 3), (4, 7), (8, 10)]},
        kinds={"seq_len": count(0)},
        check=_units,
        expect={
            # seq_len 0 or 1 cannot hold the spans, which reach token 10
            "seq_len-value-minimum": (RAISE, "the spans reach past seq_len 0"),
            "seq_len-value-below-minimum": (RAISE, "negative"),
        },
        extra=[
            Variant("no-spans", lambda kw: {**kw, "spans": []}, OK, "spans"),
            Variant(
                "empty-sequence",
                lambda kw: {"seq_len": 0, "spans": []},
                OK,
                "seq_len",
            ),
            Variant(
                "overlapping",
                lambda kw: {**kw, "spans": [(0, 5), (3, 8)]},
                OK,
                "spans",
            ),
            Variant(
                "span-empty", lambda kw: {**kw, "spans": [(3, 3)]}, RAISE, "span"
            ),
            Variant(
                "span-past-end",
                lambda kw: {**kw, "spans": [(8, 11)]},
                RAISE,
                "span",
            ),
            Variant(
                "span-negative",
                lambda kw: {**kw, "spans": [(-1, 2)]},
                RAISE,
                "span",
            ),
            Variant(
                "span-floats",
                lambda kw: {**kw, "spans": [(0.0, 2.0)]},
                RAISE,
                "spans",
            ),
            Variant(
                "span-triple",
                lambda kw: {**kw, "spans": [(0, 1, 2)]},
                RAISE,
                "spans",
            ),
            Variant("spans-none", lambda kw: {**kw, "spans": None}, RAISE, "spans"),
            Variant(
                "spans-tensor",
                lambda kw: {**kw, "spans": torch.tensor([[0, 3]])},
                RAISE,
                "spans",
            ),
        ],
    ),
]
