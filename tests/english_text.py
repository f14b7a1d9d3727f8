"""Real English sentences, WordPiece-tokenized by a tokenizer trained here on them.

Nothing comes from a hub: `tokenizers`' WordPiece trainer learns a small
vocabulary from `SENTENCES`, so that most long words split into several pieces
(`##` marks a continuation, as in BERT). `encode` returns what the masking
snippets take: ids, the special-tokens mask and the word starts.
"""

from __future__ import annotations

import functools

import torch

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

SENTENCES = [
    "The committee postponed the announcement until the spreadsheets were checked.",
    "Unbelievably, the experimental telescope photographed a distant supernova.",
    "Her grandmother's recipe requires cinnamon, cardamom and unsalted butter.",
    "Researchers misinterpreted the measurements because the thermometer drifted.",
    "A photographer documented the reconstruction of the medieval cathedral.",
    "The pharmaceutical company underestimated the manufacturing difficulties.",
    "Volunteers repainted the playground before the neighbourhood celebration.",
    "Tokenization splits uncommon words into smaller, reusable subword pieces.",
    "The archaeologists catalogued thousands of fragments from the excavation.",
    "Meteorologists predicted thunderstorms throughout the mountainous region.",
    "His unconventional strategy surprised the overconfident chess champion.",
    "The librarian reorganized the encyclopedias alphabetically by subject.",
    "Microorganisms decompose fallen leaves into nutrient-rich topsoil.",
    "After the renovation, the restaurant introduced a vegetarian breakfast.",
    "The orchestra rehearsed Tchaikovsky's symphony for the anniversary concert.",
    "Engineers strengthened the suspension bridge against earthquakes.",
    "Cross-country skiers navigated the snow-covered trails at sunrise.",
    "The mathematician generalized the theorem to infinite-dimensional spaces.",
    "Biodiversity declines when wetlands are drained for agriculture.",
    "The translator preserved the playfulness of the original manuscript.",
    "Kindergarten teachers encouraged the children to share their crayons.",
    "Satellite observations confirmed the unprecedented melting of glaciers.",
    "The entrepreneur transformed an abandoned warehouse into apartments.",
    "Pre-training on unlabeled text makes downstream fine-tuning cheaper.",
    "Masked language models reconstruct the words hidden from their input.",
    "A bicycle courier delivered the paperwork to the embassy at noon.",
    "Unfortunately, the photocopier malfunctioned during the examination.",
    "The zookeeper weighed the hippopotamus with an industrial scale.",
    "Distillation and pruning shrink overparameterized networks.",
    "The quick brown fox jumps over the lazy dog.",
]


@functools.lru_cache(maxsize=4)
def english_wordpiece_tokenizer(vocab_size: int = 300):
    """A BERT-style WordPiece tokenizer trained on `SENTENCES` (lower-cased;
    [CLS] A [SEP] or [CLS] A [SEP] B [SEP])."""
    from tokenizers import (
        Tokenizer,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(SENTENCES, trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def encode(sentences=SENTENCES, pairs: bool = False, vocab_size: int = 300) -> dict:
    """A padded batch: `input_ids` [B, L] (int64), `special_tokens_mask` (bool:
    [CLS], [SEP] and [PAD]), `word_starts` (bool: a piece that does not start
    with ##, as the ALBERT release's `_is_start_piece_bert`) and `tokens`."""
    tokenizer = english_wordpiece_tokenizer(vocab_size)
    if pairs:
        enc = tokenizer(
            list(sentences[0::2]),
            list(sentences[1::2]),
            padding=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
    else:
        enc = tokenizer(
            list(sentences),
            padding=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
    tokens = [tokenizer.convert_ids_to_tokens(row) for row in enc["input_ids"]]
    word_starts = torch.tensor(
        [[not t.startswith("##") for t in row] for row in tokens], dtype=torch.bool
    )
    return {
        "input_ids": enc["input_ids"],
        "special_tokens_mask": enc["special_tokens_mask"].bool(),
        "word_starts": word_starts,
        "tokens": tokens,
        "tokenizer": tokenizer,
    }
