"""The shared masking steps of snippets.masking, and what every masking function
owes its caller: int64 labels, ids widened rather than wrapped, a cost that does
not depend on how large the ids are, and errors that name the argument."""

from __future__ import annotations

import pytest
import torch

from snippets.albert.ngram_masking import ngram_mask
from snippets.ernie.knowledge_masking import knowledge_mask
from snippets.masking import (
    bert_replace,
    choose_within_budget,
    masking_budget,
    renumber_units,
)
from snippets.roberta.dynamic_masking import DynamicMasking, mask_tokens
from snippets.xlnet.permutation_lm import plm_inputs

INT_DTYPES = [torch.uint8, torch.int16, torch.int32, torch.int64]


def _ids(B=4, L=64, vocab=200, seed=0):
    return torch.randint(
        5, vocab, (B, L), generator=torch.Generator().manual_seed(seed)
    )


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_labels_are_int64_whatever_the_ids_dtype(dtype):
    ids = _ids().to(dtype)
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    units = torch.arange(64).expand(4, 64) // 3
    results = [
        mask_tokens(ids, mask_token_id=4, vocab_size=200, generator=g()),
        ngram_mask(
            ids,
            torch.ones_like(ids, dtype=torch.bool),
            mask_token_id=4,
            vocab_size=200,
            generator=g(),
        ),
        knowledge_mask(ids, units, mask_token_id=4, vocab_size=200, generator=g()),
    ]
    for inputs, labels in results:
        assert labels.dtype == torch.int64 and inputs.dtype == dtype
        chosen = labels != -100
        assert torch.equal(labels[chosen], ids.long()[chosen]) and chosen.any()
    assert plm_inputs(ids, generator=g())["labels"].dtype == torch.int64


def test_ids_that_cannot_hold_the_mask_id_are_widened_not_wrapped():
    # uint8 holds ids below 256; a vocabulary of 30522 with [MASK] = 30521 needs
    # more: the result is int64, and [MASK] and random ids are exact.
    ids = _ids(vocab=250).to(torch.uint8)
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=30521,
        vocab_size=30522,
        mlm_probability=0.5,
        generator=torch.Generator().manual_seed(0),
    )
    assert inputs.dtype == torch.int64
    assert (inputs == 30521).any() and int(inputs.max()) < 30522
    assert (inputs >= 256).sum() > (inputs == 30521).sum()  # random ids too
    chosen = labels != -100
    assert torch.equal(inputs[~chosen], ids.long()[~chosen])


def test_ids_that_hold_every_id_keep_their_dtype():
    ids = _ids(vocab=250).to(torch.uint8)
    inputs, _ = mask_tokens(
        ids, mask_token_id=4, vocab_size=256, generator=torch.Generator()
    )
    assert inputs.dtype == torch.uint8


def test_huge_unit_ids_give_what_compact_ids_give():
    # The cost follows the batch, not the ids: the units are renumbered first
    # (order kept), so the same seed gives the same masking for both numberings.
    B, L = 4, 512
    g = torch.Generator().manual_seed(0)
    starts = torch.rand(B, L, generator=g) < 0.3
    starts[:, 0] = True
    compact = starts.long().cumsum(1) - 1
    huge = compact * (2 * 10**7 // int(compact.max())) + 7  # ids reach 2e7
    ids = _ids(B, L)
    runs = [
        knowledge_mask(
            ids, units, mask_token_id=4, vocab_size=200,
            generator=torch.Generator().manual_seed(1),
        )
        for units in (compact, huge)
    ]  # fmt: skip
    assert int(huge.max()) > 2 * 10**7 - 10**6
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(
        runs[0][1], runs[1][1]
    )
    spans = [
        bert_replace(
            ids, compact % 2 == 0, mask_token_id=4, vocab_size=200, group_ids=units,
            generator=torch.Generator().manual_seed(2),
        )
        for units in (compact, huge)
    ]  # fmt: skip
    assert torch.equal(spans[0][0], spans[1][0])


def test_renumber_units_keeps_order_and_equality():
    units = torch.tensor([[9, 9, 3, 2**40, 3], [0, 0, 0, 0, 0]])
    assert renumber_units(units).tolist() == [[1, 1, 0, 2, 0], [0, 0, 0, 0, 0]]
    assert renumber_units(units[:, :0]).shape == (2, 0)


def test_choose_within_budget_rejects_ids_that_would_size_it():
    with pytest.raises(ValueError, match="renumber_units"):
        choose_within_budget(
            torch.tensor([[0, 10**6]]),
            torch.ones(1, 2, dtype=torch.bool),
            torch.tensor([1]),
        )


@pytest.mark.parametrize("ratio", [float("nan"), float("inf"), 0.0, -0.5, 1.5])
def test_masking_budget_rejects_ratios_outside_zero_one(ratio):
    with pytest.raises(ValueError, match="ratio"):
        masking_budget(torch.ones(2, 5, dtype=torch.bool), ratio)


def test_bert_replace_rejects_a_selection_of_another_shape():
    with pytest.raises(ValueError, match="selected must have the shape"):
        bert_replace(
            _ids(),
            torch.ones(4, 63, dtype=torch.bool),
            mask_token_id=4,
            vocab_size=200,
        )


@pytest.mark.parametrize(
    "bad, error", [(None, TypeError), (4.0, TypeError), (200, ValueError)]
)
def test_a_bad_mask_token_id_names_itself(bad, error):
    for call in (
        lambda: mask_tokens(_ids(), mask_token_id=bad, vocab_size=200),
        lambda: bert_replace(
            _ids(),
            torch.ones(4, 64, dtype=torch.bool),
            mask_token_id=bad,
            vocab_size=200,
        ),
        lambda: DynamicMasking(_ids(), mask_token_id=bad, vocab_size=200),
    ):
        with pytest.raises(error, match="mask_token_id"):
            call()


def test_ids_at_or_above_vocab_size_are_rejected():
    ids = _ids()
    ids[1, 3] = 200
    with pytest.raises(ValueError, match="input_ids must be below vocab_size=200"):
        mask_tokens(ids, mask_token_id=4, vocab_size=200)


def test_data_on_another_device_than_the_generator_names_generator():
    # checked before any value check, which would have to read the data
    ids = _ids().to("meta")
    with pytest.raises(ValueError, match="generator"):
        mask_tokens(
            ids, mask_token_id=4, vocab_size=200, generator=torch.Generator()
        )
    with pytest.raises(ValueError, match="generator"):
        knowledge_mask(
            ids, ids, mask_token_id=4, vocab_size=200, generator=torch.Generator()
        )


def test_dynamic_masking_checks_at_construction_and_indexes_like_a_list():
    data = _ids(B=5)
    with pytest.raises(ValueError, match="mask_token_id"):
        DynamicMasking(data, mask_token_id=-1, vocab_size=200)
    ds = DynamicMasking(data, mask_token_id=4, vocab_size=200, seed=3)
    assert torch.equal(ds[-1]["input_ids"], ds[4]["input_ids"])
    assert torch.equal(ds[-5]["labels"], ds[0]["labels"])
    for bad in (5, -6):
        with pytest.raises(IndexError, match="out of range"):
            ds[bad]
    assert len(list(ds)) == 5  # iteration stops on the IndexError
    with pytest.raises(TypeError, match="index"):
        ds[1.0]
