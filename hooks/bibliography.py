"""mkdocs hook: everything the site shows from refs/.

- the navigation: each category section lists its papers from refs/papers.toml;
- `[@key]` citations become links to a References list at the bottom of the page;
- each paper page gets its Chinese terms, a "Try it" line and its BibTeX (with
  Material's copy button);
- the bibliography page lists every entry; `bib/all.bib` and `bib/<category>.bib`
  are generated downloads.

Any problem in refs/, or a citation to an unknown key or one that does not parse,
stops the build with the file, the line and the reason.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import jieba
import pathspec
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.utils.meta import get_data

from citations.bib import (
    BibError,
    Bibliography,
    Cite,
    Entry,
    load,
    replace_citations,
)

# Material's search segments Chinese with jieba at build time; its start-up
# chatter is not a build message. Terms are left to jieba's own dictionary on
# purpose: the browser splits a query such as 知识蒸馏 into 知识 / 蒸馏, so the
# index must hold those pieces, not one custom token.
jieba.setLogLevel(logging.WARNING)

log = logging.getLogger("mkdocs.hooks.bibliography")
BIB: Bibliography | None = None
BIBLIOGRAPHY_MARKER = "<!-- bibliography -->"
# A category lists its papers in the navigation while it has at most this many.
# Beyond that only its overview page is in the navigation (it always lists every
# paper), because Material renders the navigation into every page: a navigation
# that grows with the site makes the build quadratic.
MAX_NAV_PAPERS = 24


def _bib() -> Bibliography:
    if BIB is None:
        raise PluginError(
            "bibliography hook: refs/ was not loaded (on_config did not run)"
        )
    return BIB


def on_config(config):
    global BIB
    try:
        BIB = load(Path(config.config_file_path).parent / "refs")
    except BibError as err:
        raise PluginError(f"refs/: {err}") from err
    config.nav = [_expand(item) for item in config.nav or []]
    hidden = [
        p.page
        for cid in BIB.categories
        for p in _crowded(cid)
        if p.page != f"{cid}/index.md"
    ]
    if (
        hidden
    ):  # in the site, linked from the overview, deliberately not in the navigation
        lines = [
            *(config.not_in_nav.patterns if config.not_in_nav else []),
            *(f"/{page}" for page in hidden),
        ]
        config.not_in_nav = pathspec.gitignore.GitIgnoreSpec.from_lines(
            [str(getattr(line, "pattern", line)) for line in lines]
        )
    return config


def _category_papers(category: str) -> list:
    return [
        p for p in _bib().papers.values() if p.page and p.categories[0] == category
    ]


def _crowded(category: str) -> list:
    papers = _category_papers(category)
    return papers if len(papers) > MAX_NAV_PAPERS else []


def _expand(item):
    """`- Architecture: architecture/index.md` becomes a section: the overview,
    then its papers."""
    if not isinstance(item, dict) or len(item) != 1:
        return item
    ((title, target),) = item.items()
    if (
        target == "notebooks/index.md"
    ):  # every paper's notebooks, in papers.toml order
        return {
            title: [
                target,
                *(nb for p in _bib().papers.values() for nb in p.notebooks),
            ]
        }
    category = (
        target.split("/")[0]
        if isinstance(target, str) and target.endswith("/index.md")
        else None
    )
    if category not in _bib().categories:
        return item
    if _crowded(category):
        return item
    return {
        title: [target, *({p.name: p.page} for p in _category_papers(category))]
    }


def on_files(files: Files, config) -> Files:
    bib = _bib()
    files.append(File.generated(config, "bib/all.bib", content=bib.bibtex()))
    for cid in bib.categories:
        files.append(
            File.generated(
                config, f"bib/{cid}.bib", content=bib.bibtex(bib.keys_in(cid))
            )
        )
    for paper in bib.papers.values():
        for path in filter(None, (paper.page, *paper.notebooks)):
            if files.get_file_from_path(path) is None:
                raise PluginError(
                    f"refs/papers.toml: paper {paper.key!r} names {path!r}, "
                    "which is not in docs/"
                )
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    bib = _bib()
    cited: list[str] = []

    def cite(items: list[Cite]) -> str:
        cited.extend(k for k, _ in items if k not in cited)
        links = "; ".join(
            f'<a href="#ref-{k}">{html.escape(bib.entries[k].label)}</a>'
            + (f", {html.escape(locator)}" if locator else "")
            for k, locator in items
        )
        return f'<span class="citation">({links})</span>'

    try:
        markdown = replace_citations(
            markdown,
            cite,
            bib.entries,
            source=f"docs/{page.file.src_uri}",
            first_line=_first_line(page),
        )
    except BibError as err:
        raise PluginError(str(err)) from err

    category = page.file.src_uri.removesuffix("/index.md")
    if category in bib.categories and page.file.src_uri.endswith("/index.md"):
        markdown += _category_listing(bib, category, page)
    paper = bib.paper_for_page(page.file.src_uri)
    if paper:
        markdown = _with_terms(markdown, paper.terms_zh) + _paper_footer(
            bib, paper, page
        )
        page.meta.setdefault("search", {}).setdefault(
            "boost", 2
        )  # a paper page beats an overview that mentions it
    if BIBLIOGRAPHY_MARKER in markdown:
        markdown = markdown.replace(BIBLIOGRAPHY_MARKER, _bibliography(bib, page))
    if cited:
        items = "\n".join(_reference_item(bib.entries[k]) for k in cited)
        markdown += (
            f'\n\n## References\n\n<ol class="references">\n{items}\n</ol>\n'
        )
    return markdown


def _first_line(page) -> int:
    """The source line where the page's Markdown starts, after its front matter."""
    source = page.file.content_string
    body, _ = get_data(source)  # how mkdocs strips the front matter
    if not source.endswith(body):
        return 1
    return source[: len(source) - len(body)].count("\n") + 1


def _with_terms(markdown: str, terms: tuple[str, ...]) -> str:
    """Put the Chinese terms right under the H1, where readers and the search
    index both see them."""
    if not terms:
        return markdown
    terms_text = html.escape("、".join(terms))
    line = f'\n<p class="terms-zh" lang="zh">中文术语：{terms_text}</p>\n'
    lines = markdown.splitlines(keepends=True)
    for i, text in enumerate(lines):
        if text.startswith("# "):
            lines.insert(i + 1, line)
            return "".join(lines)
    return line + markdown


def _rel(page, target: str) -> str:
    """A Markdown link from `page` to a docs-relative path; mkdocs validates and
    rewrites it."""
    return "../" * page.file.src_uri.count("/") + target


def _code_block(text: str, lang: str) -> str:
    # A field that holds a run of backticks must not close the fence early.
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}\n"


def _paper_footer(bib: Bibliography, paper, page) -> str:
    parts = []
    if paper.tests or paper.notebooks:
        parts.append("\n\n## Try it\n")
    if paper.tests:
        parts.append(
            "\nRun this paper's tests (after `make test` has set up `.venv`):\n\n"
            + _code_block(f".venv/bin/python -m pytest {paper.tests} -q", "bash")
        )
    for notebook in paper.notebooks:
        ipynb = notebook.removesuffix(".py") + ".ipynb"
        parts.append(
            f"\n- Notebook: [{notebook.split('/')[-1].removesuffix('.py')}]"
            f"({_rel(page, notebook)}), "
            f"executed at build time ([download `.ipynb`]({_rel(page, ipynb)}))\n"
        )
    downloads = ", ".join(
        f"[{bib.categories[c].title}]({_rel(page, f'bib/{c}.bib')})"
        for c in paper.categories
    )
    parts.append(
        "\n\n## Cite\n\n"
        + _code_block(bib.entries[paper.key].to_bibtex(), "bibtex")
        + f"\nDownload as `.bib`: {downloads}, or "
        + f"[the whole bibliography]({_rel(page, 'bib/all.bib')}).\n"
    )
    return "".join(parts)


def _category_listing(bib: Bibliography, category: str, page) -> str:
    rows = [
        "\n\n## Papers in this category\n",
        "| Paper | Year | What it changes relative to BERT |",
        "|---|---|---|",
    ]
    for key in bib.keys_in(category):
        paper = bib.papers[key]
        name = (
            f"[{paper.name}]({_rel(page, paper.page)})"
            if paper.page
            else paper.name
        )
        rows.append(
            f"| {name} | {bib.entries[key].year} | {html.escape(paper.changes)} |"
        )
    return "\n".join(rows) + "\n"


def _reference_item(entry: Entry) -> str:
    authors = "; ".join(entry.authors)  # "Last, First; Last, First": unambiguous
    link = ""
    if entry.arxiv:
        eprint = html.escape(entry.arxiv)
        link = f' <a href="https://arxiv.org/abs/{eprint}">arXiv:{eprint}</a>'
    return (
        f'<li id="ref-{html.escape(entry.key)}">{html.escape(authors)} '
        f"({entry.year}). <em>{html.escape(entry.title)}</em>. "
        f"{html.escape(entry.venue)}.{link}</li>"
    )


def _bibliography(bib: Bibliography, page) -> str:
    out = [
        f"Download everything as [`all.bib`]({_rel(page, 'bib/all.bib')}) "
        f"({len(bib.entries)} entries), or one category:\n"
    ]
    for cid, cat in bib.categories.items():
        out.append(
            f"- [{cat.title} ({cat.title_zh})]({_rel(page, f'bib/{cid}.bib')}): "
            f"{len(bib.keys_in(cid))} entries"
        )
    for cid, cat in bib.categories.items():
        out.append(f"\n## {cat.title}\n")
        for key in bib.keys_in(cid):
            paper, entry = bib.papers[key], bib.entries[key]
            name = (
                f"[{paper.name}]({_rel(page, paper.page)})"
                if paper.page
                else paper.name
            )
            out.append(
                f"\n### {html.escape(paper.name)} {{ #{cid}-{key} }}\n\n"
                f"{name}: {html.escape(entry.title)} ({html.escape(entry.label)})\n"
            )
            out.append(_code_block(entry.to_bibtex(), "bibtex"))
    return "\n".join(out)
