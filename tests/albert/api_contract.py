"""Contract rows for ALBERT's n-gram masking, cross-layer sharing and factorized
embedding (see tests/contract.py for the rules; sentence-order prediction has its
own file)."""

from __future__ import annotations

import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    assert_float_dtype,
    assert_labels,
    choice,
    count,
    flag,
    floats,
    generator,
    ids,
    mask,
    module_dtype,
    probability,
    token_id,
)

from snippets.albert.cross_layer_sharing import (
    SHARING_MODES,
    FeedForwardBlock,
    SelfAttentionBlock,
    SharedEncoder,
    albert_parameter_count,
    encoder_parameter_count,
)
from snippets.albert.factorized_embedding import (
    FactorizedEmbedding,
    embedding_parameter_count,
)
from snippets.albert.ngram_masking import (
    ngram_distribution,
    ngram_mask,
    sample_ngrams,
)
from snippets.masking import masking_budget

VOCAB, B, L, H = 100, 3, 12, 8
SMALL_VOCAB = "the ids and the [MASK] id are not below vocab_size 1"


def _word_batch() -> dict:
    g = torch.Generator().manual_seed(0)
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    return {
        "input_ids": torch.randint(5, VOCAB, (B, L), generator=g),
        "word_starts": torch.rand(B, L, generator=g) < 0.6,
        "special_tokens_mask": special,
    }


def _cuts(names: tuple[str, ...]) -> list[Variant]:
    """Batch 0 and lengths 0, 1, 2 for tensors that share [batch, length]."""

    def cut(rows, length):
        def apply(kw):
            out = dict(kw)
            for name in names:
                t = out[name][:rows] if rows is not None else out[name]
                out[name] = t[:, :length] if length is not None else t
            return out

        return apply

    return [
        Variant("batch-0", cut(0, None), OK),
        Variant("length-0", cut(None, 0), OK),
        Variant("length-1", cut(None, 1), OK),
        Variant("length-2", cut(None, 2), OK),
    ]


def _shift(t: torch.Tensor) -> torch.Tensor:
    """The previous token's value (False before the first)."""
    return torch.cat([torch.zeros_like(t[:, :1]), t], 1)[:, : t.shape[1]]


def _whole_words(selected, word_starts, valid) -> None:
    """A continuation piece (not a word start, right after a valid token) is
    chosen exactly when the token before it is."""
    prev_valid, prev_selected = _shift(valid), _shift(selected)
    continuation = valid & ~word_starts & prev_valid
    assert torch.equal(selected[continuation], prev_selected[continuation])
    assert not (selected & ~valid).any()


def _ngrams(result, kw) -> None:
    selected, ngram_words = result
    valid, starts = kw["valid"].bool(), kw["word_starts"].bool()
    assert selected.dtype == torch.bool and selected.shape == valid.shape
    assert ngram_words.dtype == torch.int64
    if ngram_words.numel():
        assert int(ngram_words.max()) <= kw.get("max_ngram", 3)
    budget = masking_budget(valid, kw.get("mlm_probability", 0.15))
    assert (selected.sum(1) <= budget).all()
    _whole_words(selected, starts, valid)


def _masked(result, kw) -> None:
    inputs, labels = result
    ids_ = kw["input_ids"]
    assert inputs.shape == ids_.shape
    assert_labels(labels, ids_)
    special = kw.get("special_tokens_mask")
    valid = (
        torch.ones_like(ids_, dtype=torch.bool)
        if special is None
        else ~special.bool()
    )
    _whole_words(labels != -100, kw["word_starts"].bool(), valid)


def _distribution(result, kw) -> None:
    n = kw["max_ngram"]
    expected = 1 / torch.arange(1, n + 1, dtype=torch.float64)
    assert result.dtype == torch.float32 and result.shape == (n,)
    assert torch.allclose(result.double(), expected / expected.sum())


def _module_call(cls, *, module_dtype=None, config=(), forward=()):
    """Build a module (seeded), convert it to `module_dtype` or else to the dtype
    of its first input when that is a float tensor, and call it: a module keeps
    the float dtype it is given."""
    torch.manual_seed(0)
    module = cls(*config)
    target, first = module_dtype, forward[0]
    if target is None and isinstance(first, torch.Tensor):
        target = first.dtype if first.is_floating_point() else None
    if target is not None:
        module = module.to(target)
    return module(*forward)


def _shared_encoder(
    *,
    hidden_states,
    attention_mask=None,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=16,
    sharing="all",
    module_dtype=None,
):
    config = (num_hidden_layers, H, num_attention_heads, intermediate_size, sharing)
    return _module_call(
        SharedEncoder,
        module_dtype=module_dtype,
        config=config,
        forward=(hidden_states, attention_mask),
    )


def _attention_block(
    *, x, attention_mask=None, num_attention_heads=2, module_dtype=None
):
    return _module_call(
        SelfAttentionBlock,
        module_dtype=module_dtype,
        config=(H, num_attention_heads),
        forward=(x, attention_mask),
    )


def _ffn_block(*, x, intermediate_size=16, module_dtype=None):
    return _module_call(
        FeedForwardBlock,
        module_dtype=module_dtype,
        config=(H, intermediate_size),
        forward=(x,),
    )


def _embedding(
    *, input_ids, vocab_size=VOCAB, embedding_size=4, hidden_size=H, dtype=None
):
    return _module_call(
        FactorizedEmbedding,
        module_dtype=dtype,
        config=(vocab_size, embedding_size, hidden_size),
        forward=(input_ids,),
    )


def _same_shape_as(name: str):
    def check(result, kw) -> None:
        assert result.shape == kw[name].shape
        assert_float_dtype(result, kw[name].dtype)

    return check


def _embedded(result, kw) -> None:
    assert result.shape == (*kw["input_ids"].shape, kw.get("hidden_size", H))
    assert_float_dtype(result, kw.get("dtype") or torch.float32)


def _positive_int(result, kw) -> None:
    assert isinstance(result, int) and result > 0


def _embedding_count(result, kw) -> None:
    V, E, Hd = kw["vocab_size"], kw["embedding_size"], kw["hidden_size"]
    if kw.get("factorized", True):
        assert result == V * E + E * Hd + (Hd if kw.get("bias", True) else 0)
    else:
        assert result == V * Hd


def _hidden(shape=(B, L, H)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(1))


def _padding_mask() -> torch.Tensor:
    attention_mask = torch.ones(B, L, dtype=torch.long)
    attention_mask[1, 7:] = 0
    return attention_mask


FLOAT_MASK = "XLNet/BERT-style float 1/0 attention masks are accepted"
NOT_DIVISIBLE = "hidden_size 8 is not divisible by the heads"
ENCODER_EXTRAS = [
    Variant(
        "module-dtype-mismatch",
        lambda kw: {
            **kw,
            "module_dtype": torch.float32,
            "hidden_states": kw["hidden_states"].double(),
        },
        RAISE,
        "hidden_states",
    ),
    Variant(
        "all-padding-row",
        lambda kw: {**kw, "attention_mask": torch.zeros(B, L, dtype=torch.long)},
        OK,
        "attention_mask",
    ),
]

ROWS = [
    Row(
        ngram_distribution,
        lambda: {"max_ngram": 3},
        kinds={"max_ngram": count(1)},
        check=_distribution,
    ),
    Row(
        sample_ngrams,
        lambda: {
            "word_starts": _word_batch()["word_starts"],
            "valid": ~_word_batch()["special_tokens_mask"],
            "generator": torch.Generator().manual_seed(2),
        },
        kinds={
            "word_starts": mask,
            "valid": mask,
            "max_ngram": count(1),
            "mlm_probability": probability(high_open=True),
            "generator": generator,
        },
        check=_ngrams,
        extra=[
            *_cuts(("word_starts", "valid")),
            Variant(
                "other-device",
                lambda kw: {**kw, "valid": kw["valid"].to("meta")},
                RAISE,
                "generator",
            ),
        ],
    ),
    Row(
        ngram_mask,
        lambda: {
            **_word_batch(),
            "mask_token_id": 4,
            "vocab_size": VOCAB,
            "generator": torch.Generator().manual_seed(3),
        },
        kinds={
            "input_ids": ids,
            "word_starts": mask,
            "special_tokens_mask": mask,
            "max_ngram": count(1),
            "mlm_probability": probability(high_open=True),
            "mask_token_id": token_id,
            "vocab_size": count(1),
            "generator": generator,
        },
        aligned=("input_ids", "word_starts", "special_tokens_mask"),
        check=_masked,
        expect={"vocab_size-value-minimum": (RAISE, SMALL_VOCAB)},
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
                "one-word-per-row",
                lambda kw: {
                    **kw,
                    "word_starts": torch.zeros(B, L, dtype=torch.bool),
                },
                OK,
                "word_starts",
            ),
        ],
    ),
    Row(
        FactorizedEmbedding,
        lambda: {"input_ids": _word_batch()["input_ids"]},
        call=_embedding,
        kinds={
            "input_ids": ids,
            "vocab_size": count(1),
            "embedding_size": count(1),
            "hidden_size": count(1),
            "dtype": module_dtype,
        },
        aligned=("input_ids",),
        check=_embedded,
        expect={"vocab_size-value-minimum": (RAISE, SMALL_VOCAB)},
    ),
    Row(
        embedding_parameter_count,
        lambda: {"vocab_size": 30000, "embedding_size": 128, "hidden_size": 4096},
        kinds={
            "vocab_size": count(1),
            "embedding_size": count(1),
            "hidden_size": count(1),
            "factorized": flag,
            "bias": flag,
        },
        check=_embedding_count,
    ),
    Row(
        SharedEncoder,
        lambda: {"hidden_states": _hidden(), "attention_mask": _padding_mask()},
        call=_shared_encoder,
        kinds={
            "hidden_states": floats,
            "attention_mask": mask,
            "num_hidden_layers": count(1),
            "num_attention_heads": count(1),
            "intermediate_size": count(1),
            "sharing": choice(*SHARING_MODES),
        },
        aligned=("hidden_states", "attention_mask"),
        check=_same_shape_as("hidden_states"),
        expect={"attention_mask-float": (OK, FLOAT_MASK)},
        extra=[
            *ENCODER_EXTRAS,
            Variant(
                "heads-not-dividing",
                lambda kw: {**kw, "num_attention_heads": 3},
                RAISE,
                "num_attention_heads",
            ),
        ],
    ),
    Row(
        SelfAttentionBlock,
        lambda: {"x": _hidden(), "attention_mask": _padding_mask()},
        call=_attention_block,
        kinds={
            "x": floats,
            "attention_mask": mask,
            "num_attention_heads": count(1),
        },
        aligned=("x", "attention_mask"),
        check=_same_shape_as("x"),
        expect={"attention_mask-float": (OK, FLOAT_MASK)},
        extra=[
            Variant(
                "all-padding-row",
                lambda kw: {
                    **kw,
                    "attention_mask": torch.zeros(B, L, dtype=torch.long),
                },
                OK,
                "attention_mask",
            ),
            Variant(
                "heads-not-dividing",
                lambda kw: {**kw, "num_attention_heads": 3},
                RAISE,
                "num_attention_heads",
            ),
        ],
    ),
    Row(
        FeedForwardBlock,
        lambda: {"x": _hidden()},
        call=_ffn_block,
        kinds={
            "x": floats,
            "intermediate_size": count(1),
        },
        aligned=("x",),
        check=_same_shape_as("x"),
        expect={
            "x-rank-minus-1": (OK, "any [..., hidden_size] input"),
            "x-rank-plus-1": (OK, "any [..., hidden_size] input"),
        },
    ),
    Row(
        encoder_parameter_count,
        lambda: {
            "num_hidden_layers": 12,
            "hidden_size": 768,
            "intermediate_size": 3072,
        },
        kinds={
            "num_hidden_layers": count(1),
            "hidden_size": count(1),
            "intermediate_size": count(1),
            "sharing": choice(*SHARING_MODES),
        },
        check=_positive_int,
    ),
    Row(
        albert_parameter_count,
        lambda: {
            "vocab_size": 30000,
            "embedding_size": 128,
            "hidden_size": 768,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "intermediate_size": 3072,
        },
        kinds={
            "vocab_size": count(1),
            "embedding_size": count(1),
            "hidden_size": count(1),
            "num_hidden_layers": count(1),
            "num_attention_heads": count(1),
            "intermediate_size": count(1),
            "sharing": choice(*SHARING_MODES),
            "max_position_embeddings": count(0),
            "type_vocab_size": count(0),
        },
        check=_positive_int,
        expect={
            "hidden_size-value-minimum": (RAISE, "1 is not divisible by 12 heads"),
        },
    ),
]
