"""The bibliography: one loader for ``refs/``, used by the site hook, the tests and the CLI.

``refs/*.bib`` holds the BibTeX (parsed with bibtexparser's v2 API) and ``refs/papers.toml`` each
paper's non-bibliographic metadata. :func:`load` parses both and validates them; every problem
raises :class:`BibError` with the file, the line or key, and the reason.

>>> bib = load()
>>> bib.entries["lan2020albert"].label
'Lan et al., 2020'
>>> bib.papers["lan2020albert"].categories
('architecture', 'compression')
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser
from bibtexparser import model

REFS_DIR = Path(__file__).resolve().parent.parent / "refs"

# The fields an entry type must have; other entry types are rejected so that a typo
# (@inprocedings) cannot slip through as an unvalidated entry.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "article": ("title", "author", "year", "journal"),
    "inproceedings": ("title", "author", "year", "booktitle"),
    "misc": ("title", "author", "year"),
}

# New-style ids (YYMM.NNNN or YYMM.NNNNN since 2015) and old-style ids (archive[.SC]/YYMMNNN).
ARXIV_ID = re.compile(
    r"^(?:\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}"
    r"|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{2}(?:0[1-9]|1[0-2])\d{3})(?:v\d+)?$"
)

# `[@key]` or `[@key1; @key2]` in page Markdown.
CITATION = re.compile(r"\[(@[A-Za-z0-9_:.\-]+(?:\s*;\s*@[A-Za-z0-9_:.\-]+)*)\]")


class BibError(ValueError):
    """A problem in the bibliography or a citation: the message names where and why."""


@dataclass(frozen=True)
class Entry:
    key: str
    entry_type: str
    fields: dict[str, str]
    path: Path
    line: int  # 1-based line of the entry's `@type{` in `path`

    @property
    def year(self) -> int:
        return int(self.fields["year"])

    @property
    def title(self) -> str:
        return strip_braces(self.fields["title"])

    @property
    def authors(self) -> list[str]:
        return [
            strip_braces(a.strip())
            for a in re.split(r"\s+and\s+", self.fields["author"])
        ]

    @property
    def label(self) -> str:
        """Author-year label, e.g. ``Lan et al., 2020``."""
        surnames = [_surname(a) for a in self.authors]
        if len(surnames) == 1:
            who = surnames[0]
        elif len(surnames) == 2:
            who = f"{surnames[0]} and {surnames[1]}"
        else:
            who = f"{surnames[0]} et al."
        return f"{who}, {self.year}"

    @property
    def venue(self) -> str:
        return strip_braces(
            self.fields.get("journal") or self.fields.get("booktitle") or ""
        )

    @property
    def arxiv(self) -> str | None:
        return self.fields.get("eprint")

    def to_bibtex(self) -> str:
        width = max(len(name) for name in self.fields)
        body = ",\n".join(
            f"  {name:<{width}} = {{{value}}}"
            for name, value in self.fields.items()
        )
        return f"@{self.entry_type}{{{self.key},\n{body}\n}}\n"


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    title_zh: str


@dataclass(frozen=True)
class Paper:
    key: str
    name: str
    categories: tuple[str, ...]
    changes: str
    page: str | None = None
    snippets: tuple[str, ...] = ()
    tests: str | None = None
    terms_zh: tuple[str, ...] = ()
    notebooks: tuple[str, ...] = ()
    venue: str | None = None  # short label, e.g. "ICLR"; the .bib has the full name
    venue_date: str | None = (
        None  # YYYY-MM of the venue version (conference or issue)
    )
    models: tuple[
        dict, ...
    ] = ()  # comparison facts, each {value or computed, source}


@dataclass(frozen=True)
class Bibliography:
    entries: dict[str, Entry]
    categories: dict[str, Category]
    papers: dict[str, Paper]
    _by_page: dict[str, Paper] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_page.update({p.page: p for p in self.papers.values() if p.page})

    def keys_in(self, category: str) -> list[str]:
        if category not in self.categories:
            raise BibError(
                f"unknown category {category!r}; expected one of {sorted(self.categories)}"
            )
        return [k for k, p in self.papers.items() if category in p.categories]

    def bibtex(self, keys: Iterable[str] | None = None) -> str:
        """The BibTeX of `keys` (all entries when None), in the order given."""
        keys = list(self.entries) if keys is None else list(keys)
        unknown = [k for k in keys if k not in self.entries]
        if unknown:
            raise BibError(
                f"unknown citation key(s): {', '.join(unknown)}; known keys: {', '.join(sorted(self.entries))}"
            )
        return "\n".join(self.entries[k].to_bibtex() for k in keys)

    def paper_for_page(self, src_uri: str) -> Paper | None:
        return self._by_page.get(src_uri)

    def arxiv_date(self, key: str) -> str | None:
        """YYYY-MM of the first arXiv version, read off a new-style id (YYMM.NNNNN)."""
        eprint = self.entries[key].arxiv or ""
        match = re.match(r"(\d{2})(\d{2})\.", eprint)
        return f"20{match.group(1)}-{match.group(2)}" if match else None


def strip_braces(text: str) -> str:
    """Drop BibTeX case-protecting braces and collapse whitespace: ``{BERT}: x`` -> ``BERT: x``."""
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip()


def _surname(author: str) -> str:
    return author.split(",")[0].strip() if "," in author else author.split()[-1]


def parse_bib_file(path: Path) -> list[Entry]:
    """Parse and validate one .bib file. Raises BibError naming the file, line and reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BibError(f"{path}: cannot read the file: {err}") from err
    library = bibtexparser.parse_string(text)
    for block in library.failed_blocks:
        where = f"{path}:{block.start_line + 1}"
        if isinstance(block, model.DuplicateBlockKeyBlock):
            raise BibError(f"{where}: duplicate key {block.key!r}")
        first = block.raw.strip().splitlines()[0] if block.raw.strip() else ""
        raise BibError(
            f"{where}: this block does not parse as BibTeX (unbalanced braces or a missing comma?): {first[:80]!r}"
        )
    entries = []
    for raw in library.entries:
        where = f"{path}:{raw.start_line + 1}: entry {raw.key!r}"
        entry_type = raw.entry_type.lower()
        fields = {
            name.lower(): str(f.value).strip()
            for name, f in raw.fields_dict.items()
        }
        if entry_type not in REQUIRED_FIELDS:
            raise BibError(
                f"{where}: unsupported entry type @{raw.entry_type}; expected one of {sorted(REQUIRED_FIELDS)}"
            )
        missing = [
            name for name in REQUIRED_FIELDS[entry_type] if not fields.get(name)
        ]
        if missing:
            raise BibError(
                f"{where}: missing required field(s) {', '.join(missing)} for @{entry_type}"
            )
        if not re.fullmatch(r"\d{4}", fields["year"]):
            raise BibError(
                f"{where}: year must be four digits, got {fields['year']!r}"
            )
        if "eprint" in fields:
            if not ARXIV_ID.fullmatch(fields["eprint"]):
                raise BibError(
                    f"{where}: eprint {fields['eprint']!r} is not a well-formed arXiv id (e.g. 1909.11942 or hep-th/9901001)"
                )
            if fields.get("archiveprefix", "").lower() != "arxiv":
                raise BibError(
                    f"{where}: an eprint needs archiveprefix = {{arXiv}}"
                )
        entries.append(Entry(raw.key, entry_type, fields, path, raw.start_line + 1))
    return entries


def _check_type(where: str, name: str, value: object, kind: type) -> None:
    if kind is list:
        if not isinstance(value, list) or not all(
            isinstance(v, str) for v in value
        ):
            raise BibError(
                f"{where}: {name} must be a list of strings, got {value!r}"
            )
    elif not isinstance(value, kind):
        raise BibError(f"{where}: {name} must be a {kind.__name__}, got {value!r}")


_PAPER_FIELDS = {
    "name": str,
    "categories": list,
    "changes": str,
    "page": str,
    "snippets": list,
    "tests": str,
    "terms_zh": list,
    "notebooks": list,
    "venue": str,
    "venue_date": str,
    "models": "models",
}
MODEL_FACTS = ("params", "data", "compute", "glue", "squad")


def _check_models(where: str, models: object) -> None:
    if not isinstance(models, list) or not all(isinstance(m, dict) for m in models):
        raise BibError(
            f"{where}: models must be an array of tables ([[papers.KEY.models]])"
        )
    for row in models:
        name = row.get("name")
        if not isinstance(name, str):
            raise BibError(f"{where}: every model needs a name")
        unknown = set(row) - {"name", *MODEL_FACTS}
        if unknown:
            raise BibError(
                f"{where}: model {name!r} has unknown fact(s) {sorted(unknown)}; expected {MODEL_FACTS}"
            )
        for fact in MODEL_FACTS:
            if fact not in row:
                continue
            cell = row[fact]
            if (
                not isinstance(cell, dict)
                or not isinstance(cell.get("source"), str)
                or not cell["source"]
            ):
                raise BibError(
                    f"{where}: model {name!r} fact {fact!r} must be a table with a non-empty source"
                )
            if ("value" in cell) == ("computed" in cell):
                raise BibError(
                    f"{where}: model {name!r} fact {fact!r} needs exactly one of value or computed"
                )
            if fact == "glue" and cell.get("split") not in ("test", "dev"):
                raise BibError(
                    f'{where}: model {name!r} glue needs split = "test" or "dev"'
                )
            ensemble = cell.get("ensemble", False)
            if not isinstance(ensemble, bool) or (
                ensemble and fact not in ("glue", "squad")
            ):
                raise BibError(
                    f"{where}: model {name!r} fact {fact!r}: ensemble is true or "
                    "false, and true only for a glue or squad score"
                )


def load(refs_dir: Path = REFS_DIR) -> Bibliography:
    """Load and cross-check ``refs_dir/*.bib`` and ``refs_dir/papers.toml``."""
    refs_dir = Path(refs_dir)
    bib_files = sorted(refs_dir.glob("*.bib"))
    if not bib_files:
        raise BibError(f"{refs_dir}: no .bib files found")
    entries: dict[str, Entry] = {}
    for path in bib_files:
        for entry in parse_bib_file(path):
            if entry.key in entries:
                first = entries[entry.key]
                raise BibError(
                    f"{path}:{entry.line}: duplicate key {entry.key!r} (first defined at {first.path}:{first.line})"
                )
            entries[entry.key] = entry

    meta_path = refs_dir / "papers.toml"
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise BibError(f"{meta_path}: {err}") from err
    categories = {}
    for cid, cat in meta.get("categories", {}).items():
        where = f"{meta_path}: category {cid!r}"
        for name in ("title", "title_zh"):
            _check_type(where, name, cat.get(name), str)
        categories[cid] = Category(cid, cat["title"], cat["title_zh"])
    papers = {}
    for key, raw in meta.get("papers", {}).items():
        where = f"{meta_path}: paper {key!r}"
        if key not in entries:
            raise BibError(
                f"{where}: no BibTeX entry with this key in {refs_dir}/*.bib"
            )
        unknown = set(raw) - set(_PAPER_FIELDS)
        if unknown:
            raise BibError(
                f"{where}: unknown field(s) {sorted(unknown)}; expected {sorted(_PAPER_FIELDS)}"
            )
        for name in ("name", "categories", "changes"):
            if name not in raw:
                raise BibError(f"{where}: missing required field {name!r}")
        for name, value in raw.items():
            if name == "models":
                _check_models(where, value)
            else:
                _check_type(where, name, value, _PAPER_FIELDS[name])
        if "venue_date" in raw and not re.fullmatch(
            r"\d{4}-(0[1-9]|1[0-2])", raw["venue_date"]
        ):
            raise BibError(
                f"{where}: venue_date must be YYYY-MM, got {raw['venue_date']!r}"
            )
        bad = [c for c in raw["categories"] if c not in categories]
        if bad or not raw["categories"]:
            raise BibError(
                f"{where}: categories {raw['categories']} must be a non-empty subset of {sorted(categories)}"
            )
        papers[key] = Paper(
            key=key,
            name=raw["name"],
            categories=tuple(raw["categories"]),
            changes=raw["changes"],
            page=raw.get("page"),
            snippets=tuple(raw.get("snippets", ())),
            tests=raw.get("tests"),
            terms_zh=tuple(raw.get("terms_zh", ())),
            notebooks=tuple(raw.get("notebooks", ())),
            venue=raw.get("venue"),
            venue_date=raw.get("venue_date"),
            models=tuple(raw.get("models", ())),
        )
    orphans = [k for k in entries if k not in papers]
    if orphans:
        e = entries[orphans[0]]
        raise BibError(
            f"{e.path}:{e.line}: entry {e.key!r} has no [papers.{e.key}] record in {meta_path}"
        )
    return Bibliography(entries, categories, papers)


def replace_citations(
    markdown: str,
    render: Callable[[list[str]], str],
    known: Iterable[str],
    *,
    source: str = "<page>",
) -> str:
    """Replace each ``[@key; @key2]`` outside code with ``render([key, key2])``.

    Fenced code blocks and inline code are left alone, so a page can show the syntax.
    An unknown key raises BibError naming `source` and the line.

    >>> replace_citations("See [@a; @b], not `[@a]`.", lambda ks: "+".join(ks), {"a", "b"})
    'See a+b, not `[@a]`.'
    """
    known = set(known)
    out, fence = [], None
    for lineno, line in enumerate(markdown.splitlines(keepends=True), start=1):
        opener = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence is None and opener:
            fence = opener.group(1)
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
        else:
            # Split off inline code spans (odd indices) and only touch the prose (even indices).
            parts = re.split(r"(`+[^`]*`+)", line)
            for i in range(0, len(parts), 2):
                parts[i] = CITATION.sub(
                    lambda m: _render_one(m, render, known, source, lineno),  # noqa: B023
                    parts[i],
                )
            line = "".join(parts)
        out.append(line)
    return "".join(out)


def _render_one(
    match: re.Match,
    render: Callable[[list[str]], str],
    known: set[str],
    source: str,
    lineno: int,
) -> str:
    keys = [k.strip().lstrip("@") for k in match.group(1).split(";")]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise BibError(
            f"{source}:{lineno}: citation to unknown key(s) {', '.join(unknown)} in {match.group(0)!r}"
        )
    return render(keys)
