"""Computed tables of albert.md: the snippet's parameter counts and the paper's."""

from __future__ import annotations


def _millions(n: int) -> str:
    return f"{n / 1e6:,.1f}M"


def albert_configs() -> str:
    """Table 1's configurations, each counted by `albert_parameter_count`."""
    from snippets.albert.cross_layer_sharing import (
        PAPER_CONFIGS,
        PAPER_VOCAB_SIZE,
        albert_parameter_count,
    )

    rows = [
        "| Model | Layers | Hidden *H* | Embedding *E* | Sharing "
        "| Parameters (computed) | Parameters (paper, Table 1) |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, (L, H, E, sharing, reported) in PAPER_CONFIGS.items():
        count = albert_parameter_count(
            PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=sharing
        )
        rows.append(
            f"| {name} | {L} | {H} | {E} | {sharing} | {_millions(count)} "
            f"| {reported} |"
        )
    return "\n".join(rows) + "\n"


# ALBERT-base's sizes by sharing mode, as printed in the paper's Table 4
TABLE_4 = {
    768: {"all": "31M", "attention": "83M", "ffn": "57M", "none": "108M"},
    128: {"all": "12M", "attention": "64M", "ffn": "38M", "none": "89M"},
}


def albert_sharing() -> str:
    """Table 4's sharing modes for ALBERT-base at E = 768 and E = 128."""
    from snippets.albert.cross_layer_sharing import (
        PAPER_VOCAB_SIZE,
        SHARING_MODES,
        albert_parameter_count,
    )

    rows = [
        "| ALBERT-base, *E* | sharing | Parameters (computed) "
        "| Parameters (paper, Table 4) |",
        "|---:|---|---:|---:|",
    ]
    for E in (768, 128):
        for mode in SHARING_MODES:
            count = albert_parameter_count(
                PAPER_VOCAB_SIZE, E, 768, 12, 12, 3072, sharing=mode
            )
            rows.append(
                f"| {E} | {mode} | {_millions(count)} | {TABLE_4[E][mode]} |"
            )
    return "\n".join(rows) + "\n"
