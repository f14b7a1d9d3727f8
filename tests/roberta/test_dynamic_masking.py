import pytest
import torch
from transformers import DataCollatorForLanguageModeling

from helpers import tiny_wordpiece_tokenizer
from snippets.roberta.dynamic_masking import (
    DynamicMasking,
    example_seed,
    mask_tokens,
    static_masking,
)
from stats import assert_rate


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_wordpiece_tokenizer(tmp_path_factory.mktemp("tok"))


def _batch(tokenizer, B=256, L=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(0, 200, (B, L - 2), generator=g)
    texts = [" ".join(f"w{i}" for i in row.tolist()) for row in words]
    enc = tokenizer(
        texts, return_tensors="pt", return_special_tokens_mask=True, padding=True
    )
    return enc["input_ids"], enc["special_tokens_mask"].bool()


def _rates(inputs, labels, ids, mask_id):
    selected = labels != -100
    n = int(selected.sum())
    return (
        selected,
        n,
        (inputs[selected] == mask_id).float().mean(),
        (inputs[selected] == ids[selected]).float().mean(),
    )


def test_selection_rate_and_80_10_10_split(tokenizer):
    ids, special = _batch(tokenizer)
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(1),
    )
    selected, n, masked, kept = _rates(inputs, labels, ids, tokenizer.mask_token_id)
    eligible = int((~special).sum())
    assert_rate(n / eligible, 0.15, eligible, "selection rate")
    assert_rate(masked, 0.8, n, "[MASK] share")
    assert_rate(
        kept, 0.1 + 0.1 / len(tokenizer), n, "unchanged share"
    )  # a random token may equal the original
    assert torch.equal(labels[selected], ids[selected])
    changed_not_masked = (
        selected & (inputs != ids) & (inputs != tokenizer.mask_token_id)
    )
    assert_rate(
        changed_not_masked.sum() / n,
        0.1 * (1 - 1 / len(tokenizer)),
        n,
        "random share",
    )


def test_agrees_with_transformers_collator(tokenizer):
    ids, special = _batch(tokenizer, seed=2)
    collator = DataCollatorForLanguageModeling(
        tokenizer, mlm_probability=0.15, seed=3
    )
    ref_inputs, ref_labels = collator.torch_mask_tokens(
        ids.clone(), special_tokens_mask=special.long()
    )
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(3),
    )
    ours, theirs = (
        _rates(inputs, labels, ids, tokenizer.mask_token_id),
        _rates(ref_inputs, ref_labels, ids, tokenizer.mask_token_id),
    )
    # same label semantics: -100 off the selection, the original id on it, nothing
    # on special tokens
    for lab, sel in ((labels, ours[0]), (ref_labels, theirs[0])):
        assert (
            torch.equal(lab[sel], ids[sel])
            and (lab[~sel] == -100).all()
            and not sel[special].any()
        )
    # same rates: the difference of two independent estimates is within 5 standard
    # errors
    n = min(ours[1], theirs[1])
    for a, b, p, what in (
        (ours[1] / ids.numel(), theirs[1] / ids.numel(), 0.15, "selection"),
        (ours[2], theirs[2], 0.8, "[MASK]"),
        (ours[3], theirs[3], 0.1, "kept"),
    ):
        bound = 5 * (2 * p * (1 - p) / n) ** 0.5
        assert abs(float(a) - float(b)) <= bound, what


def test_special_tokens_and_padding_are_never_touched(tokenizer):
    ids, special = _batch(tokenizer, B=64, L=64, seed=4)
    ids[:, -10:] = tokenizer.pad_token_id
    special[:, -10:] = True
    before = ids.clone()
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=4,
        vocab_size=len(tokenizer),
        special_tokens_mask=special,
        mlm_probability=0.9,
        generator=torch.Generator().manual_seed(5),
    )
    assert (
        torch.equal(inputs[special], ids[special])
        and (labels[special] == -100).all()
    )
    assert torch.equal(ids, before)  # not modified in place


def test_dynamic_masks_differ_across_epochs_and_repeat_for_same_seed_and_epoch():
    data = torch.randint(5, 100, (8, 64))
    ds = DynamicMasking(data, mask_token_id=4, vocab_size=100, seed=7)
    epoch0 = [ds[i]["input_ids"] for i in range(8)]
    ds.set_epoch(1)
    epoch1 = [ds[i]["input_ids"] for i in range(8)]
    assert all(not torch.equal(a, b) for a, b in zip(epoch0, epoch1))
    ds.set_epoch(0)
    assert all(torch.equal(ds[i]["input_ids"], epoch0[i]) for i in range(8))
    other_seed = DynamicMasking(data, mask_token_id=4, vocab_size=100, seed=8)
    assert not torch.equal(other_seed[0]["input_ids"], epoch0[0])
    # the batch an item lands in does not matter: DataLoader order changes nothing
    loader = torch.utils.data.DataLoader(
        ds, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    assert len(list(loader)) == 3
    assert example_seed(0, 1, 2) != example_seed(0, 2, 1)


def test_static_masking_repeats_each_of_dupe_factor_masks():
    data = torch.randint(5, 100, (4, 32))
    inputs, labels = static_masking(
        data,
        mask_token_id=4,
        vocab_size=100,
        dupe_factor=10,
        generator=torch.Generator().manual_seed(0),
    )
    assert inputs.shape == (40, 32)
    copies = inputs.view(10, 4, 32)
    label_copies = labels.view(10, 4, 32)
    for k in range(10):  # every copy is a masking of the same data
        chosen = label_copies[k] != -100
        assert torch.equal(label_copies[k][chosen], data[chosen]) and torch.equal(
            copies[k][~chosen], data[~chosen]
        )
    assert (
        len({tuple(copies[k, 0].tolist()) for k in range(10)}) > 1
    )  # different masks per copy
    epoch = 13  # epoch e reads copy e mod 10
    assert torch.equal(
        copies[epoch % 10], inputs[(epoch % 10) * 4 : (epoch % 10 + 1) * 4]
    )


def test_same_seed_same_result():
    ids = torch.randint(5, 100, (4, 32))
    a = mask_tokens(
        ids,
        mask_token_id=4,
        vocab_size=100,
        generator=torch.Generator().manual_seed(11),
    )
    b = mask_tokens(
        ids,
        mask_token_id=4,
        vocab_size=100,
        generator=torch.Generator().manual_seed(11),
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_ids": torch.rand(2, 3)}, TypeError, "integer token ids"),
        ({"mlm_probability": 0.0}, ValueError, "mlm_probability"),
        ({"mask_replace_prob": 0.95}, ValueError, "must be <= 1"),
        (
            {"special_tokens_mask": torch.zeros(3, 3, dtype=torch.bool)},
            ValueError,
            "shape of input_ids",
        ),
        ({"mask_token_id": 100}, ValueError, "mask_token_id"),
    ],
)
def test_rejects_bad_input(kwargs, error, match):
    args = {
        "input_ids": torch.ones(2, 3, dtype=torch.long),
        "mask_token_id": 4,
        "vocab_size": 100,
    } | kwargs
    with pytest.raises(error, match=match):
        mask_tokens(args.pop("input_ids"), **args)
