"""Sentence reordering (ERNIE 2.0, Sun et al. 2020, among its structure-aware
pre-training tasks).

A paragraph is split into n segments, 1 ≤ n ≤ m, and the segments are shuffled. The
model classifies which (n, permutation) pair produced the shuffle, among

    k = Σ_{n=1..m} n!      classes

(m = 3 gives 1 + 2 + 6 = 9 classes). Solving it requires knowing how sentences in
a document relate to each other.

Label of (n, π) = Σ_{j<n} j!  +  rank(π), where rank is the permutation's
lexicographic (Lehmer-code) index in [0, n!).

m is capped at MAX_SEGMENTS = 20, which already gives about 2.6·10^18 classes: far
more than a classifier head can hold, and the label arithmetic stays cheap.
"""

from __future__ import annotations

import math

import torch

from snippets._checks import check_generator, check_positive_int

MAX_SEGMENTS = 20


def _check_max_segments(max_segments: object) -> int:
    check_positive_int(max_segments, "max_segments")
    if max_segments > MAX_SEGMENTS:
        raise ValueError(
            f"max_segments must be <= {MAX_SEGMENTS} (Σ n! classes), got "
            f"{max_segments}"
        )
    return max_segments


def num_classes(max_segments: int) -> int:
    """k = Σ_{n=1..m} n!, the number of (n, permutation) classes for m segments."""
    _check_max_segments(max_segments)
    return sum(math.factorial(n) for n in range(1, max_segments + 1))


# --8<-- [start:core]
def permutation_to_label(permutation: list[int]) -> int:
    """The class index of a permutation of 0..n-1 (n = len(permutation) ≥ 1)."""
    n = len(_check_permutation(permutation))
    rank, remaining = 0, list(range(n))
    for i, value in enumerate(permutation):
        # Lehmer code: the position of each value among those not yet used
        index = remaining.index(value)
        rank += index * math.factorial(n - 1 - i)
        remaining.pop(index)
    return sum(math.factorial(j) for j in range(1, n)) + rank


def label_to_permutation(label: int, max_segments: int) -> list[int]:
    """The inverse of `permutation_to_label`, for labels in [0, Σ_{n=1..m} n!)."""
    k = num_classes(max_segments)
    if isinstance(label, bool) or not isinstance(label, int):
        raise TypeError(f"label must be an int, got {type(label).__name__}")
    if not 0 <= label < k:
        raise ValueError(
            f"label must be in [0, {k}) for max_segments={max_segments}, "
            f"got {label}"
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
    """Split a paragraph, given as its sentences (token lists), into n ~ U{1..m}
    contiguous pieces at random sentence boundaries, with m = min(max_segments,
    number of sentences); shuffle the pieces; return (shuffled pieces, label)."""
    _check_max_segments(max_segments)
    _check_segments(segments)
    check_generator(generator, torch.device("cpu"))
    m = min(max_segments, len(segments))
    n = int(torch.randint(1, m + 1, (), generator=generator))
    # n - 1 distinct cut points among the len(segments) - 1 sentence boundaries
    cuts = torch.randperm(len(segments) - 1, generator=generator)[: n - 1] + 1
    bounds = [0, *sorted(cuts.tolist()), len(segments)]
    pieces = [
        [t for s in segments[a:b] for t in s]
        for a, b in zip(bounds, bounds[1:], strict=False)
    ]
    # shuffled[i] = pieces[permutation[i]]
    permutation = torch.randperm(n, generator=generator).tolist()
    return [pieces[j] for j in permutation], permutation_to_label(permutation)


# --8<-- [end:core]


def _check_permutation(permutation: object) -> list[int]:
    if not isinstance(permutation, (list, tuple)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in permutation
    ):
        raise TypeError(f"permutation must be a list of ints, got {permutation!r}")
    n = len(permutation)
    if not 1 <= n <= MAX_SEGMENTS or sorted(permutation) != list(range(n)):
        raise ValueError(
            f"permutation must be a permutation of 0..n-1 with 1 <= n <= "
            f"{MAX_SEGMENTS}, got {permutation!r}"
        )
    return list(permutation)


def _check_segments(segments: object) -> None:
    if not isinstance(segments, (list, tuple)) or not all(
        isinstance(s, (list, tuple))
        and all(isinstance(t, int) and not isinstance(t, bool) for t in s)
        for s in segments
    ):
        raise TypeError(
            "segments must be a list of sentences, each a list of int token ids"
        )
    if not segments or not all(segments):
        raise ValueError("segments must be a non-empty list of non-empty sentences")
