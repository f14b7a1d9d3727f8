import pytest
import torch

from helpers import word_batch
from snippets.spanbert.span_masking import span_length_distribution, span_mask
from stats import assert_rate, total_variation

MASK, VOCAB = 4, 1000


def _batch(B=1000, L=512, word_start_rate=1.0, seed=0):
    return word_batch(
        B, L, word_start_rate=word_start_rate, seed=seed, vocab_size=VOCAB
    )


def test_distribution_is_clipped_geometric_with_mean_3_8():
    d = span_length_distribution()
    assert d.shape == (10,) and torch.isclose(d.sum(), torch.tensor(1.0))
    assert torch.allclose(
        d[1:] / d[:-1], torch.full((9,), 0.8)
    )  # geometric ratio 1 - p
    assert abs(float((d * torch.arange(1, 11)).sum()) - 3.8) < 0.01


def test_span_lengths_follow_the_distribution():
    ids, ws, special, g = _batch()
    _, _, spans = span_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    counts = torch.bincount(spans[:, 2] - spans[:, 1], minlength=11)[1:]
    # Stopping at the budget drops slightly more long spans; the TV bound (0.03) is far below what a
    # wrong rule gives: 0.16 for p = 0.3, 0.31 for uniform lengths.
    assert total_variation(counts, span_length_distribution()) < 0.03
    assert total_variation(counts, span_length_distribution(p=0.3)) > 0.1
    assert total_variation(counts, torch.ones(10)) > 0.2


def test_budget_is_respected_and_about_15_percent_is_masked():
    ids, ws, special, g = _batch(word_start_rate=0.6)
    _, labels, _ = span_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    masked, valid = (labels != -100).sum(1), (~special).sum(1)
    assert (masked <= (valid * 0.15).round()).all()
    assert 0.13 < float(masked.sum() / valid.sum()) <= 0.15


def test_spans_are_whole_words_never_cross_a_boundary_and_match_the_labels():
    ids, ws, special, g = _batch(B=200, word_start_rate=0.6)
    _, labels, spans = span_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    covered = torch.zeros_like(special)
    for b, s, e in spans.tolist():
        assert not special[b, s:e].any()  # no [CLS]/[SEP] inside
        assert ws[b, s] or special[b, s - 1]  # starts at a word start
        assert e == ids.shape[1] or ws[b, e] or special[b, e]  # ends at a word end
        assert not covered[b, s:e].any()  # no overlap
        covered[b, s:e] = True
    assert torch.equal(covered, labels != -100)


def test_replacement_is_decided_per_span():
    ids, ws, special, g = _batch(B=1000)
    inputs, labels, spans = span_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    kinds, stray, tokens_outside_mask_spans = [], 0, 0
    for b, s, e in spans.tolist():
        masked = inputs[b, s:e] == MASK
        kept = inputs[b, s:e] == ids[b, s:e]
        kinds.append("mask" if masked.all() else "keep" if kept.all() else "random")
        if (
            not masked.all()
        ):  # a random token may happen to be [MASK]: about 1 in VOCAB
            stray += int(masked.sum())
            tokens_outside_mask_spans += e - s
    # per-token 80/10/10 would leave most multi-token spans partly masked; per-span leaves none
    assert stray <= 5 * max(tokens_outside_mask_spans / VOCAB, 1)
    n = len(kinds)
    assert_rate(kinds.count("mask") / n, 0.8, n, "[MASK] spans")
    assert_rate(kinds.count("random") / n, 0.1, n, "random spans")


def test_same_seed_same_spans():
    ids, ws, special, _ = _batch(B=4)
    run = lambda: span_mask(
        ids,
        ws,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        generator=torch.Generator().manual_seed(3),
    )
    a, b = run(), run()
    assert all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_ids": torch.rand(2, 8)}, TypeError, "integer token ids"),
        ({"mask_ratio": 1.5}, ValueError, "mask_ratio"),
        ({"p": 0.0}, ValueError, r"p must be in"),
        ({"max_span_length": 0}, ValueError, "max_span_length"),
        (
            {"word_starts": torch.ones(2, 7, dtype=torch.bool)},
            ValueError,
            "shape of input_ids",
        ),
    ],
)
def test_rejects_bad_input(kwargs, error, match):
    args = {
        "input_ids": torch.ones(2, 8, dtype=torch.long),
        "word_starts": torch.ones(2, 8, dtype=torch.bool),
        "mask_token_id": MASK,
        "vocab_size": VOCAB,
    } | kwargs
    with pytest.raises(error, match=match):
        span_mask(args.pop("input_ids"), args.pop("word_starts"), **args)
