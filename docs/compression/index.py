"""Computed table of the compression overview, from `make experiments`' output."""

from __future__ import annotations

import json
from pathlib import Path

GENERATED = Path(__file__).resolve().parents[1] / "assets" / "generated"


def compression_table() -> str:
    path = GENERATED / "compression_table.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; run `make experiments`")
    results = json.loads(path.read_text(encoding="utf-8"))
    base = results["rows"][0]
    rows = [
        "| Variant | Size (MB) | Non-zero Linear weights "
        "| CPU latency (ms, median) | vs fp32 | Max logit deviation |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        nonzero = r["nonzero_linear"]
        nonzero = "—" if nonzero is None else f"{nonzero / 1e6:.2f}M"
        rows.append(
            f"| {r['variant']} | {r['size_bytes'] / 1e6:.2f} | {nonzero} "
            f"| {r['latency_ms']:.1f} "
            f"| {base['latency_ms'] / r['latency_ms']:.2f}× "
            f"| {r['max_logit_deviation']:.4f} |"
        )
    m, machine = results["model"], results["machine"]
    return (
        "\n".join(rows)
        + f"\n\nModel: BERT with {m['num_hidden_layers']} layers, hidden "
        f"{m['hidden_size']}, vocabulary {m['vocab_size']}, random weights; input "
        f"batch {m['batch']} × {m['seq_len']}; {results['repeats']} timed runs per "
        f"variant. Measured on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['torch_threads']} torch threads), torch {machine['torch']}, on "
        f"{machine['date']}.\n"
    )
