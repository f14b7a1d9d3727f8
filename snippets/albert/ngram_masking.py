"""N-gram masking (ALBERT, Lan et al. 2020, §4.1; after Joshi et al.'s span
masking).

What the paper fixes (§4.1) is the length of each masked n-gram, drawn as

    p(n) = (1/n) / Σ_{k=1..N} (1/k),   N = max_ngram = 3  ->  p = [6/11, 3/11, 2/11]

The rest comes from the released code, `create_pretraining_data.py` in
google-research/albert, not from the paper: the n-grams are made of whole words
(a word's pieces are masked together), about `masked_lm_prob = 0.15` of the
tokens are chosen (round(0.15 · length), at least 1), and each chosen token then
gets BERT's 80/10/10.

The release shuffles candidate start words and, one at a time, draws n, shortens
the n-gram while it would overflow the budget, and skips it if it overlaps an
earlier one. Here the same draws happen for the whole batch at once
(`snippets.masking.word_spans` and `choose_within_budget`): the words of every
row are cut into consecutive n-grams with i.i.d. lengths n ~ p(n), the n-grams
are put in a random order, and the longest prefix of that order that fits the
budget is masked. N-grams never overlap, are whole words, and never contain
special tokens. Three differences from the release, by design: the budget counts
the maskable tokens (the release counts [CLS] and [SEP] too, which a padded batch
cannot tell from padding); there is no `max_predictions_per_seq` cap (a flag of
the release, default 20); and the choice stops at the first n-gram that would
overflow instead of shortening it, so a row can fall short of the budget by less
than one n-gram.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_bool_like,
    check_generator,
    check_mask,
    check_positive_int,
    check_probability,
    check_token_id,
    check_token_ids,
)
from snippets.masking import (
    bert_replace,
    choose_within_budget,
    masking_budget,
    word_spans,
)


def ngram_distribution(max_ngram: int = 3) -> torch.Tensor:
    """p(n) ∝ 1/n for n = 1..max_ngram (index 0 is n = 1)."""
    check_positive_int(max_ngram, "max_ngram")
    inv = 1.0 / torch.arange(1, max_ngram + 1, dtype=torch.float64)
    return (inv / inv.sum()).float()


# --8<-- [start:core]
def sample_ngrams(
    word_starts: torch.Tensor,
    valid: torch.Tensor,
    *,
    max_ngram: int = 3,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose whole-word n-grams up to round(mlm_probability · valid tokens) per
    row; `word_starts` [B, L] marks each word's first token.

    Returns `selected` [B, L] (bool) and `ngram_words` [B, S]: the length in
    words of each chosen n-gram (0 where not chosen).
    """
    valid = check_mask(valid, "valid")
    check_generator(generator, valid.device)
    word_starts = check_bool_like(word_starts, valid, "word_starts", "valid")
    check_positive_int(max_ngram, "max_ngram")
    check_probability(mlm_probability, "mlm_probability", high_open=True)
    ngram_of_token, ngram_words, _ = word_spans(
        word_starts, valid, ngram_distribution(max_ngram), generator=generator
    )
    chosen = choose_within_budget(
        ngram_of_token,
        valid,
        masking_budget(valid, mlm_probability),
        generator=generator,
    )
    selected = chosen.gather(1, ngram_of_token) & valid
    return selected, torch.where(
        chosen,
        ngram_words[:, : chosen.shape[1]],
        torch.zeros_like(chosen, dtype=torch.long),
    )


def ngram_mask(
    input_ids: torch.Tensor,
    word_starts: torch.Tensor,
    *,
    max_ngram: int = 3,
    mlm_probability: float = 0.15,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ALBERT's n-gram masking of a batch `input_ids` [B, L]; `word_starts`
    [B, L] marks each word's first token. Returns `(inputs, labels)`, labels
    int64 and -100 where nothing is predicted."""
    check_positive_int(vocab_size, "vocab_size")
    check_token_id(mask_token_id, "mask_token_id", vocab_size)
    check_token_ids(input_ids, vocab_size=vocab_size, generator=generator)
    word_starts = check_bool_like(word_starts, input_ids, "word_starts")
    special = (
        torch.zeros_like(word_starts)
        if special_tokens_mask is None
        else check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    )
    selected, _ = sample_ngrams(
        word_starts,
        ~special,
        max_ngram=max_ngram,
        mlm_probability=mlm_probability,
        generator=generator,
    )
    return bert_replace(
        input_ids,
        selected,
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        generator=generator,
    )


# --8<-- [end:core]
