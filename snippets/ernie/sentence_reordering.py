"""Sentence reordering (ERNIE 2.0, Sun et al. 2020, §4.2.2), a structure-aware pre-training task.

A paragraph is split into n segments, 1 ≤ n ≤ m, and the segments are shuffled. The model
classifies which (n, permutation) pair produced the shuffle, among

    k = Σ_{n=1..m} n!      classes

(m = 3 gives 1 + 2 + 6 = 9 classes). Solving it requires knowing how sentences in a document
relate to each other.

Label of (n, π) = Σ_{j<n} j!  +  rank(π), where rank is the permutation's lexicographic
(Lehmer-code) index in [0, n!).
"""

from __future__ import annotations

import math

import torch

from snippets._checks import check_positive_int


def num_classes(max_segments: int) -> int:
    return sum(math.factorial(n) for n in range(1, max_segments + 1))


# --8<-- [start:core]
def permutation_to_label(permutation: list[int]) -> int:
    """The class index of a permutation of 0..n-1 (n = len(permutation))."""
    n = len(permutation)
    if sorted(permutation) != list(range(n)):
        raise ValueError(f"not a permutation of 0..{n - 1}: {permutation}")
    rank, remaining = 0, list(range(n))
    for i, value in enumerate(
        permutation
    ):  # Lehmer code: position of each value among those left
        index = remaining.index(value)
        rank += index * math.factorial(n - 1 - i)
        remaining.pop(index)
    return sum(math.factorial(j) for j in range(1, n)) + rank


def label_to_permutation(label: int, max_segments: int) -> list[int]:
    """The inverse of `permutation_to_label`, for labels in [0, Σ_{n=1..m} n!)."""
    check_positive_int(max_segments, "max_segments")
    if not 0 <= label < num_classes(max_segments):
        raise ValueError(
            f"label must be in [0, {num_classes(max_segments)}) for max_segments={max_segments}, got {label}"
        )
    n = 1
    while label >= math.factorial(n):
        label -= math.factorial(n)
        n += 1
    remaining, permutation = list(range(n)), []
    for i in range(n):
        index, label = divmod(label, math.factorial(n - 1 - i))
        permutation.append(remaining.pop(index))
    return permutation


def reorder_example(
    segments: list[list[int]],
    *,
    max_segments: int = 3,
    generator: torch.Generator | None = None,
) -> tuple[list[list[int]], int]:
    """Split a paragraph, given as its sentences (token lists), into n ~ U{1..m} contiguous pieces at
    random sentence boundaries, shuffle the pieces, and return (shuffled pieces, class label)."""
    check_positive_int(max_segments, "max_segments")
    if not segments or not all(isinstance(s, list) and s for s in segments):
        raise ValueError(
            "segments must be a non-empty list of non-empty token lists"
        )
    m = min(max_segments, len(segments))
    n = int(torch.randint(1, m + 1, (), generator=generator))
    cuts = sorted(
        (
            torch.randperm(len(segments) - 1, generator=generator)[: n - 1] + 1
        ).tolist()
    )
    bounds = [0, *cuts, len(segments)]
    pieces = [
        [t for s in segments[a:b] for t in s] for a, b in zip(bounds, bounds[1:])
    ]
    permutation = torch.randperm(
        n, generator=generator
    ).tolist()  # shuffled[i] = pieces[permutation[i]]
    return [pieces[j] for j in permutation], permutation_to_label(permutation)


# --8<-- [end:core]
