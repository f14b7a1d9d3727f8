"""Contract rows for snippets.xlnet (see tests/contract.py for the rules)."""

from __future__ import annotations

import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    assert_float_dtype,
    count,
    float_dtype,
    floats,
    generator,
    ids,
    mask,
    module_dtype,
    probability,
)

from snippets.xlnet.permutation_lm import (
    permutation_masks,
    plm_inputs,
    sample_factorization_order,
    sample_target_spans,
)
from snippets.xlnet.two_stream_attention import TwoStreamAttention, masked_attention

VOCAB, B, L, D = 50, 3, 12, 8
FLOAT_PERM_MASK = "XLNet's perm_mask is float 0/1; bool and 0/1 ints work too"


def _ids() -> torch.Tensor:
    return torch.randint(
        0, VOCAB, (B, L), generator=torch.Generator().manual_seed(0)
    )


def _is_target() -> torch.Tensor:
    return torch.rand(B, L, generator=torch.Generator().manual_seed(1)) < 0.4


def _order(shape) -> torch.Tensor:
    g = torch.Generator().manual_seed(2)
    return sample_factorization_order(*shape, generator=g)


def _perm_mask() -> torch.Tensor:
    perm_mask, _ = permutation_masks(_order((B, L)), _is_target(), dtype=torch.bool)
    return perm_mask


def _is_order(result, kw) -> None:
    rows, length = kw["batch_size"], kw["seq_len"]
    assert result.dtype == torch.int64 and result.shape == (rows, length)
    assert torch.equal(
        result.sort(1).values, torch.arange(length).expand(rows, length)
    )


def _masks(*, is_target, order=None, **kw):
    """permutation_masks, with ranks drawn for is_target's shape unless given (so
    that the shape variants keep `order` a permutation)."""
    if order is None:
        shaped = isinstance(is_target, torch.Tensor) and is_target.dim() == 2
        order = _order(is_target.shape if shaped else (B, L))
    return permutation_masks(order, is_target, **kw)


def _check_masks(perm_mask, target_mapping, is_target, order, dtype) -> None:
    rows, length = is_target.shape
    assert perm_mask.shape == (rows, length, length) and perm_mask.dtype == dtype
    K = int(is_target.sum(1).max()) if is_target.numel() else 0
    assert target_mapping.shape == (rows, K, length)
    can_see = ~perm_mask.bool()
    t_i, t_j = is_target[:, :, None], is_target[:, None, :]
    earlier = order[:, None, :] < order[:, :, None]
    assert torch.equal(can_see & t_j, t_i & t_j & earlier)  # targets: earlier ones
    assert can_see[(~t_j).expand_as(can_see)].all()  # context: seen by all
    picked = target_mapping.bool().any(1)  # the one-hot rows pick the targets
    assert torch.equal(picked, is_target)


def _checked_masks(result, kw) -> None:
    is_target = kw["is_target"].bool()
    order = kw.get("order")
    order = _order(is_target.shape) if order is None else order.long()
    _check_masks(*result, is_target, order, kw.get("dtype", torch.float32))


def _spans(result, kw) -> None:
    valid = kw["valid"].bool()
    assert result.dtype == torch.bool and result.shape == valid.shape
    assert not (result & ~valid).any()


def _plm(result, kw) -> None:
    ids_ = kw["input_ids"]
    assert result["input_ids"] is ids_
    labels, mapping = result["labels"], result["target_mapping"]
    assert labels.dtype == torch.int64
    assert labels.shape == mapping.shape[:2]
    assert result["perm_mask"].shape == (*ids_.shape, ids_.shape[1])
    dtype = kw.get("dtype", torch.float32)
    assert result["perm_mask"].dtype == mapping.dtype == dtype
    filled = mapping.bool().any(-1)
    assert torch.equal(filled, labels != -100)
    picked = mapping.float().argmax(-1) if mapping.shape[-1] else labels
    assert torch.equal(labels[filled], ids_.long().gather(1, picked)[filled])
    special = kw.get("special_tokens_mask")
    if special is not None:
        assert not (mapping.bool() & special.bool()[:, None, :]).any()


def _attention(*, query, key, value, blocked, dtype=None):
    if dtype is not None:
        query, key, value = (t.to(dtype) for t in (query, key, value))
    return masked_attention(query, key, value, blocked)


def _attended(result, kw) -> None:
    q, k, v, blocked = kw["query"], kw["key"], kw["value"], kw["blocked"]
    batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], blocked.shape[:-2])
    assert result.shape == (*batch, q.shape[-2], v.shape[-1])
    assert_float_dtype(result, kw.get("dtype") or q.dtype)
    hidden = blocked.all(-1).expand(result.shape[:-1])  # sees nothing: gets 0
    assert (result[hidden] == 0).all()


def _two_stream(*, input_ids, perm_mask, vocab_size=VOCAB, max_len=32, dtype=None):
    torch.manual_seed(0)
    model = TwoStreamAttention(vocab_size, d_model=D, max_len=max_len)
    return (model if dtype is None else model.to(dtype))(input_ids, perm_mask)


def _streams(result, kw) -> None:
    h, g = result
    assert h.shape == g.shape == (*kw["input_ids"].shape, D)
    assert_float_dtype(result, kw.get("dtype") or torch.float32)


def _qkv() -> dict:
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(B, L, D, generator=g) for _ in range(3))
    return {"query": q, "key": k, "value": v, "blocked": _perm_mask()}


def _cut(names, rows, length, square=()):
    def apply(kw):
        out = dict(kw)
        for name in names:
            t = out[name][:rows] if rows is not None else out[name]
            if length is not None:
                t = t[:, :length]
                t = t[:, :, :length] if name in square else t
            out[name] = t
        return out

    return apply


ROWS = [
    Row(
        sample_factorization_order,
        lambda: {
            "batch_size": B,
            "seq_len": L,
            "generator": torch.Generator().manual_seed(4),
        },
        kinds={"batch_size": count(0), "seq_len": count(0), "generator": generator},
        check=_is_order,
        extra=[
            Variant("device-str", lambda kw: {**kw, "device": "cpu"}, OK, "device"),
            Variant(
                "device-object",
                lambda kw: {**kw, "device": torch.device("cpu")},
                OK,
                "device",
            ),
            Variant(
                "other-device",
                lambda kw: {**kw, "device": "meta"},
                RAISE,
                "generator",
            ),
            Variant(
                "device-int-like", lambda kw: {**kw, "device": 1.5}, RAISE, "device"
            ),
            Variant(
                "device-nonsense",
                lambda kw: {**kw, "device": "nope"},
                RAISE,
                "device",
            ),
        ],
    ),
    Row(
        permutation_masks,
        lambda: {"is_target": _is_target()},
        call=_masks,
        kinds={"is_target": mask, "dtype": float_dtype(bool_ok=True)},
        check=_checked_masks,
        expect={
            # the ranks are drawn for is_target's shape: any [batch, length] mask
            "is_target-wrong-shape": (OK, "order is drawn for the mask's shape"),
        },
        extra=[
            Variant("batch-0", _cut(["is_target"], 0, None), OK),
            Variant("length-0", _cut(["is_target"], None, 0), OK),
            Variant("length-1", _cut(["is_target"], None, 1), OK),
            Variant(
                "order-int32",
                lambda kw: {**kw, "order": _order((B, L)).int()},
                OK,
                "order",
            ),
            Variant(
                "order-uint8",
                lambda kw: {**kw, "order": _order((B, L)).to(torch.uint8)},
                OK,
                "order",
            ),
            Variant(
                "order-not-a-permutation",
                lambda kw: {**kw, "order": torch.zeros(B, L, dtype=torch.long)},
                RAISE,
                "order",
            ),
            Variant(
                "order-float",
                lambda kw: {**kw, "order": _order((B, L)).float()},
                RAISE,
                "order",
            ),
            Variant(
                "order-other-shape",
                lambda kw: {**kw, "order": _order((B, L + 1))},
                RAISE,
                "order",
            ),
            Variant(
                "order-rank-1",
                lambda kw: {**kw, "order": _order((B, L))[0]},
                RAISE,
                "order",
            ),
        ],
    ),
    Row(
        sample_target_spans,
        lambda: {
            "valid": ~torch.eye(B, L, dtype=torch.bool),
            "generator": torch.Generator().manual_seed(5),
        },
        kinds={
            "valid": mask,
            "plm_probability": probability(),
            "max_span_length": count(1),
            "generator": generator,
        },
        check=_spans,
        expect={"valid-wrong-shape": (OK, "any [batch, length] mask is valid")},
        extra=[
            Variant("batch-0", _cut(["valid"], 0, None), OK),
            Variant("length-0", _cut(["valid"], None, 0), OK),
            Variant("length-1", _cut(["valid"], None, 1), OK),
            Variant("length-2", _cut(["valid"], None, 2), OK),
            Variant(
                "other-device",
                lambda kw: {**kw, "valid": kw["valid"].to("meta")},
                RAISE,
                "generator",
            ),
            Variant(
                "overflowing-context",
                lambda kw: {
                    **kw,
                    "plm_probability": 1e-300,
                    "max_span_length": 2**60,
                },
                RAISE,
                "plm_probability",
            ),
            Variant(
                "long-spans",
                lambda kw: {**kw, "plm_probability": 0.5, "max_span_length": 10**6},
                OK,
                "max_span_length",
            ),
        ],
    ),
    Row(
        plm_inputs,
        lambda: {
            "input_ids": _ids(),
            "special_tokens_mask": torch.eye(B, L, dtype=torch.bool),
            "generator": torch.Generator().manual_seed(6),
        },
        kinds={
            "input_ids": ids,
            "special_tokens_mask": mask,
            "plm_probability": probability(),
            "max_span_length": count(1),
            "generator": generator,
            "dtype": float_dtype(bool_ok=True),
        },
        aligned=("input_ids", "special_tokens_mask"),
        check=_plm,
        extra=[
            Variant(
                "all-special",
                lambda kw: {
                    **kw,
                    "special_tokens_mask": torch.ones(B, L, dtype=torch.bool),
                },
                OK,
                "special_tokens_mask",
            ),
            Variant(
                "odd-length",
                lambda kw: {
                    **kw,
                    **_cut(["input_ids", "special_tokens_mask"], None, 7)(kw),
                },
                OK,
                "input_ids",
            ),
        ],
    ),
    Row(
        masked_attention,
        _qkv,
        call=_attention,
        kinds={"query": floats, "dtype": module_dtype},
        aligned=("query", "key", "value", "blocked"),
        square=("blocked",),
        check=_attended,
        expect={
            # query alone in another dtype than key and value is a mismatch
            **{
                f"query-dtype-{d}": (RAISE, "query, key and value share one dtype")
                for d in ("float16", "bfloat16", "float64")
            },
        },
        extra=[
            Variant(
                "unbatched",
                lambda kw: {k: v[0] for k, v in kw.items()},
                OK,
            ),
            Variant(
                "all-blocked",
                lambda kw: {**kw, "blocked": torch.ones(B, L, L, dtype=torch.bool)},
                OK,
                "blocked",
            ),
            Variant(
                "blocked-float",
                lambda kw: {**kw, "blocked": kw["blocked"].float()},
                RAISE,
                "blocked",
            ),
            Variant(
                "blocked-wrong-shape",
                lambda kw: {**kw, "blocked": kw["blocked"][:, :, :-1]},
                RAISE,
                "blocked",
            ),
            Variant(
                "key-other-length",
                lambda kw: {**kw, "key": kw["key"][:, :-1]},
                RAISE,
                "key",
            ),
            Variant(
                "value-int",
                lambda kw: {**kw, "value": kw["value"].long()},
                RAISE,
                "value",
            ),
        ],
    ),
    Row(
        TwoStreamAttention,
        lambda: {"input_ids": _ids(), "perm_mask": _perm_mask()},
        call=_two_stream,
        kinds={
            "input_ids": ids,
            "perm_mask": mask,
            "vocab_size": count(1),
            "max_len": count(1),
            "dtype": module_dtype,
        },
        aligned=("input_ids", "perm_mask"),
        square=("perm_mask",),
        check=_streams,
        expect={
            "perm_mask-float": (OK, FLOAT_PERM_MASK),
            "vocab_size-value-minimum": (RAISE, "ids up to 49 are not below 1"),
            "max_len-value-minimum": (RAISE, "12 positions do not fit in 1"),
        },
        extra=[
            Variant(
                "input_ids-wider-vocab",
                lambda kw: {**kw, "vocab_size": 1000},
                OK,
                "vocab_size",
            ),
            Variant(
                "longer-than-max_len",
                lambda kw: {**kw, "max_len": L - 1},
                RAISE,
                "max_len",
            ),
        ],
    ),
]
