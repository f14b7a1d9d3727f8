"""Post-training int8 dynamic quantization and bf16 mixed-precision inference
(CPU).

Dynamic quantization stores each Linear weight as int8 with a per-tensor scale,
w ≈ scale · (q − zero_point). It quantizes the activations on the fly at run time
and multiplies in int8: Linear weights take about 4× less space, and the accuracy
cost is often small for BERT (Zafrir et al. 2019 report Q8BERT within 1% of fp32).

Mixed precision runs the matmuls in bfloat16 under `torch.autocast`. bf16 has
fp32's range and 8 bits of mantissa, so there is no loss scaling, but rounding
error is larger.

Each function reports the size of the saved state_dict and the largest deviation of
its output logits from the unquantized model's. Neither changes the caller's model:
both run it in eval mode and give every submodule its own mode back afterwards.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CompressionReport:
    size_bytes: int  # serialized state_dict
    fp32_size_bytes: int
    max_logit_deviation: float  # max |logits - fp32 logits| on the given inputs


def state_dict_bytes(model: nn.Module) -> int:
    """The size of `torch.save(model.state_dict())`, in bytes."""
    _check_model(model)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def _logits(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(**inputs)
    return (out.logits if hasattr(out, "logits") else out).float()


def _check_model(model: object, float32_cpu: bool = False) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if float32_cpu and any(
        p.dtype != torch.float32 or p.device.type != "cpu"
        for p in model.parameters()
    ):
        raise ValueError("model must be float32 on the CPU to be quantized")


def _check_inputs(inputs: object) -> None:
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError(
            "inputs must be a non-empty dict of model keyword arguments, e.g. "
            "{'input_ids': ...}"
        )


def _max_abs(x: torch.Tensor) -> float:
    return x.abs().max().item() if x.numel() else 0.0  # 0 for an empty batch


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Run `model` in eval mode, then give every submodule its own mode back."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield
    finally:
        for m, training in modes:
            m.training = training


# --8<-- [start:core]
@torch.no_grad()
def quantize_dynamic_int8(
    model: nn.Module, inputs: dict[str, torch.Tensor]
) -> tuple[nn.Module, CompressionReport]:
    """An int8 dynamically quantized copy of `model` (its nn.Linear layers, which
    must be float32 on the CPU), in eval mode, and its report on `inputs`."""
    _check_model(model, float32_cpu=True)  # what quantize_dynamic converts
    _check_inputs(inputs)
    with _eval_mode(model), warnings.catch_warnings():
        # torch.ao.quantization is deprecated for torchao, not installed here
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8
        )
        deviation = _max_abs(_logits(quantized, inputs) - _logits(model, inputs))
    report = CompressionReport(
        state_dict_bytes(quantized), state_dict_bytes(model), deviation
    )
    return quantized, report


@torch.no_grad()
def bf16_autocast_inference(
    model: nn.Module, inputs: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, CompressionReport]:
    """Logits of `model` (in eval mode) run under bf16 autocast, as float32, and
    the report (size: the weights cast to bf16)."""
    _check_model(model)
    _check_inputs(inputs)
    tensors = [*model.parameters(), *inputs.values()]
    device = next((t.device for t in tensors if isinstance(t, torch.Tensor)), None)
    with _eval_mode(model):
        device_type = "cpu" if device is None else device.type
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
            logits = _logits(model, inputs)
        deviation = _max_abs(logits - _logits(model, inputs))
    bf16_size = state_dict_bytes(copy.deepcopy(model).to(torch.bfloat16))
    return logits, CompressionReport(bf16_size, state_dict_bytes(model), deviation)


# --8<-- [end:core]
