"""ERNIE 2.0's structure-aware tasks (sentence reordering, sentence distance) and
its continual multi-task schedule (Sun et al. 2020; the AAAI version numbers no
sections)."""

import math

import pytest
import torch

from snippets.ernie.continual_multitask import (
    ContinualMultiTaskSchedule,
    TaskEmbedding,
    joint_schedule,
    sequential_schedule,
)
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
    n3 = torch.tensor([y for y in labels if y >= 3]) - 3  # labels of n = 3: 3..8
    counts = torch.bincount(n3, minlength=6)
    assert chi_square_pvalue(counts, torch.ones(6)) > 1e-6
    n_counts = torch.tensor(
        [sum(y == 0 for y in labels), sum(y in (1, 2) for y in labels), len(n3)]
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
    with pytest.raises(ValueError, match="permutation"):
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
    with pytest.raises(ValueError, match="task_ids"):
        emb(x, 3)


def test_schedule_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one task"):
        ContinualMultiTaskSchedule([], 10)
    with pytest.raises(ValueError, match="2 entries for 3 tasks"):
        ContinualMultiTaskSchedule(["a", "b", "c"], [1, 2])
    with pytest.raises(ValueError, match="iterations_per_task"):
        ContinualMultiTaskSchedule(["a"], 0)


# ---- bad input and edge cases (issue 10) ----


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_task_embedding_keeps_the_embeddings_dtype(dtype):
    emb = TaskEmbedding(2, 4)
    x = torch.randn(3, 5, 4).to(dtype)
    out = emb(x, torch.tensor([0, 1, 1]))
    assert out.dtype == dtype
    expected = x.float() + emb.embedding.weight[[0, 1, 1]][:, None].detach()
    assert torch.allclose(out.float(), expected, atol=5e-2)


@pytest.mark.parametrize(
    "tasks, iterations, error, match",
    [
        ("abc", 4, TypeError, "tasks must be a list"),
        (["a", "a"], 4, ValueError, "distinct"),
        (["a", "b"], 4.0, TypeError, "iterations_per_task"),
        (["a", "b"], [4.0, 2], TypeError, "iterations_per_task"),
        (["a", "b"], True, TypeError, "iterations_per_task"),
    ],
)
def test_schedule_rejects_strings_duplicates_and_float_counts(
    tasks, iterations, error, match
):
    with pytest.raises(error, match=match):
        ContinualMultiTaskSchedule(tasks, iterations)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: permutation_to_label([]), ValueError, "permutation"),
        (lambda: permutation_to_label([True, False]), TypeError, "permutation"),
        (lambda: label_to_permutation(2.0, 3), TypeError, "label"),
        (lambda: label_to_permutation(0, 10**6), ValueError, "max_segments"),
        (lambda: num_classes(0), ValueError, "max_segments"),
        (lambda: reorder_example([[1], [2.5]]), TypeError, "segments"),
    ],
)
def test_reordering_labels_reject_what_is_not_a_permutation(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _numbered(n_docs, n_sentences):
    return [[[100 * d + i] for i in range(n)] for d, n in enumerate(n_sentences)]


def test_an_empty_document_beside_a_real_one_loses_no_example():
    # before: DIFFERENT_DOCUMENT could pick the empty document, and the example
    # was dropped
    for seed in range(20):
        docs = [[[1], [2], [3]], []]
        examples = sentence_distance_examples(
            docs, generator=torch.Generator().manual_seed(seed)
        )
        assert len(examples) == 2
        assert all(e.label != DIFFERENT_DOCUMENT for e in examples)


def test_each_label_is_uniform_over_the_classes_its_sentence_allows():
    # sentence 0 of a 2-sentence document allows ADJACENT and DIFFERENT_DOCUMENT;
    # sentence 1 of a 4-sentence document allows all three
    docs = [[[0], [1]], [[10], [11], [12], [13]]] * 1500
    examples = sentence_distance_examples(
        docs, generator=torch.Generator().manual_seed(7)
    )
    two = torch.tensor([e.label for e in examples if e.sentence_a == [0]])
    three = torch.tensor([e.label for e in examples if e.sentence_a == [11]])
    assert set(two.tolist()) == {ADJACENT, DIFFERENT_DOCUMENT}
    counts2 = torch.bincount(two, minlength=3)[[ADJACENT, DIFFERENT_DOCUMENT]]
    assert chi_square_pvalue(counts2, torch.ones(2)) > 1e-6
    assert (
        chi_square_pvalue(torch.bincount(three, minlength=3), torch.ones(3)) > 1e-6
    )


def test_far_sentences_are_drawn_uniformly():
    # sentence 2 of a 9-sentence document has far sentences 0, 4, 5, 6, 7, 8
    docs = [[[1000 * c + i] for i in range(9)] for c in range(3000)]
    examples = sentence_distance_examples(
        docs, generator=torch.Generator().manual_seed(8)
    )
    far = [
        e.sentence_b[0] % 1000
        for e in examples
        if e.sentence_a[0] % 1000 == 2 and e.label == SAME_DOCUMENT
    ]
    counts = torch.bincount(torch.tensor(far), minlength=9)
    assert counts[[1, 2, 3]].sum() == 0
    assert chi_square_pvalue(counts[[0, 4, 5, 6, 7, 8]], torch.ones(6)) > 1e-6


def test_other_documents_are_drawn_uniformly_among_those_with_sentences():
    # documents 1, 2 and 4 have sentences, document 3 has none
    docs = [[[i] for i in range(3001)], [[100_000], [100_001]], [[200_000]], []]
    docs.append([[400_000], [400_001]])
    examples = sentence_distance_examples(
        docs, generator=torch.Generator().manual_seed(9)
    )
    drawn = torch.tensor(
        [
            e.sentence_b[0]
            for e in examples
            if e.sentence_a[0] < 100_000 and e.label == DIFFERENT_DOCUMENT
        ]
    )
    by_document = torch.bincount(drawn // 100_000, minlength=5)
    assert by_document[0] == by_document[3] == 0
    assert chi_square_pvalue(by_document[[1, 2, 4]], torch.ones(3)) > 1e-6
    second = torch.bincount(drawn[drawn // 100_000 == 1] % 100_000, minlength=2)
    assert chi_square_pvalue(second, torch.ones(2)) > 1e-6  # then its sentence


def test_sentence_distance_reads_only_what_it_returns_from_the_corpus():
    # the examples are copies: changing one changes neither the corpus nor another
    docs = [[[1, 2], [3], [4]], [[5], [6]]]
    examples = sentence_distance_examples(
        docs, generator=torch.Generator().manual_seed(0)
    )
    examples[0].sentence_a.append(99)
    assert docs == [[[1, 2], [3], [4]], [[5], [6]]]
