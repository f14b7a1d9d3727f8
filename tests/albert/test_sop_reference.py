"""The deterministic cases of the reference data pipelines, re-expressed against
our API:

- google-research/albert, create_pretraining_data.py: `truncate_seq_pair` (which
  side loses how many tokens; front or back by a fair coin), the chunking and
  target-length logic of `create_instances_from_document`, and the SOP labels
  (`sentence_order_label` 1 = A and B swapped);
- google-research/bert, create_pretraining_data.py: the NSP branch of
  `create_instances_from_document` (a one-segment chunk always takes B from
  another document; B from another document fills the target length; the
  segments it does not use are put back).

Where ours differs on purpose, the test says so: `create_sop_examples` skips a
one-segment chunk (the ALBERT reference pairs it with another document), and a
negative never comes from a document without tokens (the references drop empty
documents before they build pairs).
"""

from __future__ import annotations

import math

import pytest
import torch

from snippets.albert.sop import (
    create_nsp_examples,
    create_sop_examples,
    truncate_seq_pair,
)
from stats import chi_square_pvalue


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---- truncate_seq_pair ---------------------------------------------------------


def reference_truncation(la: int, lb: int, max_num_tokens: int, front) -> tuple:
    """The reference loop on index lists: while too long, take one token from the
    longer list (B on a tie), from its front when `front()` says so."""
    a, b = list(range(la)), list(range(lb))
    while len(a) + len(b) > max_num_tokens:
        longer = a if len(a) > len(b) else b
        longer.pop(0 if front() else -1)
    return a, b


@pytest.mark.parametrize("max_num_tokens", [0, 1, 2, 5, 8, 13, 30])
def test_truncation_leaves_the_reference_lengths(max_num_tokens):
    for la in range(13):
        for lb in range(13):
            ref_a, ref_b = reference_truncation(
                la, lb, max_num_tokens, lambda: True
            )
            a, b = truncate_seq_pair(
                list(range(la)), list(range(lb)), max_num_tokens, _gen(la * 13 + lb)
            )
            assert (len(a), len(b)) == (len(ref_a), len(ref_b)), (la, lb)


def test_truncation_keeps_a_window_and_every_window_is_reachable():
    # the reference can end on any window of the kept length: here A (12 tokens)
    # loses 6, so 7 windows, each as likely as Binomial(6, 1/2) says
    a, b = list(range(12)), list(range(100, 102))
    starts = []
    for seed in range(1400):
        ta, tb = truncate_seq_pair(a, b, 8, _gen(seed))
        assert tb == b and ta == a[ta[0] : ta[0] + 6]
        starts.append(ta[0])  # the number of tokens taken from the front
    counts = torch.bincount(torch.tensor(starts), minlength=7)
    binomial = torch.tensor(
        [math.comb(6, k) for k in range(7)], dtype=torch.float64
    )
    assert chi_square_pvalue(counts, binomial) > 1e-6


def test_truncation_does_not_change_the_callers_lists():
    a, b = [1, 2, 3, 4], [5, 6]
    truncate_seq_pair(a, b, 3, _gen(0))
    assert a == [1, 2, 3, 4] and b == [5, 6]  # the reference pops in place


# ---- chunks, target length and SOP labels --------------------------------------


def reference_chunks(lengths: list[int], target: int) -> list[tuple[int, int]]:
    """Segment ranges of create_instances_from_document: accumulate until the
    chunk reaches the target length or the document ends."""
    chunks, start, total = [], 0, 0
    for i, n in enumerate(lengths):
        total += n
        if i == len(lengths) - 1 or total >= target:
            chunks.append((start, i + 1))
            start, total = i + 1, 0
    return chunks


def _numbered(lengths: list[int], base: int = 0) -> list[list[int]]:
    """Segments of the given lengths, holding unique increasing token ids."""
    document, next_id = [], base
    for n in lengths:
        document.append(list(range(next_id, next_id + n)))
        next_id += n
    return document


def _unswapped(e):
    return (e.tokens_b, e.tokens_a) if e.label else (e.tokens_a, e.tokens_b)


@pytest.mark.parametrize("seed", range(6))
def test_sop_pairs_follow_the_reference_chunks(seed):
    g = _gen(100 + seed)
    lengths = torch.randint(1, 7, (40,), generator=g).tolist()
    document, max_num_tokens = _numbered(lengths), 12
    segment_of = {t: i for i, s in enumerate(document) for t in s}
    chunks = [
        (start, stop)
        for start, stop in reference_chunks(lengths, max_num_tokens)
        if stop - start >= 2  # one-segment chunks: skipped here (see above)
    ]
    examples = create_sop_examples(
        document, max_num_tokens, short_seq_prob=0.0, generator=_gen(seed)
    )
    assert len(examples) == len(chunks)
    for e, (start, stop) in zip(examples, chunks, strict=True):
        a, b = _unswapped(e)
        a_segments = {segment_of[t] for t in a}
        b_segments = {segment_of[t] for t in b}
        # A is the first a_end segments of the chunk and B the rest, 1 <= a_end < n
        assert start <= min(a_segments) and max(b_segments) < stop
        assert max(a_segments) < min(b_segments)
        chunk_length = sum(lengths[start:stop])
        assert len(a) + len(b) == min(chunk_length, max_num_tokens)
        if chunk_length <= max_num_tokens:  # nothing truncated: the whole chunk
            assert a + b == [t for s in document[start:stop] for t in s]


def test_chunks_that_reach_the_target_exactly_are_rebuilt_exactly():
    # chunks of 2 + 3 + 1 = 6 and 4 + 2 = 6 tokens, then a short last chunk
    lengths = [2, 3, 1, 4, 2, 1, 1]
    document = _numbered(lengths)
    for seed in range(30):
        examples = create_sop_examples(
            document, 6, short_seq_prob=0.0, generator=_gen(seed)
        )
        rebuilt = [t for e in examples for t in sum(_unswapped(e), [])]
        assert rebuilt == [t for s in document for t in s]


def test_the_target_length_is_uniform_in_2_to_max_when_short():
    # 1-token segments: the first chunk has exactly `target` segments
    document, max_num_tokens = _numbered([1] * 40), 6
    firsts = []
    for seed in range(500):
        e = create_sop_examples(
            document, max_num_tokens, short_seq_prob=1.0, generator=_gen(seed)
        )[0]
        firsts.append(len(e.tokens_a) + len(e.tokens_b))
    counts = torch.bincount(torch.tensor(firsts), minlength=max_num_tokens + 1)
    assert counts[:2].sum() == 0
    assert chi_square_pvalue(counts[2:], torch.ones(max_num_tokens - 1)) > 1e-6


def test_sop_label_1_means_swapped_and_is_a_fair_coin():
    document = _numbered([3] * 200)
    examples = create_sop_examples(
        document, 12, short_seq_prob=0.0, generator=_gen(3)
    )
    for e in examples:
        assert (e.tokens_a[0] > e.tokens_b[0]) == (e.label == 1)
    counts = torch.bincount(torch.tensor([e.label for e in examples]), minlength=2)
    assert chi_square_pvalue(counts, torch.ones(2)) > 1e-6


def test_one_segment_chunks_are_skipped_where_the_reference_reaches_elsewhere():
    # every segment alone reaches the target: the ALBERT reference would build an
    # NSP-style negative from another document for each; SOP sees one document
    assert create_sop_examples(_numbered([7] * 5), 6, short_seq_prob=0.0) == []


# ---- BERT's NSP ----------------------------------------------------------------


def _corpus(n_docs: int = 5, segment_length: int = 1, n_segments: int = 30):
    return [
        _numbered([segment_length] * n_segments, base=1000 * d)
        for d in range(n_docs)
    ]


def test_a_one_segment_chunk_always_takes_b_from_another_document():
    corpus = [_numbered([7] * 6, base=1000 * d) for d in range(3)]
    for seed in range(10):
        examples = create_nsp_examples(
            corpus, 1, 6, short_seq_prob=0.0, generator=_gen(seed)
        )
        assert examples and all(e.label == 1 for e in examples)
        assert all(e.tokens_b[0] // 1000 != 1 for e in examples)


def test_unused_segments_are_put_back_so_every_segment_is_used_once():
    # 1-token segments and a target of 4: nothing is ever truncated, so the own
    # tokens of all pairs, in order, are the document itself
    corpus = _corpus()
    for seed in range(20):
        examples = create_nsp_examples(
            corpus, 2, 4, short_seq_prob=0.0, generator=_gen(seed)
        )
        own = []
        for e in examples:
            own += e.tokens_a + (e.tokens_b if e.label == 0 else [])
        assert own == [t for s in corpus[2] for t in s]


def test_a_random_b_fills_the_target_from_consecutive_segments():
    corpus = _corpus(segment_length=1, n_segments=30)
    for seed in range(20):
        for e in create_nsp_examples(
            corpus, 0, 5, short_seq_prob=0.0, generator=_gen(seed)
        ):
            if e.label == 1:
                doc, first = divmod(e.tokens_b[0], 1000)
                assert e.tokens_b == list(range(e.tokens_b[0], e.tokens_b[-1] + 1))
                # target_b_length = target - len(A), unless the document runs out
                assert len(e.tokens_b) == min(5 - len(e.tokens_a), 30 - first)


def test_nsp_negatives_are_half_of_the_multi_segment_chunks():
    corpus = _corpus(segment_length=2, n_segments=400)
    examples = create_nsp_examples(
        corpus, 3, 8, short_seq_prob=0.0, generator=_gen(4)
    )
    counts = torch.bincount(torch.tensor([e.label for e in examples]), minlength=2)
    assert chi_square_pvalue(counts, torch.ones(2)) > 1e-6


def test_an_empty_document_elsewhere_is_never_drawn():
    corpus = _corpus(n_docs=3)
    corpus.insert(1, [])
    corpus.append([[], []])  # segments, but no token
    drawn = set()
    for seed in range(40):
        for e in create_nsp_examples(corpus, 0, 6, generator=_gen(seed)):
            if e.label == 1:
                drawn.add(e.tokens_b[0] // 1000)
    assert drawn == {1, 2}  # the two other documents that have tokens


class _Reads(list):
    """A corpus that records which documents a call reads."""

    def __init__(self, documents):
        super().__init__(documents)
        self.read: set[int] = set()

    def __getitem__(self, i):
        self.read.add(i)
        return super().__getitem__(i)

    def __iter__(self):
        self.read.update(range(len(self)))
        return super().__iter__()


def test_a_call_reads_its_document_and_the_ones_it_draws_not_the_corpus():
    corpus = _Reads(_corpus(n_docs=1000, segment_length=3, n_segments=20))
    examples = create_nsp_examples(corpus, 500, 16, generator=_gen(5))
    negatives = sum(e.label for e in examples)
    assert 500 in corpus.read and negatives > 0
    # its own document, the first other one with tokens (the check that negatives
    # exist), and one per negative
    assert len(corpus.read) <= 2 + negatives
