"""Magnitude pruning of a Transformer's Linear layers (after Han et al. 2015; for
BERT, Gordon et al. 2020).

Unstructured: in every Linear weight, zero the fraction `amount` of entries with the
smallest |w|. Structured: zero whole output rows (neurons) with the smallest L2
norm, which shrinks the matrix for real, instead of merely making it sparse.

    mask = |W| > quantile(|W|, amount);   W ← W ⊙ mask

Weights tied to an embedding (the MLM decoder) are left alone, since pruning them
would also prune the input embeddings. The pruning is made permanent: the masks are
folded into the weights and the reparametrization is removed.

`magnitude_prune` changes the model **in place**, on purpose (pruning a copy of a
large model would double its memory): prune `copy.deepcopy(model)` to keep the
original.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn.utils import prune

from snippets._checks import check_probability


@dataclass(frozen=True)
class PruneReport:
    amount: float
    structured: bool
    layers: int
    sparsity: float  # achieved fraction of zeros over the pruned weights


# --8<-- [start:core]
def magnitude_prune(
    model: nn.Module, amount: float, *, structured: bool = False
) -> PruneReport:
    """Prune every (untied) nn.Linear weight of `model`, IN PLACE, to `amount`
    sparsity, and report it."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__name__}"
        )
    check_probability(amount, "amount", low_open=False, high_open=True)
    if not isinstance(structured, bool):
        raise TypeError(
            f"structured must be a bool, got {type(structured).__name__}"
        )
    embedding_storage = {
        m.weight.data_ptr() for m in model.modules() if isinstance(m, nn.Embedding)
    }
    linears = [
        m
        for m in model.modules()
        if isinstance(m, nn.Linear) and m.weight.data_ptr() not in embedding_storage
    ]
    if not linears:
        raise ValueError("model has no prunable nn.Linear layer")
    for layer in linears:
        if structured:  # whole output neurons
            prune.ln_structured(layer, "weight", amount=amount, n=2, dim=0)
        else:
            prune.l1_unstructured(layer, "weight", amount=amount)
        # permanent: weight = weight_orig * mask, no hooks left
        prune.remove(layer, "weight")
    zeros = sum(int((m.weight == 0).sum()) for m in linears)
    total = sum(m.weight.numel() for m in linears)
    return PruneReport(float(amount), structured, len(linears), zeros / total)


# --8<-- [end:core]
