"""Statistical tolerances for the sampling tests.

Every sampling test runs on a fixed seed, so it is deterministic: it cannot flake.
The bounds are still derived from the sample size, so that a correct sampler passes
for *any* seed with overwhelming probability (5 standard errors: about 1 in 1.7
million for a normal statistic) and a wrong rule, which moves a rate by far more
than 5 standard errors at these sizes, fails.
"""

from __future__ import annotations

import math

import torch

SIGMAS = 5.0


def assert_rate(
    observed: torch.Tensor | float, expected: float, n: int, what: str
) -> None:
    """A Bernoulli rate over n trials is within 5 standard errors of `expected`."""
    observed = float(observed)
    bound = SIGMAS * math.sqrt(expected * (1 - expected) / n)
    assert abs(observed - expected) <= bound, (
        f"{what}: {observed:.4f} vs {expected:.4f} (bound ±{bound:.4f}, n={n})"
    )


def total_variation(p: torch.Tensor, q: torch.Tensor) -> float:
    return 0.5 * float((p.double() / p.sum() - q.double() / q.sum()).abs().sum())


def chi_square_pvalue(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """Pearson's chi-square goodness-of-fit p-value (survival function via the
    incomplete gamma)."""
    counts = counts.double()
    expected = probs.double() / probs.sum() * counts.sum()
    stat = ((counts - expected) ** 2 / expected).sum()
    dof = counts.numel() - 1
    return float(
        torch.special.gammaincc(
            torch.tensor(dof / 2, dtype=torch.float64), stat / 2
        )
    )
