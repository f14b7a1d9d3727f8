"""Sentence distance (ERNIE 2.0, Sun et al. 2020, among its structure-aware
pre-training tasks), a task that extends NSP to 3 classes:

0: the two sentences are adjacent in the same document
1: they are in the same document but not adjacent
2: they come from two different documents
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snippets._checks import check_generator

ADJACENT, SAME_DOCUMENT, DIFFERENT_DOCUMENT = 0, 1, 2


@dataclass(frozen=True)
class DistanceExample:
    sentence_a: list[int]
    sentence_b: list[int]
    label: int


# --8<-- [start:core]
def sentence_distance_examples(
    documents: list[list[list[int]]], *, generator: torch.Generator | None = None
) -> list[DistanceExample]:
    """One example per sentence that has a successor. Its label is uniform over the
    classes the sentence allows: ADJACENT (its successor), SAME_DOCUMENT (a
    uniform sentence at distance ≥ 2), DIFFERENT_DOCUMENT (a uniform sentence of
    a uniform other document that has sentences)."""
    lengths = _check_documents(documents)
    check_generator(generator, torch.device("cpu"))
    n = torch.tensor(lengths, dtype=torch.long)  # sentences per document
    m = (n - 1).clamp(min=0)  # examples per document
    doc = torch.repeat_interleave(torch.arange(len(n)), m)  # every example's
    i = torch.arange(len(doc)) - (torch.cumsum(m, 0) - m)[doc]  # sentence (doc, i)
    # far sentences j <= i - 2 or j >= i + 2: all but i, i + 1 and (if i > 0) i - 1
    n_far = n[doc] - 2 - (i > 0).long()
    used = (n > 0).nonzero().flatten()  # the documents that have sentences
    n_other = len(used) - 1  # for every example, its own document is one of them
    u = torch.rand(len(doc), 4, generator=generator, dtype=torch.float64)
    # the class, uniform over the allowed ones in the order adjacent, far, other
    pick = _below(u[:, 0], 1 + (n_far > 0).long() + int(n_other > 0))
    label = torch.where(pick == 0, ADJACENT, SAME_DOCUMENT)
    label[(pick == 2) | ((pick == 1) & (n_far == 0))] = DIFFERENT_DOCUMENT
    # SAME_DOCUMENT: the k-th far sentence, counting the left ones first
    k, left = _below(u[:, 1], n_far), (i - 1).clamp(min=0)
    far_j = torch.where(k < left, k, k - left + i + 2)
    # DIFFERENT_DOCUMENT: a uniform document among the others that have sentences
    other = doc
    if n_other > 0:
        r = _below(u[:, 2], torch.full_like(doc, n_other))
        r = r + (r >= torch.searchsorted(used, doc)).long()  # skip its own
        other = torch.where(label == DIFFERENT_DOCUMENT, used[r], doc)
    j = torch.where(label == ADJACENT, i + 1, far_j)
    j = torch.where(label == DIFFERENT_DOCUMENT, _below(u[:, 3], n[other]), j)
    first = torch.cumsum(n, 0) - n  # each document's first sentence, flattened
    flat = [sentence for document in documents for sentence in document]
    a, b = (first[doc] + i).tolist(), (first[other] + j).tolist()
    return [
        DistanceExample(list(flat[x]), list(flat[y]), c)
        for x, y, c in zip(a, b, label.tolist(), strict=True)
    ]


# --8<-- [end:core]


def _below(u: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """floor(u · high), an int uniform in [0, high) for u ~ U[0, 1); 0 where
    high is 0 (those entries are not used)."""
    return torch.minimum((u * high).long(), (high - 1).clamp(min=0))


def _check_documents(documents: object) -> list[int]:
    """The number of sentences of each document, after checking the nesting: a
    list of documents, each a list of sentences, each a non-empty list of int
    token ids."""
    message = (
        "documents must be a list of documents, each a list of sentences, each a "
        "list of int token ids"
    )
    if not isinstance(documents, (list, tuple)):
        raise TypeError(f"{message}; got {type(documents).__name__}")
    for d, document in enumerate(documents):
        if not isinstance(document, (list, tuple)):
            raise TypeError(
                f"{message}; documents[{d}] is {type(document).__name__}"
            )
        for s, sentence in enumerate(document):
            if not isinstance(sentence, (list, tuple)) or not all(
                isinstance(t, int) and not isinstance(t, bool) for t in sentence
            ):
                raise TypeError(f"{message}; documents[{d}][{s}] is {sentence!r}")
            if not sentence:
                raise ValueError(f"documents[{d}][{s}] is an empty sentence")
    return [len(document) for document in documents]
