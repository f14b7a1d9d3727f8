"""N-gram masking (ALBERT, Lan et al. 2020, §4.1; after Joshi et al.'s span masking).

Masked-LM targets are whole n-grams of words, with the length n drawn as

    p(n) = (1/n) / Σ_{k=1..N} (1/k),      N = max_ngram = 3   ->   p = [6/11, 3/11, 2/11]

until about 15% of the tokens are chosen; each chosen token then gets BERT's 80/10/10.

The reference shuffles candidate start words and, one at a time, draws n and skips n-grams that
overlap earlier ones or overflow the budget. Here the same two draws happen for the whole batch at
once: the words of every row are cut into consecutive n-grams with i.i.d. lengths n ~ p(n), the
n-grams are put in a random order, and the longest prefix of that order that fits the budget is
masked. N-grams never overlap, are whole words, and never contain special tokens.
"""
from __future__ import annotations

import torch

from snippets._checks import check_bool_like, check_generator, check_positive_int, check_probability, check_token_ids
from snippets.masking import bert_replace


def ngram_distribution(max_ngram: int = 3) -> torch.Tensor:
    """p(n) ∝ 1/n for n = 1..max_ngram (index 0 is n = 1)."""
    check_positive_int(max_ngram, "max_ngram")
    inv = 1.0 / torch.arange(1, max_ngram + 1, dtype=torch.float64)
    return (inv / inv.sum()).float()


# --8<-- [start:core]
def sample_ngrams(word_starts: torch.Tensor, valid: torch.Tensor, *, max_ngram: int = 3, mlm_probability: float = 0.15,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose whole-word n-grams up to round(mlm_probability · valid tokens) per row.

    Returns `selected` [B, L] (bool) and `ngram_words` [B, L]: the length in words of each chosen
    n-gram, indexed by n-gram number (0 where not chosen).
    """
    B, L = valid.shape
    device = valid.device
    # A word starts where the tokenizer says so, or where a run of valid tokens begins.
    prev_valid = torch.nn.functional.pad(valid[:, :-1], (1, 0), value=False)
    starts = valid & (word_starts | ~prev_valid)
    word_id = starts.long().cumsum(1) - 1                                          # [B, L], -1 before the first word
    # Cut the words into n-grams: i.i.d. lengths n ~ p(n); at most L n-grams per row.
    lengths = torch.multinomial(ngram_distribution(max_ngram).to(device).expand(B, -1), L, replacement=True,
                                generator=generator) + 1                           # [B, L] in words
    ngram_end = lengths.cumsum(1)                                                  # exclusive end word of each n-gram
    ngram_of_token = torch.searchsorted(ngram_end, word_id.clamp(min=0), right=True)  # [B, L]
    tokens_per_ngram = torch.zeros(B, L, dtype=torch.long, device=device).scatter_add_(1, ngram_of_token, valid.long())
    # Random order of the non-empty n-grams; take the longest prefix within the budget.
    budget = (valid.sum(1).double() * mlm_probability).round().clamp(min=1).long()  # [B]
    priority = torch.rand(B, L, generator=generator, device=device).masked_fill(tokens_per_ngram == 0, 2.0)
    order = priority.argsort(1)
    taken_sorted = tokens_per_ngram.gather(1, order).cumsum(1) <= budget[:, None]
    chosen = torch.zeros_like(taken_sorted).scatter_(1, order, taken_sorted) & (tokens_per_ngram > 0)
    selected = chosen.gather(1, ngram_of_token) & valid
    # Words per chosen n-gram (the last n-gram of a row may be cut short by the row's end).
    n_words = (starts.sum(1, keepdim=True) - (ngram_end - lengths)).clamp(min=0)
    ngram_words = torch.where(chosen, torch.minimum(lengths, n_words), torch.zeros_like(lengths))
    return selected, ngram_words


def ngram_mask(input_ids: torch.Tensor, word_starts: torch.Tensor, *, max_ngram: int = 3, mlm_probability: float = 0.15,
               mask_token_id: int, vocab_size: int, special_tokens_mask: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ALBERT's n-gram masking of a batch `input_ids` [B, L]; `word_starts` [B, L] marks each word's
    first token. Returns `(inputs, labels)`, labels -100 where nothing is predicted."""
    check_token_ids(input_ids)
    word_starts = check_bool_like(word_starts, input_ids, "word_starts")
    special = torch.zeros_like(word_starts) if special_tokens_mask is None else \
        check_bool_like(special_tokens_mask, input_ids, "special_tokens_mask")
    check_positive_int(max_ngram, "max_ngram")
    check_probability(mlm_probability, "mlm_probability", high_open=True)
    check_generator(generator, input_ids.device)
    selected, _ = sample_ngrams(word_starts, ~special, max_ngram=max_ngram, mlm_probability=mlm_probability, generator=generator)
    return bert_replace(input_ids, selected, mask_token_id=mask_token_id, vocab_size=vocab_size, generator=generator)
# --8<-- [end:core]
