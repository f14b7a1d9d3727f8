"""Permutation language modeling inputs (XLNet, Yang et al. 2019, §2.2–2.3), vectorized over the batch.

XLNet maximizes the expected log-likelihood over factorization orders z of the sequence:

    max_θ  E_{z ~ Z_T} [ Σ_{t=c+1..T} log p_θ(x_{z_t} | x_{z_<t}) ]

Only the last T − c positions of each order are predicted ("partial prediction", K = T / (T − c)
= 6 in the paper); the first c are context. The sequence itself is never shuffled: the order
lives in the attention mask. This module builds that mask for transformers' `XLNetLMHeadModel`:

- `perm_mask[b, i, j] = True` means position i may NOT attend to position j;
- a target sees every non-target and the targets earlier in the order, never itself;
- a non-target sees every non-target (and so no target);
- `target_mapping[b, k]` is a one-hot row selecting the k-th target: [B, K, L], K = #targets.
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
from snippets.masking import IGNORE_INDEX


# --8<-- [start:order]
def sample_factorization_order(
    batch_size: int,
    seq_len: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """`order[b, i]` = the rank of position i in a uniformly random factorization order, [B, L]."""
    check_positive_int(batch_size, "batch_size")
    check_positive_int(seq_len, "seq_len")
    permutation = torch.rand(
        batch_size, seq_len, generator=generator, device=device
    ).argsort(-1)  # z: rank -> position
    return permutation.argsort(-1)  # inverse: position -> rank


# --8<-- [end:order]


# --8<-- [start:masks]
def permutation_masks(
    order: torch.Tensor,
    is_target: torch.Tensor,
    *,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`perm_mask` [B, L, L] and `target_mapping` [B, K, L] for ranks `order` and a bool `is_target`.

    Rows differ in their number of targets; K is the largest, and the extra rows of
    `target_mapping` are all zero (give them the label -100).
    """
    if order.dim() != 2 or order.shape != is_target.shape:
        raise ValueError(
            f"order and is_target must both be [batch, seq_len], got {tuple(order.shape)} and {tuple(is_target.shape)}"
        )
    if is_target.dtype != torch.bool:
        raise TypeError(f"is_target must be a bool tensor, got {is_target.dtype}")
    B, L = order.shape
    # Give the context rank -1: it comes before every target. Then "i may not see j" is exactly
    # "j is a target not earlier than i", for targets and context alike (and i never sees itself).
    rank = torch.where(is_target, order, -1)
    perm_mask = (rank[:, None, :] >= rank[:, :, None]) & is_target[:, None, :]
    # One one-hot row per target, targets listed in position order.
    K = int(is_target.sum(1).max()) if is_target.numel() else 0
    positions = torch.argsort((~is_target).to(torch.int8), dim=1, stable=True)[
        :, :K
    ]  # target positions first
    valid = torch.arange(K, device=order.device) < is_target.sum(
        1, keepdim=True
    )  # [B, K]
    target_mapping = torch.nn.functional.one_hot(positions, L).to(dtype) * valid[
        ..., None
    ].to(dtype)
    return perm_mask.to(dtype), target_mapping


# --8<-- [end:masks]


# --8<-- [start:spans]
def sample_target_spans(
    valid: torch.Tensor,
    *,
    plm_probability: float = 1 / 6,
    max_span_length: int = 5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """XLNet's span targets: the row is cut into contexts of length ⌊ℓ / plm_probability⌋ around a span
    of ℓ ~ U{1..max_span_length} tokens, placed uniformly in its context; about `plm_probability`
    of the tokens become targets. Positions where `valid` is False are never targets."""
    B, L = valid.shape
    device = valid.device
    n = L // max(int(1 / plm_probability), 1) + 1  # enough contexts to cover L
    span = torch.randint(
        1, max_span_length + 1, (B, n), generator=generator, device=device
    )
    context = (span.double() / plm_probability).floor().long()
    context_start = context.cumsum(1) - context
    offset = (
        (
            torch.rand(B, n, generator=generator, device=device)
            * (context - span + 1)
        )
        .floor()
        .long()
    )
    start, end = (
        context_start + offset,
        context_start + offset + span,
    )  # [start, end) of each span
    # Mark spans with +1 at start and -1 at end, then a running sum: no loop over spans.
    marks = torch.zeros(B, L + 1, dtype=torch.long, device=device)
    marks.scatter_add_(1, start.clamp(max=L), torch.ones_like(start))
    marks.scatter_add_(1, end.clamp(max=L), -torch.ones_like(end))
    return (marks.cumsum(1)[:, :L] > 0) & valid


# --8<-- [end:spans]


# --8<-- [start:core]
def plm_inputs(
    input_ids: torch.Tensor,
    *,
    plm_probability: float = 1 / 6,
    max_span_length: int = 5,
    special_tokens_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """Everything `XLNetLMHeadModel(**inputs)` needs to train on one batch `input_ids` [B, L].

    Returns `input_ids` (unchanged: targets are hidden by the mask, not replaced), `perm_mask`
    [B, L, L], `target_mapping` [B, K, L] and `labels` [B, K] (-100 for padding slots).
    """
    check_token_ids(input_ids)
    check_probability(plm_probability, "plm_probability", high_open=True)
    check_positive_int(max_span_length, "max_span_length")
    check_generator(generator, input_ids.device)
    special = (
        torch.zeros_like(input_ids, dtype=torch.bool)
        if special_tokens_mask is None
        else check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    )
    is_target = sample_target_spans(
        ~special,
        plm_probability=plm_probability,
        max_span_length=max_span_length,
        generator=generator,
    )
    order = sample_factorization_order(
        *input_ids.shape, generator=generator, device=input_ids.device
    )
    perm_mask, target_mapping = permutation_masks(order, is_target, dtype=dtype)
    # labels[b, k] = the token that target_mapping[b, k] selects, or -100 for an all-zero row
    labels = input_ids.gather(1, target_mapping.argmax(-1)).long()
    labels = labels.masked_fill(target_mapping.sum(-1) == 0, IGNORE_INDEX)
    return {
        "input_ids": input_ids,
        "perm_mask": perm_mask,
        "target_mapping": target_mapping,
        "labels": labels,
    }


# --8<-- [end:core]
