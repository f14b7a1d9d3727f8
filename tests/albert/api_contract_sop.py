"""Contract rows for snippets.albert.sop (see tests/contract.py for the rules)."""

from __future__ import annotations

import numpy as np
import torch
from contract import OK, RAISE, Row, Variant, count, generator, probability

from snippets.albert.sop import (
    NSPExample,
    SOPExample,
    create_nsp_examples,
    create_sop_examples,
    truncate_seq_pair,
)


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _document(n_segments: int, base: int = 0) -> list[list[int]]:
    """Segment i holds 1 + i % 4 tokens, numbered base + 10·i + j: unique ids."""
    return [
        [base + 10 * i + j for j in range(1 + i % 4)] for i in range(n_segments)
    ]


# ---- truncate_seq_pair ---------------------------------------------------------


def reference_lengths(la: int, lb: int, max_num_tokens: int) -> tuple[int, int]:
    """The lengths that create_pretraining_data.py's truncate_seq_pair leaves:
    one token at a time from the longer list, B on a tie (google-research/albert
    and google-research/bert, create_pretraining_data.py)."""
    while la + lb > max_num_tokens:
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return la, lb


def _is_window(part: list[int], whole: list[int]) -> bool:
    """`part` is whole[i : i + len(part)] for some i."""
    n = len(part)
    return any(whole[i : i + n] == part for i in range(len(whole) - n + 1))


def _truncate_check(result, kw) -> None:
    a, b = list(kw["tokens_a"]), list(kw["tokens_b"])
    ta, tb = result
    assert isinstance(ta, list) and isinstance(tb, list)
    assert (len(ta), len(tb)) == reference_lengths(
        len(a), len(b), kw["max_num_tokens"]
    )
    assert _is_window(ta, a) and _is_window(tb, b)


def _tokens(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("tuple", _set(arg, tuple(kw[arg])), OK),
        Variant("empty", _set(arg, []), OK),
        Variant("one", _set(arg, [7]), OK),
        Variant("bool-token", _set(arg, [True, 2]), RAISE),
        Variant("float-token", _set(arg, [1.0, 2]), RAISE),
        Variant("str", _set(arg, "abc"), RAISE),
        Variant("tensor", _set(arg, torch.tensor([1, 2])), RAISE),
        Variant("nested", _set(arg, [[1], [2]]), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


TRUNCATE = Row(
    truncate_seq_pair,
    lambda: {
        "tokens_a": list(range(10)),
        "tokens_b": list(range(100, 104)),
        "max_num_tokens": 7,
        "generator": _gen(),
    },
    kinds={
        "tokens_a": _tokens,
        "tokens_b": _tokens,
        "max_num_tokens": count(0),
        "generator": generator,
    },
    check=_truncate_check,
    extra=[
        Variant("no-truncation", _set("max_num_tokens", 100), OK, "max_num_tokens"),
    ],
)


# ---- create_sop_examples -------------------------------------------------------


def _sop_check(examples, kw) -> None:
    flat = [t for s in kw["document"] for t in s]
    position = {t: i for i, t in enumerate(flat)}
    for e in examples:
        assert isinstance(e, SOPExample) and e.label in (0, 1)
        assert e.tokens_a and e.tokens_b
        assert len(e.tokens_a) + len(e.tokens_b) <= kw["max_num_tokens"]
        assert set(e.tokens_a + e.tokens_b) <= set(flat)  # one document only
        in_order = position[e.tokens_a[0]] < position[e.tokens_b[0]]
        assert in_order == (e.label == 0)  # 1 means swapped


def _document_kind(arg: str, kw: dict) -> list[Variant]:
    doc = kw[arg]
    return [
        Variant("tuples", _set(arg, tuple(tuple(s) for s in doc)), OK),
        Variant("empty", _set(arg, []), OK),
        Variant("one-segment", _set(arg, doc[:1]), OK),
        Variant("empty-segments", _set(arg, [[], *doc[:3], [], []]), OK),
        Variant("flat", _set(arg, [t for s in doc for t in s]), RAISE),
        Variant("str", _set(arg, "a document"), RAISE),
        Variant("float-token", _set(arg, [[1, 2.0], [3]]), RAISE),
        Variant("numpy", _set(arg, np.array([[1, 2], [3, 4]])), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


SOP = Row(
    create_sop_examples,
    lambda: {
        "document": _document(30),
        "max_num_tokens": 12,
        "short_seq_prob": 0.1,
        "generator": _gen(),
    },
    kinds={
        "document": _document_kind,
        "max_num_tokens": count(2),
        "short_seq_prob": probability(low_open=False),
        "generator": generator,
    },
    check=_sop_check,
)


# ---- create_nsp_examples -------------------------------------------------------


def _corpus() -> list[list[list[int]]]:
    return [_document(12, base=1000 * d) for d in range(4)]


def _nsp_check(examples, kw) -> None:
    documents, own = kw["documents"], kw["doc_index"]
    doc_of = {t: d for d, doc in enumerate(documents) for s in doc for t in s}
    flat = [t for s in documents[own] for t in s]
    position = {t: i for i, t in enumerate(flat)}
    for e in examples:
        assert isinstance(e, NSPExample) and e.tokens_a and e.tokens_b
        assert len(e.tokens_a) + len(e.tokens_b) <= kw["max_num_tokens"]
        assert {doc_of[t] for t in e.tokens_a} == {own}
        b_docs = {doc_of[t] for t in e.tokens_b}
        if e.label == 0:  # the true continuation
            assert b_docs == {own}
            assert position[e.tokens_a[-1]] < position[e.tokens_b[0]]
        else:  # one other document, which has tokens
            assert e.label == 1 and len(b_docs) == 1 and own not in b_docs


def _documents_kind(arg: str, kw: dict) -> list[Variant]:
    corpus = kw[arg]
    return [
        Variant("tuples", _set(arg, tuple(corpus)), OK),
        Variant(
            "another-document-empty", _set(arg, [*corpus[:2], [], corpus[3]]), OK
        ),
        Variant(
            "another-document-no-tokens", _set(arg, [*corpus[:3], [[], []]]), OK
        ),
        # documents[1], the row's doc_index, is the one that changes below
        Variant("own-document-empty", _set(arg, [corpus[0], [], corpus[2]]), OK),
        Variant("others-no-tokens", _set(arg, [[], corpus[1], [], [[]]]), RAISE),
        Variant("one-document", _set(arg, corpus[:1]), RAISE),
        Variant("str", _set(arg, "corpus"), RAISE),
        Variant(
            "bad-own-document", _set(arg, [corpus[0], [[1.5]], corpus[2]]), RAISE
        ),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def _doc_index_kind(arg: str, kw: dict) -> list[Variant]:
    return count(0)(arg, kw) + [
        Variant("value-last", _set(arg, len(kw["documents"]) - 1), OK),
        Variant("value-len", _set(arg, len(kw["documents"])), RAISE),
    ]


NSP = Row(
    create_nsp_examples,
    lambda: {
        "documents": _corpus(),
        "doc_index": 1,
        "max_num_tokens": 12,
        "short_seq_prob": 0.1,
        "generator": _gen(),
    },
    kinds={
        "documents": _documents_kind,
        "doc_index": _doc_index_kind,
        "max_num_tokens": count(2),
        "short_seq_prob": probability(low_open=False),
        "generator": generator,
    },
    check=_nsp_check,
)


ROWS = [TRUNCATE, SOP, NSP]
EXEMPT = {
    SOPExample: "a frozen dataclass, the result of create_sop_examples",
    NSPExample: "a frozen dataclass, the result of create_nsp_examples",
}
