"""Factorized embedding parameterization (ALBERT, Lan et al. 2020, §3.1).

BERT ties the WordPiece embedding size E to the hidden size H, so the embedding
table costs V·H parameters. ALBERT looks tokens up in a small V×E table and
projects them to H:

    O(V · H)  ->  O(V · E + E · H)

which is a large saving when H ≫ E (the paper uses E = 128 with V = 30 000).

>>> embedding_parameter_count(30000, 128, 4096, bias=False)
4364288
>>> embedding_parameter_count(30000, 128, 4096, factorized=False)
122880000
"""

from __future__ import annotations

import torch
from torch import nn

from snippets._checks import check_flag, check_positive_int, check_token_ids


# --8<-- [start:core]
class FactorizedEmbedding(nn.Module):
    """A V×E lookup followed by an E→H linear projection (ALBERT's
    `embedding_hidden_mapping_in`). The output has the module's float dtype."""

    def __init__(
        self, vocab_size: int, embedding_size: int = 128, hidden_size: int = 768
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("embedding_size", embedding_size),
            ("hidden_size", hidden_size),
        ):
            check_positive_int(value, name)
        self.vocab_size = vocab_size
        self.word_embeddings = nn.Embedding(vocab_size, embedding_size)  # V × E
        self.projection = nn.Linear(embedding_size, hidden_size)  # E × H (+ H bias)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Ids [..., L] below vocab_size -> hidden vectors [..., L, H]."""
        check_token_ids(input_ids, ndim=None, vocab_size=self.vocab_size)
        if input_ids.dtype not in (torch.int64, torch.int32):  # what lookups take
            input_ids = input_ids.long()
        return self.projection(self.word_embeddings(input_ids))


def embedding_parameter_count(
    vocab_size: int,
    embedding_size: int,
    hidden_size: int,
    factorized: bool = True,
    bias: bool = True,
) -> int:
    """V·E + E·H (+ H, the projection's bias) if factorized, else BERT's V·H."""
    for name, value in (
        ("vocab_size", vocab_size),
        ("embedding_size", embedding_size),
        ("hidden_size", hidden_size),
    ):
        check_positive_int(value, name)
    check_flag(factorized, "factorized")
    check_flag(bias, "bias")
    if factorized:
        return (
            vocab_size * embedding_size
            + embedding_size * hidden_size
            + (hidden_size if bias else 0)
        )
    return vocab_size * hidden_size


# --8<-- [end:core]
