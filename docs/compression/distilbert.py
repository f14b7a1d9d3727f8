"""Computed table of distilbert.md: teacher and student sizes, counted on `meta`."""

from __future__ import annotations


def _millions(n: int) -> str:
    return f"{n / 1e6:,.1f}M"


def distilbert_size() -> str:
    import torch
    from transformers import BertConfig, BertModel, DistilBertModel

    from snippets.distillation.student_init import student_config

    with torch.device("meta"):
        student = DistilBertModel(student_config(BertConfig()))
        teacher = BertModel(BertConfig())
    s, t = (sum(p.numel() for p in m.parameters()) for m in (student, teacher))
    return (
        "| Model | Layers | Parameters (computed) | Parameters (paper, Table 3) |\n"
        "|---|---:|---:|---:|\n"
        f"| BERT-base | 12 | {_millions(t)} | 110M |\n"
        f"| DistilBERT | 6 | {_millions(s)} | 66M |\n\n"
        f"The student keeps {s / t:.1%} of the teacher's parameters, "
        f"{1 - s / t:.0%} fewer.\n"
    )
