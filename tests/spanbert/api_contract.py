"""Contract rows for snippets.spanbert (see tests/contract.py for the rules)."""

from __future__ import annotations

import dataclasses

import torch
from contract import (
    EITHER,
    IGNORE_INDEX,
    INT_DTYPES,
    OK,
    RAISE,
    SHAPE_VARIANTS,
    Row,
    Variant,
    assert_float_dtype,
    assert_labels,
    count,
    floats,
    generator,
    ids,
    mask,
    module,
    probability,
    token_id,
)

from snippets.spanbert.span_boundary_objective import (
    SpanBoundaryHead,
    span_boundary_loss,
    span_token_positions,
    spanbert_loss,
)
from snippets.spanbert.span_masking import (
    masked_runs,
    sample_spans,
    span_length_distribution,
    span_mask,
)

VOCAB, HIDDEN, B, L = 100, 8, 3, 12  # ids below 128: every integer dtype holds them
SPANS = [[0, 2, 5], [1, 4, 6], [2, 9, 11]]  # inside positions 2..10 of every row


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


def _map(arg, fn):
    return lambda kw: {**kw, arg: fn(kw[arg])}


# ---- kinds for arguments tests/contract.py has no kind for ----------------------


def primary_mask(arg: str, kw: dict) -> list[Variant]:
    """A bool [B, L] mask that sets the shape of the call (no ids beside it)."""
    out = [v for v in mask(arg, kw) if v.id != "wrong-shape"]
    out += [Variant(k, _map(arg, fn), OK) for k, fn in SHAPE_VARIANTS.items()]
    out += [
        Variant("rank-1", _map(arg, lambda t: t[0]), RAISE),
        Variant("rank-3", _map(arg, lambda t: t[None]), RAISE),
        Variant("list", _map(arg, lambda t: t.tolist()), RAISE),
    ]
    if kw.get("generator") is not None:
        out.append(
            Variant(
                "other-device",
                _map(arg, lambda t: t.to("meta")),
                RAISE,
                "generator",
            )
        )
    return out


def spans_kind(arg: str, kw: dict) -> list[Variant]:
    """[S, 3] integer rows of (batch, start, end-exclusive)."""
    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}",
            _map(arg, lambda t, d=d: t.to(d)),
            OK,
        )
        for d in INT_DTYPES
    ]
    return out + [
        Variant("empty", _set(arg, torch.zeros(0, 3, dtype=torch.long)), OK),
        Variant("non-contiguous", _map(arg, lambda t: t.t().contiguous().t()), OK),
        Variant("dtype-float32", _map(arg, lambda t: t.float()), RAISE),
        Variant("rank-1", _map(arg, lambda t: t[0]), RAISE),
        Variant("two-columns", _map(arg, lambda t: t[:, :2]), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("list", _map(arg, lambda t: t.tolist()), RAISE),
        Variant("row-out-of-range", _set(arg, torch.tensor([[B, 1, 2]])), RAISE),
        Variant("negative-row", _set(arg, torch.tensor([[-1, 1, 2]])), RAISE),
        Variant("negative-start", _set(arg, torch.tensor([[0, -1, 2]])), RAISE),
        Variant("end-past-length", _set(arg, torch.tensor([[0, 1, L + 1]])), RAISE),
        Variant("empty-span", _set(arg, torch.tensor([[0, 3, 3]])), RAISE),
        Variant("whole-row", _set(arg, torch.tensor([[0, 0, L]])), OK),
        # longer than the position table: the first max_span_length pieces count
        Variant("longer-than-table", _set(arg, torch.tensor([[0, 1, L - 1]])), OK),
    ]


def labels_kind(arg: str, kw: dict) -> list[Variant]:
    """MLM labels [B, L]: -100 where nothing is predicted, else an id."""
    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}",
            _map(arg, lambda t, d=d: t.to(d)),
            OK,
        )
        for d in (torch.int16, torch.int32, torch.int64)
    ]
    return out + [
        # uint8 cannot hold -100: an id tensor of that dtype predicts everywhere
        Variant(
            "dtype-uint8-no-ignore",
            _map(arg, lambda t: t.clamp(min=0).to(torch.uint8)),
            OK,
        ),
        Variant(
            "all-ignored", _map(arg, lambda t: torch.full_like(t, IGNORE_INDEX)), OK
        ),
        Variant("dtype-float32", _map(arg, lambda t: t.float()), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("wrong-shape", _map(arg, lambda t: t[:, :-1]), RAISE),
        Variant(
            "id-vocab_size", _map(arg, lambda t: t.clamp(min=0) * 0 + VOCAB), RAISE
        ),
        Variant("negative-not-100", _map(arg, lambda t: t * 0 - 1), RAISE),
    ]


def floats_with(other: str):
    """`floats`, but a dtype variant casts `other` too: a loss of two float inputs
    keeps their dtype when they share one."""

    def kind(arg: str, kw: dict) -> list[Variant]:
        out = []
        for v in floats(arg, kw):
            if v.id.startswith("dtype-float") or v.id.startswith("dtype-bfloat"):
                dtype = getattr(torch, v.id.removeprefix("dtype-"))

                def apply(kw, dtype=dtype):
                    return {
                        **kw,
                        arg: kw[arg].to(dtype),
                        other: kw[other].to(dtype),
                    }

                v = dataclasses.replace(v, apply=apply)
            out.append(v)
        return out

    return kind


# ---- valid calls and checks ----------------------------------------------------


def _masks() -> dict:
    g = torch.Generator().manual_seed(0)
    word_starts = torch.rand(B, L, generator=g) < 0.6
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return {"word_starts": word_starts, "special_tokens_mask": special}


def _head() -> SpanBoundaryHead:
    torch.manual_seed(0)
    return SpanBoundaryHead(
        HIDDEN, VOCAB, max_span_length=4, position_embedding_size=6
    )


def _states() -> dict:
    g = torch.Generator().manual_seed(1)
    return {
        "head": _head(),
        "hidden_states": torch.randn(B, L, HIDDEN, generator=g),
        "spans": torch.tensor(SPANS),
        "original_ids": torch.randint(5, VOCAB, (B, L), generator=g),
    }


def _check_distribution(result, kw) -> None:
    assert result.shape == (kw["max_span_length"],)
    assert torch.isclose(result.sum(), torch.tensor(1.0))


def _check_spans_cover(spans: torch.Tensor, selected: torch.Tensor) -> None:
    covered = torch.zeros_like(selected)
    for b, s, e in spans.tolist():
        assert 0 <= s < e <= selected.shape[1] and not covered[b, s:e].any()
        covered[b, s:e] = True
    assert torch.equal(covered, selected)


def _check_sampled(result, kw) -> None:
    selected, spans = result
    word_starts = torch.as_tensor(kw["word_starts"])
    assert selected.dtype == torch.bool and selected.shape == word_starts.shape
    _check_spans_cover(spans, selected)
    special = kw.get("special_tokens_mask")
    if special is not None:
        assert not (selected & torch.as_tensor(special).bool()).any()


def _check_runs(result, kw) -> None:
    selected = kw["selected"].bool()
    _check_spans_cover(result, selected)
    for b, s, e in result.tolist():  # maximal: the tokens around are unmasked
        assert s == 0 or not selected[b, s - 1]
        assert e == selected.shape[1] or not selected[b, e]


def _check_masked(result, kw) -> None:
    inputs, labels, spans = result
    input_ids = kw["input_ids"]
    assert inputs.shape == input_ids.shape
    assert_labels(labels, input_ids)
    _check_runs(spans, {"selected": labels != IGNORE_INDEX})
    kept = labels == IGNORE_INDEX
    assert torch.equal(inputs.long()[kept], input_ids.long()[kept])
    if inputs.numel():
        assert 0 <= inputs.long().min() and inputs.long().max() < kw["vocab_size"]


def _check_widened(result, kw) -> None:
    assert result[0].dtype == torch.int64  # the dtype given cannot hold every id


def _check_table(head, kw) -> None:
    assert head.position_embeddings.num_embeddings == kw["max_span_length"]


def _check_positions(result, kw) -> None:
    span_index, position, offset = result
    spans = torch.as_tensor(kw["spans"]).long()
    lengths = spans[:, 2] - spans[:, 1]
    if kw.get("max_span_length") is not None:
        lengths = lengths.clamp(max=kw["max_span_length"])
    assert len(span_index) == len(position) == len(offset) == int(lengths.sum())
    assert torch.equal(position, spans[span_index, 1] + offset)


def _check_head_output(result, kw) -> None:
    spans = torch.as_tensor(kw["spans"]).long()
    n = int((spans[:, 2] - spans[:, 1]).clamp(max=kw["head"].max_span_length).sum())
    assert result.shape == (n, VOCAB)
    assert result.dtype == kw["hidden_states"].dtype


def _check_loss(result, kw) -> None:
    assert result.dim() == 0 and torch.isfinite(result)
    if not len(kw["spans"]) and "mlm_logits" not in kw:
        assert result.item() == 0


def _dtype_of(arg):
    return lambda result, kw: assert_float_dtype(result, kw[arg].dtype)


SHAPES_LEAVE_SPANS_OUTSIDE = {
    f"hidden_states-{v}": (RAISE, "the valid spans then point past what is left")
    for v in ("batch-0", "length-0", "length-1", "length-2")
}
# each [B, L] argument alone changes shape: it no longer matches the others
SHAPES_MISMATCH = {
    f"{arg}-{v}": (RAISE, "it no longer has the shape of the other arguments")
    for arg in ("original_ids", "mlm_logits")
    for v in ("batch-0", "length-0", "length-1", "length-2")
}


def _no_spans(shape_variant: str, blame: str) -> Variant:
    fn = SHAPE_VARIANTS[shape_variant]

    def apply(kw):
        out = {
            k: fn(v)
            if k in ("hidden_states", "original_ids", "mlm_logits", "mlm_labels")
            else v
            for k, v in kw.items()
        }
        return {**out, "spans": torch.zeros(0, 3, dtype=torch.long)}

    return Variant(f"{shape_variant}-no-spans", apply, OK, blame)


ROWS = [
    Row(
        span_length_distribution,
        lambda: {"p": 0.2, "max_span_length": 10},
        kinds={"p": probability(), "max_span_length": count(1)},
        check=_check_distribution,
    ),
    Row(
        sample_spans,
        lambda: {
            **_masks(),
            "mask_ratio": 0.3,
            "p": 0.2,
            "max_span_length": 10,
            "generator": torch.Generator().manual_seed(2),
        },
        kinds={
            "word_starts": primary_mask,
            "special_tokens_mask": mask,
            "mask_ratio": probability(high_open=True),
            "p": probability(),
            "max_span_length": count(1),
            "generator": generator,
        },
        aligned=("word_starts", "special_tokens_mask"),
        check=_check_sampled,
        extra=[
            Variant(
                "no-special-mask",
                lambda kw: {**kw, "special_tokens_mask": None},
                OK,
            ),
        ],
    ),
    Row(
        masked_runs,
        lambda: {
            "selected": torch.tensor(
                [[0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1]] * 2
                + [[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]],
                dtype=torch.bool,
            )
        },
        kinds={"selected": primary_mask},
        check=_check_runs,
    ),
    Row(
        span_mask,
        lambda: {
            "input_ids": torch.randint(
                5, VOCAB, (B, L), generator=torch.Generator().manual_seed(3)
            ),
            **_masks(),
            "mask_ratio": 0.3,
            "p": 0.2,
            "max_span_length": 10,
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(4),
        },
        kinds={
            "input_ids": ids,
            "word_starts": mask,
            "special_tokens_mask": mask,
            "mask_ratio": probability(high_open=True),
            "p": probability(),
            "max_span_length": count(1),
            "mask_token_id": token_id,
            "vocab_size": count(1),
            "generator": generator,
        },
        aligned=("input_ids", "word_starts", "special_tokens_mask"),
        check=_check_masked,
        expect={
            "vocab_size-value-minimum": (RAISE, "the valid ids are not below 1"),
        },
        extra=[
            Variant(
                "no-special-mask",
                lambda kw: {**kw, "special_tokens_mask": None},
                OK,
            ),
            # random replacements up to 29,999 do not fit uint8 or int16: widened
            Variant(
                "uint8-ids-large-vocab",
                lambda kw: {
                    **kw,
                    "input_ids": kw["input_ids"].to(torch.uint8),
                    "vocab_size": 30000,
                },
                OK,
                check=_check_widened,
            ),
            Variant(
                "int16-ids-large-vocab",
                lambda kw: {
                    **kw,
                    "input_ids": kw["input_ids"].to(torch.int16),
                    "vocab_size": 40000,
                },
                OK,
                check=_check_widened,
            ),
        ],
    ),
    Row(
        span_token_positions,
        lambda: {"spans": torch.tensor(SPANS), "max_span_length": 2},
        kinds={"spans": spans_kind, "max_span_length": count(1)},
        check=_check_positions,
        expect={
            # no sequence to check against here: any end past the start is valid
            "spans-row-out-of-range": (OK, "no batch size to check rows against"),
            "spans-end-past-length": (OK, "no length to check ends against"),
            "max_span_length-type-none": (OK, "None lists every token of a span"),
        },
        extra=[
            Variant(
                "max-none",
                lambda kw: {**kw, "max_span_length": None},
                OK,
                "max_span_length",
            )
        ],
    ),
    Row(
        SpanBoundaryHead,
        lambda: {
            "hidden_size": HIDDEN,
            "vocab_size": VOCAB,
            "max_span_length": 15,
            "position_embedding_size": 6,
        },
        kinds={
            "hidden_size": count(1),
            "vocab_size": count(1),
            "max_span_length": count(1),
            "position_embedding_size": count(1),
        },
        check=_check_table,
    ),
    Row(
        SpanBoundaryHead.forward,
        lambda: {k: v for k, v in _states().items() if k != "original_ids"},
        kinds={"hidden_states": floats, "spans": spans_kind},
        call=lambda head, hidden_states, spans: SpanBoundaryHead.forward(
            head, hidden_states, spans
        ),
        check=_check_head_output,
        expect=SHAPES_LEAVE_SPANS_OUTSIDE,
        extra=[
            _no_spans("batch-0", "hidden_states"),
            _no_spans("length-0", "hidden_states"),
        ],
    ),
    Row(
        span_boundary_loss,
        _states,
        kinds={
            "head": module,
            "hidden_states": floats,
            "spans": spans_kind,
            "original_ids": ids,
        },
        check=_check_loss,
        expect={**SHAPES_LEAVE_SPANS_OUTSIDE, **SHAPES_MISMATCH},
        extra=[
            _no_spans("batch-0", "hidden_states"),
            _no_spans("length-0", "hidden_states"),
            Variant(
                "id-head-vocab",
                _map("original_ids", lambda t: t * 0 + VOCAB),
                RAISE,
                "original_ids",
            ),
        ],
    ),
    Row(
        spanbert_loss,
        lambda: {
            **_states(),
            "mlm_logits": torch.randn(
                B, L, VOCAB, generator=torch.Generator().manual_seed(5)
            ),
            "mlm_labels": _states()["original_ids"].masked_fill(
                torch.rand(B, L, generator=torch.Generator().manual_seed(6)) < 0.7,
                IGNORE_INDEX,
            ),
        },
        kinds={
            "mlm_logits": floats_with("hidden_states"),
            "mlm_labels": labels_kind,
            "head": module,
            "hidden_states": floats_with("mlm_logits"),
            "spans": spans_kind,
            "original_ids": ids,
        },
        check=_check_loss,
        expect={**SHAPES_LEAVE_SPANS_OUTSIDE, **SHAPES_MISMATCH},
        extra=[
            _no_spans("batch-0", "hidden_states"),
            _no_spans("length-0", "hidden_states"),
            Variant(
                "mixed-dtypes",
                lambda kw: {**kw, "mlm_logits": kw["mlm_logits"].double()},
                EITHER,
                "mlm_logits",
            ),
        ],
    ),
]

EXEMPT: dict[object, str] = {}
