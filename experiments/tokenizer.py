"""Tokenizers trained here on the training split, with the `tokenizers` library;
never from a hub.

- English: a WordPiece vocabulary (BERT's normalizer, lower-cased; BERT's
  pre-tokenizer, which splits on spaces and punctuation), 8,000 entries by default.
- Chinese: one token per character (the most frequent characters of the training
  split); a character's token index equals its offset in the text, so the corpus's
  character spans (words, phrases, entities) index tokens directly.

Both are cached as JSON under `.cache/experiments/tokenizers/` (gitignored), keyed
on the corpus, its version and the settings; training is deterministic, so a missing
cache is rebuilt identically.

Whole-word masking needs to know where words start. With WordPiece that is in the
tokens themselves: a piece that continues a word is written `##piece` (BERT's own
rule in `create_pretraining_data.py`). `word_start_table(tokenizer)[ids]` turns any
id tensor, even after pairing and truncation, into the word-start mask that the
masking snippets take.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import torch

from experiments.corpora import Document, brown, peoples_daily

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "experiments" / "tokenizers"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# the trainers below put the special tokens first, so their ids are fixed
PAD, UNK, CLS, SEP, MASK = range(len(SPECIAL_TOKENS))
Segments = list[list[int]]  # one document: its sentences as lists of token ids


def _cached(name: str, settings: dict, train):
    from tokenizers import Tokenizer, __version__

    key = json.dumps({**settings, "tokenizers": __version__}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    path = CACHE / f"{name}-{digest}.json"
    if path.is_file():
        return Tokenizer.from_file(str(path))
    tokenizer = train()
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{digest}.tmp")
    tokenizer.save(str(tmp))
    tmp.replace(path)  # atomic: concurrent ranks never read a half-written file
    return tokenizer


def _sentences(documents: list[Document]):
    for document in documents:
        for sentence in document.sentences:
            yield sentence.text


def train_wordpiece(texts: Iterable[str], vocab_size: int):
    """BERT's WordPiece setup (lower-casing normalizer, whitespace and punctuation
    pre-tokenizer), trained on `texts`; the special tokens take ids 0-4.

    The trainer numbers the `##c` continuation pieces in hash-map order, and ties
    between equally frequent merges go to the lower ids, so two runs can learn
    different vocabularies. Registering every `##c` up front, in sorted order,
    fixes those ids and makes training deterministic."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    texts = list(texts)
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    characters = {
        c
        for text in texts
        for word, _ in pre_tokenizer.pre_tokenize_str(
            normalizer.normalize_str(text)
        )
        for c in word
    }
    continuations = ["##" + c for c in sorted(characters)]
    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer, trained.pre_tokenizer = normalizer, pre_tokenizer
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS + continuations,
        show_progress=False,
    )
    trained.train_from_iterator(texts, trainer)
    # the same vocabulary, with only the 5 real special tokens marked special
    tokenizer = Tokenizer(models.WordPiece(trained.get_vocab(), unk_token="[UNK]"))
    tokenizer.normalizer, tokenizer.pre_tokenizer = normalizer, pre_tokenizer
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    return tokenizer


def train_characters(texts: Iterable[str], vocab_size: int):
    """One token per character, the most frequent ones of `texts` (at most
    `vocab_size` tokens, the 5 special ones included); others become [UNK]."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), "isolated")
    trainer = trainers.WordLevelTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def english_wordpiece(vocab_size: int = 8000):
    """WordPiece trained on Brown's training split, cached."""
    settings = {
        "corpus": brown.VERSION,
        "model": "wordpiece-2",
        "vocab": vocab_size,
    }
    return _cached(
        f"brown-wordpiece-{vocab_size}",
        settings,
        lambda: train_wordpiece(_sentences(brown.load("train")), vocab_size),
    )


def chinese_characters(vocab_size: int = 6000):
    """Characters of People's Daily's training split, cached."""
    settings = {
        "corpus": peoples_daily.VERSION,
        "model": "chars",
        "vocab": vocab_size,
    }
    return _cached(
        f"peoples-daily-chars-{vocab_size}",
        settings,
        lambda: train_characters(
            _sentences(peoples_daily.load("train")), vocab_size
        ),
    )


def word_start_table(tokenizer) -> torch.Tensor:
    """[vocab_size] bool: True for tokens that start a word, False for `##`
    continuations and the special tokens ([UNK] stands for a whole word, so it
    starts one). Index it with token ids to get a batch's `word_starts`."""
    table = torch.ones(tokenizer.get_vocab_size(), dtype=torch.bool)
    for token, index in tokenizer.get_vocab().items():
        if token.startswith("##") or token in SPECIAL_TOKENS and index != UNK:
            table[index] = False
    return table


def encode_documents(tokenizer, documents: list[Document]) -> list[Segments]:
    """Documents -> sentences -> token ids (no special tokens): the shape that the
    pair builders of `snippets.albert.sop` take, one segment per sentence."""
    texts = [s.text for d in documents for s in d.sentences]
    encoded = []
    for start in range(0, len(texts), 4096):  # bounded memory: ids only are kept
        chunk = texts[start : start + 4096]
        encoded += [
            e.ids for e in tokenizer.encode_batch(chunk, add_special_tokens=False)
        ]
    out, k = [], 0
    for document in documents:
        n = len(document.sentences)
        out.append(encoded[k : k + n])
        k += n
    return out
