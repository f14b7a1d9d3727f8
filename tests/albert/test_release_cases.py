"""Cases ported from ALBERT's released data pipeline, `create_pretraining_data.py`
of google-research/albert, re-expressed in our own code against our API.

- the n-gram length distribution: `pvals = 1 / arange(1, ngram + 1)`, normalized,
  with the flag `ngram = 3`;
- whole-word grouping (`do_whole_word_mask`, `_is_start_piece_bert`): a piece
  that starts with `##` joins the word before it, and [CLS] / [SEP] are never
  candidates;
- the budget: `num_to_predict = max(1, int(round(len(tokens) * masked_lm_prob)))`
  with `masked_lm_prob = 0.15` (Python's round: ties to even), and never more
  than that many predictions;
- the replacement tree: [MASK] when a draw is below 0.8, else the original or a
  random word with equal odds.

Where the snippet differs on purpose (its budget counts maskable tokens only, no
`max_predictions_per_seq` cap), the tests say so.
"""

from __future__ import annotations

import pytest
import torch
from english_text import encode

from snippets.albert.ngram_masking import (
    ngram_distribution,
    ngram_mask,
    sample_ngrams,
)
from snippets.masking import bert_replace, masking_budget, word_spans


def _release_pvals(ngram: int) -> list[float]:
    inverse = [1.0 / n for n in range(1, ngram + 1)]
    return [v / sum(inverse) for v in inverse]


def _release_candidates(tokens: list[str]) -> list[list[int]]:
    """The release's `cand_indexes` with whole-word masking on: [CLS] and [SEP]
    are skipped, a `##` piece joins the candidate before it."""
    candidates: list[list[int]] = []
    for i, token in enumerate(tokens):
        if token in ("[CLS]", "[SEP]", "[PAD]"):  # [PAD] comes later in the release
            continue
        if candidates and token.startswith("##"):
            candidates[-1].append(i)
        else:
            candidates.append([i])
    return candidates


@pytest.mark.parametrize("ngram", [1, 2, 3, 4, 6])
def test_ngram_distribution_is_the_release_pvals(ngram):
    assert torch.allclose(
        ngram_distribution(ngram).double(),
        torch.tensor(_release_pvals(ngram), dtype=torch.float64),
        atol=1e-7,
    )
    if ngram == 3:  # the flag's default
        assert torch.allclose(ngram_distribution(3), torch.tensor([6, 3, 2]) / 11)


def test_words_are_the_release_candidates_on_real_wordpiece_text():
    batch = encode()
    valid = ~batch["special_tokens_mask"]
    # one word per span: span_of_token numbers each token's word
    word_of_token, _, _ = word_spans(
        batch["word_starts"], valid, torch.tensor([1.0])
    )
    multi_piece = 0
    for b, tokens in enumerate(batch["tokens"]):
        ours: dict[int, list[int]] = {}
        for i in valid[b].nonzero()[:, 0].tolist():
            ours.setdefault(int(word_of_token[b, i]), []).append(i)
        release = _release_candidates(tokens)
        assert list(ours.values()) == release, tokens
        multi_piece += sum(len(c) > 1 for c in release)
    assert multi_piece > 50  # the text really has multi-piece words


def test_ngram_masking_takes_release_candidates_whole_on_real_text():
    batch = encode()
    for seed in range(5):
        inputs, labels = ngram_mask(
            batch["input_ids"],
            batch["word_starts"],
            mask_token_id=batch["tokenizer"].mask_token_id,
            vocab_size=len(batch["tokenizer"]),
            special_tokens_mask=batch["special_tokens_mask"],
            generator=torch.Generator().manual_seed(seed),
        )
        selected = labels != -100
        for b, tokens in enumerate(batch["tokens"]):
            for word in _release_candidates(tokens):
                chosen = selected[b, word]
                assert chosen.all() or not chosen.any(), [tokens[i] for i in word]
        assert not selected[batch["special_tokens_mask"]].any()


@pytest.mark.parametrize("n", [*range(0, 40), 50, 70, 90, 110, 510, 512])
def test_budget_is_the_release_num_to_predict_over_maskable_tokens(n):
    # num_to_predict = min(max_predictions_per_seq, max(1, int(round(n * 0.15)))),
    # without the cap (the snippet has none) and over the maskable tokens (the
    # release's len(tokens) also counts [CLS] and [SEP])
    valid = torch.zeros(1, 600, dtype=torch.bool)
    valid[0, :n] = True
    assert int(masking_budget(valid, 0.15)) == max(1, int(round(n * 0.15)))


def test_budget_ties_round_to_even_as_python_round():
    # 10, 30, 50, 70 tokens at 0.15 are 1.5, 4.5, 7.5, 10.5
    valid = torch.arange(80)[None] < torch.tensor([[10], [30], [50], [70]])
    assert masking_budget(valid, 0.15).tolist() == [2, 4, 8, 10]


def test_never_more_predictions_than_the_budget_on_real_text():
    batch = encode(pairs=True)
    valid = ~batch["special_tokens_mask"]
    budget = masking_budget(valid, 0.15)
    for seed in range(10):
        selected, _ = sample_ngrams(
            batch["word_starts"],
            valid,
            generator=torch.Generator().manual_seed(seed),
        )
        assert (selected.sum(1) <= budget).all()


def test_replacement_tree_gives_the_release_80_10_10():
    # The release draws r < 0.8 -> [MASK]; else r' < 0.5 -> keep, else random:
    # P = 0.8, 0.1, 0.1. bert_replace reads one uniform u per token: u < 0.8 ->
    # [MASK], 0.8 <= u < 0.9 -> random, u >= 0.9 -> kept.
    u = (torch.arange(1000, dtype=torch.float64) + 0.5)[None] / 1000
    ids = torch.full((1, 1000), 7)
    inputs, labels = bert_replace(
        ids,
        torch.ones_like(ids, dtype=torch.bool),
        mask_token_id=4,
        vocab_size=10**6,  # (with this seed, no random id is 4 or 7)
        uniform=u,
        generator=torch.Generator().manual_seed(0),
    )
    masked, kept = inputs == 4, inputs == 7
    randomized = ~masked & ~kept
    assert torch.equal(masked, u < 0.8) and torch.equal(kept, u >= 0.9)
    assert (masked.double().mean(), randomized.double().mean()) == (0.8, 0.1)
    assert (labels == 7).all()
