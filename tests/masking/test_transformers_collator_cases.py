"""The label conventions of transformers' data collators, ported from
huggingface/transformers `tests/trainer/test_data_collator.py` (the
DataCollatorForLanguageModeling, DataCollatorForWholeWordMask and
DataCollatorForPermutationLanguageModeling tests), re-expressed in our own code
against our API: `mask_tokens` (RoBERTa), whole-word `ngram_mask` with n = 1 and
the word grouping of `snippets.masking`, and `plm_inputs` (XLNet).

The collator tests use ids 0..9 over a five-token vocabulary; our functions
reject ids at or above `vocab_size`, so the batches here are real English
sentences tokenized by a WordPiece trained on them (`english_text.py`).
"""

from __future__ import annotations

import pytest
import torch
from english_text import encode

from snippets.albert.ngram_masking import ngram_mask
from snippets.masking import choose_within_budget, word_spans
from snippets.roberta.dynamic_masking import mask_tokens
from snippets.xlnet.permutation_lm import plm_inputs
from stats import assert_rate


@pytest.fixture(scope="module")
def text():
    return encode()


def _two_rows(text, lengths=(10, 10)):
    """Two rows cut to `lengths` tokens, padded to the longer with [PAD] (special),
    as the collator tests' `pad_features` ([5 tokens], [10 tokens])."""
    L = max(lengths)
    ids = text["input_ids"][:2, :L].clone()
    special = text["special_tokens_mask"][:2, :L].clone()
    pad = text["tokenizer"].pad_token_id
    for row, n in enumerate(lengths):
        ids[row, n:] = pad
        special[row, n:] = True
    return ids, special


def _mlm(text, ids, special, **kw):
    return mask_tokens(
        ids,
        mask_token_id=text["tokenizer"].mask_token_id,
        vocab_size=len(text["tokenizer"]),
        special_tokens_mask=special,
        **kw,
    )


# ---- DataCollatorForLanguageModeling --------------------------------------------


@pytest.mark.parametrize("lengths", [(10, 10), (5, 10)], ids=["no-pad", "pad"])
def test_mlm_labels_are_minus_100_exactly_off_the_masked_tokens(text, lengths):
    # test_mlm_mode / test_mlm_with_padding: labels have the inputs' shape, some
    # token is masked and every label off the masked tokens is -100. With every
    # chosen token replaced by [MASK] that holds exactly, in both directions.
    ids, special = _two_rows(text, lengths)
    mask_id = text["tokenizer"].mask_token_id
    for seed in range(20):
        inputs, labels = _mlm(
            text,
            ids,
            special,
            mlm_probability=0.5,
            mask_replace_prob=1.0,
            random_replace_prob=0.0,
            generator=torch.Generator().manual_seed(seed),
        )
        assert inputs.shape == labels.shape == ids.shape
        assert labels.dtype == torch.int64
        masked = inputs == mask_id
        assert torch.equal(labels != -100, masked)
        assert torch.equal(labels[masked], ids[masked])
        assert not masked[special].any()  # padding and [CLS]/[SEP] never


def test_mlm_default_labels_cover_masked_random_and_kept_tokens(text):
    # With 80/10/10 a chosen token may stay or turn random: it still has a label,
    # and every [MASK] in the output has one.
    ids, special = text["input_ids"], text["special_tokens_mask"]
    inputs, labels = _mlm(
        text, ids, special, generator=torch.Generator().manual_seed(0)
    )
    chosen = labels != -100
    assert (labels[inputs == text["tokenizer"].mask_token_id] != -100).all()
    assert torch.equal(inputs[~chosen], ids[~chosen])
    assert torch.equal(labels[chosen], ids[chosen])


def test_mlm_seed_reproducibility(text):
    # test_mlm_seed_reproducibility: the same seed gives the same batch, another
    # seed another batch (two rows of 1000 tokens there; the whole corpus here)
    ids, special = text["input_ids"], text["special_tokens_mask"]
    a, b, c = (
        _mlm(text, ids, special, generator=torch.Generator().manual_seed(s))
        for s in (42, 42, 43)
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_mlm_does_not_mutate_its_input(text):
    # test_immutability
    ids, special = _two_rows(text, (5, 10))
    before = ids.clone(), special.clone()
    _mlm(text, ids, special, generator=torch.Generator().manual_seed(0))
    assert torch.equal(ids, before[0]) and torch.equal(special, before[1])


@pytest.mark.parametrize(
    "mask_p, random_p",
    [(0.8, 0.1), (1.0, 0.0), (0.0, 1.0), (0.5, 0.4)],
)
def test_mask_and_random_replace_probabilities(text, mask_p, random_p):
    # the settings DataCollatorForLanguageModeling documents (data_collator.py): of
    # the chosen tokens, mask_p become [MASK], random_p a random id, the rest stay
    ids = text["input_ids"].repeat(20, 1)
    special = text["special_tokens_mask"].repeat(20, 1)
    V = len(text["tokenizer"])
    inputs, labels = _mlm(
        text,
        ids,
        special,
        mlm_probability=0.5,
        mask_replace_prob=mask_p,
        random_replace_prob=random_p,
        generator=torch.Generator().manual_seed(1),
    )
    chosen = labels != -100
    n = int(chosen.sum())
    masked = inputs[chosen] == text["tokenizer"].mask_token_id
    kept = inputs[chosen] == ids[chosen]
    # a random id can be the original or [MASK] itself, once in V
    expect_masked = mask_p + random_p / V
    expect_kept = (1 - mask_p - random_p) + random_p / V
    for observed, expected, what in (
        (masked.double().mean(), expect_masked, "[MASK]"),
        (kept.double().mean(), expect_kept, "kept"),
    ):
        if expected in (0.0, 1.0):
            assert float(observed) == expected, what
        else:
            assert_rate(observed, expected, n, what)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mlm_probability": 1.5}, "mlm_probability"),
        ({"mlm_probability": -0.1}, "mlm_probability"),
        ({"mask_replace_prob": 0.9, "random_replace_prob": 0.2}, "must be <= 1"),
        ({"mask_replace_prob": -0.1}, "mask_replace_prob"),
        ({"random_replace_prob": 1.1}, "random_replace_prob"),
    ],
)
def test_mlm_rejects_what_the_collator_rejects(text, kwargs, match):
    # __post_init__'s checks; mlm_probability = 0 is a no-op there, an error here
    ids, special = _two_rows(text)
    with pytest.raises(ValueError, match=match):
        _mlm(text, ids, special, **kwargs)


# ---- DataCollatorForWholeWordMask (whole_word_mask=True) ------------------------

# test_calc_word_ids_and_prob_mask: token offsets and special tokens, and the
# word ids (1, 2, ... per row; -1 on special tokens) and the "not a word start"
# mask that the collator computes from them
OFFSETS = [
    [(0, 0), (0, 3), (3, 4), (5, 6), (6, 7), (8, 9)],
    [(0, 0), (0, 3), (3, 4), (5, 6), (6, 7), (0, 0)],
    [(0, 0), (0, 3), (3, 4), (0, 0), (6, 7), (0, 0)],
    [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7)],
    [(1, 1), (2, 2), (3, 4), (5, 6), (7, 8), (9, 10)],
    [(0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0)],
]
SPECIAL = [
    [1, 0, 0, 0, 0, 0],
    [1, 0, 0, 0, 0, 1],
    [1, 0, 0, 1, 0, 1],
    [0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1],
]
WORD_IDS = [
    [-1, 1, 1, 2, 2, 3],
    [-1, 1, 1, 2, 2, -1],
    [-1, 1, 1, -1, 2, -1],
    [1, 1, 1, 1, 1, 1],
    [1, 2, 3, 4, 5, 6],
    [-1, -1, -1, -1, -1, -1],
]
NOT_A_WORD_START = [
    [1, 0, 1, 0, 1, 0],
    [1, 0, 1, 0, 1, 1],
    [1, 0, 1, 1, 0, 1],
    [0, 1, 1, 1, 1, 1],
    [0, 0, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1],
]


def _word_starts_from_offsets(offsets: torch.Tensor) -> torch.Tensor:
    """A token starts a word unless it begins where the previous token ended."""
    previous_end = torch.cat(
        [torch.full_like(offsets[:, :1, 1], -1), offsets[:, :-1, 1]], 1
    )
    return offsets[:, :, 0] != previous_end


def test_word_ids_from_offsets_match_the_collator():
    offsets, special = torch.tensor(OFFSETS), torch.tensor(SPECIAL).bool()
    valid = ~special
    word_of_token, _, _ = word_spans(
        _word_starts_from_offsets(offsets), valid, torch.tensor([1.0])
    )
    ours = torch.where(valid, word_of_token + 1, -1)  # 1-based, -1 off words
    assert ours.tolist() == WORD_IDS
    # a word starts after a special token even when the offsets touch (row 2)
    starts = valid & (
        _word_starts_from_offsets(offsets)
        | torch.cat([torch.ones(6, 1, dtype=torch.bool), special[:, :-1]], 1)
    )
    assert (~starts).int().tolist() == NOT_A_WORD_START


# test_whole_word_mask_internal: a token mask spreads to every token of its word
WWM_WORD_IDS = [
    [-1, 1, 1, 2, 2, 3],
    [-1, 1, 1, 2, 2, -1],
    [-1, 1, 1, -1, 2, -1],
    [1, 1, 1, 1, 1, 1],
    [1, 2, 3, 4, 5, 6],
    [1, 2, 3, 4, 5, 6],
    [-1, -1, -1, -1, -1, -1],
]
WWM_MASK = [
    [0, 1, 0, 0, 0, 0],
    [0, 1, 0, 1, 0, 0],
    [0, 0, 0, 0, 1, 0],
    [1, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 1, 0, 1],
    [0, 0, 0, 0, 0, 0],
]
WWM_EXPECTED = [
    [0, 1, 1, 0, 0, 0],
    [0, 1, 1, 1, 1, 0],
    [0, 0, 0, 0, 1, 0],
    [1, 1, 1, 1, 1, 1],
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 1, 0, 1],
    [0, 0, 0, 0, 0, 0],
]


def test_whole_word_expansion_matches_the_collator():
    # Our pipeline: choose units (here: the words holding a masked token, all of
    # which fit the budget), then spread the choice to every token of the unit.
    word_ids, token_mask = torch.tensor(WWM_WORD_IDS), torch.tensor(WWM_MASK).bool()
    valid = word_ids >= 0
    units = word_ids.clamp(min=0)
    U = int(units.max()) + 1
    hits = torch.zeros(len(units), U, dtype=torch.long)
    hit = hits.scatter_add_(1, units, (token_mask & valid).long()) > 0
    chosen = choose_within_budget(
        units,
        valid,
        torch.full((len(units),), 6),
        eligible=hit,
        generator=torch.Generator().manual_seed(0),
    )
    assert (chosen.gather(1, units) & valid).int().tolist() == WWM_EXPECTED


def test_whole_word_masking_labels_on_real_text(text):
    # test_basic / test_seed_reproducibility / test_immutability, with n-grams of
    # one word (whole-word masking): labels have the inputs' shape, int64, -100
    # off the chosen words; a seed repeats; nothing is mutated
    ids, special, starts = (
        text[k][:2, :10].clone()
        for k in ("input_ids", "special_tokens_mask", "word_starts")
    )
    before = ids.clone()
    tok = text["tokenizer"]

    def run(seed):
        return ngram_mask(
            ids,
            starts,
            max_ngram=1,
            mlm_probability=0.3,
            mask_token_id=tok.mask_token_id,
            vocab_size=len(tok),
            special_tokens_mask=special,
            generator=torch.Generator().manual_seed(seed),
        )

    (inputs, labels), again = run(42), run(42)
    assert inputs.shape == labels.shape == (2, 10) and labels.dtype == torch.int64
    assert torch.equal(inputs, again[0]) and torch.equal(labels, again[1])
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen]) and chosen.any()
    assert torch.equal(ids, before)


# ---- DataCollatorForPermutationLanguageModeling ---------------------------------


@pytest.mark.parametrize("lengths", [(10, 10), (4, 10)], ids=["no-pad", "pad"])
def test_plm_shapes_and_labels(text, lengths):
    # test_basic / test_with_padding: perm_mask [2, 10, 10] and labels for a
    # [2, 10] batch; the collator's target_mapping is a 10 x 10 identity and its
    # labels [2, 10] hold -100 off the targets. Ours lists the K targets: the
    # labels spread back over positions are the collator's labels.
    ids, special = _two_rows(text, lengths)
    out = plm_inputs(
        ids, special_tokens_mask=special, generator=torch.Generator().manual_seed(0)
    )
    K = out["target_mapping"].shape[1]
    assert out["input_ids"].shape == (2, 10)
    assert out["perm_mask"].shape == (2, 10, 10)
    assert out["target_mapping"].shape == (2, K, 10)
    assert out["labels"].shape == (2, K) and out["labels"].dtype == torch.int64
    per_position = torch.full((2, 10), -100)
    for b in range(2):
        for k in (out["labels"][b] != -100).nonzero()[:, 0]:
            per_position[b, out["target_mapping"][b, k].argmax()] = out["labels"][
                b, k
            ]
    targets = per_position != -100
    assert torch.equal(per_position[targets], ids[targets])
    assert not targets[special].any()  # padding and specials are never targets


def test_plm_accepts_odd_lengths_where_the_collator_raises(text):
    # test_odd_sequence_error: the collator needs an even length (it permutes
    # two halves, for Transformer-XL's memory); with no memory here, 5 works
    ids, special = _two_rows(text, (5, 5))
    out = plm_inputs(
        ids[:, :5],
        special_tokens_mask=special[:, :5],
        generator=torch.Generator().manual_seed(0),
    )
    assert out["perm_mask"].shape == (2, 5, 5)


def test_plm_does_not_mutate_its_input(text):
    ids, special = _two_rows(text, (4, 10))
    before = ids.clone()
    plm_inputs(
        ids, special_tokens_mask=special, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(ids, before)
