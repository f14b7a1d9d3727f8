"""Permutation language modeling inputs (XLNet, Yang et al. 2019, §2.2–2.3),
vectorized over the batch.

XLNet maximizes the expected log-likelihood over factorization orders z of the
sequence:

    max_θ  E_{z ~ Z_T} [ Σ_{t=c+1..T} log p_θ(x_{z_t} | x_{z_<t}) ]

Only the last T − c positions of each order are predicted ("partial prediction",
K = T / (T − c) = 6 in the paper); the first c are context. The sequence itself is
never shuffled: the order lives in the attention mask. This module builds that
mask for transformers' `XLNetLMHeadModel`:

- `perm_mask[b, i, j] = True` means position i may NOT attend to position j;
- a target sees every non-target and the targets earlier in the order, never
  itself;
- a non-target sees every non-target (and so no target);
- `target_mapping[b, k]` is a one-hot row selecting the k-th target: [B, K, L],
  K = #targets.

Which tokens are targets: spans, following transformers'
`DataCollatorForPermutationLanguageModeling`. A span of ℓ ~ U{1..5} tokens sits at
a uniform place in a context of ℓ / plm_probability tokens, and the contexts tile
the row. The released pipeline (zihangdai/xlnet, `data_utils.py`, `_sample_mask`)
is different: it draws n with p(n) ∝ 1/n for n = 1..5 and starts each span at the
first piece of a word, puts a context of n · mask_alpha / mask_beta = 6n tokens
around it (a uniform share on the left, the rest on the right), and fixes the
number of targets per sequence (`num_predict` = 85 of 512 tokens), stopping early
or topping up with single random tokens to reach it. (As written, its loop that
finds a span's end tests the span's first piece at every step, so a span is n
pieces from a word start rather than n whole words.) This module follows the
collator: it needs token ids only, where the release needs each SentencePiece
piece to find word starts, and its output is checked against the model and the
collator that transformers ships.

One deliberate difference: where ℓ / plm_probability is not an integer, the
collator floors it (as the release floors n · mask_alpha / mask_beta), so contexts
come out short and the rate overshoots: 0.65 of the tokens are targets at 0.6,
0.83 at 0.75 and all of them at 0.9. Here the context
length is rounded down or up at random with mean ℓ / plm_probability, so the
target fraction is plm_probability for every value in (0, 1]. Where
1 / plm_probability is an integer (the default 1/6, and mask_alpha / mask_beta = 6
in the release), contexts are exactly ℓ / plm_probability tokens, as in the
collator.
"""

from __future__ import annotations

import math

import torch

from snippets._checks import (
    check_bool_like,
    check_float_dtype,
    check_generator,
    check_mask,
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
    """`order[b, i]` = the rank of position i in a uniformly random
    factorization order, [B, L] (int64)."""
    check_positive_int(batch_size, "batch_size", minimum=0)
    check_positive_int(seq_len, "seq_len", minimum=0)
    device = _check_device(device)
    check_generator(generator, device)
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
    """`perm_mask` [B, L, L] and `target_mapping` [B, K, L] for ranks `order` and
    a bool `is_target`.

    Rows differ in their number of targets; K is the largest, and the extra rows
    of `target_mapping` are all zero (give them the label -100).
    """
    is_target = _check_masks_args(order, is_target, dtype)
    B, L = order.shape
    # Give the context rank -1: it comes before every target. Then "i may not see
    # j" is exactly "j is a target not earlier than i", for targets and context
    # alike (and i never sees itself).
    rank = torch.where(is_target, order.long(), -1)
    perm_mask = (rank[:, None, :] >= rank[:, :, None]) & is_target[:, None, :]
    # One one-hot row per target, targets listed in position order.
    positions, filled = _target_positions(is_target)
    target_mapping = torch.zeros(
        *positions.shape, L, dtype=dtype, device=order.device
    )
    target_mapping.scatter_(2, positions[..., None], filled[..., None].to(dtype))
    return perm_mask.to(dtype), target_mapping


def _target_positions(is_target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The target positions of each row, in order, padded to K = the most
    targets in a row: `positions` [B, K] (int64) and `filled` [B, K] (False on
    padding slots)."""
    K = int(is_target.sum(1).max()) if is_target.numel() else 0
    # a stable sort of "not a target" puts each row's targets first, in order
    positions = torch.argsort((~is_target).to(torch.int8), dim=1, stable=True)
    filled = torch.arange(K, device=is_target.device) < is_target.sum(
        1, keepdim=True
    )
    return positions[:, :K], filled


# --8<-- [end:masks]


# --8<-- [start:spans]
def sample_target_spans(
    valid: torch.Tensor,
    *,
    plm_probability: float = 1 / 6,
    max_span_length: int = 5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """XLNet's span targets [B, L] (bool): the row is cut into contexts of about
    ℓ / plm_probability tokens, each around a span of ℓ ~ U{1..max_span_length}
    tokens placed uniformly in it; about `plm_probability` of the tokens become
    targets, for any value in (0, 1]. Positions where `valid` is False are never
    targets."""
    valid = _check_spans_args(valid, plm_probability, max_span_length, generator)
    B, L = valid.shape
    device = valid.device
    n = L // math.floor(1 / plm_probability) + 1  # enough contexts to cover L
    span = torch.randint(
        1, max_span_length + 1, (B, n), generator=generator, device=device
    )
    # Contexts of ℓ / p tokens, rounded down or up at random so that their mean is
    # exact (with 1/p an integer, as 6, nothing is rounded); float64 keeps even a
    # tiny p finite.
    length = span.double() / plm_probability
    length = torch.where(
        length.round().sub(length).abs() < 1e-9, length.round(), length
    )
    u = torch.rand(B, n, generator=generator, device=device, dtype=torch.float64)
    context = (length + u).floor()  # >= ℓ, since ℓ is an integer
    context_start = context.cumsum(1) - context
    u = torch.rand(B, n, generator=generator, device=device, dtype=torch.float64)
    start = context_start + (u * (context - span + 1)).floor()
    # [start, end) of each span; only positions below L matter
    start, end = start.clamp(max=L).long(), (start + span).clamp(max=L).long()
    # Mark spans with +1 at start and -1 at end, then a running sum: no loop.
    marks = torch.zeros(B, L + 1, dtype=torch.long, device=device)
    marks.scatter_add_(1, start, torch.ones_like(start))
    marks.scatter_add_(1, end, -torch.ones_like(end))
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
    """Everything `XLNetLMHeadModel(**inputs)` needs to train on one batch
    `input_ids` [B, L].

    Returns `input_ids` (unchanged: targets are hidden by the mask, not
    replaced), `perm_mask` [B, L, L], `target_mapping` [B, K, L] and `labels`
    [B, K] (int64, -100 for padding slots).
    """
    check_token_ids(input_ids, generator=generator)
    special = (
        torch.zeros_like(input_ids, dtype=torch.bool)
        if special_tokens_mask is None
        else check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    )
    check_float_dtype(dtype, bool_ok=True)
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
    # labels[b, k] = the token at the k-th target, or -100 for a padding slot
    positions, filled = _target_positions(is_target)
    labels = (
        input_ids.long().gather(1, positions).masked_fill(~filled, IGNORE_INDEX)
    )
    return {
        "input_ids": input_ids,
        "perm_mask": perm_mask,
        "target_mapping": target_mapping,
        "labels": labels,
    }


# --8<-- [end:core]


# ---- validation at the public boundary ----------------------------------------


def _check_device(device: object) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(
            f"device must be a str or torch.device, got {type(device).__name__}"
        )
    try:
        return torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a device: {err}") from None


def _check_masks_args(order, is_target, dtype) -> torch.Tensor:
    check_token_ids(order, "order")
    is_target = check_bool_like(is_target, order, "is_target", "order")
    check_float_dtype(dtype, bool_ok=True)
    L = order.shape[1]
    if order.numel():
        ranks = torch.arange(L, device=order.device).expand_as(order)
        if not torch.equal(order.long().sort(1).values, ranks):
            raise ValueError(
                "order must hold a permutation of 0..seq_len-1 in every row (the "
                "rank of each position), as sample_factorization_order returns"
            )
    return is_target


def _check_spans_args(valid, plm_probability, max_span_length, generator):
    valid = check_mask(valid, "valid")
    check_generator(generator, valid.device)
    check_probability(plm_probability, "plm_probability")
    check_positive_int(max_span_length, "max_span_length")
    # contexts are about max_span_length / plm_probability tokens, in float64
    try:
        longest = 4.0 * max_span_length / plm_probability
    except OverflowError:
        longest = math.inf
    if not math.isfinite(longest):
        raise ValueError(
            "plm_probability is too small for max_span_length: "
            f"{max_span_length} / {plm_probability} overflows float64"
        )
    return valid
