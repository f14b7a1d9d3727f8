"""Two-stream self-attention (XLNet, Yang et al. 2019, §2.3), one layer and one
head.

Predicting x_{z_t} needs to know *where* it is (its position z_t) but must not see
*what* it is. One representation cannot do both, so XLNet keeps two streams that
share the weights θ:

    content  h_{z_t} ← Attention(Q = h_{z_t}, KV = h_{z_≤t}; θ)   sees x_{z_t}
    query    g_{z_t} ← Attention(Q = g_{z_t}, KV = h_{z_<t}; θ)   predicts x_{z_t}

The query stream starts from a learned vector w (plus the position), never from
the token. The real model uses Transformer-XL's relative positions; absolute
position embeddings stand in here so that the whole mechanism fits on one screen.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets._checks import check_float_tensor, check_positive_int, check_token_ids


# --8<-- [start:core]
def masked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    blocked: torch.Tensor,
) -> torch.Tensor:
    """Single-head softmax(QKᵀ/√d)V where `blocked[b, i, j]` hides j from i; a
    row that sees nothing gets 0."""
    blocked = _check_attention_args(query, key, value, blocked)
    scores = query @ key.transpose(-1, -2) / query.shape[-1] ** 0.5
    weights = scores.masked_fill(blocked, float("-inf")).softmax(-1)
    # the first target of an all-target order has no context: 0, not NaN
    return weights.nan_to_num(0.0) @ value


class TwoStreamAttention(nn.Module):
    def __init__(
        self, vocab_size: int, d_model: int = 64, max_len: int = 512
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("max_len", max_len),
        ):
            check_positive_int(value, name)
        self.word_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        # the query stream's start: no token
        self.w = nn.Parameter(torch.randn(d_model) * 0.02)
        # θ, shared by both streams
        self.q, self.k, self.v = (nn.Linear(d_model, d_model) for _ in range(3))

    def forward(
        self, input_ids: torch.Tensor, perm_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`perm_mask[b, i, j]` True (or 1): i may not see j (as
        `permutation_masks`). Returns (h, g), [B, L, d] in the module's dtype."""
        blocked = self._check(input_ids, perm_mask)
        B, L = input_ids.shape
        position = self.position_embedding(torch.arange(L, device=input_ids.device))
        h0 = self.word_embedding(input_ids.long()) + position  # token + position
        g0 = self.w + position.expand(B, L, -1)  # query: position only
        key, value = self.k(h0), self.v(h0)  # both streams read the content stream
        self_visible = torch.eye(L, dtype=torch.bool, device=input_ids.device)
        # content stream: z_≤t, itself included; query stream: z_<t, itself excluded
        h = masked_attention(self.q(h0), key, value, blocked & ~self_visible)
        g = masked_attention(self.q(g0), key, value, blocked)
        return h, g

    def _check(self, input_ids: object, perm_mask: object) -> torch.Tensor:
        vocab_size = self.word_embedding.num_embeddings
        check_token_ids(input_ids, vocab_size=vocab_size)
        B, L = input_ids.shape
        if not isinstance(perm_mask, torch.Tensor):
            raise TypeError(
                f"perm_mask must be a torch.Tensor, got {type(perm_mask).__name__}"
            )
        if perm_mask.shape != (B, L, L):
            raise ValueError(
                f"perm_mask must be [batch, seq_len, seq_len] = {(B, L, L)}, "
                f"got {tuple(perm_mask.shape)}"
            )
        if perm_mask.dtype != torch.bool and perm_mask.numel():
            if not ((perm_mask == 0) | (perm_mask == 1)).all():
                raise ValueError("perm_mask must hold only 0 and 1 (or be bool)")
        max_len = self.position_embedding.num_embeddings
        if L > max_len:
            raise ValueError(f"sequence length {L} exceeds max_len {max_len}")
        return perm_mask.to(device=input_ids.device, dtype=torch.bool)


# --8<-- [end:core]


def _check_attention_args(query, key, value, blocked) -> torch.Tensor:
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_float_tensor(t, name)
        if t.dim() < 2:
            raise ValueError(
                f"{name} must be [..., length, dim], got {tuple(t.shape)}"
            )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            "query, key and value must share one dtype, got "
            f"{query.dtype}, {key.dtype} and {value.dtype}"
        )
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "query [..., Lq, d], key [..., Lk, d] and value [..., Lk, dv] do not "
            f"match: {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
        )
    if not isinstance(blocked, torch.Tensor) or blocked.dtype != torch.bool:
        what = blocked.dtype if isinstance(blocked, torch.Tensor) else type(blocked)
        raise TypeError(f"blocked must be a bool tensor, got {what}")
    scores = (*query.shape[:-1], key.shape[-2])
    try:
        shape = torch.broadcast_shapes(
            query.shape[:-2], key.shape[:-2], blocked.shape[:-2]
        )
    except RuntimeError:
        shape = None
    if shape is None or blocked.shape[-2:] != scores[-2:]:
        raise ValueError(
            f"blocked must be [..., Lq, Lk] = [..., {scores[-2]}, {scores[-1]}] "
            f"and broadcast with query and key, got {tuple(blocked.shape)}"
        )
    return blocked
