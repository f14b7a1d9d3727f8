"""Span masking (SpanBERT, Joshi et al. 2020, §3.1).

Instead of single tokens, SpanBERT masks contiguous spans of whole words. It repeats until 15%
of the tokens are masked:

    ℓ ~ Geo(p = 0.2), clipped at ℓ_max = 10:   P(ℓ) ∝ p (1 − p)^(ℓ − 1),  ℓ = 1..10,   E[ℓ] ≈ 3.8 words

and picks the span's start word uniformly at random. As in BERT, 80% of the masked spans become [MASK],
10% random tokens and 10% stay. The choice is made **per span**, so a span is replaced whole.

The reference draws one span at a time, redrawing starts that land on masked words. Here the
whole batch is done at once (`snippets.masking`): each row's words are cut into consecutive spans of
i.i.d. length ℓ, with the cut starting at a random offset so that span starts are uniform. The
spans are then taken in random order while they fit the budget.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_bool_like,
    check_generator,
    check_positive_int,
    check_probability,
    check_token_ids,
)
from snippets.masking import (
    bert_replace,
    choose_within_budget,
    masking_budget,
    word_spans,
)


# --8<-- [start:distribution]
def span_length_distribution(
    p: float = 0.2, max_span_length: int = 10
) -> torch.Tensor:
    """P(ℓ) for ℓ = 1..max_span_length (index 0 is ℓ = 1): Geo(p) clipped and renormalized."""
    check_probability(p, "p")
    check_positive_int(max_span_length, "max_span_length")
    lengths = torch.arange(1, max_span_length + 1, dtype=torch.float64)
    probs = p * (1 - p) ** (lengths - 1)
    return (probs / probs.sum()).float()


# --8<-- [end:distribution]


# --8<-- [start:core]
def span_mask(
    input_ids: torch.Tensor,
    word_starts: torch.Tensor,
    *,
    mask_ratio: float = 0.15,
    p: float = 0.2,
    max_span_length: int = 10,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask whole-word spans of a batch [B, L] up to `mask_ratio` of its non-special tokens.

    Returns `(inputs, labels, spans)`: labels are -100 off the spans, and `spans` [S, 3] holds
    (batch index, start, end) token positions with `end` **exclusive**, sorted by row then start.
    """
    check_token_ids(input_ids)
    word_starts = check_bool_like(word_starts, input_ids, "word_starts")
    special = (
        torch.zeros_like(word_starts)
        if special_tokens_mask is None
        else check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    )
    check_probability(mask_ratio, "mask_ratio", high_open=True)
    check_generator(generator, input_ids.device)
    valid = ~special
    span_of_token, _, complete = word_spans(
        word_starts,
        valid,
        span_length_distribution(p, max_span_length),
        random_offset=True,
        generator=generator,
    )
    # A span's tokens must be contiguous: no [SEP] or padding inside it.
    B, L = input_ids.shape
    S = int(span_of_token.max()) + 1
    position = torch.arange(L, device=input_ids.device).expand(B, L)
    first = torch.full((B, S), L, device=input_ids.device).scatter_reduce(
        1, span_of_token, position.masked_fill(~valid, L), "amin"
    )
    last = torch.full((B, S), -1, device=input_ids.device).scatter_reduce(
        1, span_of_token, position.masked_fill(~valid, -1), "amax"
    )
    size = torch.zeros(
        B, S, dtype=torch.long, device=input_ids.device
    ).scatter_add_(1, span_of_token, valid.long())
    eligible = complete[:, :S] & (size == last - first + 1)
    chosen = choose_within_budget(
        span_of_token,
        valid,
        masking_budget(valid, mask_ratio),
        eligible=eligible,
        generator=generator,
    )
    selected = chosen.gather(1, span_of_token) & valid
    # One 80/10/10 draw per span: group the tokens by (row, span).
    inputs, labels = bert_replace(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        group_ids=span_of_token,
        generator=generator,
    )
    row, span = chosen.nonzero(as_tuple=True)
    order = (first[row, span] + row * (L + 1)).argsort()  # by row, then start
    spans = torch.stack([row, first[row, span], last[row, span] + 1], dim=1)[order]
    return inputs, labels, spans


# --8<-- [end:core]
