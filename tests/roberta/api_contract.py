"""Contract rows for snippets.roberta (see tests/contract.py for the rules)."""

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

from snippets.roberta.dynamic_masking import (
    DynamicMasking,
    example_seed,
    mask_tokens,
    static_masking,
)

VOCAB = 100  # every integer dtype holds every id
SMALL_VOCAB = "the [MASK] id 4 is not below vocab_size 1"
SUM_ABOVE_ONE = "mask_replace_prob + random_replace_prob must be <= 1"


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    input_ids = torch.randint(5, VOCAB, (3, 12), generator=g)
    special = torch.zeros(3, 12, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return {"input_ids": input_ids, "special_tokens_mask": special}


def _masked(result, kw) -> None:
    inputs, labels = result
    ids_ = kw["input_ids"]
    assert inputs.shape == ids_.shape
    assert_labels(labels, ids_)
    assert not inputs.dtype.is_floating_point
    # what is not chosen is unchanged; special tokens are never chosen
    kept = labels == -100
    assert torch.equal(inputs.long()[kept], ids_.long()[kept])
    special = kw.get("special_tokens_mask")
    if special is not None:
        assert (labels[special.bool()] == -100).all()


def _mask_id_999_kept(result, kw) -> None:
    assert result[0].dtype == torch.int64 and (result[0] == 999).any()


def _nothing_chosen(result, kw) -> None:
    assert (result[1] == -100).all()


def _static(result, kw) -> None:
    inputs, labels = result
    ids_ = kw["input_ids"].repeat(kw.get("dupe_factor", 10), 1)
    _masked(result, {**kw, "input_ids": ids_, "special_tokens_mask": None})


def _item(*, index: int = 0, epoch: int = 0, **kw) -> dict:
    """Build the dataset, set the epoch, fetch one item (none when it is empty:
    out-of-range indexes raise IndexError, tested in test_dynamic_masking.py)."""
    dataset = DynamicMasking(**kw)
    dataset.set_epoch(epoch)
    return dataset[index] if len(dataset) else {}


def _one_item(result, kw) -> None:
    if not len(kw["input_ids"]):
        assert result == {}
        return
    row = kw["input_ids"][kw.get("index", 0)]
    assert result["input_ids"].shape == row.shape
    assert_labels(result["labels"], row)


def _seed(result, kw) -> None:
    assert isinstance(result, int) and 0 <= result < 2**63


MASKING_KINDS = {
    "input_ids": ids,
    "special_tokens_mask": mask,
    "mask_token_id": token_id,
    "vocab_size": count(1),
    "mlm_probability": probability(high_open=True),
    "generator": generator,
}

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
            **MASKING_KINDS,
            "mask_replace_prob": probability(low_open=False),
            "random_replace_prob": probability(low_open=False),
        },
        aligned=("input_ids", "special_tokens_mask"),
        check=_masked,
        expect={
            "vocab_size-value-minimum": (RAISE, SMALL_VOCAB),
            "mask_replace_prob-value-high": (RAISE, SUM_ABOVE_ONE),
            "mask_replace_prob-value-one": (RAISE, SUM_ABOVE_ONE),
            "random_replace_prob-value-high": (RAISE, SUM_ABOVE_ONE),
            "random_replace_prob-value-one": (RAISE, SUM_ABOVE_ONE),
            "random_replace_prob-value-mid": (RAISE, SUM_ABOVE_ONE),
        },
        extra=[
            # a vocabulary bigger than uint8 holds: the ids are widened, not wrapped
            Variant(
                "uint8-ids-vocab-1000",
                lambda kw: {
                    **kw,
                    "input_ids": kw["input_ids"].to(torch.uint8),
                    "vocab_size": 1000,
                    "mask_token_id": 999,
                },
                OK,
                "input_ids",
                check=_mask_id_999_kept,
            ),
            Variant(
                "all-special",
                lambda kw: {
                    **kw,
                    "special_tokens_mask": torch.ones_like(kw["input_ids"]).bool(),
                },
                OK,
                "special_tokens_mask",
                check=_nothing_chosen,
            ),
        ],
    ),
    Row(
        static_masking,
        lambda: {
            **_batch(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "dupe_factor": 3,
            "generator": torch.Generator().manual_seed(1),
        },
        kinds={**MASKING_KINDS, "dupe_factor": count(1)},
        aligned=("input_ids", "special_tokens_mask"),
        check=_static,
        expect={"vocab_size-value-minimum": (RAISE, SMALL_VOCAB)},
    ),
    Row(
        DynamicMasking,
        lambda: {
            **_batch(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "seed": 3,
        },
        call=_item,
        kinds={
            "input_ids": ids,
            "special_tokens_mask": mask,
            "mask_token_id": token_id,
            "vocab_size": count(1),
            "mlm_probability": probability(high_open=True),
            "seed": count(0),
            "epoch": count(0),
        },
        aligned=("input_ids", "special_tokens_mask"),
        check=_one_item,
        expect={"vocab_size-value-minimum": (RAISE, SMALL_VOCAB)},
        extra=[
            Variant("index-last", lambda kw: {**kw, "index": -1}, OK, "index"),
            Variant("index-bool", lambda kw: {**kw, "index": True}, RAISE, "index"),
            Variant("index-float", lambda kw: {**kw, "index": 0.0}, RAISE, "index"),
            Variant("index-str", lambda kw: {**kw, "index": "0"}, RAISE, "index"),
        ],
    ),
    Row(
        example_seed,
        lambda: {"seed": 0, "epoch": 1, "index": 2},
        kinds={"seed": count(0), "epoch": count(0), "index": count(0)},
        check=_seed,
        extra=[
            Variant(
                "huge-values",
                lambda kw: {"seed": 2**70, "epoch": 2**65, "index": 2**64},
                OK,
            )
        ],
    ),
]
