"""The standard errors the experiments report, in one place.

`binomial`: an accuracy over independent items. `ratio`: a per-token mean of
quantities summed over clusters (the tokens of one span, one row), with the
standard error of the ratio estimator, which treats the clusters, not the
tokens, as the independent draws.
"""

from __future__ import annotations

import math

import torch


def binomial(correct: int, total: int) -> dict:
    """Accuracy in percent, with its binomial standard error."""
    p = correct / max(total, 1)
    return {
        "accuracy": 100 * p,
        "se": 100 * math.sqrt(p * (1 - p) / max(total, 1)),
        "n": total,
    }


def ratio(sums: torch.Tensor, sizes: torch.Tensor) -> tuple[float, float]:
    """sum(sums) / sum(sizes), and its standard error clustered by the rows of
    `sums` (the ratio estimator's linearization)."""
    n, total = len(sizes), max(int(sizes.sum()), 1)
    mean = float(sums.sum()) / total
    residual = sums.double() - mean * sizes.double()
    se = math.sqrt(float((residual**2).sum()) * n / max(n - 1, 1)) / total
    return mean, se
