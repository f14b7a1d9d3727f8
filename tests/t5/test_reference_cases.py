"""The reference's own cases, re-expressed against our API.

Reference: google-research/text-to-text-transfer-transformer,
`t5/data/preprocessors_test.py` (the tests) and `t5/data/preprocessors.py` (the code
they test). Each test names the reference test it ports. Where the reference draws a
mask from TensorFlow's stateless seeds, our generator cannot reproduce its sample:
those ports check the counts and the structure the sample has, and the law it is
drawn from.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from snippets.t5.span_corruption import (
    compute_input_and_target_lengths,
    corrupted_lengths,
    noise_span_to_unique_sentinel,
    nonnoise_span_to_unique_sentinel,
    random_spans_noise_mask,
    random_spans_noise_mask_batch,
    span_corruption,
)
from stats import chi_square_pvalue


def _runs(mask: torch.Tensor) -> list[tuple[bool, int]]:
    values = [int(v) for v in mask.tolist()]
    return [(bool(v), len(list(g))) for v, g in itertools.groupby(values)]


def _reference_helper(inputs_length, noise_density, mean_noise_span_length):
    """random_spans_helper (preprocessors.py) with one sentinel per span on each
    side, in our own words: a scan upwards from inputs_length - 1, then the step
    back at noise_density = 0.5."""

    def lengths(n):
        noise = round(n * noise_density)
        spans = round(noise / mean_noise_span_length)
        return n - noise + spans + 1, noise + spans + 1

    n = inputs_length - 1
    while lengths(n + 1)[0] <= inputs_length:
        n += 1
    inputs, targets = lengths(n)
    if noise_density == 0.5 and targets > inputs:
        n, targets = n - 1, targets - 1
    return n, targets


# ---- test_random_spans_helper ----------------------------------------------------


@pytest.mark.parametrize(
    "mean_noise_span_length, expected", [(2.0, (70, 22)), (1.0, (63, 27))]
)
def test_random_spans_helper(mean_noise_span_length, expected):
    # 64 raw tokens at mean span length 1 would give a 65-token input: 63 is right
    assert compute_input_and_target_lengths(64, 0.2, mean_noise_span_length) == (
        expected
    )


def test_lengths_match_the_reference_arithmetic_on_a_grid():
    refused = []
    for inputs_length in (*range(2, 80), 100, 128, 177, 256, 512, 1024):
        for density in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 0.8):
            for mean in (1.0, 1.5, 2.0, 3.0, 5.0, 10.0):
                reference = _reference_helper(inputs_length, density, mean)
                try:
                    ours = compute_input_and_target_lengths(
                        inputs_length, density, mean
                    )
                except ValueError as err:
                    # refused only where the noise mask would not give the
                    # lengths the reference's arithmetic promises
                    assert "reference arithmetic" in str(err)
                    n, targets = reference
                    got = corrupted_lengths(n, density, mean)
                    if density == 0.5:
                        assert got[0] > inputs_length or got[1] > targets
                    else:
                        assert got != (inputs_length, targets)
                    refused.append((inputs_length, density, mean))
                    continue
                assert ours == reference
                # and the noise mask gives exactly these lengths (at 0.5, one raw
                # token fewer may give one token less, as in the reference)
                got = corrupted_lengths(ours[0], density, mean)
                if density == 0.5:
                    assert got[0] <= inputs_length and got[1] <= ours[1]
                else:
                    assert got == (inputs_length, ours[1])
    # refused: fewer noise tokens than the mean span length, which rounds to no
    # span, and density 0.8 with spans shorter than 4, where the reference's own
    # mask needs more noise spans than there are other tokens and fails
    assert all(n * d <= m or d == 0.8 for n, d, m in refused)


def test_the_length_search_ends_quickly_for_any_setting():
    # the old search never returned for (3, 1 - 1e-12); the scan would take
    # hundreds of millions of steps here
    with pytest.raises(ValueError, match="no non-noise token"):
        compute_input_and_target_lengths(3, 1 - 1e-12)
    n, _ = compute_input_and_target_lengths(10**6, 0.999, 1000.0)
    assert corrupted_lengths(n, 0.999, 1000.0)[0] == 10**6
    assert corrupted_lengths(n + 1, 0.999, 1000.0)[0] > 10**6


# ---- test_random_spans_noise_mask -----------------------------------------------

# the reference's sample for length 32, noise density 0.25, mean span length 2
REFERENCE_SAMPLE = torch.tensor(
    [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0]
    + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
).bool()


def _structure(mask):
    runs = _runs(mask)
    noise = [n for v, n in runs if v]
    return sum(noise), len(noise), runs[0][0], runs[-1][0]


def test_random_spans_noise_mask():
    # "there should be 4 noise spans with a total length of 8"
    assert _structure(REFERENCE_SAMPLE) == (8, 4, False, True)
    masks = random_spans_noise_mask_batch(
        50, 32, 0.25, 2.0, generator=torch.Generator().manual_seed(0)
    )
    for mask in masks:  # non-noise first, noise last, as in the reference's sample
        assert _structure(mask) == (8, 4, False, True)


def test_random_spans_noise_mask_no_corruption():
    assert not random_spans_noise_mask(32, 0.0, 2.0).any()


def test_random_spans_noise_mask_with_roll_avg():
    # 50 short masks, lengths 16, 17, 18: the density is within 0.01 of 0.15
    g = torch.Generator().manual_seed(0)
    masks = [
        random_spans_noise_mask(16 + i % 3, 0.15, 3, generator=g) for i in range(50)
    ]
    total = sum(int(m.sum()) for m in masks)
    assert abs(total / sum(len(m) for m in masks) - 0.15) <= 0.01


def test_every_mask_is_equally_likely():
    # the reference's docstring: "Subject to the above restrictions, all masks are
    # equally likely." Length 10, density 0.4, mean 2: 4 noise tokens in 2 spans and
    # 6 others in 2 spans, so 3 * 5 = 15 masks. Chi-square against uniform.
    masks = random_spans_noise_mask_batch(
        6000, 10, 0.4, 2.0, generator=torch.Generator().manual_seed(0)
    )
    codes = (masks.long() * (2 ** torch.arange(10))).sum(1)
    values, counts = codes.unique(return_counts=True)
    assert len(values) == 15
    assert chi_square_pvalue(counts, torch.ones(15)) > 1e-6
    # and the test can tell: a mask that favours short first spans fails it
    skewed = torch.cat([counts, counts[:1] * 0 + 600])
    assert chi_square_pvalue(skewed, torch.ones(16)) < 1e-6


def test_short_rows_have_no_noise_as_in_the_reference():
    # the reference pads length to 2 and cuts the mask back: a 1-token row keeps
    # its one token (non-noise comes first), an empty row stays empty
    assert random_spans_noise_mask(1).tolist() == [False]
    assert random_spans_noise_mask(0).shape == (0,)


def test_counts_are_rounded_like_the_length_helper():
    # 190 * 0.15 is 28.5 in float64: Python rounds it to 28 (the helper's count,
    # and ours); the reference's float32 mask rounds the product up to 29
    assert int(random_spans_noise_mask(190, 0.15).sum()) == 28
    assert np.round(np.float32(190) * np.float32(0.15)) == 29


# ---- the sentinel tests ----------------------------------------------------------

TOKENS = torch.tensor([10, 11, 12, 13, 14, 15])
NOISE = torch.tensor([True, True, False, False, True, False])


def test_noise_span_to_unique_sentinel():
    # vocabulary of 1000: the sentinels count down from 999
    out = noise_span_to_unique_sentinel(TOKENS, NOISE, sentinel_start_id=999)
    assert out.tolist() == [999, 12, 13, 998, 15]


def test_nonnoise_span_to_unique_sentinel():
    # test_nonnoise_span_to_sentinel's example, with a new sentinel for each span
    # (the reference defines the unique form as the same call on the inverted mask)
    out = nonnoise_span_to_unique_sentinel(TOKENS, NOISE, sentinel_start_id=999)
    assert out.tolist() == [10, 11, 999, 14, 998]


# test_denoise / test_denoise_no_corruption: "The quick brown fox." in the test
# vocabulary of 26 pieces, whose last id (25) is the first sentinel
FOX = torch.tensor([3, 2, 20, 4, 3, 2, 8, 13, 2, 3, 2, 23, 7, 19, 22, 3, 2, 7, 2])


def test_denoise():
    # noise density 0.3 over 19 tokens: 6 noise tokens in 2 spans, [2] at 8 and
    # [22, 3, 2, 7, 2] at 14..18
    assert corrupted_lengths(19, 0.3, 3.0) == (19 - 6 + 2 + 1, 6 + 2 + 1)
    noise = torch.zeros(19, dtype=torch.bool)
    noise[8] = noise[14:] = True
    inputs = noise_span_to_unique_sentinel(FOX, noise, sentinel_start_id=25)
    targets = nonnoise_span_to_unique_sentinel(FOX, noise, sentinel_start_id=25)
    assert inputs.tolist() == [3, 2, 20, 4, 3, 2, 8, 13, 25, 3, 2, 23, 7, 19, 24]
    assert targets.tolist() == [25, 2, 24, 22, 3, 2, 7, 2]
    # a mask of ours for the same setting has the same counts
    assert _structure(random_spans_noise_mask(19, 0.3)) == (6, 2, False, True)


def test_denoise_no_corruption():
    inputs, targets = span_corruption(
        FOX[None], sentinel_start_id=25, eos_token_id=1, noise_density=0.0
    )
    assert inputs.tolist() == [[*FOX.tolist(), 1]]  # nothing is corrupted
    assert targets.tolist() == [[25, 1]]


def test_span_corruption_passthrough():
    # 99 raw tokens never give a longer input
    for seed in range(10):
        inputs, _ = span_corruption(
            torch.arange(1, 100)[None],
            sentinel_start_id=32099,
            eos_token_id=1,
            generator=torch.Generator().manual_seed(seed),
        )
        assert inputs.shape[1] <= 99


def test_sentinel_budget_of_t5_and_mt5():
    # t5/data/utils.py: DEFAULT_EXTRA_IDS = 100 sentinel ids. At the defaults a row
    # needs more from 2,010 tokens; 8,192 tokens need 410.
    ids = torch.randint(10, 32000, (1, 8192))
    with pytest.raises(ValueError, match="410 sentinels, but num_sentinels=100"):
        span_corruption(ids, sentinel_start_id=32099, eos_token_id=1)
    for length, ok in ((2009, True), (2010, False)):
        if ok:
            span_corruption(
                ids[:, :length], sentinel_start_id=32099, eos_token_id=1
            )
        else:
            with pytest.raises(ValueError, match="num_sentinels"):
                span_corruption(
                    ids[:, :length], sentinel_start_id=32099, eos_token_id=1
                )
    inputs, _ = span_corruption(
        ids, sentinel_start_id=40000, eos_token_id=1, num_sentinels=410
    )
    assert (
        int(inputs[0, :-1].max()) == 40000 and (inputs >= 40000 - 409).sum() == 410
    )


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int32])
def test_ids_too_narrow_for_the_sentinels_are_widened(dtype):
    ids = torch.randint(
        10, 100, (4, 64), generator=torch.Generator().manual_seed(0)
    )
    g = torch.Generator().manual_seed(1)
    inputs, targets = span_corruption(
        ids.to(dtype), sentinel_start_id=32099, eos_token_id=1, generator=g
    )
    g = torch.Generator().manual_seed(1)
    wide = span_corruption(
        ids, sentinel_start_id=32099, eos_token_id=1, generator=g
    )
    expected = dtype if torch.iinfo(dtype).max >= 32099 else torch.int64
    assert inputs.dtype == targets.dtype == expected
    assert torch.equal(inputs.long(), wide[0]) and torch.equal(
        targets.long(), wide[1]
    )


@pytest.mark.parametrize("length", [0, 1, 2, 3])
def test_short_rows_and_empty_batches(length):
    for B in (0, 3):
        ids = torch.randint(10, 900, (B, length))
        inputs, targets = span_corruption(
            ids, sentinel_start_id=999, eos_token_id=1
        )
        assert (inputs.shape[1], targets.shape[1]) == corrupted_lengths(length)
        assert inputs.shape[0] == targets.shape[0] == B


def test_mean_span_length_validation_is_early():
    for bad in (0, 0.5, math.nan, math.inf):
        with pytest.raises(ValueError, match="mean_noise_span_length"):
            span_corruption(
                torch.ones(1, 8, dtype=torch.long),
                sentinel_start_id=999,
                eos_token_id=1,
                mean_noise_span_length=bad,
            )
