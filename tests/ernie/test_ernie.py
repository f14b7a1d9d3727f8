import math

import pytest
import torch

from snippets.ernie.continual_multitask import (
    ContinualMultiTaskSchedule,
    TaskEmbedding,
    joint_schedule,
    sequential_schedule,
)
from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans
from snippets.ernie.sentence_distance import (
    ADJACENT,
    DIFFERENT_DOCUMENT,
    SAME_DOCUMENT,
    sentence_distance_examples,
)
from snippets.ernie.sentence_reordering import (
    label_to_permutation,
    num_classes,
    permutation_to_label,
    reorder_example,
)
from stats import chi_square_pvalue

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
    # 哈 尔 滨 是 黑 龙 江 的 省 会 : entities 哈尔滨 (0-3) and 黑龙江 (4-7), phrase 省会 (8-10)
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


# ---- sentence reordering ----


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_label_permutation_bijection_over_every_class(m):
    assert num_classes(m) == sum(math.factorial(n) for n in range(1, m + 1))
    seen = set()
    for label in range(num_classes(m)):
        perm = label_to_permutation(label, m)
        assert permutation_to_label(perm) == label
        seen.add(tuple(perm))
    assert len(seen) == num_classes(m)


def test_for_fixed_n_labels_are_uniform_over_its_permutations():
    g = torch.Generator().manual_seed(2)
    paragraph = [[i] for i in range(3)]  # exactly 3 sentences, m = 3
    labels = [
        reorder_example(paragraph, max_segments=3, generator=g)[1]
        for _ in range(6000)
    ]
    n3 = torch.tensor([l for l in labels if l >= 3]) - 3  # labels of n = 3: 3..8
    counts = torch.bincount(n3, minlength=6)
    assert chi_square_pvalue(counts, torch.ones(6)) > 1e-6
    n_counts = torch.tensor(
        [sum(l == 0 for l in labels), sum(l in (1, 2) for l in labels), len(n3)]
    )
    assert chi_square_pvalue(n_counts, torch.ones(3)) > 1e-6  # n ~ U{1..m}


def test_shuffled_pieces_are_the_paragraph_in_another_order():
    g = torch.Generator().manual_seed(3)
    paragraph = [[1, 2], [3], [4, 5, 6], [7]]
    for _ in range(50):
        pieces, label = reorder_example(paragraph, max_segments=3, generator=g)
        perm = label_to_permutation(label, 3)
        restored = [None] * len(pieces)
        for i, j in enumerate(perm):
            restored[j] = pieces[i]
        assert [t for p in restored for t in p] == [1, 2, 3, 4, 5, 6, 7]


def test_reordering_rejects_bad_input():
    with pytest.raises(ValueError, match="not a permutation"):
        permutation_to_label([0, 0, 1])
    with pytest.raises(ValueError, match="label must be in"):
        label_to_permutation(9, 3)
    with pytest.raises(ValueError, match="non-empty"):
        reorder_example([], max_segments=3)


# ---- sentence distance ----


def test_sentence_distance_labels_mean_what_they_say():
    docs = [[[100 * d + i] for i in range(6)] for d in range(3)]
    examples = sentence_distance_examples(
        docs, generator=torch.Generator().manual_seed(4)
    )
    assert len(examples) == 3 * 5
    for e in examples:
        da, ia = divmod(e.sentence_a[0], 100)
        db, ib = divmod(e.sentence_b[0], 100)
        if e.label == ADJACENT:
            assert da == db and ib == ia + 1
        elif e.label == SAME_DOCUMENT:
            assert da == db and abs(ib - ia) >= 2
        else:
            assert e.label == DIFFERENT_DOCUMENT and da != db
    assert {e.label for e in examples} == {0, 1, 2}


def test_sentence_distance_rejects_bad_input():
    with pytest.raises(TypeError, match="list of documents"):
        sentence_distance_examples("text")


# ---- continual multi-task schedule ----


def test_schedule_introduces_one_task_per_stage_and_spreads_iterations():
    s = ContinualMultiTaskSchedule(
        ["a", "b", "c"], [30, 20, 10], generator=torch.Generator().manual_seed(5)
    )
    assert s.stage_iterations == [[10, 0, 0], [10, 10, 0], [10, 10, 10]]
    steps = s.steps()
    assert torch.bincount(steps).tolist() == [30, 20, 10] and len(s) == 60 == len(
        list(s)
    )
    stage_ends = torch.tensor([10, 30, 60])
    for k, end in enumerate(stage_ends.tolist()):
        start = 0 if k == 0 else stage_ends[k - 1].item()
        assert set(steps[start:end].tolist()) == set(
            range(k + 1)
        )  # stage k trains tasks 0..k
    assert steps[:10].eq(0).all()


def test_uneven_iterations_give_the_remainder_to_early_stages():
    s = ContinualMultiTaskSchedule(["a", "b"], 7, shuffle=False)
    assert s.stage_iterations == [[4, 0], [3, 7]]
    assert torch.equal(sequential_schedule(2, 3), torch.tensor([0, 0, 0, 1, 1, 1]))
    assert torch.bincount(
        joint_schedule(3, 4, generator=torch.Generator().manual_seed(0))
    ).tolist() == [4, 4, 4]


def test_task_embedding_adds_one_vector_per_task():
    emb = TaskEmbedding(3, 4)
    x = torch.zeros(2, 5, 4)
    out = emb(x, torch.tensor([0, 2]))
    assert torch.equal(out[0, 3], emb.embedding.weight[0]) and torch.equal(
        out[1, 0], emb.embedding.weight[2]
    )
    assert torch.equal(emb(x, 1)[1, 2], emb.embedding.weight[1])
    with pytest.raises(ValueError, match="task ids"):
        emb(x, 3)


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one task"):
        ContinualMultiTaskSchedule([], 10)
    with pytest.raises(ValueError, match="2 entries for 3 tasks"):
        ContinualMultiTaskSchedule(["a", "b", "c"], [1, 2])
    with pytest.raises(ValueError, match="iterations_per_task"):
        ContinualMultiTaskSchedule(["a"], 0)
