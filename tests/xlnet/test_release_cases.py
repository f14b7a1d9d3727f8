"""Cases ported from XLNet's released data pipeline, `data_utils.py` of
zihangdai/xlnet, re-expressed in our own code against our API.

- `_local_perm`: how `perm_mask` follows from the factorization order and the
  targets (ported exactly, for sequences without [SEP]/[CLS], which the release
  keeps inside the permutation and this module treats as plain context);
- the `num_predict` branch of `get_dataset`'s parser: `target_mapping` is one
  one-hot row per target in position order, padded with zero rows whose
  `target_mask` is 0 (our label -100);
- the flags: `num_predict` = 85 targets for `seq_len` = 512, i.e. 1/6 of the
  tokens, which is our default plm_probability.

`_sample_mask` itself (n ~ p(n) ∝ 1/n from word starts, a fixed count topped up
with single tokens) is *not* what this module follows: it follows transformers'
collator, with uniform span lengths. The last test pins that choice, so the
docstring and the page cannot drift from the code.
"""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.xlnet.permutation_lm import (
    permutation_masks,
    plm_inputs,
    sample_factorization_order,
    sample_target_spans,
)
from stats import SIGMAS, total_variation


def _release_perm_mask(
    index: torch.Tensor, is_masked: torch.Tensor
) -> torch.Tensor:
    """`_local_perm` of data_utils.py for one sequence without functional tokens:
    non-targets get the smallest index (-1), targets cannot see themselves (their
    own index is compared as is, the others' one higher), and i cannot attend to
    j when i's index is <= j's and j is a target."""
    rev_index = torch.where(is_masked, index, torch.full_like(index, -1))
    self_rev_index = torch.where(is_masked, rev_index, rev_index + 1)
    return (self_rev_index[:, None] <= rev_index[None, :]) & is_masked[None, :]


@settings(max_examples=40, deadline=None)
@given(
    L=st.integers(1, 20),
    seed=st.integers(0, 2**31 - 1),
    rate=st.floats(0.0, 1.0),
)
def test_perm_mask_matches_the_release_local_perm(L, seed, rate):
    g = torch.Generator().manual_seed(seed)
    order = sample_factorization_order(3, L, generator=g)
    is_target = torch.rand(3, L, generator=g) < rate
    perm_mask, _ = permutation_masks(order, is_target, dtype=torch.bool)
    for b in range(3):
        assert torch.equal(perm_mask[b], _release_perm_mask(order[b], is_target[b]))


def test_target_mapping_is_the_release_one_hot_rows_padded_with_zero_rows():
    g = torch.Generator().manual_seed(0)
    L = 16
    ids = torch.randint(5, 100, (4, L), generator=g)
    out = plm_inputs(ids, plm_probability=0.3, generator=g)
    K = out["target_mapping"].shape[1]
    for b in range(4):
        # release: indices = the target positions in order; one_hot(indices, L),
        # then zero rows up to num_predict; target_mask 1 then 0
        row_targets = out["target_mapping"][b].bool().any(0)
        indices = row_targets.nonzero()[:, 0]
        pad = K - len(indices)
        expected = torch.cat(
            [torch.nn.functional.one_hot(indices, L).float(), torch.zeros(pad, L)]
        )
        target_mask = torch.cat([torch.ones(len(indices)), torch.zeros(pad)])
        assert torch.equal(out["target_mapping"][b], expected)
        assert torch.equal(out["labels"][b] != -100, target_mask.bool())
        assert torch.equal(out["labels"][b][: len(indices)], ids[b][indices])


def test_default_rate_gives_the_release_num_predict_of_85_in_512_tokens():
    B, seq_len, num_predict = 256, 512, 85  # data_utils.py flags
    targets = sample_target_spans(
        torch.ones(B, seq_len, dtype=torch.bool),
        generator=torch.Generator().manual_seed(1),
    )
    per_row = targets.sum(1).double()
    bound = SIGMAS * float(per_row.std()) / B**0.5 + 5  # + one span cut by the end
    assert abs(float(per_row.mean()) - seq_len / 6) <= bound
    assert abs(seq_len / 6 - num_predict) < 1


def test_span_lengths_are_uniform_as_the_collator_not_one_over_n_as_the_release():
    # At a low rate spans almost never touch, so runs of targets are spans.
    targets = sample_target_spans(
        torch.ones(64, 4096, dtype=torch.bool),
        plm_probability=0.02,
        generator=torch.Generator().manual_seed(2),
    )
    edges = torch.nn.functional.pad(targets.int(), (1, 1)).diff(dim=1)
    starts, ends = (edges == 1).nonzero()[:, 1], (edges == -1).nonzero()[:, 1]
    lengths = ends - starts
    counts = torch.bincount(lengths, minlength=6)[1:6]
    uniform = torch.ones(5)
    one_over_n = 1 / torch.arange(1, 6).double()  # _sample_mask's pvals, max_gram 5
    apart = total_variation(uniform, one_over_n)  # 0.26
    assert total_variation(counts, uniform) < apart / 4
    assert total_variation(counts, one_over_n) > apart / 2
