"""BERT's 80/10/10 replacement rule (Devlin et al. 2019, §3.1), shared by every masked-LM variant here.

Of the positions chosen for prediction, 80% are replaced by [MASK], 10% by a random token and
10% are left unchanged; the loss is computed at all chosen positions. RoBERTa, ALBERT's n-gram
masking, SpanBERT and ERNIE differ only in *which* positions are chosen and whether the
replacement is decided per token or per unit (span, word, phrase, entity).
"""
from __future__ import annotations

import torch

from snippets._checks import check_positive_int, check_probability

IGNORE_INDEX = -100  # the label value PyTorch's cross_entropy (and transformers) skip


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
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply 80/10/10 to the `selected` positions; return new `(inputs, labels)`.

    `labels` holds the original id where selected and -100 elsewhere. With `group_ids` [B, L]
    (non-negative ids of spans or units), the choice is drawn once per group, so a span is
    masked, randomized or kept as a whole (SpanBERT §3.1).
    """
    check_positive_int(vocab_size, "vocab_size")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id must be in [0, vocab_size={vocab_size}), got {mask_token_id}")
    check_probability(mask_replace_prob, "mask_replace_prob", low_open=False)
    check_probability(random_replace_prob, "random_replace_prob", low_open=False)
    if mask_replace_prob + random_replace_prob > 1:
        raise ValueError(f"mask_replace_prob + random_replace_prob must be <= 1, got {mask_replace_prob + random_replace_prob}")
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    if group_ids is None:
        u = torch.rand(input_ids.shape, generator=generator, device=input_ids.device)
    else:
        # one uniform per (row, group), gathered back to every token of the group
        draws = torch.rand((input_ids.shape[0], int(group_ids.max()) + 1), generator=generator, device=input_ids.device)
        u = draws.gather(1, group_ids)
    to_mask = selected & (u < mask_replace_prob)
    to_random = selected & (u >= mask_replace_prob) & (u < mask_replace_prob + random_replace_prob)
    random_tokens = torch.randint(vocab_size, input_ids.shape, generator=generator, device=input_ids.device, dtype=input_ids.dtype)
    inputs = torch.where(to_mask, torch.full_like(input_ids, mask_token_id), input_ids)
    inputs = torch.where(to_random, random_tokens, inputs)
    return inputs, labels
# --8<-- [end:core]
