"""Contract rows for snippets.compression (see tests/contract.py for the rules)."""

from __future__ import annotations

import io

import torch
from contract import OK, RAISE, Row, Variant, flag, module, probability
from transformers import BertConfig, BertForMaskedLM

from snippets.compression.pruning import PruneReport, magnitude_prune
from snippets.compression.quantization import (
    CompressionReport,
    bf16_autocast_inference,
    quantize_dynamic_int8,
    state_dict_bytes,
)

V = 50


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


def _bert(mode: str = "eval") -> BertForMaskedLM:
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=V,
            hidden_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=16,
        )
    )
    return model.train(mode == "train")


def _inputs() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"input_ids": torch.randint(0, V, (2, 6), generator=g)}


def _linears(model) -> list[torch.nn.Linear]:
    tied = {
        m.weight.data_ptr()
        for m in model.modules()
        if isinstance(m, torch.nn.Embedding)
    }
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.Linear) and m.weight.data_ptr() not in tied
    ]


def _prune_check(report, kw) -> None:
    assert isinstance(report, PruneReport)
    model, amount = kw["model"], kw["amount"]
    linears = _linears(model)
    zeros = sum(int((m.weight == 0).sum()) for m in linears)
    total = sum(m.weight.numel() for m in linears)
    assert report.layers == len(linears) and report.sparsity == zeros / total
    assert abs(report.sparsity - amount) < 0.02  # whole rows: coarse steps


PRUNE = Row(
    magnitude_prune,
    lambda: {"model": _bert(), "amount": 0.5, "structured": False},
    kinds={
        "model": module,
        "amount": probability(low_open=False, high_open=True),
        "structured": flag,
    },
    check=_prune_check,
    mutates=("model",),  # pruning in place is the documented behaviour
    extra=[
        Variant(
            "model-no-linear",
            _set("model", torch.nn.Embedding(3, 2)),
            RAISE,
            "model",
        ),
        Variant("model-train-mode", _set("model", _bert("train")), OK),
    ],
)


def _size_check(size, kw) -> None:
    buffer = io.BytesIO()
    torch.save(kw["model"].state_dict(), buffer)
    assert size == buffer.getbuffer().nbytes


SIZE = Row(
    state_dict_bytes,
    lambda: {"model": _bert()},
    kinds={"model": module},
    check=_size_check,
)


def _inputs_kind(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("empty", _set(arg, {}), RAISE),
        Variant("tensor", _set(arg, kw[arg]["input_ids"]), RAISE),
        Variant("list", _set(arg, [kw[arg]["input_ids"]]), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
        Variant(
            "with-attention-mask",
            _set(arg, {**kw[arg], "attention_mask": torch.ones(2, 6).long()}),
            OK,
        ),
    ]


class _Lookup(torch.nn.Module):
    """Embedding then Linear: unlike BERT in transformers, it runs a batch of 0."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = torch.nn.Embedding(V, 128)
        self.head = torch.nn.Linear(128, V)

    def forward(self, input_ids):
        return self.head(self.embedding(input_ids))


def _empty_batch(kw: dict) -> dict:
    """A batch of 0 rows, for a model that accepts one: the report is still
    defined (no deviation to measure: 0)."""
    return {
        "model": _Lookup(),
        "inputs": {"input_ids": kw["inputs"]["input_ids"][:0]},
    }


def _quantized_check(result, kw) -> None:
    quantized, report = result
    assert isinstance(report, CompressionReport)
    assert report.size_bytes < report.fp32_size_bytes
    assert report.fp32_size_bytes == state_dict_bytes(kw["model"])
    dynamic = torch.ao.nn.quantized.dynamic.Linear
    assert any(isinstance(m, dynamic) for m in quantized.modules())
    assert not any(isinstance(m, dynamic) for m in kw["model"].modules())
    assert 0 <= report.max_logit_deviation < 1


QUANTIZE = Row(
    quantize_dynamic_int8,
    lambda: {"model": _bert(), "inputs": _inputs()},
    kinds={"model": module, "inputs": _inputs_kind},
    check=_quantized_check,
    extra=[
        # the caller's mode is kept (the framework compares it before and after)
        Variant("model-train-mode", _set("model", _bert("train")), OK),
        Variant("model-float64", _set("model", _bert().double()), RAISE, "model"),
        Variant(
            "model-bfloat16", _set("model", _bert().bfloat16()), RAISE, "model"
        ),
        Variant("batch-0", _empty_batch, OK, "inputs"),
    ],
)


def _bf16_check(result, kw) -> None:
    logits, report = result
    assert logits.shape == (*kw["inputs"]["input_ids"].shape, V)
    assert logits.dtype == torch.float32
    assert report.size_bytes < 0.6 * report.fp32_size_bytes
    assert 0 <= report.max_logit_deviation < 1


BF16 = Row(
    bf16_autocast_inference,
    lambda: {"model": _bert(), "inputs": _inputs()},
    kinds={"model": module, "inputs": _inputs_kind},
    check=_bf16_check,
    extra=[
        Variant("model-train-mode", _set("model", _bert("train")), OK),
        Variant("model-float64", _set("model", _bert().double()), OK),
        Variant("batch-0", _empty_batch, OK, "inputs"),
    ],
)


ROWS = [PRUNE, SIZE, QUANTIZE, BF16]
EXEMPT = {
    PruneReport: "a frozen dataclass, the report magnitude_prune returns",
    CompressionReport: "a frozen dataclass, the report of the two quantizers",
}
