import pytest
import torch

from snippets.albert.sop import (
    create_nsp_examples,
    create_sop_examples,
    truncate_seq_pair,
)


def _document(n_segments: int, seg_len: int = 3, base: int = 0) -> list[list[int]]:
    return [[base + 100 * i + j for j in range(seg_len)] for i in range(n_segments)]


def _in_document_order(example, document) -> bool:
    flat = [t for s in document for t in s]
    return flat.index(example.tokens_a[0]) < flat.index(example.tokens_b[0])


def test_sop_pairs_are_consecutive_halves_of_one_chunk_and_labels_say_swapped():
    doc = _document(40)
    g = torch.Generator().manual_seed(0)
    examples = [
        e for _ in range(50) for e in create_sop_examples(doc, 12, generator=g)
    ]
    flat = [t for s in doc for t in s]
    for e in examples:
        assert e.tokens_a and e.tokens_b and len(e.tokens_a) + len(e.tokens_b) <= 12
        assert set(e.tokens_a + e.tokens_b) <= set(flat)  # never another document
        assert _in_document_order(e, doc) == (e.label == 0)  # 1 means swapped
    rate = sum(e.label for e in examples) / len(examples)
    assert (
        abs(rate - 0.5) < 4 * (0.25 / len(examples)) ** 0.5
    )  # 4 sigma of a fair coin


def test_sop_without_truncation_reconstructs_the_chunk():
    doc = _document(6, seg_len=2)
    g = torch.Generator().manual_seed(3)
    for e in create_sop_examples(
        doc, 1000, short_seq_prob=0.0, generator=g
    ):  # one chunk, no truncation
        first, second = (
            (e.tokens_b, e.tokens_a) if e.label else (e.tokens_a, e.tokens_b)
        )
        assert first + second == [t for s in doc for t in s]


def test_single_segment_chunks_are_skipped():
    # Each segment alone reaches the target length, so every chunk is a single
    # segment.
    assert (
        create_sop_examples(_document(5, seg_len=20), 10, short_seq_prob=0.0) == []
    )


def test_same_seed_same_examples():
    doc = _document(30)
    run = lambda: create_sop_examples(
        doc, 10, generator=torch.Generator().manual_seed(7)
    )
    assert run() == run()


def test_truncation_takes_from_the_longer_side_then_alternates_b_first():
    a, b = list(range(10)), list(range(100, 104))
    g = torch.Generator().manual_seed(0)
    ta, tb = truncate_seq_pair(a, b, 8, g)
    assert (len(ta), len(tb)) == (4, 4)
    ta, tb = truncate_seq_pair(a, b, 7, g)
    assert (len(ta), len(tb)) == (4, 3)  # tie at 4/4: B loses first
    assert ta == a[a.index(ta[0]) : a.index(ta[0]) + 4]  # a contiguous window
    # front/back removal: over many draws both ends are cut
    fronts = [truncate_seq_pair(a, [], 5, g)[0][0] for _ in range(200)]
    assert min(fronts) == 0 and max(fronts) == 5


def test_nsp_negatives_come_from_other_documents_and_positives_follow():
    docs = [_document(30, base=10_000 * k) for k in range(4)]
    g = torch.Generator().manual_seed(1)
    examples = [
        e for _ in range(20) for e in create_nsp_examples(docs, 2, 12, generator=g)
    ]
    own = {t for s in docs[2] for t in s}
    for e in examples:
        assert set(e.tokens_a) <= own
        assert (set(e.tokens_b) <= own) == (e.label == 0)
        if e.label == 0:
            assert _in_document_order(e, docs[2])
    assert 0 < sum(e.label for e in examples) < len(examples)


def test_topic_shortcut_solves_nsp_but_not_sop():
    # Give each document its own vocabulary ("topic"). A classifier that only asks
    # "do A and B share a topic?" is perfect on NSP and at chance on SOP.
    docs = [_document(30, base=10_000 * k) for k in range(4)]
    g = torch.Generator().manual_seed(2)
    topic = lambda tokens: tokens[0] // 10_000
    guess = lambda e: int(topic(e.tokens_a) != topic(e.tokens_b))
    nsp = [
        e for i in range(4) for e in create_nsp_examples(docs, i, 12, generator=g)
    ]
    sop = [e for d in docs for e in create_sop_examples(d, 12, generator=g)]
    assert all(guess(e) == e.label for e in nsp)
    sop_accuracy = sum(guess(e) == e.label for e in sop) / len(sop)
    assert abs(sop_accuracy - 0.5) < 4 * (0.25 / len(sop)) ** 0.5


@pytest.mark.parametrize(
    "args, error, match",
    [
        (([[1, 2]], 1), ValueError, "max_num_tokens must be >= 2"),
        (([[1, 2.5]], 8), TypeError, "int token ids"),
        (("abc", 8), TypeError, "list of segments"),
    ],
)
def test_sop_rejects_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        create_sop_examples(*args)


def test_sop_rejects_bad_probability_and_nsp_needs_two_documents():
    with pytest.raises(ValueError, match="short_seq_prob"):
        create_sop_examples([[1], [2]], 8, short_seq_prob=1.5)
    with pytest.raises(ValueError, match="at least 2 documents"):
        create_nsp_examples([[[1], [2]]], 0, 8)
    with pytest.raises(ValueError, match="doc_index"):
        create_nsp_examples([[[1]], [[2]]], 2, 8)
