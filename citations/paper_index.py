"""papers.json: the machine-readable index of the papers, built from ``refs/``.

For each paper of ``refs/papers.toml``: its key, name, arXiv id, category, page
and URL, venue and year, Chinese terms, and its mechanisms. A mechanism is one
of the paper's ``snippets``, with the test that exercises it and the functions
and classes its page embeds. The page's ``--8<-- "path:section"`` lines say
what it embeds; the snippet's ``--8<-- [start:section]`` and ``[end:section]``
markers say where a section is; the functions and classes defined at the top
level between them are the section's symbols. The schema is
``refs/papers.schema.json``; ``hooks/index.py`` serves both files with the site,
and ``python -m citations.paper_index`` prints the index.

>>> index = build_index()
>>> albert = next(p for p in index["papers"] if p["key"] == "lan2020albert")
>>> albert["url"], albert["arxiv"], albert["year"]
('architecture/albert/', '1909.11942', 2020)
>>> [sop] = [m for m in albert["mechanisms"] if m["module"].endswith(".sop")]
>>> sop["test"], "create_sop_examples" in sop["symbols"]
('tests/albert/test_sop.py', True)
"""

from __future__ import annotations

import ast
import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from citations.bib import REFS_DIR, Bibliography, Paper, load

ROOT = REFS_DIR.parent
SCHEMA = REFS_DIR / "papers.schema.json"

# A page line `--8<-- "snippets/x.py:core"` (`;--8<--` is escaped: not an embed).
EMBED = re.compile(r"""^\s*-{1,}8<-{1,}\s+(["'])(?P<target>[^"']+)\1\s*$""")
# A snippet line holding `--8<-- [start:core]` or `--8<-- [end:core]`.
MARKER = re.compile(r"-{1,}8<-{1,}\s+\[(?P<edge>start|end):(?P<name>[\w-]+)\]")


class PaperIndexError(ValueError):
    """A page embeds a file or section that is not there; the message says where."""


def embeds(markdown: str) -> list[tuple[str, str | None]]:
    """The `(path, section)` pairs a page embeds, in order; section is None for a
    whole file, or `start:end` for a line range.

    >>> embeds('```python\\n--8<-- "snippets/a.py:core"\\n```\\n;--8<-- "b.py"\\n')
    [('snippets/a.py', 'core')]
    """
    found = []
    for line in markdown.splitlines():
        match = EMBED.match(line)
        if match:
            path, _, section = match.group("target").strip().partition(":")
            found.append((path, section or None))
    return found


def section_lines(source: str, section: str | None, where: str) -> tuple[int, int]:
    """The 1-based, inclusive line range of `section` in `source`."""
    lines = source.splitlines()
    if section is None:
        return 1, len(lines)
    if re.fullmatch(
        r"-?\d*:-?\d*|\d+", section
    ):  # a line range, as pymdownx reads it
        first, _, last = section.partition(":")
        return int(first or 1), int(last or len(lines))
    start = end = None
    for lineno, line in enumerate(lines, start=1):
        match = MARKER.search(line)
        if match and match.group("name") == section:
            if match.group("edge") == "start" and start is None:
                start = lineno
            elif match.group("edge") == "end" and start is not None:
                end = lineno
                break
    if start is None or end is None:
        raise PaperIndexError(
            f"{where}: no section {section!r} (start and end markers)"
        )
    return start, end


@functools.lru_cache(maxsize=256)
def _parsed(path: Path, mtime_ns: int, size: int) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def parse(path: Path) -> ast.Module:
    """The syntax tree of `path`, parsed once while the file is unchanged (every
    rebuild of `mkdocs serve` makes the index again)."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


def symbols(source: str | ast.Module, first: int, last: int) -> list[str]:
    """The functions and classes defined at the top level within lines
    `first`..`last`.

    >>> symbols("x = 1\\ndef f(): ...\\nclass C:\\n    def m(self): ...\\n", 2, 4)
    ['f', 'C']
    """
    tree = source if isinstance(source, ast.Module) else ast.parse(source)
    return [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and first <= node.lineno <= last
    ]


def module_name(path: str) -> str:
    """`snippets/albert/sop.py` -> `snippets.albert.sop`."""
    return path.removesuffix(".py").replace("/", ".")


def imports(test_file: Path, module: str) -> bool:
    """Whether `test_file` imports `module` (or a name from it)."""
    tree = parse(test_file)
    package, _, leaf = module.rpartition(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name == module for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            if node.module == module:
                return True
            if node.module == package and any(a.name == leaf for a in node.names):
                return True
    return False


def mechanism_test(root: Path, tests: str | None, snippet: str) -> str | None:
    """The test of one snippet, within the paper's `tests` target.

    A file target is the test. In a folder, `test_<module>.py` is; otherwise the
    one test file that imports the module, or else the folder itself.
    """
    if tests is None:
        return None
    target = root / tests
    if target.is_file():
        return tests
    stem = Path(snippet).stem
    if (target / f"test_{stem}.py").is_file():
        return f"{tests}/test_{stem}.py"
    importers = [
        f
        for f in sorted(target.glob("test_*.py"))
        if imports(f, module_name(snippet))
    ]
    if len(importers) == 1:
        return importers[0].relative_to(root).as_posix()
    return tests


def _embedded(
    root: Path, path: str, sections: list[str | None], where: str
) -> dict:
    file = root / path
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as err:
        raise PaperIndexError(
            f"{where}: embeds {path}, which cannot be read: {err}"
        ) from err
    parts = []
    for section in sections:
        first, last = section_lines(source, section, f"{where}: {path}")
        found = symbols(parse(file), first, last) if path.endswith(".py") else []
        parts.append({"section": section, "symbols": found})
    names = list(dict.fromkeys(s for part in parts for s in part["symbols"]))
    return {"embeds": parts, "symbols": names}


def directory_url(page: str) -> str:
    """A page's URL relative to the site root, as mkdocs makes it by default."""
    stem = page.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def paper_entry(
    bib: Bibliography,
    paper: Paper,
    root: Path,
    docs: Path,
    url: Callable[[str], str],
) -> dict:
    entry = bib.entries[paper.key]
    pages_embeds: dict[str, list[str | None]] = {}
    if paper.page:
        where = f"docs/{paper.page}"
        markdown = (docs / paper.page).read_text(encoding="utf-8")
        for path, section in embeds(markdown):
            pages_embeds.setdefault(path, []).append(section)
    else:
        where = f"refs/papers.toml: {paper.key}"
    mechanisms = []
    for snippet in paper.snippets:
        mechanisms.append(
            {
                "snippet": snippet,
                "module": module_name(snippet),
                "test": mechanism_test(root, paper.tests, snippet),
                **_embedded(root, snippet, pages_embeds.get(snippet, []), where),
            }
        )
    also = [
        {"snippet": path, **_embedded(root, path, sections, where)}
        for path, sections in pages_embeds.items()
        if path not in paper.snippets
    ]
    return {
        "key": paper.key,
        "name": paper.name,
        "title": entry.title,
        "arxiv": entry.arxiv,
        "category": paper.categories[0],
        "categories": list(paper.categories),
        "page": f"docs/{paper.page}" if paper.page else None,
        "url": url(paper.page) if paper.page else None,
        "venue": paper.venue or entry.venue or ("arXiv" if entry.arxiv else None),
        "venue_full": entry.venue or None,
        "year": entry.year,
        "venue_date": paper.venue_date,
        "terms_zh": list(paper.terms_zh),
        "changes": paper.changes,
        "tests": paper.tests,
        "notebooks": [f"docs/{nb}" for nb in paper.notebooks],
        "mechanisms": mechanisms,
        "also_embeds": also,
    }


def build_index(
    root: Path = ROOT,
    *,
    docs: Path | None = None,
    url: Callable[[str], str] = directory_url,
    bib: Bibliography | None = None,
) -> dict:
    """The index of every paper in `root/refs`, its pages read from `docs`."""
    root = Path(root)
    bib = bib or load(root / "refs")
    docs = Path(docs) if docs else root / "docs"
    return {
        "schema": "papers.schema.json",
        "papers": [
            paper_entry(bib, paper, root, docs, url)
            for paper in bib.papers.values()
        ],
    }


def dumps(index: dict) -> str:
    return json.dumps(index, ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(dumps(build_index()))
