"""BERT's 80/10/10 replacement rule (Devlin et al. 2019, §3.1), shared by every masked-LM variant here.

Of the positions chosen for prediction, 80% are replaced by [MASK], 10% by a random token and
10% are left unchanged; the loss is computed at all chosen positions. RoBERTa, ALBERT's n-gram
masking, SpanBERT and ERNIE differ only in *which* positions are chosen and whether the
replacement is decided per token or per unit (span, word, phrase, entity).
"""

from __future__ import annotations

import torch

from snippets._checks import check_positive_int, check_probability

IGNORE_INDEX = (
    -100
)  # the label value PyTorch's cross_entropy (and transformers) skip


# --8<-- [start:core]
def bert_replace(
    input_ids: torch.Tensor,
    selected: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    group_ids: torch.Tensor | None = None,
    uniform: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply 80/10/10 to the `selected` positions; return new `(inputs, labels)`.

    `labels` holds the original id where selected and -100 elsewhere. With `group_ids` [B, L]
    (non-negative ids of spans or units), the choice is drawn once per group, so a span is
    masked, randomized or kept as a whole (SpanBERT §3.1). A caller that already holds a
    uniform draw per token that is U[0, 1) on the selected positions may pass it as `uniform`.
    """
    check_positive_int(vocab_size, "vocab_size")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(
            f"mask_token_id must be in [0, vocab_size={vocab_size}), got {mask_token_id}"
        )
    check_probability(mask_replace_prob, "mask_replace_prob", low_open=False)
    check_probability(random_replace_prob, "random_replace_prob", low_open=False)
    if mask_replace_prob + random_replace_prob > 1:
        raise ValueError(
            f"mask_replace_prob + random_replace_prob must be <= 1, got {mask_replace_prob + random_replace_prob}"
        )
    labels = torch.where(selected, input_ids, IGNORE_INDEX)
    if uniform is not None:
        u = uniform
    elif group_ids is None:
        u = torch.rand(
            input_ids.shape, generator=generator, device=input_ids.device
        )
    else:
        # one uniform per (row, group), gathered back to every token of the group
        draws = torch.rand(
            (input_ids.shape[0], int(group_ids.max()) + 1),
            generator=generator,
            device=input_ids.device,
        )
        u = draws.gather(1, group_ids)
    inputs = input_ids.masked_fill(
        selected & (u < mask_replace_prob), mask_token_id
    )
    to_random = (
        selected
        & (u >= mask_replace_prob)
        & (u < mask_replace_prob + random_replace_prob)
    )
    # draw random tokens only where they are used (about 1.5% of a batch), not for every position
    where = to_random.nonzero(as_tuple=True)
    inputs[where] = torch.randint(
        vocab_size,
        (where[0].numel(),),
        generator=generator,
        device=input_ids.device,
        dtype=input_ids.dtype,
    )
    return inputs, labels


# --8<-- [end:core]


# --8<-- [start:units]
def word_spans(
    word_starts: torch.Tensor,
    valid: torch.Tensor,
    length_probs: torch.Tensor,
    *,
    random_offset: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut each row's words into consecutive spans of i.i.d. lengths ℓ ~ `length_probs` (index 0: ℓ = 1).

    A word starts where `word_starts` says, or where a run of `valid` tokens begins. With
    `random_offset` the cutting starts a random number of words before the row, so span starts
    are spread uniformly instead of always at word 0; spans cut by either end of the row are
    marked incomplete. Returns `span_of_token` [B, L], `span_words` [B, S] (words in each span)
    and `complete` [B, S].
    """
    B, L = valid.shape
    device = valid.device
    prev_valid = torch.nn.functional.pad(valid[:, :-1], (1, 0), value=False)
    starts = valid & (word_starts | ~prev_valid)
    word_id = (starts.long().cumsum(1) - 1).clamp(min=0)  # [B, L]
    n_words = starts.sum(1, keepdim=True)  # [B, 1]
    max_len = length_probs.numel()
    # Enough spans to cover L words: lengths are >= 1 each, and the random offset
    # drops up to max_len - 1 words before the row.
    S = L + (max_len if random_offset else 1)
    lengths = (
        torch.multinomial(
            length_probs.to(device).expand(B, -1),
            S,
            replacement=True,
            generator=generator,
        )
        + 1
    )
    offset = (
        torch.randint(max_len, (B, 1), generator=generator, device=device)
        if random_offset
        else torch.zeros(B, 1, dtype=torch.long, device=device)
    )
    end = lengths.cumsum(1) - offset  # exclusive end word per span
    begin = end - lengths
    span_of_token = torch.searchsorted(end, word_id, right=True)  # [B, L]
    span_words = (torch.minimum(end, n_words) - begin.clamp(min=0)).clamp(min=0)
    complete = (begin >= 0) & (end <= n_words)
    return span_of_token, span_words, complete


def choose_within_budget(
    unit_of_token: torch.Tensor,
    valid: torch.Tensor,
    budget: torch.Tensor,
    *,
    eligible: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Put each row's units (spans, n-grams, words, entities) in a random order and choose the longest
    prefix whose token count fits `budget` [B]. Units are taken whole or not at all.

    Returns `chosen` [B, U] over unit ids 0..U-1 (U = max unit id + 1).
    """
    B = valid.shape[0]
    U = int(unit_of_token.max()) + 1 if unit_of_token.numel() else 1
    size = torch.zeros(B, U, dtype=torch.long, device=valid.device).scatter_add_(
        1, unit_of_token, valid.long()
    )
    ok = size > 0 if eligible is None else (size > 0) & eligible[:, :U]
    priority = torch.rand(
        B, U, generator=generator, device=valid.device
    ).masked_fill(~ok, 2.0)
    order = priority.argsort(1)
    fits = size.gather(1, order).cumsum(1) <= budget[:, None]
    return torch.zeros_like(fits).scatter_(1, order, fits) & ok


# --8<-- [end:units]


def masking_budget(valid: torch.Tensor, ratio: float) -> torch.Tensor:
    """round(ratio · number of valid tokens), at least 1, per row."""
    return (valid.sum(1).double() * ratio).round().clamp(min=1).long()
