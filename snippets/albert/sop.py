"""Sentence-order prediction (ALBERT, Lan et al. 2020, §3.1), against BERT's
next-sentence prediction.

Both build a pair (A, B) from a chunk of consecutive segments of one document:

- **SOP**: A is the first `a_end` segments and B the rest. With probability 1/2
  they are swapped; the label says whether they were (0 = in order, 1 = swapped,
  as transformers' `sentence_order_label`). Both halves always share the topic, so
  only *order* — coherence — tells the classes apart.
- **NSP** (BERT): with probability 1/2, B is replaced by text from a *different
  document* (label 1 = random, as `next_sentence_label`). Topic alone often gives
  that away.

The chunking follows the reference `create_instances_from_document` (google-research
/albert and google-research/bert, create_pretraining_data.py): segments are
accumulated until they reach a target length, which is `max_num_tokens`, or with
probability `short_seq_prob` a random length in [2, max_num_tokens]; `a_end` is
uniform in [1, n-1]; the pair is truncated by repeatedly dropping one token from the
longer side (B on a tie), from its front or back with equal probability.

A chunk of a single segment cannot be split into A and B. The reference then pairs
it with a random other document — an NSP negative, even in SOP mode.
`create_sop_examples` sees one document only and, to keep the SOP signal pure,
**skips** such chunks instead.

The reference drops empty lines and empty documents before it builds pairs. Here
empty segments and documents are accepted: a negative is drawn from the other
documents that have tokens, starting at one of their non-empty segments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from snippets._checks import (
    check_generator,
    check_positive_int,
    check_probability,
)


@dataclass(frozen=True)
class SOPExample:
    tokens_a: list[int]
    tokens_b: list[int]
    label: int  # 0: A then B in document order; 1: swapped


@dataclass(frozen=True)
class NSPExample:
    tokens_a: list[int]
    tokens_b: list[int]
    label: int  # 0: B follows A; 1: B comes from another document


def _uniform_int(low: int, high: int, generator: torch.Generator | None) -> int:
    """An int uniform in [low, high] (both inclusive, like random.randint)."""
    return int(torch.randint(low, high + 1, (), generator=generator))


def _coin(p: float, generator: torch.Generator | None) -> bool:
    return bool(torch.rand((), generator=generator) < p)


def _check_tokens(tokens: object, name: str) -> list[int]:
    if not isinstance(tokens, (list, tuple)) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in tokens
    ):
        raise TypeError(f"{name} must be a list of int token ids, got {tokens!r}")
    return list(tokens)


def _check_document(document: object, name: str = "document") -> list[list[int]]:
    if not isinstance(document, (list, tuple)):
        raise TypeError(
            f"{name} must be a list of segments, each a list of int token ids, "
            f"got {type(document).__name__}"
        )
    return [_check_tokens(s, f"{name}[{i}]") for i, s in enumerate(document)]


def _target_length(
    max_num_tokens: int, short_seq_prob: float, generator: torch.Generator | None
) -> int:
    # Mostly fill the sequence; sometimes train on short ones, to match short
    # inputs at fine-tuning.
    if _coin(short_seq_prob, generator):
        return _uniform_int(2, max_num_tokens, generator)
    return max_num_tokens


def _chunks(document: list[list[int]], target_length: int):
    """Yield (start, stop) segment ranges, each accumulated until it reaches
    `target_length` (the last one may be shorter)."""
    start, length = 0, 0
    for i, segment in enumerate(document):
        length += len(segment)
        if i == len(document) - 1 or length >= target_length:
            yield start, i + 1
            start, length = i + 1, 0


# --8<-- [start:truncate]
def truncate_seq_pair(
    tokens_a: list[int],
    tokens_b: list[int],
    max_num_tokens: int,
    generator: torch.Generator | None = None,
) -> tuple[list[int], list[int]]:
    """Drop one token at a time from the longer side (B on a tie), front or back
    with p = 1/2, until len(A) + len(B) <= max_num_tokens. Returns new lists.

    Which side loses how many tokens is fixed by the lengths, so it is computed in
    closed form; the front/back choices of one side's r removals are r fair coins,
    i.e. Binomial(r, 1/2).
    """
    tokens_a = _check_tokens(tokens_a, "tokens_a")
    tokens_b = _check_tokens(tokens_b, "tokens_b")
    check_positive_int(max_num_tokens, "max_num_tokens", minimum=0)
    check_generator(generator, torch.device("cpu"))
    la, lb = len(tokens_a), len(tokens_b)
    excess = max(la + lb - max_num_tokens, 0)
    gap = min(abs(la - lb), excess)  # first, the longer side loses the difference
    rest = excess - gap  # then the sides alternate, B first
    cut_a = (gap if la > lb else 0) + rest // 2
    cut_b = (gap if lb > la else 0) + (rest + 1) // 2
    # True: remove from the front
    coins = torch.rand(cut_a + cut_b, generator=generator) < 0.5
    front_a, front_b = int(coins[:cut_a].sum()), int(coins[cut_a:].sum())
    return (
        tokens_a[front_a : la - (cut_a - front_a)],
        tokens_b[front_b : lb - (cut_b - front_b)],
    )


# --8<-- [end:truncate]


# --8<-- [start:sop]
def create_sop_examples(
    document: list[list[int]],
    max_num_tokens: int,
    *,
    short_seq_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> list[SOPExample]:
    """SOP pairs from one document: A and B are consecutive chunks of it, swapped
    half of the time."""
    document = _check_document(document)
    check_positive_int(max_num_tokens, "max_num_tokens", minimum=2)
    check_probability(short_seq_prob, "short_seq_prob", low_open=False)
    check_generator(generator, torch.device("cpu"))
    target_length = _target_length(max_num_tokens, short_seq_prob, generator)
    examples = []
    for start, stop in _chunks(document, target_length):
        chunk = document[start:stop]
        if len(chunk) < 2:
            continue  # the reference pairs it with another document (see above)
        a_end = _uniform_int(1, len(chunk) - 1, generator)
        tokens_a = [t for segment in chunk[:a_end] for t in segment]
        tokens_b = [t for segment in chunk[a_end:] for t in segment]
        if not tokens_a or not tokens_b:
            continue  # empty segments: nothing to order
        label = int(_coin(0.5, generator))
        if label:
            tokens_a, tokens_b = tokens_b, tokens_a
        tokens_a, tokens_b = truncate_seq_pair(
            tokens_a, tokens_b, max_num_tokens, generator
        )
        examples.append(SOPExample(tokens_a, tokens_b, label))
    return examples


# --8<-- [end:sop]


# --8<-- [start:nsp]
def create_nsp_examples(
    documents: list[list[list[int]]],
    doc_index: int,
    max_num_tokens: int,
    *,
    short_seq_prob: float = 0.1,
    generator: torch.Generator | None = None,
) -> list[NSPExample]:
    """BERT's NSP pairs from `documents[doc_index]`: B is the true continuation or,
    with p = 1/2 (always for a one-segment chunk), text from another document;
    unused segments are reused.

    Only what the call reads is checked: this document, and each document it
    draws B from. A call costs the same on a corpus of any size.
    """
    document = _check_corpus(documents, doc_index)
    check_positive_int(max_num_tokens, "max_num_tokens", minimum=2)
    check_probability(short_seq_prob, "short_seq_prob", low_open=False)
    check_generator(generator, torch.device("cpu"))
    target_length = _target_length(max_num_tokens, short_seq_prob, generator)
    examples, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target_length:
            a_end = 1
            if len(chunk) >= 2:
                a_end = _uniform_int(1, len(chunk) - 1, generator)
            tokens_a = [t for segment in chunk[:a_end] for t in segment]
            if len(chunk) == 1 or _coin(0.5, generator):
                label, tokens_b = 1, []
                other = _random_other(documents, doc_index, generator)
                starts = [j for j, segment in enumerate(other) if segment]
                start = starts[_uniform_int(0, len(starts) - 1, generator)]
                for segment in other[start:]:
                    tokens_b += segment
                    if len(tokens_b) >= target_length - len(tokens_a):
                        break
                i -= len(chunk) - a_end  # put the unused segments back
            else:
                label = 0
                tokens_b = [t for segment in chunk[a_end:] for t in segment]
            if tokens_a and tokens_b:
                tokens_a, tokens_b = truncate_seq_pair(
                    tokens_a, tokens_b, max_num_tokens, generator
                )
                examples.append(NSPExample(tokens_a, tokens_b, label))
            chunk, length = [], 0
        i += 1
    return examples


# --8<-- [end:nsp]


def _check_corpus(documents: object, doc_index: object) -> list[list[int]]:
    """Check the corpus's shape, `doc_index` and its document, and that another
    document has tokens to draw negatives from; return the checked document.
    Only the documents scanned until the first such one are read."""
    if not isinstance(documents, (list, tuple)) or len(documents) < 2:
        raise ValueError(
            "documents must be a list of at least 2 documents (NSP negatives come "
            "from another one)"
        )
    check_positive_int(doc_index, "doc_index", minimum=0)
    if doc_index >= len(documents):
        raise ValueError(f"doc_index must be < {len(documents)}, got {doc_index}")
    document = _check_document(documents[doc_index], f"documents[{doc_index}]")
    if not any(any(_checked(documents, i)) for i in _others(documents, doc_index)):
        raise ValueError(
            f"documents: no document but documents[{doc_index}] has tokens, so "
            "there is nothing to draw NSP negatives from"
        )
    return document


def _others(documents, doc_index: int) -> Iterator[int]:
    return (i for i in range(len(documents)) if i != doc_index)


def _checked(documents, i: int) -> list[list[int]]:
    return _check_document(documents[i], f"documents[{i}]")


def _random_other(
    documents, doc_index: int, generator: torch.Generator | None
) -> list[list[int]]:
    """A uniform document among the others that have tokens. Rejection sampling
    reads one document, or a few; only after 10 misses (a corpus of mostly empty
    documents) does it list them all."""
    for _ in range(10):
        i = _uniform_int(0, len(documents) - 2, generator)
        other = _checked(documents, i + (i >= doc_index))  # any but this one
        if any(other):
            return other
    usable = [
        i for i in _others(documents, doc_index) if any(_checked(documents, i))
    ]
    return _checked(documents, usable[_uniform_int(0, len(usable) - 1, generator)])
