"""Sentence distance (ERNIE 2.0, Sun et al. 2020, §4.2.2), a structure-aware task that extends NSP to 3 classes:

0: the two sentences are adjacent in the same document
1: they are in the same document but not adjacent
2: they come from two different documents
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ADJACENT, SAME_DOCUMENT, DIFFERENT_DOCUMENT = 0, 1, 2


@dataclass(frozen=True)
class DistanceExample:
    sentence_a: list[int]
    sentence_b: list[int]
    label: int


def _randint(high: int, generator) -> int:
    return int(torch.randint(high, (), generator=generator))


# --8<-- [start:core]
def sentence_distance_examples(
    documents: list[list[list[int]]], *, generator: torch.Generator | None = None
) -> list[DistanceExample]:
    """One example per sentence that has a successor. The label is uniform over the classes that sentence
    allows: ADJACENT (its successor); SAME_DOCUMENT (a sentence at distance ≥ 2); DIFFERENT_DOCUMENT (any
    sentence of another document)."""
    if not isinstance(documents, list) or not all(
        isinstance(d, list) and all(isinstance(s, list) for s in d)
        for d in documents
    ):
        raise TypeError(
            "documents must be a list of documents, each a list of sentences (token lists)"
        )
    examples = []
    for d, document in enumerate(documents):
        for i in range(len(document) - 1):
            far = [j for j in range(len(document)) if abs(j - i) >= 2]
            labels = (
                [ADJACENT]
                + ([SAME_DOCUMENT] if far else [])
                + ([DIFFERENT_DOCUMENT] if len(documents) > 1 else [])
            )
            label = labels[_randint(len(labels), generator)]
            if label == ADJACENT:
                other = document[i + 1]
            elif label == SAME_DOCUMENT:
                other = document[far[_randint(len(far), generator)]]
            else:
                e = _randint(len(documents) - 1, generator)
                e += e >= d  # any document but this one
                if not documents[e]:
                    continue
                other = documents[e][_randint(len(documents[e]), generator)]
            examples.append(DistanceExample(document[i], other, label))
    return examples


# --8<-- [end:core]
