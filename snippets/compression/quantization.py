"""Post-training int8 dynamic quantization and bf16 mixed-precision inference (CPU).

Dynamic quantization stores each Linear weight as int8 with a per-tensor scale,
w ≈ scale · (q − zero_point). It quantizes the activations on the fly at run time and multiplies in
int8: Linear weights take about 4× less space, and the accuracy cost is often small for BERT (Zafrir et al. 2019 report
Q8BERT within 1% of fp32).

Mixed precision runs the matmuls in bfloat16 under `torch.autocast`. bf16 has fp32's range and 8 bits of
mantissa, so there is no loss scaling, but rounding error is larger.

Each function reports the size of the saved state_dict and the largest deviation of its output
logits from the fp32 model's.
"""

from __future__ import annotations

import copy
import io
import warnings
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CompressionReport:
    size_bytes: int  # serialized state_dict
    fp32_size_bytes: int
    max_logit_deviation: float  # max |logits - fp32 logits| on the given inputs


def state_dict_bytes(model: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def _logits(model: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    out = model(**inputs)
    return (out.logits if hasattr(out, "logits") else out).float()


def _check(model: nn.Module, inputs: dict) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    if not isinstance(inputs, dict) or not inputs:
        raise TypeError(
            "inputs must be a non-empty dict of model keyword arguments, e.g. {'input_ids': ...}"
        )


# --8<-- [start:core]
@torch.no_grad()
def quantize_dynamic_int8(
    model: nn.Module, inputs: dict[str, torch.Tensor]
) -> tuple[nn.Module, CompressionReport]:
    """An int8 dynamically quantized copy of `model` (its nn.Linear layers), and its report."""
    _check(model, inputs)
    model.eval()
    with (
        warnings.catch_warnings()
    ):  # torch.ao.quantization is deprecated in favour of torchao, not on PyPI here
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8
        )
        deviation = (
            (_logits(quantized, inputs) - _logits(model, inputs)).abs().max().item()
        )
        size = state_dict_bytes(quantized)
    return quantized, CompressionReport(size, state_dict_bytes(model), deviation)


@torch.no_grad()
def bf16_autocast_inference(
    model: nn.Module, inputs: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, CompressionReport]:
    """Logits of `model` run under bf16 autocast, and the report (size: the weights cast to bf16)."""
    _check(model, inputs)
    model.eval()
    device_type = next(model.parameters()).device.type
    with torch.autocast(device_type=device_type, dtype=torch.bfloat16):
        logits = _logits(model, inputs)
    deviation = (logits - _logits(model, inputs)).abs().max().item()
    bf16_size = state_dict_bytes(copy.deepcopy(model).to(torch.bfloat16))
    return logits, CompressionReport(bf16_size, state_dict_bytes(model), deviation)


# --8<-- [end:core]
