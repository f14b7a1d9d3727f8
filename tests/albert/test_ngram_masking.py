import pytest
import torch

from helpers import word_batch
from snippets.albert.ngram_masking import (
    ngram_distribution,
    ngram_mask,
    sample_ngrams,
)
from stats import assert_rate, total_variation

MASK, VOCAB = 4, 1000


def _batch(B=2000, L=128, word_start_rate=0.7, seed=0):
    return word_batch(
        B, L, word_start_rate=word_start_rate, seed=seed, vocab_size=VOCAB
    )


def test_distribution_is_inverse_n():
    assert torch.allclose(
        ngram_distribution(3), torch.tensor([6 / 11, 3 / 11, 2 / 11])
    )
    assert torch.allclose(ngram_distribution(1), torch.tensor([1.0]))


def test_whole_words_are_masked_and_special_tokens_never():
    ids, ws, special, g = _batch(B=500)
    inputs, labels = ngram_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    selected = labels != -100
    assert not (selected & special).any()
    assert torch.equal(labels[selected], ids[selected]) and torch.equal(
        inputs[special], ids[special]
    )
    # a continuation token (not a word start, not right after a special token)
    # shares its word's fate
    prev_special = torch.nn.functional.pad(special[:, :-1], (1, 0))
    continuation = ~ws & ~special & ~prev_special
    continuation[:, 0] = False
    prev_selected = torch.nn.functional.pad(selected[:, :-1], (1, 0))
    assert torch.equal(selected[continuation], prev_selected[continuation])


def test_budget_is_respected_and_nearly_met():
    ids, ws, special, g = _batch()
    selected, _ = sample_ngrams(ws, ~special, generator=g)
    valid = (~special).sum(1)
    budget = (valid.double() * 0.15).round()
    assert (selected.sum(1) <= budget).all()
    # stopping at the first n-gram that overflows costs under one n-gram per row
    # on average
    assert selected.sum().item() / budget.sum().item() > 0.9


def test_ngram_lengths_follow_inverse_n():
    ids, ws, special, g = _batch(B=4000, word_start_rate=1.0)
    _, ngram_words = sample_ngrams(ws, ~special, generator=g)
    counts = torch.bincount(ngram_words[ngram_words > 0], minlength=4)[1:]
    # Budget truncation drops slightly more long n-grams (as the reference's skip
    # does), so the bound is on total variation: 0.05 here, against 0.21 for a
    # uniform p(n) and 0.45 for n = 1 only.
    assert total_variation(counts, ngram_distribution(3)) < 0.05
    assert total_variation(torch.ones(3), ngram_distribution(3)) > 0.2


def test_replacement_is_80_10_10():
    ids, ws, special, g = _batch()
    inputs, labels = ngram_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    selected = labels != -100
    n = int(selected.sum())
    assert_rate((inputs[selected] == MASK).float().mean(), 0.8, n, "[MASK] share")
    kept = (inputs[selected] == ids[selected]).float().mean()
    assert_rate(
        kept, 0.1 + 0.1 / VOCAB, n, "unchanged share"
    )  # a random token can equal the original


def test_same_seed_same_masks_and_input_untouched():
    ids, ws, special, _ = _batch(B=8)
    before = ids.clone()
    run = lambda: ngram_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        generator=torch.Generator().manual_seed(5),
    )
    (a, la), (b, lb) = run(), run()
    assert torch.equal(a, b) and torch.equal(la, lb) and torch.equal(ids, before)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_ids": torch.zeros(2, 3)}, TypeError, "integer token ids"),
        (
            {"word_starts": torch.ones(2, 4, dtype=torch.bool)},
            ValueError,
            "shape of input_ids",
        ),
        (
            {"mlm_probability": 1.0},
            ValueError,
            r"mlm_probability must be in \(0, 1\)",
        ),
        ({"mask_token_id": VOCAB}, ValueError, "mask_token_id"),
        ({"max_ngram": 0}, ValueError, "max_ngram"),
    ],
)
def test_rejects_bad_input(kwargs, error, match):
    args = (
        dict(
            input_ids=torch.ones(2, 3, dtype=torch.long),
            word_starts=torch.ones(2, 3, dtype=torch.bool),
            mask_token_id=MASK,
            vocab_size=VOCAB,
        )
        | kwargs
    )
    with pytest.raises(error, match=match):
        ngram_mask(args.pop("input_ids"), args.pop("word_starts"), **args)
