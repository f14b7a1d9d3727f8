"""span_mask -> SpanBoundaryHead -> spanbert_loss on real English sentences, cut
into word pieces by a WordPiece vocabulary trained here on the same sentences.

The vocabulary is small, so most words split into several pieces: span_mask counts
its spans in words while the head's position table counts pieces, which is where
the two defaults used to clash ("a span is longer than max_span_length").
"""

import pytest
import torch
from tokenizers import (
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from torch import nn

from snippets.spanbert.span_boundary_objective import (
    SpanBoundaryHead,
    span_token_positions,
    spanbert_loss,
)
from snippets.spanbert.span_masking import masked_runs, span_mask

SENTENCES = [
    "The committee postponed its decision until the independent auditors had "
    "finished reviewing the quarterly statements.",
    "Yes.",
    "Thank you very much.",
    "Researchers at the observatory photographed an unexpectedly bright comet "
    "travelling between Jupiter and Saturn.",
    "She reorganised the kitchen cupboards before her grandparents arrived.",
    "Unbelievably, the experimental submarine surfaced beside the lighthouse "
    "without anybody noticing.",
    "Rain again.",
    "Photosynthesis converts sunlight, water and carbon dioxide into glucose and "
    "oxygen inside chloroplasts.",
    "The volunteers distributed blankets, thermoses and sandwiches throughout the "
    "freezing night.",
    "Negotiations between the neighbouring municipalities collapsed over "
    "disagreements about recycling contracts.",
    "Our neighbour's enthusiastic dachshund barks whenever the postman approaches.",
    "Misunderstandings multiply when nobody documents the requirements carefully.",
]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def tokenizer():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        SENTENCES,
        trainers.WordPieceTrainer(vocab_size=160, special_tokens=SPECIALS),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    return tok


def _batch(tok):
    encodings = tok.encode_batch(SENTENCES)
    ids = torch.tensor([e.ids for e in encodings])
    special = torch.tensor(
        [
            [
                bool(s) or not a
                for s, a in zip(
                    e.special_tokens_mask, e.attention_mask, strict=True
                )
            ]
            for e in encodings
        ]
    )
    word_starts = torch.tensor(
        [
            [
                w is not None and (i == 0 or e.word_ids[i - 1] != w)
                for i, w in enumerate(e.word_ids)
            ]
            for e in encodings
        ]
    )
    return ids, word_starts, special


def test_the_sentences_have_multi_piece_words_and_short_rows(tokenizer):
    ids, word_starts, special = _batch(tokenizer)
    pieces_per_word = (~special).sum() / word_starts.sum()
    assert pieces_per_word > 2  # most words are several pieces
    assert ((~special).sum(1) <= 4).any()  # and some rows are 2 to 4 pieces long


@pytest.mark.parametrize("mask_ratio", [0.15, 0.5])
def test_span_mask_feeds_the_head_and_the_loss(tokenizer, mask_ratio):
    ids, word_starts, special = _batch(tokenizer)
    V, H = tokenizer.get_vocab_size(), 32
    torch.manual_seed(0)
    embed, mlm = nn.Embedding(V, H), nn.Linear(H, V)
    head = SpanBoundaryHead(H, V)  # the defaults: 15 pieces of position table
    longest = 0
    for seed in range(6):
        g = torch.Generator().manual_seed(seed)
        inputs, labels, spans = span_mask(
            ids,
            word_starts,
            mask_ratio=mask_ratio,
            mask_token_id=tokenizer.token_to_id("[MASK]"),
            vocab_size=V,
            special_tokens_mask=special,
            generator=g,
        )
        masked = labels != -100
        assert torch.equal(spans, masked_runs(masked))
        row, start, end = spans.unbind(1)
        # both boundaries are real, unmasked tokens: [CLS] and [SEP] frame each row
        assert not masked[row, start - 1].any() and not masked[row, end].any()
        longest = max(longest, int((end - start).max()) if len(spans) else 0)
        hidden = embed(inputs)
        loss = spanbert_loss(mlm(hidden), labels, head, hidden, spans, ids)
        assert torch.isfinite(loss)
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in head.parameters())
        # SBO predicts the first 15 pieces of every run, MLM every masked piece
        _, position, _ = span_token_positions(spans, head.max_span_length)
        assert len(position) == int((end - start).clamp(max=15).sum())
    # the old 10-token table refused runs this long; 15 pieces truncate them
    assert longest > (15 if mask_ratio == 0.5 else 1)


def test_rows_of_128_pieces_mask_exactly_15_percent(tokenizer):
    # Real text, as pre-training packs it: consecutive sentences filling rows of
    # 128 pieces. Taking spans only while they fit used to mask 12% of such rows;
    # the reference fills the budget exactly (see test_span_masking.py).
    texts = [" ".join(SENTENCES[k:] + SENTENCES[:k]) for k in range(12)]
    rows = [e.ids[:127] + [e.ids[-1]] for e in tokenizer.encode_batch(texts)]
    assert min(len(r) for r in rows) == 128  # every row is full
    ids = torch.tensor(rows)
    special = (ids == tokenizer.token_to_id("[CLS]")) | (
        ids == tokenizer.token_to_id("[SEP]")
    )
    vocab = tokenizer.get_vocab()
    starts = torch.tensor(
        [not t.startswith("##") for t in sorted(vocab, key=vocab.get)]
    )
    for seed in range(5):
        _, labels, _ = span_mask(
            ids,
            starts[ids],
            mask_token_id=tokenizer.token_to_id("[MASK]"),
            vocab_size=len(vocab),
            special_tokens_mask=special,
            generator=torch.Generator().manual_seed(seed),
        )
        assert ((labels != -100).sum(1) == round(0.15 * 126)).all()  # 19 of 126
