import pytest
import torch

from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans

MASK, VOCAB = 4, 500


# ---- knowledge masking ----


def test_units_are_masked_whole_or_not_at_all_and_the_budget_holds():
    g = torch.Generator().manual_seed(0)
    B, L = 300, 64
    ids = torch.randint(5, VOCAB, (B, L), generator=g)
    # random units of 1-4 tokens per row
    starts = torch.rand(B, L, generator=g) < 0.4
    starts[:, 0] = True
    unit_ids = starts.long().cumsum(1) - 1
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = True
    inputs, labels = knowledge_mask(
        ids,
        unit_ids,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        special_tokens_mask=special,
        generator=g,
    )
    selected = labels != -100
    stray = 0
    for b in range(B):
        for u in unit_ids[b].unique():
            in_unit = (unit_ids[b] == u) & ~special[b]
            assert selected[b][in_unit].all() or not selected[b][in_unit].any()
            masked = inputs[b][in_unit] == MASK
            if not masked.all():
                stray += int(
                    masked.sum()
                )  # a random replacement that happens to be [MASK]
    assert stray <= 5  # 80/10/10 decided per unit: no partly masked units
    assert not selected[special].any()
    budget = ((~special).sum(1).double() * 0.15).round()
    assert (selected.sum(1) <= budget).all() and selected.sum() > 0.8 * budget.sum()


def test_entity_level_masks_the_whole_entity():
    # 哈 尔 滨 是 黑 龙 江 的 省 会 : entities 哈尔滨 (0-3) and 黑龙江 (4-7),
    # phrase 省会 (8-10)
    units = units_from_spans(10, [(0, 3), (4, 7), (8, 10)])
    assert units.tolist() == [0, 0, 0, 1, 2, 2, 2, 3, 4, 4]
    ids = torch.arange(100, 110)[None].repeat(200, 1)
    _, labels = knowledge_mask(
        ids,
        units[None].repeat(200, 1),
        mlm_probability=0.3,
        mask_token_id=MASK,
        vocab_size=VOCAB,
        generator=torch.Generator().manual_seed(1),
    )
    chosen = labels != -100
    assert torch.equal(chosen[:, 0], chosen[:, 1]) and torch.equal(
        chosen[:, 1], chosen[:, 2]
    )
    assert chosen[:, 0].any() and not chosen[:, 0].all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"unit_ids": torch.zeros(2, 5, dtype=torch.long)},
            ValueError,
            "unit_ids must have the shape",
        ),
        (
            {"unit_ids": -torch.ones(2, 4, dtype=torch.long)},
            ValueError,
            "non-negative",
        ),
        ({"input_ids": torch.rand(2, 4)}, TypeError, "integer token ids"),
        ({"mlm_probability": 2.0}, ValueError, "mlm_probability"),
    ],
)
def test_knowledge_mask_rejects_bad_input(kwargs, error, match):
    args = {
        "input_ids": torch.ones(2, 4, dtype=torch.long),
        "unit_ids": torch.zeros(2, 4, dtype=torch.long),
        "mask_token_id": MASK,
        "vocab_size": VOCAB,
    } | kwargs
    with pytest.raises(error, match=match):
        knowledge_mask(args.pop("input_ids"), args.pop("unit_ids"), **args)
