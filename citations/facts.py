"""The fact check: every number on a paper page names its source, or is computed.

A paper page is one that ``refs/papers.toml`` names in a ``page`` field. Every
number in its prose, headings, list items and table cells needs a *source marker*
nearby:

- a location in the paper: ``Table 3``, ``Tables 2–3``, ``§4.1``, ``Section 4``,
  ``Figure 2``, ``Fig. 2``, ``Appendix A.2``, ``the abstract``, or, for a venue
  version whose sections carry no numbers (AAAI), ``the Experiments section``;
- or a named file: the released code (``create_pretraining_data.py``, its
  ``README.md``) or, for a
  number about this project, the file that produces it (``tests/stats.py``).

"Nearby" means the same sentence. For a table cell it is the same row, the
table's header row or its caption (the paragraph just above the table, when it
ends with a colon). For a display equation it is the equation itself or the
sentence just before or just after it. Content computed at build time is inserted
by ``<!-- computed:NAME -->`` and is not in the Markdown, so it is not checked.

In ``papers.toml`` a fact's number sits in its ``value`` and its source in its
``source``: every model fact's source must contain a marker.

The allow-list, :data:`ALLOWED` and the rules in :func:`_numbers`, is short, and
each entry says why it is not a claim.

>>> check_text("BERT-large has 340M parameters.", "p.md")[0].number
'340M'
>>> check_text("BERT-large has 340M parameters (§3).", "p.md")
[]
>>> check_text("T5-11B and SST-2 appeared in 2019; see Table 14.", "p.md")
[]
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAPERS_TOML = ROOT / "refs" / "papers.toml"

# A location in the paper, or a named file. The numbers inside a marker are the
# marker's own, never a claim.
SOURCE_MARKER = re.compile(
    r"(?:\bTables?|\bFigures?|\bFig\.|\bSections?|\bAppendix|\bAppendices|§)\s*"
    r"[A-Z]?\d+(?:\.\d+)*"
    r"(?:\s*(?:[–—-]|,|and|&)\s*§?\s*[A-Z]?\d+(?:\.\d+)*)*"
    r"|\bAppendix\s+[A-Z](?:\.\d+)*\b"
    r"|[\w./-]+\.(?:py|gin|sh|cc|json|md)\b"
    # a venue version without section numbers (AAAI) names its sections
    r"|\bthe [A-Z][a-z]+(?: [A-Z][a-z]+)* section\b"
    r"|\babstract\b"
)

# One number: digits with optional thousands separators (",", LaTeX "\,", thin
# spaces), decimals, and a unit glued to it (500K, 1.5M, 15%).
NUMBER = re.compile(
    r"(?:\d+(?:(?:,|\\,|\u2009|\u202f)\d{3})*(?:\.\d+)?|\.\d+)(?:[KMB%]|k\b)?",
)

# The numbers that are not claims: (pattern, why). A match is blanked out before
# numbers are looked for. Two more rules live in _numbers: a number glued to a name
# (T5, C4, V100, SST-2, T5-11B, x_{s-1}), and 0, 1, 2 inside math.
ALLOWED: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"(?<![\w.])(?:19[5-9]\d|20[0-2]\d)(?!\w|\.\d)"),
        "a year (1950-2029): when a paper or data set appeared, not a measurement",
    ),
    (
        re.compile(
            r"\b(?:SQuAD|ERNIE|TPU)\s*v?\d+(?:\.\d+)*(?:\s*/\s*v?\d+(?:\.\d+)+)*"
            r"|(?<![\w.])v\d+(?:\.\d+)*"
        ),
        "a version in a name: SQuAD 1.1 / 2.0, ERNIE 2.0, TPU v3, arXiv v1",
    ),
    (
        re.compile(r"(?<![\d.])80/10/10(?![\d/])"),
        "the usual name of BERT's replacement rule, whose numbers are sourced "
        "where a page states them",
    ),
)

# Inside math, 0, 1 and 2 are notation (t = 1, l - 1, x^2), not facts; any other
# number in a formula is a constant and needs a source like prose.
MATH_NOTATION = {"0", "1", "2"}

ABBREVIATIONS = re.compile(
    r"(?:\be\.g|\bi\.e|\bet al|\bFig|\bEqs?|\bvs|\bcf|\bapprox|\bresp|\bNo"
    r"|\bSec|\bpp?|\bSept?|\bJan|\bFeb|\bMar|\bApr|\bAug|\bOct|\bNov|\bDec"
    r"|\b[A-Z])\.$"
)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)*_]*\s+(?=[A-Z0-9*_\[(`\"“‘\\§])")
MATH = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\$\$.*?\$\$|(?<!\\)\$[^$]+\$", re.S)
NOT_PROSE = (
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"</?[A-Za-z!][^>\n]*>"),  # HTML tags and their attributes
    re.compile(r"\]\([^)\s]*\)"),  # link targets
    re.compile(r"https?://\S+"),
)

FENCE = re.compile(r"^\s*(```|~~~)")
LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|(\d+)[.)])\s+")
TABLE_ROW = re.compile(r"^\s*\|")
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
HEADING = re.compile(r"^\s*#{1,6}\s")


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    number: str
    sentence: str

    def __str__(self) -> str:
        return (
            f"{self.path}:{self.line}: {self.number!r} names no source "
            f"(Table N, §N, Figure N, Appendix X or a released file) in: "
            f"{self.sentence}"
        )


@dataclass
class _Block:
    """Consecutive source lines read as one unit: a paragraph, list item, heading,
    table or display equation."""

    kind: str  # "text", "table" or "math"
    lines: list[tuple[int, str]]


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _blank_all(text: str, pattern: re.Pattern[str]) -> str:
    for match in reversed(list(pattern.finditer(text))):
        text = _blank(text, match.start(), match.end())
    return text


def _blocks(markdown: str) -> list[_Block]:
    """Split a page into blocks; drop front matter, fences, comments and embeds."""
    lines = markdown.splitlines()
    if lines and lines[0].strip() == "---":
        end = next(
            (i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0
        )
        lines = [""] * (end + 1) + lines[end + 1 :]
    blocks: list[_Block] = []
    current: _Block | None = None
    fence: str | None = None
    in_comment = False
    in_math: str | None = None

    def close() -> None:
        nonlocal current
        if current is not None and any(t.strip() for _, t in current.lines):
            blocks.append(current)
        current = None

    for number, raw in enumerate(lines, start=1):
        line = raw
        if fence is not None:  # fenced code: code, never a claim
            if line.strip().startswith(fence):
                fence = None
            continue
        if in_comment:
            if "-->" in line:
                in_comment = False
                line = line.split("-->", 1)[1]
            else:
                continue
        line = re.sub(r"<!--.*?-->", " ", line)
        if "<!--" in line:
            line, in_comment = line.split("<!--", 1)[0], True
        if in_math is not None:
            current.lines.append((number, line))
            if in_math in line:
                in_math = None
                close()
            continue
        fenced = FENCE.match(line)
        if fenced:
            close()
            fence = fenced.group(1)
            continue
        stripped = line.strip()
        if "--8<--" in line or not stripped:
            close()
            continue
        if stripped.startswith(("\\[", "$$")):
            close()
            current = _Block("math", [(number, line)])
            closer = "\\]" if stripped.startswith("\\[") else "$$"
            if closer in stripped[2:]:
                close()
            else:
                in_math = closer
            continue
        if TABLE_ROW.match(line):
            if current is None or current.kind != "table":
                close()
                current = _Block("table", [])
            current.lines.append((number, line))
            continue
        if current is not None and current.kind == "table":
            close()
        if HEADING.match(line) or LIST_ITEM.match(line):
            close()
        if current is None:
            current = _Block("text", [])
        current.lines.append((number, line))
        if HEADING.match(line):
            close()
    close()
    return blocks


def _math_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in MATH.finditer(text)]


def _unclaimed(text: str) -> str:
    """`text` with everything that is not a claim blanked out, offsets kept."""
    for pattern in (*NOT_PROSE, SOURCE_MARKER, *(p for p, _why in ALLOWED)):
        text = _blank_all(text, pattern)
    return text


def _numbers(text: str, math: list[tuple[int, int]]) -> Iterator[re.Match[str]]:
    """The numbers of `text` (already through _unclaimed) that are claims."""
    for match in NUMBER.finditer(text):
        start = match.start()
        before = text[start - 1] if start else " "
        if before.isalnum() or before in "._":
            continue  # glued to a name (T5, V100, x_1), or the tail of a decimal
        word = re.search(r"\w*$", text[: max(start - 1, 0)]).group()
        if before in "-\u2011" and any(c.isalpha() for c in word):
            continue  # a hyphenated name: SST-2, GPT-2, T5-11B, x_{s-1}
        in_math = any(a <= start < b for a, b in math)
        if in_math and match.group() in MATH_NOTATION:
            continue
        yield match


def _sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, a paragraph on one line."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if ABBREVIATIONS.search(text[start : match.start()]):
            continue
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return spans


def _joined(block: _Block) -> tuple[str, list[tuple[int, int]]]:
    """The block's lines joined by spaces, and each line's (offset, number)."""
    text, starts = "", []
    for number, line in block.lines:
        if text:
            text += " "
        starts.append((len(text), number))
        text += line
    return text, starts


def _line_at(starts: list[tuple[int, int]], offset: int) -> int:
    line = starts[0][1]
    for start, number in starts:
        if start > offset:
            break
        line = number
    return line


def _has_marker(text: str) -> bool:
    return bool(SOURCE_MARKER.search(text))


def _last_sentence(block: _Block | None) -> str:
    if block is None or block.kind != "text":
        return ""
    text, _ = _joined(block)
    start, end = _sentences(text)[-1]
    return text[start:end]


def _first_sentence(block: _Block | None) -> str:
    if block is None or block.kind != "text":
        return ""
    text, _ = _joined(block)
    start, end = _sentences(text)[0]
    return text[start:end]


def _clean(sentence: str) -> str:
    return re.sub(r"\s+", " ", sentence).strip()


def check_text(markdown: str, path: str) -> list[Violation]:
    """Every unsourced number of one page's Markdown, in page order."""
    found: list[Violation] = []
    blocks = _blocks(markdown)
    for i, block in enumerate(blocks):
        before = blocks[i - 1] if i else None
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.kind == "table":
            rows = [(n, t) for n, t in block.lines if not TABLE_RULE.match(t)]
            caption = _joined(before)[0] if before and before.kind == "text" else ""
            shared = _has_marker(rows[0][1]) or (
                caption.rstrip(" *_").endswith(":") and _has_marker(caption)
            )
            for number, row in rows:
                if shared or _has_marker(row):
                    continue
                for match in _numbers(_unclaimed(row), _math_spans(row)):
                    found.append(
                        Violation(path, number, match.group(), _clean(row))
                    )
            continue
        text, starts = _joined(block)
        if block.kind == "math":
            context = _last_sentence(before) + " " + _first_sentence(after)
            if _has_marker(text) or _has_marker(context):
                continue
            for match in _numbers(_unclaimed(text), [(0, len(text))]):
                line = _line_at(starts, match.start())
                found.append(Violation(path, line, match.group(), _clean(text)))
            continue
        listed = LIST_ITEM.match(text)
        if listed and listed.group(2):  # "1. " numbers the list: not a claim
            text = _blank(text, listed.start(2), listed.end(2))
        sentences = _sentences(text)
        sourced = [_has_marker(text[a:b]) for a, b in sentences]
        for match in _numbers(_unclaimed(text), _math_spans(text)):
            k = next(k for k, (a, b) in enumerate(sentences) if match.start() < b)
            if sourced[k]:
                continue
            a, b = sentences[k]
            line = _line_at(starts, match.start())
            found.append(Violation(path, line, match.group(), _clean(text[a:b])))
    return found


def paper_pages(papers_toml: Path = PAPERS_TOML) -> list[str]:
    """The pages that papers.toml names, relative to docs/."""
    meta = tomllib.loads(papers_toml.read_text(encoding="utf-8"))
    return [p["page"] for p in meta.get("papers", {}).values() if "page" in p]


def check_page(page: str, docs: Path = DOCS) -> list[Violation]:
    path = docs / page
    return check_text(path.read_text(encoding="utf-8"), f"docs/{page}")


MODEL_FACTS = ("params", "data", "compute", "glue", "squad")


def check_papers_toml(papers_toml: Path = PAPERS_TOML) -> list[Violation]:
    """Every model fact whose `source` names no table, section, figure, appendix or
    file. The line is the fact's line in papers.toml."""
    text = papers_toml.read_text(encoding="utf-8")
    meta = tomllib.loads(text)
    lines = text.splitlines()
    found: list[Violation] = []
    for key, paper in meta.get("papers", {}).items():
        header = f"[[papers.{key}.models]]"
        starts = [i for i, line in enumerate(lines) if line.strip() == header]
        for start, model in zip(starts, paper.get("models", ()), strict=False):
            for fact in MODEL_FACTS:
                cell = model.get(fact)
                if not isinstance(cell, dict):
                    continue
                source = str(cell.get("source", ""))
                if _has_marker(source):
                    continue
                line = next(
                    (
                        i + 1
                        for i in range(start, len(lines))
                        if re.match(rf"\s*{fact}\s*=", lines[i])
                    ),
                    start + 1,
                )
                found.append(
                    Violation(
                        str(papers_toml.relative_to(ROOT))
                        if papers_toml.is_relative_to(ROOT)
                        else str(papers_toml),
                        line,
                        str(cell.get("value", cell.get("computed", ""))),
                        f"{model.get('name')} {fact}: source {source!r}",
                    )
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m citations.facts",
        description="List every number on the paper pages and in papers.toml "
        "that names no source.",
    )
    parser.add_argument(
        "pages", nargs="*", help="pages under docs/ (default: every paper page)"
    )
    args = parser.parse_args(argv)
    pages = args.pages or paper_pages()
    found = [v for page in pages for v in check_page(page)]
    if not args.pages:
        found += check_papers_toml()
    for violation in found:
        print(violation)
    print(f"{len(found)} unsourced number(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
