"""Span boundary objective (SpanBERT, Joshi et al. 2020, §3.2).

Every token x_i of a masked span (x_s, ..., x_e) is also predicted from the span's *boundary*
alone: the encoder outputs just outside it, x_{s−1} and x_{e+1}, and a relative position
embedding p_{i−s+1}:

    h0 = [x_{s−1}; x_{e+1}; p_{i−s+1}]
    h1 = LayerNorm(GeLU(W1 h0))
    y_i = LayerNorm(GeLU(W2 h1))          then a projection onto the vocabulary

The total loss sums both predictions of each span token: L = L_MLM(x_i) + L_SBO(x_i). Packing
the span's content into its boundary tokens helps span-selection tasks such as extractive QA
and coreference.

A span that touches the edge of the sequence has no token at s−1 (or e+1). A zero vector
stands in for the missing boundary. SpanBERT's spans never touch the edge, because [CLS] and
[SEP] are never masked.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets._checks import check_positive_int
from snippets.masking import IGNORE_INDEX


def span_token_positions(
    spans: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Expand spans [S, 3] of (batch, start, end-exclusive) to one row per span token:
    (span index, token position, 0-based position inside the span), each [N]."""
    lengths = spans[:, 2] - spans[:, 1]
    span_index = torch.repeat_interleave(
        torch.arange(spans.shape[0], device=spans.device), lengths
    )
    offsets = torch.arange(
        int(lengths.sum()), device=spans.device
    ) - torch.repeat_interleave(lengths.cumsum(0) - lengths, lengths)
    return span_index, spans[span_index, 1] + offsets, offsets


# --8<-- [start:core]
class SpanBoundaryHead(nn.Module):
    def __init__(
        self,
        hidden_size: int,
        vocab_size: int,
        max_span_length: int = 10,
        position_embedding_size: int = 200,
    ) -> None:
        super().__init__()
        for name, value in (
            ("hidden_size", hidden_size),
            ("vocab_size", vocab_size),
            ("max_span_length", max_span_length),
            ("position_embedding_size", position_embedding_size),
        ):
            check_positive_int(value, name)
        self.max_span_length = max_span_length
        self.position_embeddings = nn.Embedding(
            max_span_length, position_embedding_size
        )  # p_1 .. p_max
        self.mlp = nn.Sequential(
            nn.Linear(2 * hidden_size + position_embedding_size, hidden_size),
            nn.GELU(),
            nn.LayerNorm(hidden_size),
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.LayerNorm(hidden_size),
        )
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(
        self, hidden_states: torch.Tensor, spans: torch.Tensor
    ) -> torch.Tensor:
        """`hidden_states` [B, L, H], `spans` [S, 3] -> logits [N, V], one row per span token, in span order."""
        _check_spans(spans, hidden_states.shape[:2], self.max_span_length)
        B, L, H = hidden_states.shape
        span_index, _, offset = span_token_positions(spans)
        row, start, end = (
            spans[span_index, 0],
            spans[span_index, 1],
            spans[span_index, 2],
        )
        # Boundaries outside the sequence read a zero vector: pad one zero state on each side.
        padded = F.pad(hidden_states, (0, 0, 1, 1))  # [B, L + 2, H]
        left, right = (
            padded[row, start],
            padded[row, end + 1],
        )  # x_{s-1}, x_{e+1} (shifted by the pad)
        h0 = torch.cat([left, right, self.position_embeddings(offset)], dim=-1)
        return self.decoder(self.mlp(h0))


# --8<-- [end:core]


def _check_spans(
    spans: torch.Tensor, shape: tuple[int, int], max_span_length: int
) -> None:
    if (
        spans.dim() != 2
        or spans.shape[1] != 3
        or spans.dtype not in (torch.int64, torch.int32)
    ):
        raise ValueError(
            f"spans must be an integer [S, 3] tensor of (batch, start, end), got {spans.dtype} {tuple(spans.shape)}"
        )
    if not spans.numel():
        return
    B, L = shape
    row, start, end = spans.unbind(1)
    if (row < 0).any() or (row >= B).any():
        raise ValueError(f"span batch indices must be in [0, {B})")
    if (start < 0).any() or (end > L).any() or (end <= start).any():
        raise ValueError(f"spans need 0 <= start < end <= {L} (end exclusive)")
    if (end - start > max_span_length).any():
        raise ValueError(
            f"a span is longer than max_span_length={max_span_length}: {int((end - start).max())} tokens"
        )


# --8<-- [start:loss]
def span_boundary_loss(
    head: SpanBoundaryHead,
    hidden_states: torch.Tensor,
    spans: torch.Tensor,
    original_ids: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of the SBO predictions against the original tokens of every span."""
    _, position, _ = span_token_positions(spans)
    targets = original_ids[
        spans[:, 0].repeat_interleave(spans[:, 2] - spans[:, 1]), position
    ]
    return F.cross_entropy(head(hidden_states, spans), targets)


def spanbert_loss(
    mlm_logits: torch.Tensor,
    mlm_labels: torch.Tensor,
    head: SpanBoundaryHead,
    hidden_states: torch.Tensor,
    spans: torch.Tensor,
    original_ids: torch.Tensor,
) -> torch.Tensor:
    """L = L_MLM + L_SBO, each averaged over the masked tokens."""
    mlm = F.cross_entropy(
        mlm_logits.flatten(0, 1), mlm_labels.flatten(), ignore_index=IGNORE_INDEX
    )
    return mlm + span_boundary_loss(head, hidden_states, spans, original_ids)


# --8<-- [end:loss]
