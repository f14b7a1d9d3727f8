"""Local tokenizers: trained on the real corpora, cached, deterministic; word
starts derivable from the tokens themselves."""

from __future__ import annotations

import torch

from experiments import tokenizer as tk
from experiments.corpora import brown, peoples_daily


def test_english_wordpiece_is_cached_with_the_special_tokens_first():
    tok = tk.english_wordpiece()
    assert tok.get_vocab_size() == 8000
    assert [tok.id_to_token(i) for i in range(5)] == tk.SPECIAL_TOKENS
    assert list(tk.CACHE.glob("brown-wordpiece-8000-*.json"))
    assert tk.english_wordpiece().get_vocab() == tok.get_vocab()


def test_training_is_deterministic():
    texts = [s.text for d in brown.load("train")[:20] for s in d.sentences]
    first, second = (tk.train_wordpiece(texts, 1500) for _ in range(2))
    assert first.to_str() == second.to_str()
    zh = [s.text for d in peoples_daily.load("train")[:20] for s in d.sentences]
    first, second = (tk.train_characters(zh, 1000) for _ in range(2))
    assert first.to_str() == second.to_str()


def test_word_starts_follow_the_words_of_real_multi_piece_sentences():
    tok = tk.english_wordpiece()
    table = tk.word_start_table(tok)
    sentences = [s.text for s in brown.load("held_out")[0].sentences[:200]]
    multi_piece = 0
    for encoding in tok.encode_batch(sentences, add_special_tokens=False):
        words = encoding.word_ids
        expected = [i == 0 or words[i] != words[i - 1] for i in range(len(words))]
        assert table[encoding.ids].tolist() == expected
        # google-research/bert create_pretraining_data.py, whole-word masking: a
        # token starting with "##" joins the previous word's candidate indexes
        cand_indexes = []
        for i, token in enumerate(encoding.tokens):
            if cand_indexes and token.startswith("##"):
                cand_indexes[-1].append(i)
            else:
                cand_indexes.append([i])
        assert [c[0] for c in cand_indexes] == table[
            encoding.ids
        ].nonzero().flatten().tolist()
        multi_piece += len(words) - len(set(words))
    assert multi_piece > 100  # the check ran over many multi-piece words
    fulton = tok.encode("Fulton", add_special_tokens=False)
    assert fulton.tokens == ["ful", "##ton"]
    assert table[fulton.ids].tolist() == [True, False]
    assert not table[[tk.PAD, tk.CLS, tk.SEP, tk.MASK]].any() and table[tk.UNK]


def test_chinese_characters_index_the_corpus_spans_directly():
    tok = tk.chinese_characters()
    sentence = peoples_daily.load("held_out")[0].sentences[0]
    encoding = tok.encode(sentence.text, add_special_tokens=False)
    assert len(encoding.ids) == len(sentence.text)
    assert encoding.offsets == [(i, i + 1) for i in range(len(sentence.text))]
    for span in sentence.words + sentence.entities:
        assert "".join(encoding.tokens[span.start : span.end]).replace(
            "[UNK]", "?"
        ) == "".join(
            c if tok.token_to_id(c) is not None else "?"
            for c in sentence.span_text(span)
        )


def test_encode_documents_gives_the_pair_builders_their_shape():
    tok = tk.english_wordpiece()
    docs = brown.load("held_out")[:2]
    encoded = tk.encode_documents(tok, docs)
    assert [len(d) for d in encoded] == [len(d.sentences) for d in docs]
    first = tok.encode(docs[0].sentences[0].text, add_special_tokens=False).ids
    assert encoded[0][0] == first
    assert all(isinstance(t, int) for t in encoded[1][-1])
    assert torch.tensor(encoded[0][0]).max() < tok.get_vocab_size()
