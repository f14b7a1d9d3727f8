"""Knowledge masking (ERNIE 1.0, Sun et al. 2019, §3.2; kept by ERNIE 2.0 as its
first word-aware pre-training task).

BERT masks single tokens, and in Chinese a single token is a character. ERNIE
masks whole units of meaning, in three levels:

- basic level: a character (Chinese) or a word (English);
- phrase level: a phrase found by a chunker, such as 省会 or "a series of";
- entity level: a named entity, such as 哈尔滨 or J. K. Rowling.

Each unit is masked whole or not at all, until 15% of the tokens are covered. Here
the masked units get BERT's 80/10/10, decided per unit. The model must then recover
an entire entity from its context, rather than finishing a half-visible one.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_bool_like,
    check_positive_int,
    check_probability,
    check_token_id,
    check_token_ids,
)
from snippets.masking import (
    bert_replace,
    choose_within_budget,
    masking_budget,
    renumber_units,
)


# --8<-- [start:core]
def knowledge_mask(
    input_ids: torch.Tensor,
    unit_ids: torch.Tensor,
    *,
    mlm_probability: float = 0.15,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask whole units of a batch [B, L]. `unit_ids[b, t]` (>= 0) numbers the
    unit that token t belongs to (a character, phrase or entity); returns
    `(inputs, labels)`, labels int64 and -100 elsewhere."""
    check_positive_int(vocab_size, "vocab_size")
    check_token_id(mask_token_id, "mask_token_id", vocab_size)
    check_token_ids(input_ids, vocab_size=vocab_size, generator=generator)
    check_token_ids(unit_ids, "unit_ids", generator=generator)
    if unit_ids.shape != input_ids.shape:
        raise ValueError(
            f"unit_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
            f"got {tuple(unit_ids.shape)}"
        )
    check_probability(mlm_probability, "mlm_probability", high_open=True)
    valid = (
        torch.ones_like(input_ids, dtype=torch.bool)
        if special_tokens_mask is None
        else ~check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    )
    # Renumber the units 0, 1, 2, ... per row: the cost follows the batch's shape,
    # not how large the ids are.
    unit_ids = renumber_units(unit_ids)
    chosen = choose_within_budget(
        unit_ids, valid, masking_budget(valid, mlm_probability), generator=generator
    )
    selected = chosen.gather(1, unit_ids) & valid
    return bert_replace(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        group_ids=unit_ids,
        generator=generator,
    )


# --8<-- [end:core]


def units_from_spans(seq_len: int, spans: list[tuple[int, int]]) -> torch.Tensor:
    """Unit ids [seq_len] (int64) from half-open (start, end) spans of phrases or
    entities; every other token is a unit of its own. A helper for building
    `unit_ids` from a chunker's or tagger's output. Overlapping spans merge."""
    check_positive_int(seq_len, "seq_len", minimum=0)
    if not isinstance(spans, (list, tuple)):
        raise TypeError(
            f"spans must be a list of (start, end), got {type(spans).__name__}"
        )
    starts = torch.ones(seq_len, dtype=torch.bool)
    for span in spans:
        if (
            not isinstance(span, (list, tuple))
            or len(span) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
        ):
            raise TypeError(
                f"spans must hold (start, end) pairs of ints, got {span!r}"
            )
        start, end = span
        if not 0 <= start < end <= seq_len:
            raise ValueError(
                f"span ({start}, {end}) in spans must satisfy "
                f"0 <= start < end <= seq_len = {seq_len}"
            )
        starts[start + 1 : end] = False
    return starts.long().cumsum(0) - 1
