"""Two-stream self-attention (XLNet, Yang et al. 2019, §2.3), one layer and one head.

Predicting x_{z_t} needs to know *where* it is (its position z_t) but must not see *what* it is.
One representation cannot do both, so XLNet keeps two streams that share the weights θ:

    content  h_{z_t} ← Attention(Q = h_{z_t}, KV = h_{z_≤t}; θ)   sees itself: encodes x_{z_t}
    query    g_{z_t} ← Attention(Q = g_{z_t}, KV = h_{z_<t}; θ)   position only: predicts x_{z_t}

The query stream starts from a learned vector w (plus the position), never from the token. The
real model uses Transformer-XL's relative positions; absolute position embeddings stand in here
so that the whole mechanism fits on one screen.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets._checks import check_positive_int, check_token_ids


# --8<-- [start:core]
def masked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    blocked: torch.Tensor,
) -> torch.Tensor:
    """Single-head softmax(QKᵀ/√d)V where `blocked[b, i, j]` hides j from i; a row that sees nothing gets 0."""
    scores = query @ key.transpose(-1, -2) / query.shape[-1] ** 0.5
    weights = scores.masked_fill(blocked, float("-inf")).softmax(-1)
    return (
        weights.nan_to_num(0.0) @ value
    )  # the first target of an all-target order has no context


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
        self.w = nn.Parameter(
            torch.randn(d_model) * 0.02
        )  # the query stream's start: no token
        self.q, self.k, self.v = (
            nn.Linear(d_model, d_model) for _ in range(3)
        )  # θ, shared by both streams

    def forward(
        self, input_ids: torch.Tensor, perm_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`perm_mask[b, i, j]` True: i may not see j (as `permutation_masks`). Returns (h, g), [B, L, d]."""
        check_token_ids(input_ids)
        B, L = input_ids.shape
        if perm_mask.shape != (B, L, L):
            raise ValueError(
                f"perm_mask must be [batch, seq_len, seq_len] = {(B, L, L)}, got {tuple(perm_mask.shape)}"
            )
        if L > self.position_embedding.num_embeddings:
            raise ValueError(
                f"sequence length {L} exceeds max_len {self.position_embedding.num_embeddings}"
            )
        blocked = perm_mask.bool()
        position = self.position_embedding(torch.arange(L, device=input_ids.device))
        h0 = self.word_embedding(input_ids) + position  # content: token + position
        g0 = self.w + position.expand(B, L, -1)  # query: position only
        key, value = self.k(h0), self.v(h0)  # both streams read the content stream
        self_visible = torch.eye(L, dtype=torch.bool, device=input_ids.device)
        h = masked_attention(
            self.q(h0), key, value, blocked & ~self_visible
        )  # z_≤t: itself included
        g = masked_attention(
            self.q(g0), key, value, blocked
        )  # z_<t: itself excluded
        return h, g


# --8<-- [end:core]
