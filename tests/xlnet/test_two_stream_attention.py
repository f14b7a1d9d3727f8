import pytest
import torch

from snippets.xlnet.permutation_lm import (
    permutation_masks,
    sample_factorization_order,
)
from snippets.xlnet.two_stream_attention import TwoStreamAttention


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = TwoStreamAttention(vocab_size=50, d_model=16, max_len=32)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50, (2, 10), generator=g)
    order = sample_factorization_order(2, 10, generator=g)
    is_target = torch.zeros(2, 10, dtype=torch.bool)
    is_target[:, 6:] = True
    perm_mask, _ = permutation_masks(order, is_target, dtype=torch.bool)
    return model, ids, perm_mask, is_target


def test_query_stream_at_a_target_does_not_depend_on_that_targets_token(setup):
    model, ids, perm_mask, is_target = setup
    h, g = model(ids, perm_mask)
    for p in range(6, 10):
        edited = ids.clone()
        edited[:, p] = (ids[:, p] + 7) % 50
        h2, g2 = model(edited, perm_mask)
        assert torch.allclose(g2[:, p], g[:, p])  # query stream: position only
        assert not torch.allclose(h2[:, p], h[:, p])  # content stream: sees itself


def test_query_stream_reads_the_visible_context(setup):
    model, ids, perm_mask, _ = setup
    _, g = model(ids, perm_mask)
    edited = ids.clone()
    edited[:, 0] = (ids[:, 0] + 1) % 50  # a non-target: visible to every target
    _, g2 = model(edited, perm_mask)
    assert not torch.allclose(g2[:, 6:], g[:, 6:])


def test_first_target_with_nothing_to_see_gets_zero_not_nan():
    model = TwoStreamAttention(10, 8, 8)
    order = torch.arange(4)[None]
    perm_mask, _ = permutation_masks(
        order, torch.ones(1, 4, dtype=torch.bool), dtype=torch.bool
    )
    h, g = model(torch.tensor([[1, 2, 3, 4]]), perm_mask)
    assert torch.isfinite(h).all() and torch.isfinite(g).all()
    assert torch.equal(g[0, 0], torch.zeros(8))


def test_rejects_bad_shapes():
    model = TwoStreamAttention(10, 8, 4)
    with pytest.raises(ValueError, match="perm_mask must be"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="exceeds max_len"):
        model(torch.zeros(1, 5, dtype=torch.long), torch.zeros(1, 5, 5))
