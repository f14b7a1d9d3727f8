"""Real text for the experiments: one loader module per corpus, one shape for all of
them.

A corpus is a list of `Document`s; a document holds paragraphs, a paragraph holds
sentences. Each `Sentence` keeps its text and, as character spans into that text,
its gold words (and, for the Chinese corpus, phrases and named entities). Nothing is
fetched at run time: the corpora are installed by `make setup` (scripts/setup) and
never committed.

    from experiments.corpora import brown, peoples_daily
    train = brown.load("train")          # 450 documents
    held_out = brown.load("held_out")    # 50 documents, never trained on

The split is by document and deterministic: in corpus order, every tenth document
(the 10th, 20th, ...) is held out. No document contributes to both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SETUP_COMMAND = "make setup"
HELD_OUT_EVERY = 10
Split = Literal["train", "held_out", "all"]


class CorpusMissingError(FileNotFoundError):
    """A corpus is not installed; the message names the command that installs it."""


@dataclass(frozen=True, slots=True)
class Span:
    """Characters `text[start:end]` of a sentence; `label` says what the span is."""

    start: int
    end: int
    # "word", "phrase", or an entity type: "nr" person, "ns" place, "nt" org.
    label: str


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    words: tuple[
        Span, ...
    ]  # the corpus's own tokenization, in order, covering the text
    phrases: tuple[Span, ...] = ()
    entities: tuple[Span, ...] = ()

    def span_text(self, span: Span) -> str:
        return self.text[span.start : span.end]


@dataclass(frozen=True)
class Document:
    id: str
    genre: str
    paragraphs: tuple[tuple[Sentence, ...], ...]

    @property
    def sentences(self) -> list[Sentence]:
        return [s for paragraph in self.paragraphs for s in paragraph]


def split_documents(documents: list, split: Split) -> list:
    """The deterministic document-level split shared by every corpus (it takes
    any list in corpus order: documents, or their catalogue entries)."""
    if split == "all":
        return list(documents)
    if split not in ("train", "held_out"):
        raise ValueError(
            f"split must be 'train', 'held_out' or 'all', got {split!r}"
        )
    held_out = split == "held_out"
    return [
        d
        for i, d in enumerate(documents)
        if ((i + 1) % HELD_OUT_EVERY == 0) == held_out
    ]


def join_words(words: list[str], separator: str) -> tuple[str, tuple[Span, ...]]:
    """Join words into one text and return it with each word's character span."""
    spans, position = [], 0
    for word in words:
        spans.append(Span(position, position + len(word), "word"))
        position += len(word) + len(separator)
    return separator.join(words), tuple(spans)
