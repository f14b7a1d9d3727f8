import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import T5Config, T5ForConditionalGeneration

from snippets.t5.span_corruption import (
    compute_input_and_target_lengths,
    corrupted_lengths,
    noise_span_to_unique_sentinel,
    random_spans_noise_mask,
    random_spans_noise_mask_batch,
    span_corruption,
)
from stats import chi_square_pvalue

SENTINEL_0 = 999  # <extra_id_0>: the highest id; <extra_id_k> = SENTINEL_0 - k


def _runs(mask: torch.Tensor) -> list[tuple[bool, int]]:
    """(value, length) of each maximal run of equal values."""
    runs, values = [], mask.tolist()
    for v in values:
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return [tuple(r) for r in runs]


@settings(max_examples=80, deadline=None)
@given(
    length=st.integers(2, 300),
    density=st.floats(0.01, 0.9),
    mean_span=st.floats(1.0, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_mask_invariants(length, density, mean_span, seed):
    mask = random_spans_noise_mask_batch(
        3, length, density, mean_span, generator=torch.Generator().manual_seed(seed)
    )
    num_noise = min(max(round(length * density), 1), length - 1)
    num_spans = min(
        max(round(num_noise / mean_span), 1), num_noise, length - num_noise
    )
    for row in mask:
        assert int(row.sum()) == num_noise  # exact noise count
        runs = _runs(row)
        assert runs[0][0] is False  # starts with non-noise
        assert sum(1 for v, _ in runs if v) == num_spans  # exact span count
        assert (
            len(runs) == 2 * num_spans and runs[-1][0] is True
        )  # non-noise, noise, ..., non-noise, noise


def test_reference_counts_for_t5_defaults():
    mask = random_spans_noise_mask(568, generator=torch.Generator().manual_seed(0))
    assert int(mask.sum()) == 85 and sum(v for v, _ in _runs(mask)) == 28


def test_span_lengths_are_a_uniform_random_composition():
    # n noise tokens cut into k non-empty segments uniformly at random: the first
    # segment has P(len = j) = C(n - j - 1, k - 2) / C(n - 1, k - 1). Chi-square
    # against that exact law.
    n, k = 15, 5
    masks = random_spans_noise_mask_batch(
        4000, 100, 0.15, 3.0, generator=torch.Generator().manual_seed(1)
    )
    first = torch.tensor(
        [next(length for v, length in _runs(m) if v) for m in masks]
    )
    pmf = torch.tensor(
        [
            math.comb(n - j - 1, k - 2) / math.comb(n - 1, k - 1)
            for j in range(1, n - k + 2)
        ]
    )
    assert torch.isclose(pmf.sum(), torch.tensor(1.0, dtype=pmf.dtype))
    counts = torch.bincount(first, minlength=n - k + 2)[1:]
    assert chi_square_pvalue(counts, pmf) > 1e-6
    assert (
        chi_square_pvalue(counts, torch.ones_like(pmf)) < 1e-6
    )  # the test can tell a wrong law


def test_inputs_and_targets_merge_back_into_the_original():
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(10, 900, (16, 120), generator=g)
    inputs, targets = span_corruption(
        ids, sentinel_start_id=SENTINEL_0, eos_token_id=1, generator=g
    )
    assert (inputs[:, -1] == 1).all() and (targets[:, -1] == 1).all()
    for row in range(16):
        inp, tgt = inputs[row, :-1].tolist(), targets[row, :-1].tolist()
        # targets: <X_0> span_0 <X_1> span_1 ...; split them at sentinels
        spans, current = {}, None
        for t in tgt:
            if t > 900:
                current = t
                spans[current] = []
            else:
                spans[current].append(t)
        merged = [tok for t in inp for tok in (spans[t] if t > 900 else [t])]
        assert merged == ids[row].tolist()


def test_sentinel_ids_count_down_from_extra_id_0():
    tokens = torch.tensor([5, 6, 7, 8, 9, 10, 11])
    noise = torch.tensor([False, True, True, False, True, False, True])
    assert noise_span_to_unique_sentinel(
        tokens, noise, sentinel_start_id=SENTINEL_0
    ).tolist() == [5, 999, 8, 998, 10, 997]
    inputs, targets = span_corruption(
        torch.randint(10, 900, (4, 568)),
        sentinel_start_id=SENTINEL_0,
        eos_token_id=1,
        generator=torch.Generator().manual_seed(3),
    )
    sentinels = inputs[inputs > 900].view(4, -1)
    assert torch.equal(sentinels, (SENTINEL_0 - torch.arange(28)).expand(4, 28))
    assert torch.equal(targets[targets > 900].view(4, -1), sentinels)


def test_t5_lengths_give_exactly_512_inputs():
    assert compute_input_and_target_lengths(512) == (568, 114)
    tokens_length, targets_length = compute_input_and_target_lengths(512)
    inputs, targets = span_corruption(
        torch.randint(10, 900, (2, tokens_length)),
        sentinel_start_id=SENTINEL_0,
        eos_token_id=1,
    )
    assert inputs.shape == (2, 512) and targets.shape == (2, targets_length)


def test_tiny_t5_accepts_the_pair_and_gives_a_finite_loss():
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=1000,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(config)
    inputs, targets = span_corruption(
        torch.randint(10, 900, (3, 50)),
        sentinel_start_id=SENTINEL_0,
        eos_token_id=1,
        generator=torch.Generator().manual_seed(4),
    )
    loss = model(input_ids=inputs, labels=targets).loss
    assert torch.isfinite(loss) and loss > 0
    loss.backward()


def test_same_seed_same_corruption():
    ids = torch.randint(10, 900, (4, 64))
    a = span_corruption(
        ids,
        sentinel_start_id=SENTINEL_0,
        eos_token_id=1,
        generator=torch.Generator().manual_seed(5),
    )
    b = span_corruption(
        ids,
        sentinel_start_id=SENTINEL_0,
        eos_token_id=1,
        generator=torch.Generator().manual_seed(5),
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: random_spans_noise_mask(-1), ValueError, "length must be >= 0"),
        (
            lambda: random_spans_noise_mask(10, noise_density=1.0),
            ValueError,
            "noise_density",
        ),
        (
            lambda: random_spans_noise_mask(10, noise_density=math.nan),
            ValueError,
            "noise_density",
        ),
        (
            lambda: random_spans_noise_mask(10, mean_noise_span_length=0.5),
            ValueError,
            "mean_noise_span_length",
        ),
        (
            lambda: corrupted_lengths(10, mean_noise_span_length=0),
            ValueError,
            "mean_noise_span_length",
        ),
        (
            lambda: compute_input_and_target_lengths(
                64, mean_noise_span_length=math.inf
            ),
            ValueError,
            "mean_noise_span_length",
        ),
        (
            lambda: span_corruption(
                torch.tensor([[5, 999, 7, 8]]),
                sentinel_start_id=999,
                eos_token_id=1,
            ),
            ValueError,
            "sentinel range",
        ),
        (
            lambda: span_corruption(
                torch.tensor([[5, 6, 7, 8]]),
                sentinel_start_id=999,
                eos_token_id=999,
            ),
            ValueError,
            "eos_token_id",
        ),
        (
            lambda: span_corruption(
                torch.rand(2, 8), sentinel_start_id=999, eos_token_id=1
            ),
            TypeError,
            "integer token ids",
        ),
        (
            lambda: noise_span_to_unique_sentinel(
                torch.ones(3, dtype=torch.long),
                torch.ones(4, dtype=torch.bool),
                sentinel_start_id=9,
            ),
            ValueError,
            "same shape",
        ),
        (
            lambda: noise_span_to_unique_sentinel(
                torch.ones(2, 4, dtype=torch.long),
                torch.tensor([[0, 1, 1, 0], [0, 1, 0, 1]], dtype=torch.bool),
                sentinel_start_id=9,
            ),
            ValueError,
            "one row at a time",
        ),
    ],
)
def test_rejects_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
