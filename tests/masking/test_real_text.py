"""Every masking function on real input: English sentences tokenized by a WordPiece
trained on them (multi-piece words, [CLS]/[SEP], padding), cut to rows of 1 and 2
tokens, rows that are all special tokens, selections that come out empty, and
every integer dtype of the ids."""

from __future__ import annotations

import pytest
import torch
from english_text import encode

from snippets.albert.ngram_masking import ngram_mask
from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans
from snippets.roberta.dynamic_masking import mask_tokens
from snippets.xlnet.permutation_lm import plm_inputs

INT_DTYPES = [torch.uint8, torch.int16, torch.int32, torch.int64]
LENGTHS = [None, 1, 2]  # the whole padded batch, then rows cut to 1 and 2 tokens


@pytest.fixture(scope="module")
def text():
    batch = encode(pairs=True)
    # one more row that is all special tokens: [CLS] [SEP] [SEP] and padding
    tok = batch["tokenizer"]
    empty = torch.full_like(batch["input_ids"][:1], tok.pad_token_id)
    empty[0, :3] = torch.tensor(
        [tok.cls_token_id, tok.sep_token_id, tok.sep_token_id]
    )
    batch["input_ids"] = torch.cat([batch["input_ids"], empty])
    batch["special_tokens_mask"] = torch.cat(
        [batch["special_tokens_mask"], torch.ones_like(empty, dtype=torch.bool)]
    )
    batch["word_starts"] = torch.cat(
        [batch["word_starts"], torch.ones_like(empty, dtype=torch.bool)]
    )
    return batch


def _cut(text, length, dtype):
    ids, special, starts = (
        text[k] for k in ("input_ids", "special_tokens_mask", "word_starts")
    )
    if length is not None:
        ids, special, starts = (
            ids[:, :length],
            special[:, :length],
            starts[:, :length],
        )
    return ids.to(dtype), special, starts


def _word_units(starts, special):
    """Basic-level units for English: one unit per word (a run of pieces)."""
    return (starts | special).long().cumsum(1)


def _assert_masking(inputs, labels, ids, special, mask_id):
    assert labels.dtype == torch.int64 and labels.shape == ids.shape
    assert inputs.shape == ids.shape
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids.long()[chosen])
    assert torch.equal(inputs.long()[~chosen], ids.long()[~chosen])
    assert not chosen[special].any()
    assert (labels[-1] == -100).all()  # the all-special row
    return chosen


def _assert_whole_words(chosen, starts, special):
    units = _word_units(starts, special)
    for b in range(len(units)):
        for u in units[b][~special[b]].unique():
            word = (units[b] == u) & ~special[b]
            assert chosen[b][word].all() or not chosen[b][word].any()


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("length", LENGTHS)
def test_mask_tokens(text, dtype, length):
    ids, special, _ = _cut(text, length, dtype)
    mask_id = text["tokenizer"].mask_token_id
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=mask_id,
        vocab_size=len(text["tokenizer"]),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(0),
    )
    chosen = _assert_masking(inputs, labels, ids, special, mask_id)
    if length is None:
        assert chosen.any()


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("length", LENGTHS)
def test_ngram_mask(text, dtype, length):
    ids, special, starts = _cut(text, length, dtype)
    mask_id = text["tokenizer"].mask_token_id
    inputs, labels = ngram_mask(
        ids,
        starts,
        mask_token_id=mask_id,
        vocab_size=len(text["tokenizer"]),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(0),
    )
    chosen = _assert_masking(inputs, labels, ids, special, mask_id)
    _assert_whole_words(chosen, starts, special)
    # rows of 1 or 2 tokens hold no maskable word but [CLS] and at most one piece
    if length is not None:
        assert chosen.sum() <= ids.shape[0]


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("length", LENGTHS)
def test_knowledge_mask_with_words_as_units(text, dtype, length):
    ids, special, starts = _cut(text, length, dtype)
    mask_id = text["tokenizer"].mask_token_id
    inputs, labels = knowledge_mask(
        ids,
        _word_units(starts, special),
        mask_token_id=mask_id,
        vocab_size=len(text["tokenizer"]),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(0),
    )
    chosen = _assert_masking(inputs, labels, ids, special, mask_id)
    _assert_whole_words(chosen, starts, special)


def test_knowledge_mask_takes_a_phrase_whole(text):
    # "the quick brown fox" as one phrase-level unit, in the last sentence pair
    tok = text["tokenizer"]
    enc = tok("The quick brown fox jumps over the lazy dog.", return_tensors="pt")
    ids = enc["input_ids"]
    in_phrase = [w is not None and w < 4 for w in enc.word_ids()]  # its 4 words
    start, end = in_phrase.index(True), len(in_phrase) - in_phrase[::-1].index(True)
    assert end - start > 4  # some of those words have several pieces
    units = units_from_spans(ids.shape[1], [(start, end)])[None].repeat(200, 1)
    special = torch.zeros_like(units, dtype=torch.bool)
    special[:, 0] = special[:, -1] = True
    _, labels = knowledge_mask(
        ids.repeat(200, 1),
        units,
        mlm_probability=0.5,
        mask_token_id=tok.mask_token_id,
        vocab_size=len(tok),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(0),
    )
    phrase = (labels[:, start:end] != -100).sum(1)
    assert set(phrase.tolist()) <= {0, end - start} and (phrase > 0).any()


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("length", LENGTHS)
def test_plm_inputs(text, dtype, length):
    ids, special, _ = _cut(text, length, dtype)
    out = plm_inputs(
        ids, special_tokens_mask=special, generator=torch.Generator().manual_seed(0)
    )
    assert out["input_ids"] is ids
    mapping, labels = out["target_mapping"].bool(), out["labels"]
    assert labels.dtype == torch.int64
    assert not (mapping & special[:, None, :]).any()
    assert not mapping[-1].any()  # the all-special row has no target
    filled = labels != -100
    picked = out["target_mapping"].argmax(-1) if ids.shape[1] else labels
    assert torch.equal(labels[filled], ids.long().gather(1, picked)[filled])


def test_a_selection_that_comes_out_empty_is_all_minus_100(text):
    ids, special, _ = _cut(text, None, torch.int64)
    inputs, labels = mask_tokens(
        ids,
        mask_token_id=text["tokenizer"].mask_token_id,
        vocab_size=len(text["tokenizer"]),
        special_tokens_mask=special,
        mlm_probability=1e-9,
        generator=torch.Generator().manual_seed(0),
    )
    assert (labels == -100).all() and torch.equal(inputs, ids)
