"""BERT's 80/10/10 replacement rule (Devlin et al. 2019, §3.1), shared by every
masked-LM variant here.

Of the positions chosen for prediction, 80% are replaced by [MASK], 10% by a random
token and 10% are left unchanged; the loss is computed at all chosen positions.
RoBERTa, ALBERT's n-gram masking, SpanBERT and ERNIE differ only in *which*
positions are chosen and whether the replacement is decided per token or per unit
(span, word, phrase, entity).

Labels are always int64, -100 where nothing is predicted. The returned inputs keep
the ids' dtype when it can hold every id below `vocab_size` (the [MASK] id and the
random replacements), and are int64 otherwise: an id is widened, never wrapped.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_bool_like,
    check_flag,
    check_float_tensor,
    check_generator,
    check_mask,
    check_positive_int,
    check_probability,
    check_token_id,
    check_token_ids,
)

# the label value that PyTorch's cross_entropy (and transformers) skip
IGNORE_INDEX = -100


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
    uniform: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply 80/10/10 to the `selected` positions; return new `(inputs, labels)`.

    `labels` holds the original id where selected and -100 elsewhere. With
    `group_ids` [B, L] (non-negative ids of spans or units), the choice is drawn
    once per group, so a span is masked, randomized or kept as a whole (SpanBERT
    §3.1). A caller that already holds a uniform draw per token that is U[0, 1) on
    the selected positions may pass it as `uniform`.
    """
    selected = _check_replace_args(
        input_ids,
        selected,
        mask_token_id,
        vocab_size,
        mask_replace_prob,
        random_replace_prob,
        group_ids,
        uniform,
        generator,
    )
    labels = torch.where(selected, input_ids.long(), IGNORE_INDEX)
    if uniform is not None:
        u = uniform
    elif group_ids is None:
        u = torch.rand(
            input_ids.shape, generator=generator, device=input_ids.device
        )
    else:
        # one uniform per (row, group), gathered back to every token of the group;
        # renumbered first, so the draw costs B·L whatever the ids' values
        draws = torch.rand(
            input_ids.shape, generator=generator, device=input_ids.device
        )
        u = draws.gather(1, renumber_units(group_ids))
    inputs = input_ids.to(_replacement_dtype(input_ids.dtype, vocab_size))
    inputs = inputs.masked_fill(selected & (u < mask_replace_prob), mask_token_id)
    to_random = (
        selected
        & (u >= mask_replace_prob)
        & (u < mask_replace_prob + random_replace_prob)
    )
    # draw random tokens only where they are used (about 1.5% of a batch)
    where = to_random.nonzero(as_tuple=True)
    inputs[where] = torch.randint(
        vocab_size,
        (where[0].numel(),),
        generator=generator,
        device=input_ids.device,
        dtype=inputs.dtype,
    )
    return inputs, labels


# --8<-- [end:core]


def _replacement_dtype(dtype: torch.dtype, vocab_size: int) -> torch.dtype:
    """`dtype` if it holds every id below `vocab_size`, else int64 (never wrap)."""
    return dtype if torch.iinfo(dtype).max >= vocab_size - 1 else torch.int64


def renumber_units(unit_ids: torch.Tensor) -> torch.Tensor:
    """Renumber each row's ids to 0, 1, 2, ... in increasing order of the ids.

    Equal ids stay equal and the result is below the row length, so whatever
    tensor is sized by the number of units costs B·L, not the largest id. Vectorized
    with one sort per row.

    >>> renumber_units(torch.tensor([[7, 7, 20_000_000, 3], [0, 5, 5, 5]]))
    tensor([[1, 1, 2, 0],
            [0, 1, 1, 1]])
    """
    check_token_ids(unit_ids, "unit_ids")
    ordered, where = unit_ids.long().sort(1)
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    rank = new.long().cumsum(1) - 1
    return torch.empty_like(rank).scatter_(1, where, rank)


# --8<-- [start:units]
def word_spans(
    word_starts: torch.Tensor,
    valid: torch.Tensor,
    length_probs: torch.Tensor,
    *,
    random_offset: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut each row's words into consecutive spans of i.i.d. lengths
    ℓ ~ `length_probs` (index 0: ℓ = 1).

    A word starts where `word_starts` says, or where a run of `valid` tokens
    begins. With `random_offset` the cutting starts a random number of words
    before the row, so span starts are spread uniformly instead of always at word
    0; spans cut by either end of the row are marked incomplete. Returns
    `span_of_token` [B, L], `span_words` [B, S] (words in each span) and
    `complete` [B, S].
    """
    word_starts, valid = _check_word_spans_args(
        word_starts, valid, length_probs, random_offset, generator
    )
    B, L = valid.shape
    device = valid.device
    prev_valid = torch.nn.functional.pad(valid[:, :-1], (1, 0), value=False)
    starts = valid & (word_starts | ~prev_valid)
    word_id = (starts.long().cumsum(1) - 1).clamp(min=0)  # [B, L]
    n_words = starts.sum(1, keepdim=True)  # [B, 1]
    max_len = length_probs.numel()
    # Enough spans to cover L words: lengths are >= 1 each, and the random offset
    # drops up to max_len - 1 words before the row.
    S = L + (max_len if random_offset else 1)
    lengths = (
        torch.multinomial(
            length_probs.to(device).expand(B, -1),
            S,
            replacement=True,
            generator=generator,
        )
        + 1
    )
    offset = (
        torch.randint(max_len, (B, 1), generator=generator, device=device)
        if random_offset
        else torch.zeros(B, 1, dtype=torch.long, device=device)
    )
    end = lengths.cumsum(1) - offset  # exclusive end word per span
    begin = end - lengths
    span_of_token = torch.searchsorted(end, word_id, right=True)  # [B, L]
    span_words = (torch.minimum(end, n_words) - begin.clamp(min=0)).clamp(min=0)
    complete = (begin >= 0) & (end <= n_words)
    return span_of_token, span_words, complete


def choose_within_budget(
    unit_of_token: torch.Tensor,
    valid: torch.Tensor,
    budget: torch.Tensor,
    *,
    eligible: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Put each row's units (spans, n-grams, words, entities) in a random order
    and choose the longest prefix whose token count fits `budget` [B]. Units are
    taken whole or not at all.

    Returns `chosen` [B, U] over unit ids 0..U-1 (U = max unit id + 1).
    """
    unit_of_token, valid, eligible = _check_choose_args(
        unit_of_token, valid, budget, eligible, generator
    )
    B = valid.shape[0]
    U = int(unit_of_token.max()) + 1 if unit_of_token.numel() else 1
    size = torch.zeros(B, U, dtype=torch.long, device=valid.device).scatter_add_(
        1, unit_of_token, valid.long()
    )
    ok = size > 0 if eligible is None else (size > 0) & eligible[:, :U]
    priority = torch.rand(
        B, U, generator=generator, device=valid.device
    ).masked_fill(~ok, 2.0)
    order = priority.argsort(1)
    fits = size.gather(1, order).cumsum(1) <= budget[:, None]
    return torch.zeros_like(fits).scatter_(1, order, fits) & ok


# --8<-- [end:units]


def masking_budget(valid: torch.Tensor, ratio: float) -> torch.Tensor:
    """round(ratio · number of valid tokens), at least 1, per row [B] (int64).

    Ties round to even, as Python's `round` does in the reference implementations.
    """
    valid = check_mask(valid, "valid")
    check_probability(ratio, "ratio")
    return (valid.sum(1).double() * ratio).round().clamp(min=1).long()


# ---- validation at the public boundary ----------------------------------------


def _check_replace_args(
    input_ids,
    selected,
    mask_token_id,
    vocab_size,
    mask_replace_prob,
    random_replace_prob,
    group_ids,
    uniform,
    generator,
) -> torch.Tensor:
    check_positive_int(vocab_size, "vocab_size")
    check_token_id(mask_token_id, "mask_token_id", vocab_size)
    check_token_ids(input_ids, vocab_size=vocab_size, generator=generator)
    selected = check_bool_like(selected, input_ids, "selected")
    check_probability(mask_replace_prob, "mask_replace_prob", low_open=False)
    check_probability(random_replace_prob, "random_replace_prob", low_open=False)
    if mask_replace_prob + random_replace_prob > 1:
        raise ValueError(
            "mask_replace_prob + random_replace_prob must be <= 1, got "
            f"{mask_replace_prob} + {random_replace_prob}"
        )
    if group_ids is not None:
        check_token_ids(group_ids, "group_ids", generator=generator)
        if group_ids.shape != input_ids.shape:
            raise ValueError(
                f"group_ids must have the shape of input_ids "
                f"{tuple(input_ids.shape)}, got {tuple(group_ids.shape)}"
            )
    if uniform is not None:
        check_float_tensor(uniform, "uniform")
        if uniform.shape != input_ids.shape:
            raise ValueError(
                f"uniform must have the shape of input_ids "
                f"{tuple(input_ids.shape)}, got {tuple(uniform.shape)}"
            )
    return selected


def _check_word_spans_args(
    word_starts, valid, length_probs, random_offset, generator
):
    valid = check_mask(valid, "valid")
    check_generator(generator, valid.device)
    word_starts = check_bool_like(word_starts, valid, "word_starts", "valid")
    check_float_tensor(length_probs, "length_probs")
    if length_probs.dim() != 1 or not length_probs.numel():
        raise ValueError(
            "length_probs must be a non-empty 1-D tensor (index 0: length 1), got "
            f"shape {tuple(length_probs.shape)}"
        )
    if not (torch.isfinite(length_probs).all() and (length_probs >= 0).all()):
        raise ValueError("length_probs must be finite and non-negative")
    if not length_probs.sum() > 0:
        raise ValueError("length_probs must have a positive sum")
    check_flag(random_offset, "random_offset")
    return word_starts, valid


def _check_choose_args(unit_of_token, valid, budget, eligible, generator):
    check_token_ids(unit_of_token, "unit_of_token", generator=generator)
    valid = check_mask(valid, "valid")
    check_generator(generator, valid.device)
    if unit_of_token.shape != valid.shape:
        raise ValueError(
            f"unit_of_token must have the shape of valid {tuple(valid.shape)}, "
            f"got {tuple(unit_of_token.shape)}"
        )
    # The result has one column per unit id: keep its cost linear in the input
    # (the ids' range may reach 2·seq_len + 1, or the width of `eligible`).
    limit = 2 * valid.shape[1] + 1
    if isinstance(eligible, torch.Tensor) and eligible.dim() == 2:
        limit = max(limit, eligible.shape[1] - 1)
    if unit_of_token.numel() and int(unit_of_token.max()) > limit:
        raise ValueError(
            f"unit_of_token ids must be at most {limit} (2·seq_len + 1, or the "
            f"width of eligible - 1), got {int(unit_of_token.max())}; renumber "
            "them with renumber_units"
        )
    check_token_ids(budget, "budget", ndim=1)
    if budget.shape[0] != valid.shape[0]:
        raise ValueError(
            f"budget must be [batch] = [{valid.shape[0]}], "
            f"got {tuple(budget.shape)}"
        )
    if eligible is not None:
        eligible = check_mask(eligible, "eligible")
        U = int(unit_of_token.max()) + 1 if unit_of_token.numel() else 1
        if eligible.shape[0] != valid.shape[0] or eligible.shape[1] < U:
            raise ValueError(
                f"eligible must be [batch, >= {U} units], "
                f"got {tuple(eligible.shape)}"
            )
    return unit_of_token.long(), valid, eligible
