"""Measure pruning and quantization on a tiny randomly initialised BERT, for the
compression page.

Variants: fp32; magnitude pruning at 30/50/70% (unstructured); int8 dynamic
quantization; bf16 autocast. For each: serialized size, non-zero Linear weights,
median CPU latency of a forward pass, and the largest logit deviation from fp32.
The weights are random, so the deviations measure numerical error, not accuracy
on a task. The output is docs/assets/generated/compression_table.json.

    .venv/bin/python -m experiments compression_table [--quick]
    .venv/bin/python -m experiments.compression_table [--repeats N] [--out DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertForMaskedLM

from experiments import cli
from experiments.machine import machine_info
from snippets.compression.pruning import magnitude_prune
from snippets.compression.quantization import (
    bf16_autocast_inference,
    quantize_dynamic_int8,
    state_dict_bytes,
)

OUT = cli.OUT
CONFIG = dict(
    vocab_size=8000,
    hidden_size=256,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=1024,
)
QUICK_CONFIG = dict(
    vocab_size=200,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
)
QUICK_OUT = cli.RUNS / "compression-quick"
BATCH, SEQ_LEN = 8, 128


def latency_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def nonzero_linear_weights(model: torch.nn.Module) -> int:
    return sum(
        int((m.weight != 0).sum())
        for m in model.modules()
        if isinstance(m, torch.nn.Linear)
    )


@torch.inference_mode()
def run(repeats: int = 20, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = BertForMaskedLM(BertConfig(**CONFIG)).eval()
    inputs = {
        "input_ids": torch.randint(
            0,
            CONFIG["vocab_size"],
            (BATCH, SEQ_LEN),
            generator=torch.Generator().manual_seed(seed),
        )
    }
    reference = model(**inputs).logits

    def deviation(m) -> float:
        return float((m(**inputs).logits.float() - reference).abs().max())

    rows = [
        {
            "variant": "fp32",
            "size_bytes": state_dict_bytes(model),
            "nonzero_linear": nonzero_linear_weights(model),
            "latency_ms": latency_ms(lambda: model(**inputs), repeats),
            "max_logit_deviation": 0.0,
        }
    ]
    for amount in (0.3, 0.5, 0.7):
        pruned = copy.deepcopy(model)
        report = magnitude_prune(pruned, amount)
        rows.append(
            {
                "variant": f"pruned {amount:.0%}",
                "size_bytes": state_dict_bytes(pruned),
                "nonzero_linear": nonzero_linear_weights(pruned),
                "sparsity": report.sparsity,
                "latency_ms": latency_ms(lambda: pruned(**inputs), repeats),  # noqa: B023
                "max_logit_deviation": deviation(pruned),
            }
        )
    quantized, report = quantize_dynamic_int8(model, inputs)
    rows.append(
        {
            "variant": "int8 dynamic",
            "size_bytes": report.size_bytes,
            "nonzero_linear": None,
            "latency_ms": latency_ms(lambda: quantized(**inputs), repeats),
            "max_logit_deviation": report.max_logit_deviation,
        }
    )
    _, report = bf16_autocast_inference(model, inputs)

    def bf16_forward():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(**inputs)

    rows.append(
        {
            "variant": "bf16 autocast",
            "size_bytes": report.size_bytes,
            "nonzero_linear": None,
            "latency_ms": latency_ms(bf16_forward, repeats),
            "max_logit_deviation": report.max_logit_deviation,
        }
    )
    return {
        "model": CONFIG | {"batch": BATCH, "seq_len": SEQ_LEN},
        "repeats": repeats,
        "machine": machine_info(),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a 1-layer model, 2 timed runs, under .cache/",
    )
    args = parser.parse_args(argv)
    if args.quick:
        global CONFIG
        CONFIG = QUICK_CONFIG
        args.repeats = 2
        if args.out == OUT:
            args.out = QUICK_OUT
    results = run(args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compression_table.json").write_text(
        json.dumps(results, indent=1) + "\n"
    )
    for row in results["rows"]:
        print(
            f"{row['variant']:14} {row['size_bytes'] / 1e6:7.2f} MB  "
            f"{row['latency_ms']:7.2f} ms  "
            f"max dev {row['max_logit_deviation']:.4f}"
        )


if __name__ == "__main__":
    main()
