"""Span boundary objective (SpanBERT, Joshi et al. 2020, §3.2).

Every token x_i of a masked span (x_s, ..., x_e) is also predicted from the span's
*boundary* alone: the encoder outputs just outside it, x_{s−1} and x_{e+1}, and a
relative position embedding p_{i−s+1}:

    h0 = [x_{s−1}; x_{e+1}; p_{i−s+1}]
    h1 = LayerNorm(GeLU(W1 h0))
    y_i = LayerNorm(GeLU(W2 h1))          then a projection onto the vocabulary

The total loss sums both predictions of each span token:
L = L_MLM(x_i) + L_SBO(x_i). Packing the span's content into its boundary tokens
helps span-selection tasks such as extractive QA and coreference.

The spans are the merged masked runs of `span_mask`, so both boundaries are unmasked
tokens. The position table counts word pieces, not words: the released pre-training
command (facebookresearch/SpanBERT, `pretraining/README.md`) sets
`--max-pair-targets 15`, and `pad_to_len` in `pretraining/fairseq/data/masking.py`
keeps only the first 15 pieces of a longer run as SBO targets. A run of 10 words, or
two runs merged, can be longer than that; its later pieces get the MLM loss only.

A span that touches the edge of the sequence has no token at s−1 (or e+1). A zero
vector stands in for the missing boundary. The reference masks a block without
[CLS] and [SEP] and leaves spans at the block's edge out of SBO; here such a span
reads [CLS] or [SEP] as its boundary when they are present.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets._checks import INT_DTYPES, check_positive_int, check_token_ids
from snippets.masking import IGNORE_INDEX


def span_token_positions(
    spans: torch.Tensor, max_span_length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Expand spans [S, 3] of (row, start, end-exclusive) to one entry per span
    token: (span index, token position, 0-based position inside the span), each
    [N]. With `max_span_length`, only the first `max_span_length` tokens of each
    span are listed."""
    spans = _check_spans(spans)
    lengths = spans[:, 2] - spans[:, 1]
    if max_span_length is not None:
        check_positive_int(max_span_length, "max_span_length")
        lengths = lengths.clamp(max=max_span_length)
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
        max_span_length: int = 15,  # word pieces: --max-pair-targets 15
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
        """`hidden_states` [B, L, H], `spans` [S, 3] -> logits [N, V] in the dtype
        of `hidden_states`: one row for each of the first `max_span_length` tokens
        of every span, in span order."""
        spans = _check_spans_in(spans, hidden_states, self.decoder.in_features)
        span_index, _, offset = span_token_positions(spans, self.max_span_length)
        row, start, end = spans[span_index].unbind(1)
        # Boundaries outside the sequence read a zero vector: pad one zero state
        # on each side, which shifts every position by one.
        padded = F.pad(hidden_states, (0, 0, 1, 1))  # [B, L + 2, H]
        left, right = padded[row, start], padded[row, end + 1]  # x_{s-1}, x_{e+1}
        h0 = torch.cat([left, right, self.position_embeddings(offset)], dim=-1)
        # Compute in the head's dtype; hand back the dtype the caller gave.
        logits = self.decoder(self.mlp(h0.to(self.decoder.weight.dtype)))
        return logits.to(hidden_states.dtype)


# --8<-- [end:core]


# --8<-- [start:loss]
def span_boundary_loss(
    head: SpanBoundaryHead,
    hidden_states: torch.Tensor,
    spans: torch.Tensor,
    original_ids: torch.Tensor,
) -> torch.Tensor:
    """Mean cross-entropy of the SBO predictions against the original tokens of
    every span; 0 (with a zero gradient) when there are no spans."""
    _check_head(head)
    spans = _check_spans_in(spans, hidden_states, head.decoder.in_features)
    _check_targets(original_ids, hidden_states, head.decoder.out_features)
    span_index, position, _ = span_token_positions(spans, head.max_span_length)
    targets = original_ids[spans[span_index, 0], position].long()
    return _mean_cross_entropy(head(hidden_states, spans), targets)


def spanbert_loss(
    mlm_logits: torch.Tensor,
    mlm_labels: torch.Tensor,
    head: SpanBoundaryHead,
    hidden_states: torch.Tensor,
    spans: torch.Tensor,
    original_ids: torch.Tensor,
) -> torch.Tensor:
    """L = L_MLM + L_SBO, each averaged over its predicted tokens (0 if none)."""
    _check_mlm(mlm_logits, mlm_labels)
    _check_head(head)
    if mlm_logits.shape[2] != head.decoder.out_features:
        raise ValueError(
            "mlm_logits must score the head's vocab_size="
            f"{head.decoder.out_features} ids, got {mlm_logits.shape[2]}"
        )
    mlm = _mean_cross_entropy(mlm_logits.flatten(0, 1), mlm_labels.flatten().long())
    return mlm + span_boundary_loss(head, hidden_states, spans, original_ids)


def _mean_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    # Summed in at least float32 (a float16 sum overflows), divided by the count:
    # no targets give 0, still attached to the graph.
    wide = logits.to(torch.promote_types(logits.dtype, torch.float32))
    total = F.cross_entropy(
        wide, labels, ignore_index=IGNORE_INDEX, reduction="sum"
    )
    count = (labels != IGNORE_INDEX).sum().clamp(min=1)
    return (total / count).to(logits.dtype)


# --8<-- [end:loss]


def _check_head(head: object) -> None:
    if not isinstance(head, SpanBoundaryHead):
        raise TypeError(
            f"head must be a SpanBoundaryHead, got {type(head).__name__}"
        )


def _check_hidden(hidden_states: object, hidden_size: int) -> None:
    if not isinstance(hidden_states, torch.Tensor):
        raise TypeError(
            "hidden_states must be a torch.Tensor, got "
            f"{type(hidden_states).__name__}"
        )
    if not hidden_states.is_floating_point():
        raise TypeError(
            f"hidden_states must be floating point, got {hidden_states.dtype}"
        )
    if hidden_states.dim() != 3 or hidden_states.shape[2] != hidden_size:
        raise ValueError(
            f"hidden_states must be [batch, seq_len, hidden_size={hidden_size}], "
            f"got {tuple(hidden_states.shape)}"
        )


def _check_spans(spans: object) -> torch.Tensor:
    if not isinstance(spans, torch.Tensor):
        raise TypeError(f"spans must be a torch.Tensor, got {type(spans).__name__}")
    if spans.dtype not in INT_DTYPES:
        raise TypeError(f"spans must hold integer positions, got {spans.dtype}")
    if spans.dim() != 2 or spans.shape[1] != 3:
        raise ValueError(
            "spans must be [S, 3] rows of (batch, start, end), "
            f"got shape {tuple(spans.shape)}"
        )
    spans = spans.long()
    if spans.numel():
        if (spans[:, 0] < 0).any():
            raise ValueError("spans need batch indices >= 0")
        if (spans[:, 1] < 0).any() or (spans[:, 2] <= spans[:, 1]).any():
            raise ValueError("spans need 0 <= start < end (end exclusive)")
    return spans


def _check_spans_in(
    spans: object, hidden_states: object, hidden_size: int
) -> torch.Tensor:
    _check_hidden(hidden_states, hidden_size)
    spans = _check_spans(spans).to(hidden_states.device)
    B, L = hidden_states.shape[:2]
    if spans.numel():
        if (spans[:, 0] >= B).any():
            raise ValueError(
                f"spans need batch indices in [0, {B}) for hidden_states of "
                f"shape {tuple(hidden_states.shape)}"
            )
        if (spans[:, 2] > L).any():
            raise ValueError(
                f"spans need end <= {L} (end exclusive) for hidden_states of "
                f"shape {tuple(hidden_states.shape)}"
            )
    return spans


def _check_targets(
    original_ids: object, hidden_states: torch.Tensor, vocab_size: int
) -> None:
    check_token_ids(original_ids, "original_ids")
    if original_ids.shape != hidden_states.shape[:2]:
        raise ValueError(
            "original_ids must be [batch, seq_len] like hidden_states "
            f"{tuple(hidden_states.shape[:2])}, got {tuple(original_ids.shape)}"
        )
    if original_ids.numel() and int(original_ids.max()) >= vocab_size:
        raise ValueError(
            f"original_ids must be below the head's vocab_size={vocab_size}, "
            f"got {int(original_ids.max())}"
        )


def _check_mlm(mlm_logits: object, mlm_labels: object) -> None:
    if (
        not isinstance(mlm_logits, torch.Tensor)
        or not mlm_logits.is_floating_point()
    ):
        raise TypeError("mlm_logits must be a floating-point torch.Tensor")
    if mlm_logits.dim() != 3:
        raise ValueError(
            "mlm_logits must be [batch, seq_len, vocab_size], "
            f"got {tuple(mlm_logits.shape)}"
        )
    if (
        not isinstance(mlm_labels, torch.Tensor)
        or mlm_labels.dtype not in INT_DTYPES
    ):
        raise TypeError(
            "mlm_labels must be an integer torch.Tensor (-100: ignored)"
        )
    if mlm_labels.shape != mlm_logits.shape[:2]:
        raise ValueError(
            "mlm_labels must be [batch, seq_len] like mlm_logits "
            f"{tuple(mlm_logits.shape[:2])}, got {tuple(mlm_labels.shape)}"
        )
    V, labels = mlm_logits.shape[2], mlm_labels.long()
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= V))
    if bad.any():
        raise ValueError(f"mlm_labels must be -100 or in [0, vocab_size={V})")
