import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import XLNetConfig, XLNetLMHeadModel

from snippets.xlnet.permutation_lm import (
    permutation_masks,
    plm_inputs,
    sample_factorization_order,
    sample_target_spans,
)
from stats import SIGMAS


@settings(max_examples=60, deadline=None)
@given(
    B=st.integers(1, 4),
    L=st.integers(1, 24),
    seed=st.integers(0, 2**31 - 1),
    rate=st.floats(0.0, 1.0),
)
def test_mask_invariants_hold_for_random_shapes(B, L, seed, rate):
    g = torch.Generator().manual_seed(seed)
    order = sample_factorization_order(B, L, generator=g)
    is_target = torch.rand(B, L, generator=g) < rate
    perm_mask, target_mapping = permutation_masks(
        order, is_target, dtype=torch.bool
    )
    assert torch.equal(
        order.sort(-1).values, torch.arange(L).expand(B, L)
    )  # a permutation's ranks
    can_see = ~perm_mask
    t_i, t_j = is_target[:, :, None], is_target[:, None, :]
    earlier = order[:, None, :] < order[:, :, None]
    assert can_see[
        (t_i & ~t_j).expand_as(can_see)
    ].all()  # targets see every non-target
    assert torch.equal(
        can_see & t_i & t_j, t_i & t_j & earlier
    )  # ...and earlier targets only
    assert not (can_see & ~t_i & t_j).any()  # non-targets see no target
    assert can_see[
        (~t_i & ~t_j).expand_as(can_see)
    ].all()  # ...and every non-target
    assert not can_see.diagonal(dim1=1, dim2=2)[is_target].any()  # never itself
    K = int(is_target.sum(1).max()) if B else 0
    assert target_mapping.shape == (B, K, L)
    counts = is_target.sum(1)
    for b in range(
        B
    ):  # the one-hot rows pick the targets, in position order, then zero rows
        rows = target_mapping[b]
        assert torch.equal(
            rows[: counts[b]].nonzero()[:, 1], is_target[b].nonzero()[:, 0]
        )
        assert not rows[counts[b] :].any()


@pytest.fixture(scope="module")
def tiny_xlnet():
    torch.manual_seed(0)
    config = XLNetConfig(
        vocab_size=60, d_model=32, n_layer=2, n_head=4, d_inner=64, dropout=0.0
    )
    return XLNetLMHeadModel(config).eval()


def _logits(model, inputs, ids):
    with torch.no_grad():
        return model(
            input_ids=ids,
            perm_mask=inputs["perm_mask"],
            target_mapping=inputs["target_mapping"],
        ).logits


def test_xlnet_prediction_ignores_its_own_token_and_later_targets(tiny_xlnet):
    g = torch.Generator().manual_seed(1)
    L = 18
    ids = torch.randint(0, 60, (2, L), generator=g)
    inputs = plm_inputs(ids, plm_probability=1 / 3, max_span_length=3, generator=g)
    base = _logits(tiny_xlnet, inputs, ids)
    positions = inputs["target_mapping"].argmax(-1)
    checked = changed_by_context = 0
    for b in range(2):
        # one forward pass for the L copies of row b, copy j with token j changed
        edited = ids[b].repeat(L, 1)
        edited.diagonal().copy_((ids[b] + 1) % 60)
        row = {
            k: inputs[k][b : b + 1].expand(L, *inputs[k].shape[1:]) for k in inputs
        }
        delta = (
            (_logits(tiny_xlnet, row, edited) - base[b]).abs().amax(-1)
        )  # [j, k]
        is_target = torch.zeros(L, dtype=torch.bool)
        valid_k = (inputs["labels"][b] != -100).nonzero()[:, 0]
        is_target[positions[b, valid_k]] = True
        for k in valid_k.tolist():
            # what target p may not see: itself and later-ordered targets
            hidden_from_p = inputs["perm_mask"][b, positions[b, k]].bool()
            assert (delta[hidden_from_p, k] < 1e-5).all(), (b, k)
            checked += int(hidden_from_p.sum())
            context = ~hidden_from_p & ~is_target
            changed_by_context += int((delta[context, k] > 1e-4).sum())
    assert checked > 0
    assert changed_by_context > 0  # the visible context does move the prediction


def test_plm_inputs_feed_xlnet_and_give_a_finite_loss(tiny_xlnet):
    ids = torch.randint(0, 60, (3, 20), generator=torch.Generator().manual_seed(2))
    inputs = plm_inputs(ids, generator=torch.Generator().manual_seed(3))
    loss = tiny_xlnet(**inputs).loss
    assert torch.isfinite(loss)


def test_about_one_sixth_of_tokens_are_targets_and_specials_never():
    B, L = 64, 512
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, -2:] = True
    special[:, 200:260] = True  # padding in the middle of a row
    g = torch.Generator().manual_seed(4)
    is_target = sample_target_spans(~special, generator=g)
    assert not (is_target & special).any()
    # spans (not tokens) are the independent units: ~B·L/(6·3) spans of length ~3
    n_spans = B * L // 18
    expected = (1 / 6) * float((~special).float().mean())
    assert (
        abs(float(is_target.float().mean()) - expected)
        < 5 * 3 * (1 / 6 / n_spans) ** 0.5
    )


def test_labels_are_the_target_tokens_and_the_input_is_not_replaced():
    ids = torch.randint(
        0, 1000, (4, 64), generator=torch.Generator().manual_seed(5)
    )
    special = torch.zeros_like(ids, dtype=torch.bool)
    special[:, 0] = True
    inputs = plm_inputs(
        ids, special_tokens_mask=special, generator=torch.Generator().manual_seed(6)
    )
    assert torch.equal(inputs["input_ids"], ids)
    tm = inputs["target_mapping"].bool()
    for b in range(4):
        valid = inputs["labels"][b] != -100
        assert torch.equal(
            inputs["labels"][b][valid], ids[b][tm[b][valid].nonzero()[:, 1]]
        )
    assert not tm[:, :, 0].any()


def test_same_seed_same_inputs():
    ids = torch.randint(0, 100, (2, 30))
    a = plm_inputs(ids, generator=torch.Generator().manual_seed(9))
    b = plm_inputs(ids, generator=torch.Generator().manual_seed(9))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"input_ids": torch.zeros(2, 8)}, TypeError, "integer token ids"),
        ({"input_ids": torch.zeros(8, dtype=torch.long)}, ValueError, r"2-D"),
        ({"plm_probability": 0.0}, ValueError, "plm_probability"),
        ({"plm_probability": 1.5}, ValueError, "plm_probability"),
        ({"plm_probability": float("nan")}, ValueError, "plm_probability"),
        (
            {"plm_probability": 1e-300, "max_span_length": 2**60},
            ValueError,
            "overflow",
        ),
        ({"max_span_length": 0}, ValueError, "max_span_length"),
        (
            {"special_tokens_mask": torch.zeros(2, 9, dtype=torch.bool)},
            ValueError,
            "shape of input_ids",
        ),
        ({"generator": "seed"}, TypeError, "torch.Generator"),
    ],
)
def test_rejects_bad_input(kwargs, error, match):
    args = {"input_ids": torch.zeros(2, 8, dtype=torch.long)} | kwargs
    with pytest.raises(error, match=match):
        plm_inputs(args.pop("input_ids"), **args)


def test_permutation_masks_rejects_mismatched_shapes_and_non_permutations():
    order = torch.arange(3).expand(2, 3)
    with pytest.raises(ValueError, match="is_target must have the shape of order"):
        permutation_masks(order, torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        permutation_masks(order, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="permutation"):
        permutation_masks(torch.zeros(2, 3, dtype=torch.long), order > 0)


# The achieved fraction is plm_probability across the whole range (0, 1]. Long
# rows keep the one context that the row's end cuts short (at most
# max_span_length tokens short of its share) from moving the rate: that is the
# `max_span / L` term. transformers' collator floors ℓ / p instead, and gives 0.65
# at 0.6, 0.83 at 0.75 and 1.0 at 0.9, far outside these bounds.
@pytest.mark.parametrize(
    "p", [0.01, 0.05, 1 / 6, 1 / 7, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0]
)
def test_target_fraction_is_plm_probability_across_the_range(p):
    B, L, max_span = 32, 2048, 5
    valid = torch.ones(B, L, dtype=torch.bool)
    g = torch.Generator().manual_seed(int(p * 1e6))
    rows = (
        sample_target_spans(valid, plm_probability=p, generator=g).double().mean(1)
    )
    standard_error = float(rows.std()) / B**0.5
    bound = SIGMAS * standard_error + max_span / L
    assert abs(float(rows.mean()) - p) <= bound, (float(rows.mean()), p, bound)


def test_floored_context_lengths_are_what_overshoots():
    # transformers' DataCollatorForPermutationLanguageModeling: context_length =
    # int(span_length / plm_probability), span_length ~ U{1..5}; its long-run
    # target fraction is E[ℓ] / E[int(ℓ / p)]
    def floored(p):
        return sum(range(1, 6)) / sum(int(ell / p) for ell in range(1, 6))

    assert round(floored(0.6), 2) == 0.65
    assert round(floored(0.75), 2) == 0.83
    assert floored(0.9) == 1.0
    assert floored(1 / 6) == pytest.approx(1 / 6)  # 1/p an integer: exact


def test_an_integer_one_over_p_tiles_the_row_in_contexts_of_exactly_k_tokens():
    # With ℓ = 1 and 1/p = k, each context is exactly k tokens, as the collator's
    # int(ℓ / p): every complete block [j·k, (j+1)·k) holds exactly one target.
    for k in (1, 2, 3, 6, 7):
        L = 20 * k
        targets = sample_target_spans(
            torch.ones(8, L, dtype=torch.bool),
            plm_probability=1 / k,
            max_span_length=1,
            generator=torch.Generator().manual_seed(k),
        )
        assert (targets.view(8, 20, k).sum(-1) == 1).all(), k


def test_every_valid_token_is_a_target_at_probability_one():
    special = torch.zeros(4, 30, dtype=torch.bool)
    special[:, 0] = special[:, 20:] = True
    targets = sample_target_spans(
        ~special, plm_probability=1.0, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(targets, ~special)


def test_a_tiny_probability_gives_no_targets_and_no_error():
    ids = torch.randint(0, 50, (3, 40), generator=torch.Generator().manual_seed(0))
    out = plm_inputs(
        ids, plm_probability=1e-300, generator=torch.Generator().manual_seed(1)
    )
    assert out["target_mapping"].shape == (3, 0, 40) and out["labels"].shape == (
        3,
        0,
    )
    assert not out["perm_mask"].any()
