"""Contract rows for snippets.masking, the masking steps that RoBERTa, ALBERT,
SpanBERT and ERNIE share (see tests/contract.py for the rules)."""

from __future__ import annotations

import math

import numpy as np
import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    assert_labels,
    count,
    flag,
    floats,
    generator,
    ids,
    mask,
    probability,
    token_id,
)

from snippets.masking import (
    bert_replace,
    choose_within_budget,
    masking_budget,
    renumber_units,
    word_spans,
)

VOCAB, B, L = 100, 3, 12
SUM_ABOVE_ONE = "mask_replace_prob + random_replace_prob must be <= 1"
SMALL_VOCAB = "the [MASK] id 4 is not below vocab_size 1"


def _top(t: torch.Tensor, default: int) -> int:
    return int(t.max()) if t.numel() else default


def _ids() -> torch.Tensor:
    return torch.randint(
        5, VOCAB, (B, L), generator=torch.Generator().manual_seed(0)
    )


def _units() -> torch.Tensor:
    """Consecutive units of 1-3 tokens, numbered 0, 1, 2, ... along each row (so
    the first k columns hold ids below k, whatever the cut)."""
    g = torch.Generator().manual_seed(2)
    starts = torch.rand(B, L, generator=g) < 0.5
    starts[:, 0] = True
    return starts.long().cumsum(1) - 1


def _selected() -> torch.Tensor:
    selected = torch.rand(B, L, generator=torch.Generator().manual_seed(1)) < 0.5
    selected[:, 0] = False
    return selected


def _replaced(result, kw) -> None:
    inputs, labels = result
    ids_, selected = kw["input_ids"], kw["selected"].bool()
    assert inputs.shape == ids_.shape and not inputs.dtype.is_floating_point
    assert_labels(labels, ids_)
    assert torch.equal(labels != -100, selected)
    assert torch.equal(inputs.long()[~selected], ids_.long()[~selected])
    assert _top(inputs, 0) < kw["vocab_size"]
    groups = kw.get("group_ids")
    if groups is not None and kw.get("uniform") is None:
        # one decision per group: its selected tokens are all [MASK] or none is
        masked = inputs.long() == kw["mask_token_id"]
        for b in range(ids_.shape[0]):
            for g in groups[b].unique():
                in_group = (groups[b] == g) & selected[b]
                assert masked[b][in_group].all() or not masked[b][in_group].any()


REPLACE_KINDS = {
    "input_ids": ids,
    "selected": mask,
    "mask_token_id": token_id,
    "vocab_size": count(1),
    "mask_replace_prob": probability(low_open=False),
    "random_replace_prob": probability(low_open=False),
    "generator": generator,
}
REPLACE_EXPECT = {
    "vocab_size-value-minimum": (RAISE, SMALL_VOCAB),
    "mask_replace_prob-value-high": (RAISE, SUM_ABOVE_ONE),
    "mask_replace_prob-value-one": (RAISE, SUM_ABOVE_ONE),
    "random_replace_prob-value-high": (RAISE, SUM_ABOVE_ONE),
    "random_replace_prob-value-one": (RAISE, SUM_ABOVE_ONE),
    "random_replace_prob-value-mid": (RAISE, SUM_ABOVE_ONE),
    # group ids are not token ids: any non-negative value is valid
    "group_ids-id-vocab_size": (OK, "group ids have no vocabulary bound"),
}


def _probs_vector(arg: str, kw: dict) -> list[Variant]:
    """A 1-D tensor of non-negative weights over lengths 1..N (any positive sum)."""

    def put(value):
        return lambda kw: {**kw, arg: value}

    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}",
            lambda kw, d=d: {**kw, arg: kw[arg].to(d)},
            OK,
        )
        for d in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    ]
    return out + [
        Variant("unnormalized", lambda kw: {**kw, arg: kw[arg] * 3}, OK),
        Variant("one-length", put(torch.tensor([1.0])), OK),
        Variant("with-zero", put(torch.tensor([0.0, 1.0, 1.0])), OK),
        Variant("dtype-int64", put(torch.tensor([1, 1])), RAISE),
        Variant("rank-2", lambda kw: {**kw, arg: kw[arg][None]}, RAISE),
        Variant("empty", put(torch.tensor([])), RAISE),
        Variant("negative", put(torch.tensor([0.5, -0.1])), RAISE),
        Variant("nan", put(torch.tensor([0.5, math.nan])), RAISE),
        Variant("inf", put(torch.tensor([0.5, math.inf])), RAISE),
        Variant("all-zero", put(torch.zeros(3)), RAISE),
        Variant("list", put([0.5, 0.5]), RAISE),
        Variant("numpy", put(np.array([0.5, 0.5])), RAISE),
    ]


def _spans(result, kw) -> None:
    span_of_token, span_words, complete = result
    valid = kw["valid"].bool()
    rows, length = valid.shape
    assert span_of_token.shape == (rows, length)
    assert span_of_token.dtype == torch.int64
    # enough spans to cover the row: one more than its length, plus the words a
    # random offset may drop before it
    spans = length + (kw["length_probs"].numel() if kw.get("random_offset") else 1)
    assert span_words.shape == complete.shape == (rows, spans)
    assert complete.dtype == torch.bool
    assert _top(span_of_token, 0) <= spans
    # the spans partition each row's words
    starts = valid & (
        kw["word_starts"].bool()
        | ~torch.nn.functional.pad(valid[:, :-1], (1, 0), value=False)
    )
    assert torch.equal(span_words.sum(1), starts.sum(1))


def _choose(*, budget=None, ratio: float = 0.3, **kw) -> torch.Tensor:
    """choose_within_budget, with the budget from `ratio` unless one is given (so
    that the shape variants resize it with the batch)."""
    if budget is None:
        budget = masking_budget(kw["valid"], ratio)
    return choose_within_budget(budget=budget, **kw)


def _chosen(result, kw) -> None:
    units, valid = kw["unit_of_token"].long(), kw["valid"].bool()
    assert result.dtype == torch.bool and result.shape[0] == units.shape[0]
    budget = kw.get("budget")
    if budget is None:
        budget = masking_budget(valid, kw.get("ratio", 0.3))
    if units.numel():
        per_token = result.gather(1, units) & valid
        assert (per_token.sum(1) <= budget).all()
        size = torch.zeros(result.shape, dtype=torch.long)
        size.scatter_add_(1, units, valid.long())
        assert not (result & (size == 0)).any()  # empty units are never chosen


def _budget(result, kw) -> None:
    valid = kw["valid"].bool()
    expected = [max(1, round(kw["ratio"] * int(n))) for n in valid.sum(1)]
    assert result.dtype == torch.int64 and result.tolist() == expected


def _renumbered(result, kw) -> None:
    units = kw["unit_ids"].long()
    assert result.dtype == torch.int64 and result.shape == units.shape
    for a, r in zip(units, result, strict=True):
        assert torch.equal(a[:, None] < a[None], r[:, None] < r[None])
        assert torch.equal(a[:, None] == a[None], r[:, None] == r[None])
        assert _top(r, -1) < max(len(a), 1)


def _meta(names):
    return lambda kw: {**kw, **{n: kw[n].to("meta") for n in names}}


ROWS = [
    Row(
        bert_replace,
        lambda: {
            "input_ids": _ids(),
            "selected": _selected(),
            "group_ids": _units(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(3),
        },
        kinds={**REPLACE_KINDS, "group_ids": ids},
        aligned=("input_ids", "selected", "group_ids"),
        check=_replaced,
        expect=REPLACE_EXPECT,
        extra=[
            Variant(
                "group_ids-huge",
                lambda kw: {**kw, "group_ids": kw["group_ids"] * 10_000_000},
                OK,
                "group_ids",
            ),
            Variant(
                "uint8-ids-vocab-1000",
                lambda kw: {
                    **kw,
                    "input_ids": kw["input_ids"].to(torch.uint8),
                    "vocab_size": 1000,
                    "mask_token_id": 999,
                },
                OK,
                "input_ids",
            ),
        ],
    ),
    Row(
        bert_replace,
        lambda: {
            "input_ids": _ids(),
            "selected": _selected(),
            "uniform": torch.rand(B, L, generator=torch.Generator().manual_seed(4)),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(3),
        },
        name="bert_replace(uniform)",
        kinds={**REPLACE_KINDS, "uniform": floats},
        aligned=("input_ids", "selected", "uniform"),
        check=_replaced,
        expect=REPLACE_EXPECT,
    ),
    Row(
        word_spans,
        lambda: {
            "word_starts": torch.rand(
                B, L, generator=torch.Generator().manual_seed(5)
            )
            < 0.6,
            "valid": ~torch.eye(B, L, dtype=torch.bool),
            "length_probs": torch.tensor([0.5, 0.3, 0.2]),
            "generator": torch.Generator().manual_seed(6),
        },
        kinds={
            "word_starts": mask,
            "valid": mask,
            "length_probs": _probs_vector,
            "random_offset": flag,
            "generator": generator,
        },
        aligned=("word_starts", "valid"),
        check=_spans,
        extra=[
            Variant("valid-batch-0", lambda kw: {**kw, **_cut(kw, 0, None)}, OK),
            Variant("valid-length-0", lambda kw: {**kw, **_cut(kw, None, 0)}, OK),
            Variant("valid-length-1", lambda kw: {**kw, **_cut(kw, None, 1)}, OK),
            Variant(
                "valid-rank-1",
                lambda kw: {**kw, "valid": kw["valid"][0]},
                RAISE,
                "valid",
            ),
            Variant(
                "other-device",
                _meta(["word_starts", "valid"]),
                RAISE,
                "generator",
            ),
        ],
    ),
    Row(
        choose_within_budget,
        lambda: {
            "unit_of_token": _units(),
            "valid": ~torch.eye(B, L, dtype=torch.bool),
            "generator": torch.Generator().manual_seed(7),
        },
        call=_choose,
        kinds={
            "unit_of_token": ids,
            "valid": mask,
            "ratio": probability(),
            "generator": generator,
        },
        aligned=("unit_of_token", "valid"),
        check=_chosen,
        extra=[
            Variant(
                "unit_of_token-too-large",
                lambda kw: {**kw, "unit_of_token": kw["unit_of_token"] * 1000},
                RAISE,
                "unit_of_token",
            ),
            Variant(
                "budget-zero",
                lambda kw: {**kw, "budget": torch.zeros(B, dtype=torch.long)},
                OK,
                "budget",
            ),
            Variant(
                "budget-int32",
                lambda kw: {**kw, "budget": torch.full((B,), 4, dtype=torch.int32)},
                OK,
                "budget",
            ),
            Variant(
                "budget-float",
                lambda kw: {**kw, "budget": torch.full((B,), 4.0)},
                RAISE,
                "budget",
            ),
            Variant(
                "budget-negative",
                lambda kw: {**kw, "budget": torch.full((B,), -1)},
                RAISE,
                "budget",
            ),
            Variant(
                "budget-wrong-shape",
                lambda kw: {**kw, "budget": torch.full((B + 1,), 4)},
                RAISE,
                "budget",
            ),
            Variant(
                "eligible-all",
                lambda kw: {
                    **kw,
                    "eligible": torch.ones(B, L + 2, dtype=torch.bool),
                },
                OK,
                "eligible",
            ),
            Variant(
                "eligible-none-true",
                lambda kw: {**kw, "eligible": torch.zeros(B, L, dtype=torch.bool)},
                OK,
                "eligible",
            ),
            Variant(
                "eligible-too-narrow",
                lambda kw: {**kw, "eligible": torch.ones(B, 1, dtype=torch.bool)},
                RAISE,
                "eligible",
            ),
            Variant(
                "eligible-float",
                lambda kw: {**kw, "eligible": torch.ones(B, L)},
                RAISE,
                "eligible",
            ),
            Variant(
                "other-device",
                _meta(["unit_of_token", "valid"]),
                RAISE,
                "generator",
            ),
        ],
    ),
    Row(
        masking_budget,
        lambda: {"valid": ~torch.eye(B, L, dtype=torch.bool), "ratio": 0.15},
        kinds={"valid": mask, "ratio": probability()},
        check=_budget,
        expect={"valid-wrong-shape": (OK, "any [batch, length] mask is valid")},
        extra=[
            Variant("batch-0", lambda kw: {**kw, "valid": kw["valid"][:0]}, OK),
            Variant("length-0", lambda kw: {**kw, "valid": kw["valid"][:, :0]}, OK),
            Variant("rank-1", lambda kw: {**kw, "valid": kw["valid"][0]}, RAISE),
            Variant(
                "ties-round-to-even",
                lambda kw: {**kw, "valid": torch.ones(4, 10, dtype=torch.bool)},
                OK,
                check=lambda r, kw: _round_half_even(r, kw),
            ),
        ],
    ),
    Row(
        renumber_units,
        lambda: {"unit_ids": _units() * 7 + 3},
        kinds={"unit_ids": ids},
        aligned=("unit_ids",),
        check=_renumbered,
        extra=[
            Variant(
                "huge-ids",
                lambda kw: {**kw, "unit_ids": kw["unit_ids"] * 2**40},
                OK,
                "unit_ids",
            )
        ],
    ),
]


def _cut(kw: dict, rows, length) -> dict:
    """word_starts and valid cut together: a batch or a length variant."""
    out = {}
    for name in ("word_starts", "valid"):
        t = kw[name]
        t = t[:rows] if rows is not None else t
        out[name] = t[:, :length] if length is not None else t
    return out


def _round_half_even(result, kw) -> None:
    # 10 tokens at 0.15 is 1.5 tokens: ties go to the even number, as Python's
    # round() in the reference scripts
    assert result.tolist() == [2, 2, 2, 2]
