"""The bibliography: one loader for ``refs/``, for the site hook, tests and CLI.

``refs/*.bib`` holds the BibTeX and ``refs/papers.toml`` each paper's
non-bibliographic metadata. :func:`load` parses both and validates them; every
problem raises :class:`BibError` with the file, the 1-based line or the key, and
the reason.

The BibTeX is read as people write it, through bibtexparser v2's middlewares:
``@string`` macros and ``#`` concatenation are resolved, ``month = jan`` stays a
macro, names are split by BibTeX's rules (``{{Google Research}}`` is one name),
and LaTeX is decoded to Unicode for labels and reference lists while the BibTeX
itself keeps it.

>>> bib = load()
>>> bib.entries["lan2020albert"].label
'Lan et al., 2020'
>>> bib.papers["lan2020albert"].categories
('architecture', 'compression')
"""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import bibtexparser
from bibtexparser import middlewares, model
from bibtexparser.library import Library
from bibtexparser.middlewares.middleware import BlockMiddleware
from bibtexparser.middlewares.names import InvalidNameError
from bibtexparser.writer import BibtexFormat
from pylatexenc import latexwalker
from pylatexenc.latex2text import LatexNodes2Text

REFS_DIR = Path(__file__).resolve().parent.parent / "refs"

# The fields an entry type must have; other entry types are rejected so that a typo
# (@inprocedings) cannot slip through as an unvalidated entry.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "article": ("title", "author", "year", "journal"),
    "inproceedings": ("title", "author", "year", "booktitle"),
    "misc": ("title", "author", "year"),
}

# BibTeX's predefined month macros: `month = jan` is written back bare.
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun")
MONTHS += ("jul", "aug", "sep", "oct", "nov", "dec")

# A citation key: letters, digits and _, with : . - allowed inside. No spaces, so
# that a key reads the same in the .bib, in a page's [@key] and in an HTML id.
KEY = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_:.\-]*[A-Za-z0-9_])?")

# New-style ids (YYMM.NNNN from 0704, YYMM.NNNNN from 1501) and old-style ids
# (archive[.SC]/YYMMNNN).
ARXIV_ID = re.compile(
    r"^(?:(?P<yymm>\d{2}(?:0[1-9]|1[0-2]))\.(?P<number>\d{4,5})"
    r"|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{2}(?:0[1-9]|1[0-2])\d{3})(?:v\d+)?$"
)


class BibError(ValueError):
    """A problem in the bibliography or a citation; the message says where, why."""


@dataclass(frozen=True)
class Entry:
    key: str
    entry_type: str
    fields: dict[str, str]  # the BibTeX values, with @string macros resolved
    path: Path
    line: int  # 1-based line of the entry's `@type{` in `path`
    macros: frozenset[str] = frozenset()  # fields written bare, e.g. month = jan
    text: dict[str, str] = field(default_factory=dict)  # values, LaTeX decoded
    authors: tuple[str, ...] = ()  # decoded, "von Last, Jr, First"
    surnames: tuple[str, ...] = ()  # decoded "von Last", for the label

    @property
    def year(self) -> int:
        return int(self.fields["year"])

    @property
    def title(self) -> str:
        return self.text["title"]

    @property
    def label(self) -> str:
        """Author-year label, e.g. ``Lan et al., 2020``."""
        names = self.surnames
        if len(names) == 1:
            who = names[0]
        elif len(names) == 2 and names[1] != "others":
            who = f"{names[0]} and {names[1]}"
        else:  # three or more, or "X and others"
            who = f"{names[0]} et al."
        return f"{who}, {self.year}"

    @property
    def venue(self) -> str:
        return self.text.get("journal") or self.text.get("booktitle") or ""

    @property
    def arxiv(self) -> str | None:
        return self.fields.get("eprint")

    def to_bibtex(self) -> str:
        """The entry as BibTeX, written by bibtexparser: macros stay bare."""
        block = model.Entry(
            self.entry_type,
            self.key,
            [
                model.Field(
                    name,
                    value,
                    enclosing="no-enclosing" if name in self.macros else None,
                )
                for name, value in self.fields.items()
            ],
        )
        return bibtexparser.write_string(
            Library([block]),
            # the block is ours to change: no defensive copy
            unparse_stack=middlewares.default_unparse_stack(
                allow_inplace_modification=True
            ),
            bibtex_format=_FORMAT,
        )


_FORMAT = BibtexFormat()
_FORMAT.indent = "  "
_FORMAT.value_column = "auto"  # `=` aligned within each entry


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
                f"unknown category {category!r}; "
                f"expected one of {sorted(self.categories)}"
            )
        return [k for k, p in self.papers.items() if category in p.categories]

    def bibtex(self, keys: Iterable[str] | None = None) -> str:
        """The BibTeX of `keys` (all entries when None), in the order given."""
        keys = list(self.entries) if keys is None else list(keys)
        unknown = [k for k in keys if k not in self.entries]
        if unknown:
            raise BibError(unknown_keys(unknown, self.entries))
        return "\n".join(self.entries[k].to_bibtex() for k in keys)

    def paper_for_page(self, src_uri: str) -> Paper | None:
        return self._by_page.get(src_uri)

    def arxiv_date(self, key: str) -> str | None:
        """YYYY-MM of the first arXiv version, from a new-style id (YYMM.NNNNN)."""
        eprint = self.entries[key].arxiv or ""
        match = re.match(r"(\d{2})(\d{2})\.", eprint)
        return f"20{match.group(1)}-{match.group(2)}" if match else None


def unknown_keys(unknown: Iterable[str], known: Collection[str]) -> str:
    """Name each unknown key with at most three close matches, never the whole list.

    >>> unknown_keys(["lan2019albert"], ["lan2020albert", "devlin2019bert"])
    'unknown citation key(s): lan2019albert (did you mean lan2020albert?)'
    """
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.75)
        hint = f"did you mean {', '.join(close)}?" if close else "no close match"
        parts.append(f"{key} ({hint})")
    return f"unknown citation key(s): {', '.join(parts)}"


# --- Parsing ---------------------------------------------------------------------

_NAME = r"[^\s\"#%'(),={}]+"  # a BibTeX macro name
_TOKEN = re.compile(
    rf"\s*(?:(?P<number>\d+)(?![^\s#])|(?P<name>{_NAME})|(?P<open>.))"
)
_AFTER = re.compile(r"\s*(#)?")
_BRACES = re.compile(r"(?<!\\)[{}]")  # the splitter's rule: \{ is not a brace
_BRACES_OR_QUOTE = re.compile(r"(?<!\\)[{}\"]")


class _Problem(Exception):
    """What a middleware found wrong in a block: the 1-based line and the reason."""

    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


def _pieces(value: str) -> list[tuple[str, str]]:
    """Split a value into its `#`-joined pieces, each ("text", text) for a braced,
    quoted or numeric piece (unwrapped) or ("name", name) for a macro.

    Raises ValueError(offset, reason) where the value is not such an expression;
    text after a complete piece is a missing comma or an extra `}` before it.

    >>> _pieces('naacl # ", Volume 1"')
    [('name', 'naacl'), ('text', ', Volume 1')]
    """
    pieces, pos = [], 0
    while True:
        match = _TOKEN.match(value, pos)
        if match is None:
            raise ValueError(pos, "a value is missing after '#'" if pieces else "")
        start = match.start(match.lastgroup)
        if match.lastgroup in ("number", "name"):
            kind = "text" if match.lastgroup == "number" else "name"
            pieces.append((kind, match.group(match.lastgroup)))
            pos = match.end()
        elif match.group("open") in ("{", '"'):
            marks = _BRACES if match.group("open") == "{" else _BRACES_OR_QUOTE
            close = _closing(value, start, marks)
            pieces.append(("text", value[start + 1 : close]))
            pos = close + 1
        else:
            raise ValueError(start, f"unexpected {match.group('open')!r}")
        after = _AFTER.match(value, pos)
        if not after.group(1):
            if after.end() == len(value):
                return pieces
            stray = value[after.end() :].splitlines()[0][:40]
            raise ValueError(
                pos,
                f"{stray!r} follows the value: a missing comma, "
                "or an extra '}' before it?",
            )
        pos = after.end()


def _closing(value: str, start: int, marks: re.Pattern) -> int:
    """Offset of the `}` or `"` that closes the piece opened at `start`."""
    closer, depth = "}" if value[start] == "{" else '"', 0
    for mark in marks.finditer(value, start + 1):
        char = mark.group()
        if char == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif depth == 0:  # a } or " at the piece's own level
            if char == closer:
                return mark.start()
            break
    raise ValueError(start, f"the {value[start]} that opens here is never closed")


def _syntax_error(what: str, value: str, line: int, err: ValueError) -> _Problem:
    """`err` from `_pieces`, at the 1-based line where it is in the file."""
    offset, reason = err.args
    where = line + 1 + value[:offset].count("\n")
    return _Problem(
        where, f"syntax error in {what}: {reason or 'the value is empty'}"
    )


class _ResolveExpressions(BlockMiddleware):
    """Resolve ``naacl # ", Volume 1"`` and check the syntax of every value.

    bibtexparser 2.1.0's ResolveStringReferencesMiddleware resolves a value that is
    one whole macro, not a ``#`` concatenation (upstream issue #396). This resolves
    the concatenations and the @string definitions, and leaves the bare macros to
    it. A value that is not an expression, or a field given twice (in any case),
    makes the block a MiddlewareErrorBlock, which the parser then reports.
    """

    def __init__(self) -> None:
        super().__init__(allow_inplace_modification=True)
        self._strings: dict[str, str] = {}

    def transform(self, library: Library) -> Library:
        self._strings = {}
        for (
            string
        ) in library.strings:  # in order: a definition may use earlier ones
            try:
                text = self._resolve(_pieces(string.value))
            except ValueError:
                continue  # reported when the string block itself is transformed
            if text is not None:
                self._strings[string.key.lower()] = text
        return super().transform(library)

    def _resolve(self, pieces: list[tuple[str, str]]) -> str | None:
        """The concatenated text, or None while a macro is undefined (a month)."""
        texts = [
            text if kind == "text" else self._strings.get(text.lower())
            for kind, text in pieces
        ]
        return None if None in texts else "".join(texts)

    def transform_string(self, string: model.String, library: Library):
        try:
            pieces = _pieces(string.value)
        except ValueError as err:
            line = string.start_line or 0
            problem = _syntax_error("its value", string.value, line, err)
            return model.MiddlewareErrorBlock(string, problem)
        if (text := self._resolve(pieces)) is not None:
            string.value = "{" + text + "}"
        return string

    def transform_entry(self, entry: model.Entry, library: Library):
        seen: dict[str, model.Field] = {}
        for item in entry.fields:
            first = seen.setdefault(item.key.lower(), item)
            if first is not item:
                reason = (
                    f"duplicate field {item.key!r} "
                    f"(first given at line {first.start_line + 1})"
                )
                problem = _Problem(item.start_line + 1, reason)
                return model.MiddlewareErrorBlock(entry, problem)
            try:
                pieces = _pieces(item.value)
            except ValueError as err:
                what = f"field {item.key!r}"
                problem = _syntax_error(what, item.value, item.start_line, err)
                return model.MiddlewareErrorBlock(entry, problem)
            if len(pieces) > 1 and (text := self._resolve(pieces)) is not None:
                item.value = "{" + text + "}"
        return entry


def _parse_stack() -> list:
    return [
        _ResolveExpressions(),
        middlewares.ResolveStringReferencesMiddleware(),
        middlewares.RemoveEnclosingMiddleware(),
        middlewares.NormalizeFieldKeys(),
    ]


class _Latex(LatexNodes2Text):
    """pylatexenc's LaTeX-to-text decoder, made cheap for a bibliography: text
    without markup (most values) is returned as it is, and the parser's macro
    tables are built once instead of on every call (1 ms each)."""

    _context = latexwalker.get_default_latex_context_db()
    _markup = re.compile(r"[\\{}~$%&#^_]|--|``|''")

    def latex_to_text(self, latex: str, **parse_flags) -> str:
        if not self._markup.search(latex):
            return latex
        parse_flags.setdefault("latex_context", self._context)
        return super().latex_to_text(latex, **parse_flags)


# One decoder, for the field values (through the middleware) and the names.
_LATEX = _Latex(math_mode="verbatim")


def _display_stack() -> list:
    """What the pages show: names split by BibTeX's rules, LaTeX decoded."""
    return [
        middlewares.SeparateCoAuthors(),
        middlewares.SplitNameParts(),
        middlewares.LatexDecodingMiddleware(decoder=_LATEX),
    ]


def _plain(text: str, latex: bool = False) -> str:
    """One line of plain text; `latex` decodes it first (name parts, which the
    middleware leaves alone once they are a list)."""
    return " ".join((_LATEX.latex_to_text(text) if latex else text).split())


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence bibtexparser's own logging while parsing: its line numbers are
    0-based, and every problem it logs is reported below, 1-based."""
    saved = [(logging.getLogger(n), logging.getLogger(n).disabled) for n in loggers]
    for logger, _ in saved:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in saved:
            logger.disabled = disabled


def parse_bib_file(path: Path) -> list[Entry]:
    """Parse and validate one .bib file; BibError names the file, line, reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BibError(f"{path}: cannot read the file: {err}") from err
    with _quiet(
        "bibtexparser.splitter",
        "bibtexparser.middlewares.fieldkeys",
        "bibtexparser.middlewares.latex_encoding",
    ):
        library = bibtexparser.parse_string(text, parse_stack=_parse_stack())
        problems = sorted(_syntax_problems(library))
        if problems:
            line, reason = problems[0]
            raise BibError(f"{path}:{line}: {reason}")
        entries, by_case = [], {}
        for raw in library.entries:
            where = f"{path}:{raw.start_line + 1}: entry {raw.key!r}"
            _check_key(where, raw.key)
            first = by_case.setdefault(raw.key.casefold(), raw)
            if first is not raw:
                raise BibError(
                    f"{where}: the key differs only in case from {first.key!r} "
                    f"(line {first.start_line + 1}), and BibTeX takes them as one"
                )
            entries.append(_entry(path, raw))
        # the raw values are read: decode in place
        for layer in _display_stack():
            library = layer.transform(library)
    for block in library.failed_blocks:
        raw, error = block.ignore_error_block, block.error
        names = isinstance(error, InvalidNameError)  # else a LaTeX error
        line = (raw.fields_dict["author"] if names else raw).start_line + 1
        raise BibError(f"{path}:{line}: entry {raw.key!r}: {error}")
    shown = library.entries_dict
    return [_shown(entry, shown[entry.key]) for entry in entries]


def _shown(entry: Entry, shown: model.Entry) -> Entry:
    """`entry` with what the pages show: decoded values, names and surnames."""
    names = shown.fields_dict["author"].value
    if not names:
        raise BibError(
            f"{entry.path}:{entry.line}: entry {entry.key!r}: the author field "
            "names nobody"
        )
    return replace(
        entry,
        text={
            name: _plain(shown.fields_dict[name].value)
            for name in entry.fields
            if name not in entry.macros and name != "author"
        },
        authors=tuple(_plain(n.merge_last_name_first, True) for n in names),
        surnames=tuple(_plain(" ".join(n.von + n.last), True) for n in names),
    )


def _syntax_problems(library: Library) -> Iterator[tuple[int, str]]:
    """(1-based line, reason) for each block that is not well-formed BibTeX."""
    entry = None
    for block in library.blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, model.DuplicateBlockKeyBlock):
            first = block.previous_block.start_line + 1
            yield (
                line,
                f"duplicate key {block.key!r} (first defined at line {first})",
            )
        elif isinstance(block, model.DuplicateFieldKeyBlock):
            fields = block.ignore_error_block.fields
            for name in sorted(block.duplicate_keys):
                first, again = [f for f in fields if f.key == name][:2]
                yield (
                    again.start_line + 1,
                    f"entry {block.ignore_error_block.key!r}: duplicate field "
                    f"{name!r} (first given at line {first.start_line + 1})",
                )
        elif isinstance(block, model.MiddlewareErrorBlock):
            error, bad = block.error, block.ignore_error_block
            kind = "entry" if isinstance(bad, model.Entry) else "@string"
            at = error.line if isinstance(error, _Problem) else line
            yield at, f"{kind} {bad.key!r}: {error}"
        elif isinstance(block, model.ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", str(block.error))
            reason = reason.strip().rstrip(".")
            hint = ""
            if "end of file" in reason or "Unexpected block start" in reason:
                hint = "; is a '{' or '\"' never closed?"
            raw = block.raw or ""
            head = re.match(r"\s*@\w+\s*[{(]\s*([^,\s]*)", raw)
            name = f" {head.group(1)!r}" if head and head.group(1) else ""
            gave_up = line + raw.rstrip().count("\n")
            yield (
                line,
                f"syntax error: this block{name} does not parse as BibTeX "
                f"({reason}; the parser gave up at line {gave_up}){hint}",
            )
        elif isinstance(block, model.ImplicitComment) and entry is not None:
            if _stray(block.comment):
                yield (
                    line,
                    f"syntax error: text after the end of entry {entry.key!r} "
                    f"(line {entry.start_line + 1}): did an extra '}}' close it?",
                )
        if isinstance(block, model.Entry):
            entry = block


def _stray(comment: str) -> bool:
    """Text between entries that is really part of one: what an extra `}` leaves."""
    return comment.lstrip()[:1] in (",", "}") or bool(
        re.search(r"^\s*[A-Za-z][\w-]*\s*=\s*[{\"\w]", comment, re.M)
    )


def _check_key(where: str, key: str) -> None:
    if not key:
        raise BibError(f"{where}: the key is empty")
    if not KEY.fullmatch(key):
        raise BibError(
            f"{where}: a key is letters, digits and _, with : . - inside "
            "(no spaces or other characters)"
        )


def _entry(path: Path, raw: model.Entry) -> Entry:
    """Validate one parsed entry; what the pages show is added by `_shown`."""
    where = f"{path}:{raw.start_line + 1}: entry {raw.key!r}"
    entry_type = raw.entry_type.lower()
    if entry_type not in REQUIRED_FIELDS:
        raise BibError(
            f"{where}: unsupported entry type @{raw.entry_type}; "
            f"expected one of {sorted(REQUIRED_FIELDS)}"
        )
    fields, macros = {}, set()
    for item in raw.fields:
        value = str(item.value).strip()
        if item.enclosing == "no-enclosing":  # still a macro after resolution
            names = [text for kind, text in _pieces(value) if kind == "name"]
            undefined = [n for n in names if n.lower() not in MONTHS]
            if undefined:
                raise BibError(
                    f"{path}:{item.start_line + 1}: entry {raw.key!r}, field "
                    f"{item.key!r}: undefined @string macro {undefined[0]!r}"
                )
            macros.add(item.key)
        fields[item.key] = value
    missing = [name for name in REQUIRED_FIELDS[entry_type] if not fields.get(name)]
    if missing:
        raise BibError(
            f"{where}: missing required field(s) {', '.join(missing)} "
            f"for @{entry_type}"
        )
    if not re.fullmatch(r"\d{4}", fields["year"]):
        raise BibError(f"{where}: year must be four digits, got {fields['year']!r}")
    if "eprint" in fields:
        _check_eprint(where, fields)
    line = raw.start_line + 1
    return Entry(raw.key, entry_type, fields, path, line, frozenset(macros))


def _check_eprint(where: str, fields: dict[str, str]) -> None:
    eprint = fields["eprint"]
    match = ARXIV_ID.fullmatch(eprint)
    if match and match.group("yymm"):
        # new-style ids began in 0704: four digits until 1412, five from 1501 on
        yymm, number = match.group("yymm"), match.group("number")
        if yymm < "0704" or len(number) != (4 if yymm < "1501" else 5):
            match = None
    if not match:
        raise BibError(
            f"{where}: eprint {eprint!r} is not a well-formed arXiv id "
            "(e.g. 1909.11942, 1412.6980 or hep-th/9901001)"
        )
    if fields.get("archiveprefix", "").lower() != "arxiv":
        raise BibError(f"{where}: an eprint needs archiveprefix = {{arXiv}}")


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
                f"{where}: model {name!r} has unknown fact(s) {sorted(unknown)}; "
                f"expected {MODEL_FACTS}"
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
                    f"{where}: model {name!r} fact {fact!r} must be a table "
                    "with a non-empty source"
                )
            if ("value" in cell) == ("computed" in cell):
                raise BibError(
                    f"{where}: model {name!r} fact {fact!r} needs exactly one "
                    "of value or computed"
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
    by_case: dict[str, Entry] = {}
    for path in bib_files:
        for entry in parse_bib_file(path):
            first = by_case.setdefault(entry.key.casefold(), entry)
            if first is not entry:
                what = f"duplicate key {entry.key!r}"
                if first.key != entry.key:
                    what = (
                        f"key {entry.key!r} differs only in case from {first.key!r}"
                    )
                raise BibError(
                    f"{path}:{entry.line}: {what} "
                    f"(first defined at {first.path}:{first.line})"
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
                f"{where}: unknown field(s) {sorted(unknown)}; "
                f"expected {sorted(_PAPER_FIELDS)}"
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
                f"{where}: categories {raw['categories']} must be a non-empty "
                f"subset of {sorted(categories)}"
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
            f"{e.path}:{e.line}: entry {e.key!r} has no [papers.{e.key}] record "
            f"in {meta_path}"
        )
    return Bibliography(entries, categories, papers)


# --- Citations in pages ----------------------------------------------------------


class Cite(NamedTuple):
    """One cited work: its key and an optional locator, e.g. ``p. 12`` or ``§3``."""

    key: str
    locator: str = ""


# The prose that Markdown does not read as a citation: escapes (\[@x]), HTML
# comments, code spans (a run of n backticks closed by exactly n, within a
# paragraph), a lone backtick run, and links whose text starts with @. The last
# alternative is everything that looks like a citation, parseable or not.
_INLINE = re.compile(
    r"(?P<escape>\\.)"
    r"|(?P<comment><!--.*?(?:-->|\Z))"
    r"|(?P<code>(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<lone_ticks>`+)"
    r"|(?P<link>\[-?@[^\[\]]*\](?=[(\[]))"
    r"|(?P<cite>\[-?@[^\[\]]*\]|\[-?@[^\n]*)",
    re.S,
)
# One item of a citation: @key, then optionally a comma and a locator.
_ITEM = re.compile(
    rf"\s*@(?P<key>{KEY.pattern})\s*(?:,\s*(?P<locator>[^\s;@][^;@]*))?"
)
_FENCE = re.compile(r"[ \t]*(`{3,}|~{3,})")
# A list item, an admonition (!!! or ???) or a tab (===): their content is
# indented by 4, so an indented code block inside one is indented by 8.
_CONTAINER = re.compile(r"[ \t]*(?:[-*+]|\d+[.)]|!!!|\?\?\?\+?|===)[ \t]")


def replace_citations(
    markdown: str,
    render: Callable[[list[Cite]], str],
    known: Collection[str],
    *,
    source: str = "<page>",
    first_line: int = 1,
) -> str:
    r"""Replace each ``[@key]``, ``[@key, p. 12]`` or ``[@key1; @key2]`` in prose
    with ``render([Cite(key, locator), ...])``.

    Code (fenced, indented or inline), HTML comments and an escaped ``\[@key]``
    are left alone, so a page can show the syntax. An unknown key, or text that
    starts like a citation but does not parse, raises BibError naming `source`
    and the line; `first_line` is the source line of the first line of
    `markdown` (mkdocs hands hooks the page without its front matter).

    >>> show = lambda items: "+".join(k + (f"@{p}" if p else "") for k, p in items)
    >>> replace_citations("See [@a, p. 2; @b], not `[@a]`.", show, {"a", "b"})
    'See a@p. 2+b, not `[@a]`.'
    """
    lines = markdown.splitlines(keepends=True)
    code = _code_lines(lines)
    out, start = [], 0
    while start < len(lines):
        end = start + 1
        while end < len(lines) and code[end] == code[start]:
            end += 1
        chunk = "".join(lines[start:end])
        if not code[start]:
            chunk = _cite(chunk, render, known, source, first_line + start)
        out.append(chunk)
        start = end
    return "".join(out)


def _code_lines(lines: list[str]) -> list[bool]:
    """Which lines belong to a code block: fenced, or indented by 4 beyond their
    list item or admonition after a blank line (Python-Markdown's rules)."""
    code, fence, containers = [], "", []
    blank_before, indented = True, False
    for line in lines:
        text = line.expandtabs(4).rstrip("\n")
        indent = len(text) - len(text.lstrip())
        if fence:
            code.append(True)
            if re.fullmatch(rf"[ \t]*{fence[0]}{{{len(fence)},}}\s*", text):
                fence = ""
            continue
        if not text.strip():
            code.append(indented)
            blank_before = True
            continue
        if blank_before:  # a list item or admonition ends at a line indented less
            while containers and indent < containers[-1]:
                containers.pop()
        base = containers[-1] if containers else 0
        indented = indent >= base + 4 and (blank_before or indented)
        blank_before = False
        if indented:
            code.append(True)
        elif opener := _FENCE.match(text):
            fence = opener.group(1)
            code.append(True)
        else:
            if _CONTAINER.match(text):
                while containers and indent < containers[-1]:
                    containers.pop()
                containers.append(indent + 4)
            code.append(False)
    return code


def _cite(
    text: str,
    render: Callable[[list[Cite]], str],
    known: Collection[str],
    source: str,
    line: int,
) -> str:
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        if match.group("cite") is None:
            continue
        raw = match.group("cite")
        where = f"{source}:{line + text.count(chr(10), 0, match.start())}"
        items = _citation(raw)
        if items is None:
            raise BibError(
                f"{where}: cannot read the citation {raw!r}; write [@key], "
                r"[@key, p. 12] or [@key1; @key2], or \[@ for the literal text"
            )
        unknown = [item.key for item in items if item.key not in known]
        if unknown:
            raise BibError(f"{where}: {unknown_keys(unknown, known)} in {raw!r}")
        out += [text[pos : match.start()], render(items)]
        pos = match.end()
    return "".join(out) + text[pos:]


def _citation(raw: str) -> list[Cite] | None:
    """The items of ``[@a, p. 2; @b]``, or None if it is not that shape."""
    if not (raw.startswith("[@") and raw.endswith("]")):
        return None
    items = []
    for part in raw[1:-1].split(";"):
        match = _ITEM.fullmatch(part.rstrip())
        if match is None:
            return None
        locator = " ".join((match.group("locator") or "").split())
        items.append(Cite(match.group("key"), locator))
    return items
