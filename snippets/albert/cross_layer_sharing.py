"""Cross-layer parameter sharing (ALBERT, Lan et al. 2020, §3.1 and Table 4).

A BERT encoder has L independent layers. ALBERT applies the *same* layer L times:

    h_l = Layer_θ(h_{l-1}),  l = 1..L,   with one θ for every l  (sharing="all")

The paper's ablation (Table 4) also shares only the attention block ("attention")
or only the feed-forward block ("ffn"), against no sharing ("none"). Sharing
leaves the compute unchanged and divides the encoder's parameters by up to L.

>>> albert_parameter_count(30000, 128, 768, 12, 12, 3072)  # ALBERT-base
11683584
>>> albert_parameter_count(30522, 768, 768, 12, 12, 3072, sharing="none")  # BERT
109482240
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from snippets._checks import check_positive_int

Sharing = Literal["all", "attention", "ffn", "none"]
SHARING_MODES: tuple[str, ...] = ("all", "attention", "ffn", "none")

# ALBERT Table 1: name -> (layers L, hidden H, embedding E, sharing, parameters the
# paper reports). Every model uses a 30k vocabulary, H/64 attention heads and a 4H
# feed-forward layer.
PAPER_CONFIGS: dict[str, tuple[int, int, int, Sharing, str]] = {
    "BERT-base": (12, 768, 768, "none", "108M"),
    "BERT-large": (24, 1024, 1024, "none", "334M"),
    "ALBERT-base": (12, 768, 128, "all", "12M"),
    "ALBERT-large": (24, 1024, 128, "all", "18M"),
    "ALBERT-xlarge": (24, 2048, 128, "all", "60M"),
    "ALBERT-xxlarge": (12, 4096, 128, "all", "235M"),
}
PAPER_VOCAB_SIZE = 30000


# --8<-- [start:layers]
class SelfAttentionBlock(nn.Module):
    """Multi-head self-attention, residual and LayerNorm (post-LN, as BERT and
    ALBERT)."""

    def __init__(self, hidden_size: int, num_attention_heads: int) -> None:
        super().__init__()
        _check_config(1, hidden_size, num_attention_heads, 1, "none")
        self.num_heads = num_attention_heads
        self.query, self.key, self.value, self.dense = (
            nn.Linear(hidden_size, hidden_size) for _ in range(4)
        )
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=1e-12)

    def forward(
        self, x: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """`x` [B, L, H]; `attention_mask` [B, L], 1 for tokens, 0 for padding."""
        _check_hidden(x, self.query)
        B, L, H = x.shape
        heads = (B, L, self.num_heads, H // self.num_heads)
        context = F.scaled_dot_product_attention(
            self.query(x).view(heads).transpose(1, 2),
            self.key(x).view(heads).transpose(1, 2),
            self.value(x).view(heads).transpose(1, 2),
            attn_mask=_key_mask(attention_mask, x),
        )
        return self.LayerNorm(
            x + self.dense(context.transpose(1, 2).reshape(B, L, H))
        )


class FeedForwardBlock(nn.Module):
    """Position-wise H -> I -> H with GELU, residual and LayerNorm."""

    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        _check_config(1, hidden_size, 1, intermediate_size, "none")
        self.ffn = nn.Linear(hidden_size, intermediate_size)
        self.ffn_output = nn.Linear(intermediate_size, hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(hidden_size, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x` [..., H] -> [..., H]."""
        _check_hidden(x, self.ffn, ndim=None)
        return self.full_layer_layer_norm(x + self.ffn_output(F.gelu(self.ffn(x))))


# --8<-- [end:layers]


# --8<-- [start:core]
class SharedEncoder(nn.Module):
    """L post-LN Transformer layers whose attention and/or FFN blocks are one
    module reused at every depth."""

    def __init__(
        self,
        num_hidden_layers: int = 12,
        hidden_size: int = 768,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        sharing: Sharing = "all",
    ) -> None:
        super().__init__()
        _check_config(
            num_hidden_layers,
            hidden_size,
            num_attention_heads,
            intermediate_size,
            sharing,
        )
        L = num_hidden_layers
        share_attention, share_ffn = (
            sharing in ("all", "attention"),
            sharing in ("all", "ffn"),
        )
        # A shared block is the *same object* at every depth: one tensor per
        # parameter, not L copies.
        attention = (
            [SelfAttentionBlock(hidden_size, num_attention_heads)] * L
            if share_attention
            else [
                SelfAttentionBlock(hidden_size, num_attention_heads)
                for _ in range(L)
            ]
        )
        ffn = (
            [FeedForwardBlock(hidden_size, intermediate_size)] * L
            if share_ffn
            else [
                FeedForwardBlock(hidden_size, intermediate_size) for _ in range(L)
            ]
        )
        self.attention, self.ffn = (
            nn.ModuleList(attention),
            nn.ModuleList(ffn),
        )  # parameters() de-duplicates
        self.sharing = sharing

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`hidden_states` [B, L, H] in the module's dtype; `attention_mask`
        [B, L] with 1 for tokens, 0 for padding."""
        _check_hidden(hidden_states, self.attention[0].query, "hidden_states")
        if attention_mask is not None:  # checked once, then passed on as bool
            _key_mask(attention_mask, hidden_states)
            attention_mask = attention_mask.to(hidden_states.device, torch.bool)
        for attention, ffn in zip(self.attention, self.ffn, strict=True):
            hidden_states = ffn(attention(hidden_states, attention_mask))
        return hidden_states


# --8<-- [end:core]


def _check_hidden(
    x: object, layer: nn.Linear, name: str = "x", *, ndim: int | None = 3
) -> None:
    """A float tensor [..., H] in the layer's dtype (autocast may differ)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        what = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating torch.Tensor, got {what}")
    H = layer.in_features
    if (ndim is not None and x.dim() != ndim) or x.dim() == 0 or x.shape[-1] != H:
        expected = (
            "[batch, seq_len, hidden_size]" if ndim == 3 else "[..., hidden_size]"
        )
        raise ValueError(
            f"{name} must be {expected} with hidden_size={H}, got {tuple(x.shape)}"
        )
    dtype = layer.weight.dtype
    if x.dtype != dtype and not torch.is_autocast_enabled(x.device.type):
        raise TypeError(
            f"{name} must have the module's dtype {dtype} (convert the module or "
            f"the input with .to), got {x.dtype}"
        )


def _key_mask(attention_mask: object, x: torch.Tensor) -> torch.Tensor | None:
    """SDPA's boolean mask [B, 1, 1, L] (True: attend) from a 1/0 `attention_mask`.

    A row with no token at all attends everywhere: its outputs are padding, and
    this keeps them finite instead of a softmax over nothing.
    """
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(
            "attention_mask must be a torch.Tensor, "
            f"got {type(attention_mask).__name__}"
        )
    if attention_mask.shape != x.shape[:2]:
        raise ValueError(
            "attention_mask must be [batch, seq_len] = "
            f"{tuple(x.shape[:2])}, got {tuple(attention_mask.shape)}"
        )
    if attention_mask.dtype != torch.bool and attention_mask.numel():
        if not ((attention_mask == 0) | (attention_mask == 1)).all():
            raise ValueError(
                "attention_mask must hold only 1 (token) and 0 (padding)"
            )
    keep = attention_mask.to(device=x.device, dtype=torch.bool)
    keep = keep | ~keep.any(-1, keepdim=True)
    return keep[:, None, None, :]


def _check_config(
    num_hidden_layers: int,
    hidden_size: int,
    num_attention_heads: int,
    intermediate_size: int,
    sharing: str,
) -> None:
    for name, value in (
        ("num_hidden_layers", num_hidden_layers),
        ("hidden_size", hidden_size),
        ("num_attention_heads", num_attention_heads),
        ("intermediate_size", intermediate_size),
    ):
        check_positive_int(value, name)
    if hidden_size % num_attention_heads:
        raise ValueError(
            f"hidden_size ({hidden_size}) must be divisible by num_attention_heads "
            f"({num_attention_heads})"
        )
    if not isinstance(sharing, str) or sharing not in SHARING_MODES:
        raise ValueError(f"sharing must be one of {SHARING_MODES}, got {sharing!r}")


# --8<-- [start:count]
def encoder_parameter_count(
    num_hidden_layers: int,
    hidden_size: int,
    intermediate_size: int,
    sharing: Sharing = "all",
) -> int:
    """Parameters of the L-layer encoder (what `SharedEncoder` holds) under a
    sharing mode."""
    _check_config(num_hidden_layers, hidden_size, 1, intermediate_size, sharing)
    H, d_ff, L = hidden_size, intermediate_size, num_hidden_layers
    attention = 4 * (H * H + H) + 2 * H  # Q, K, V, O + LayerNorm
    ffn = (H * d_ff + d_ff) + (d_ff * H + H) + 2 * H  # H->I, I->H + LayerNorm
    n_attention = 1 if sharing in ("all", "attention") else L
    n_ffn = 1 if sharing in ("all", "ffn") else L
    return n_attention * attention + n_ffn * ffn


def albert_parameter_count(
    vocab_size: int,
    embedding_size: int,
    hidden_size: int,
    num_hidden_layers: int,
    num_attention_heads: int,
    intermediate_size: int,
    sharing: Sharing = "all",
    max_position_embeddings: int = 512,
    type_vocab_size: int = 2,
) -> int:
    """Exact parameters of embeddings + encoder + pooler, module for module as
    transformers' AlbertModel.

    With embedding_size == hidden_size there is nothing to factorize and no E->H
    projection: the model is BERT's (transformers' AlbertModel would still carry
    a redundant H x H mapping).
    """
    _check_config(
        num_hidden_layers,
        hidden_size,
        num_attention_heads,
        intermediate_size,
        sharing,
    )
    check_positive_int(vocab_size, "vocab_size")
    check_positive_int(embedding_size, "embedding_size")
    check_positive_int(
        max_position_embeddings, "max_position_embeddings", minimum=0
    )
    check_positive_int(type_vocab_size, "type_vocab_size", minimum=0)
    V, E, H = vocab_size, embedding_size, hidden_size
    embeddings = (
        V + max_position_embeddings + type_vocab_size
    ) * E + 2 * E  # 3 lookups + LayerNorm
    projection = 0 if E == H else E * H + H  # the factorization
    pooler = H * H + H
    return (
        embeddings
        + projection
        + encoder_parameter_count(num_hidden_layers, H, intermediate_size, sharing)
        + pooler
    )


# --8<-- [end:count]
