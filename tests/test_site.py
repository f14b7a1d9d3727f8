"""The site: strict build, downloads, privacy, escaping, citations, computed
content, the serve cache, and build failures that name the page."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import bibtexparser
import pytest

from citations.bib import load
from helpers import ROOT, mkdocs_build

THIRD_PARTY = re.compile(
    r"fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg\.com|polyfill\.io|cdnjs|googletagmanager"
)


def test_strict_build_has_every_page_and_download(built_site):
    bib = load()
    assert (built_site / "index.html").is_file()
    for paper in bib.papers.values():
        if paper.page:
            assert (
                built_site / paper.page.removesuffix(".md") / "index.html"
            ).is_file()
    all_keys = {
        e.key
        for e in bibtexparser.parse_string(
            (built_site / "bib/all.bib").read_text()
        ).entries
    }
    assert all_keys == set(bib.entries)
    for cid in bib.categories:
        parsed = bibtexparser.parse_string(
            (built_site / f"bib/{cid}.bib").read_text()
        )
        assert [e.key for e in parsed.entries] == bib.keys_in(cid)


def test_built_site_names_no_third_party_host(built_site):
    offenders = [
        str(p.relative_to(built_site))
        for p in built_site.rglob("*")
        if p.is_file()
        and p.suffix in {".html", ".js", ".css", ".map", ".json"}
        and THIRD_PARTY.search(p.read_text(errors="ignore"))
    ]
    assert offenders == []
    assert (built_site / "assets/katex/katex.min.js").is_file()
    assert list((built_site / "assets/katex/fonts").glob("*.woff2"))


def test_paper_page_shows_its_entry_references_and_terms(built_site):
    html = (built_site / "architecture/albert/index.html").read_text()
    assert 'id="ref-lan2020albert"' in html
    assert '<a href="#ref-lan2020albert">Lan et al., 2020</a>' in html
    assert "参数共享" in html
    code = re.search(r'<h2 id="cite">.*?<code>(.*?)</code>', html, re.S).group(1)
    text = (
        re.sub(r"<[^>]+>", "", code)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )
    assert text.strip() == load().entries["lan2020albert"].to_bibtex().strip()
    # the copy button's BibTeX is the download's
    assert text.strip() + "\n" in (built_site / "bib/all.bib").read_text()
    # the embedded snippet is the tested file, not a copy
    assert "embedding_parameter_count" in html


def test_chinese_terms_are_in_the_search_index_segmented(built_site):
    index = json.loads(
        (built_site / "search/search_index.json").read_text(encoding="utf-8")
    )
    assert index["config"]["lang"] == ["en", "zh"]
    page = next(d for d in index["docs"] if d["location"] == "architecture/albert/")
    # jieba segments Chinese with zero-width spaces, into the same pieces the
    # browser makes of a query
    assert "参数共享" in page["text"].replace("\u200b", "")
    assert "\u200b参数\u200b共享\u200b" in page["text"]


def _mini_site(tmp_path: Path, bib_text: str, page: str) -> Path:
    """A one-page site with the real hooks, to feed the build bad or odd refs."""
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "x.bib").write_text(bib_text)
    (tmp_path / "refs" / "papers.toml").write_text(
        '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n[papers.evil2020]\n'
        'name = "Evil"\ncategories = ["c"]\nchanges = "x"\npage = "c/index.md"\n'
    )
    (tmp_path / "docs" / "c").mkdir(parents=True)
    (tmp_path / "docs" / "c" / "index.md").write_text(page)
    (tmp_path / "docs" / "index.md").write_text("# Home\n")
    shutil.copytree(ROOT / "hooks", tmp_path / "hooks")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\ntheme: {name: material, font: false}\n"
        "nav: [{Home: index.md}, {C: c/index.md}]\n"
        "hooks: [hooks/bibliography.py, hooks/assets.py]\n"
    )
    return tmp_path / "mkdocs.yml"


EVIL = """@article{evil2020,
  title = {Attack <script>alert(1)</script> & co},
  author = {<img src=x onerror=alert(1)>, Mallory},
  journal = {J},
  year = {2020}
}
"""


def test_bib_fields_are_escaped_on_pages(tmp_path):
    config = _mini_site(tmp_path, EVIL, "# Evil\n\nAs shown [@evil2020].\n")
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "c" / "index.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_malformed_bib_fails_the_build_with_file_line_and_reason(tmp_path):
    config = _mini_site(
        tmp_path, EVIL + "\n@article{broken,\n  title = {oops\n", "# Evil\n"
    )
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode != 0
    assert re.search(
        r"x\.bib:8: syntax error: this block 'broken' does not parse", result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr
    # bibtexparser's own log counts lines from 0; only the 1-based error is shown
    assert "aborted on line" not in result.stderr + result.stdout


def test_unknown_citation_fails_the_build_with_page_and_line(tmp_path):
    config = _mini_site(
        tmp_path, EVIL, "# Evil\n\nFine [@evil2020].\nBroken [@nobody2000].\n"
    )
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode != 0
    assert (
        "docs/c/index.md:4: unknown citation key(s): nobody2000 (no close match)"
        in result.stderr
    )


def test_a_citation_that_does_not_parse_fails_with_the_line_of_the_source(tmp_path):
    # the front matter is stripped before the hook sees the page: the line
    # number still counts it
    page = "---\ntitle: Evil\n---\n# Evil\n\nFine [@evil2020].\n"
    page += "See [@nope-typo 2020]\n"  # line 7
    config = _mini_site(tmp_path, EVIL, page)
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode != 0
    assert (
        "docs/c/index.md:7: cannot read the citation '[@nope-typo 2020]'"
        in result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr


WRITTEN = r"""@string{naacl = "Proceedings of NAACL"}

@inproceedings{lan2019,
  title     = {{\"U}ber {ALBERT}},
  author    = {L{\'a}n, Zhenzhong and Doe, Jane and Roe, Richard},
  booktitle = naacl # ", Volume 1",
  month     = jan,
  year      = 2019
}

@misc{google2020,
  title  = {A Report},
  author = {{Google Research}},
  year   = {2020}
}
"""

WRITTEN_PAGE = r"""---
title: Written
---
# Written

As shown [@lan2019, p. 12], and by [@google2020; @evil2020].

An escaped \[@nobody] stays text, like `[@nobody]` in code.

<!-- [@nobody] in a comment -->

```text
[@nobody] in a fence
```

    [@nobody] in indented code
"""

COUNT_HOOK = """import citations.bib as bib
from pathlib import Path

CALLS = []
_parse = bib.parse_bib_file


def _counted(path):
    CALLS.append(str(path))
    return _parse(path)


bib.parse_bib_file = _counted


def on_post_build(config):
    Path(config.config_file_path).with_name("parses.txt").write_text(
        "\\n".join(CALLS)
    )
"""


def test_bibtex_as_people_write_it_builds_into_the_page(tmp_path):
    config = _mini_site(tmp_path, EVIL + "\n" + WRITTEN, WRITTEN_PAGE)
    (tmp_path / "refs" / "papers.toml").write_text(
        '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n'
        '[papers.evil2020]\nname = "Evil"\ncategories = ["c"]\nchanges = "x"\n'
        '[papers.lan2019]\nname = "Lan"\ncategories = ["c"]\nchanges = "x"\n'
        'page = "c/index.md"\n'
        '[papers.google2020]\nname = "G"\ncategories = ["c"]\nchanges = "x"\n'
    )
    (tmp_path / "docs" / "other.md").write_text("# Other\n\nSee [@google2020].\n")
    (tmp_path / "hooks" / "count.py").write_text(COUNT_HOOK)
    text = config.read_text().replace("hooks: [", "hooks: [hooks/count.py, ")
    config.write_text(
        text.replace("{C: c/index.md}]", "{C: c/index.md}, other.md]")
        + "markdown_extensions:\n  - pymdownx.arithmatex: {generic: true}\n"
        "  - pymdownx.superfences\n"
    )
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "site" / "c" / "index.html").read_text()
    # the locator, the decoded label, a corporate author as one name
    assert '<a href="#ref-lan2019">Lán et al., 2019</a>, p. 12)' in html
    assert '<a href="#ref-google2020">Google Research, 2020</a>;' in html
    assert (
        '<li id="ref-lan2019">Lán, Zhenzhong; Doe, Jane; Roe, Richard (2019)'
        in html
    )
    assert "<em>Über ALBERT</em>. Proceedings of NAACL, Volume 1." in html
    # left alone: the escape renders as the literal text, the rest stays code
    assert "An escaped [@nobody] stays text" in html
    assert "<code>[@nobody]</code>" in html
    assert "<!-- [@nobody] in a comment -->" in html
    assert html.count("[@nobody] in") == 3  # the comment, the fence, the indent
    # the copy button's BibTeX is the download's, macros and all
    code = re.search(r'<h2 id="cite">.*?<code>(.*?)</code>', html, re.S).group(1)
    shown = re.sub(r"<[^>]+>", "", code).replace("&amp;", "&").strip()
    downloaded = (tmp_path / "site" / "bib" / "all.bib").read_text()
    assert shown + "\n" in downloaded
    assert re.search(r"^  month +?= jan,$", shown, re.M), shown
    assert "booktitle = {Proceedings of NAACL, Volume 1}" in shown
    assert r"L{\'a}n" in shown
    # refs/ was parsed once for the whole build, not once per page
    assert (tmp_path / "parses.txt").read_text().splitlines() == [
        str(tmp_path / "refs" / "x.bib")
    ]


def test_every_paper_page_embeds_each_of_its_snippet_files():
    for paper in load().papers.values():
        if paper.page:
            text = (ROOT / "docs" / paper.page).read_text(encoding="utf-8")
            for path in paper.snippets:
                assert f'--8<-- "{path}' in text, (
                    f"{paper.page} does not embed {path}"
                )


def test_computed_tables_come_from_the_snippets(built_site):
    from snippets.albert.cross_layer_sharing import (
        PAPER_CONFIGS,
        albert_parameter_count,
    )

    html = (built_site / "architecture/albert/index.html").read_text()
    for name, (L, H, E, sharing, reported) in PAPER_CONFIGS.items():
        count = albert_parameter_count(
            30000, E, H, L, H // 64, 4 * H, sharing=sharing
        )
        computed = f"{count / 1e6:,.1f}M"
        assert re.search(
            rf"<td>{name}</td>.*?<td[^>]*>{re.escape(computed)}</td>\s*<td[^>]*>{reported}</td>",
            html,
            re.S,
        ), name
    grid = (built_site / "architecture/xlnet/index.html").read_text()
    assert grid.count('class="blocked"') + grid.count('class="visible"') == 64


def _with_hooks(config: Path, *hooks: str, extra: str = "") -> Path:
    text = config.read_text().replace(
        "hooks/assets.py]", "hooks/assets.py, " + ", ".join(hooks) + "]"
    )
    config.write_text(text + extra)
    return config


COMPUTED_PAGE = """def table():
    return "| a |\\n|---|\\n| 1 |\\n"


def broken():
    return {}["missing"]
"""


def test_computed_blocks_come_from_the_module_beside_the_page(tmp_path):
    config = _mini_site(tmp_path, EVIL, "# Evil\n\n<!-- computed:table -->\n")
    _with_hooks(config, "hooks/computed.py")
    (tmp_path / "docs" / "c" / "index.py").write_text(COMPUTED_PAGE)
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert "<td>1</td>" in (tmp_path / "site" / "c" / "index.html").read_text()
    assert not (tmp_path / "site" / "c" / "index.py").exists()  # not site content
    assert not (tmp_path / ".cache").exists()  # a build never uses the cache


def test_a_failing_or_unknown_computed_block_names_the_page_and_the_block(tmp_path):
    config = _mini_site(tmp_path, EVIL, "# Evil\n\n<!-- computed:broken -->\n")
    _with_hooks(config, "hooks/computed.py")
    (tmp_path / "docs" / "c" / "index.py").write_text(COMPUTED_PAGE)
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode != 0
    assert (
        "docs/c/index.md: computed block 'broken' failed: KeyError: 'missing' "
        "(at docs/c/index.py:6)" in result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr
    page = tmp_path / "docs" / "c" / "index.md"
    page.write_text("# Evil\n\n<!-- computed:no-such-table -->\n")
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode != 0
    assert (
        "docs/c/index.md: unknown computed block 'no-such-table': docs/c/index.py "
        "has no function no_such_table() (it has table, broken)" in result.stderr
    ), result.stderr


SNIPPETS_EXTENSION = """markdown_extensions:
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: ["."]
      check_paths: true
"""


def test_a_missing_snippet_file_or_section_fails_with_one_line(tmp_path):
    config = _mini_site(tmp_path, EVIL, "# Evil\n")
    _with_hooks(config, "hooks/embeds.py", extra=SNIPPETS_EXTENSION)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "x.py").write_text(
        "# --8<-- [start:core]\nx = 1\n# --8<-- [end:core]\n"
    )
    page = tmp_path / "docs" / "c" / "index.md"
    for reference, problem in (
        ("snippets/x.py:core", None),
        ("snippets/x.py:nope", "snippets/x.py has no section 'nope'"),
        ("snippets/gone.py:core", "no file snippets/gone.py"),
    ):
        page.write_text(f'# Evil\n\n```python\n--8<-- "{reference}"\n```\n')
        result = mkdocs_build(config, tmp_path / "site")
        if problem is None:
            assert result.returncode == 0, result.stderr
            continue
        assert result.returncode != 0
        line = f"docs/c/index.md:4: embedded snippet '{reference}': {problem}"
        assert line in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
        # mkdocs' own "Error reading page 'c/index.md':", then ours
        errors = [e for e in result.stderr.splitlines() if not e.startswith("INFO")]
        assert len(errors) == 2 and errors[1].endswith(line), result.stderr


def test_the_cache_follows_the_imports_of_a_notebook():
    """The serve cache's key: every project module a notebook imports."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "buildcache", ROOT / "hooks" / "buildcache.py"
    )
    buildcache = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(buildcache)
    found = buildcache.project_imports(
        "import torch\n%matplotlib inline\nfrom snippets.albert.sop import x\n"
    )
    names = {str(p.relative_to(ROOT)) for p in found}
    assert {
        "snippets/__init__.py",
        "snippets/albert/__init__.py",
        "snippets/albert/sop.py",
        "snippets/_checks.py",  # imported by sop.py, not by the notebook
    } <= names, names
    assert all(p.is_relative_to(ROOT) and ".venv" not in p.parts for p in found)


def test_a_cache_entry_lasts_while_its_files_are_unchanged(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "buildcache", ROOT / "hooks" / "buildcache.py"
    )
    buildcache = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(buildcache)
    dep = tmp_path / "dep.py"
    dep.write_text("A = 1\n")
    cache = buildcache.Cache(tmp_path / "cache")
    cache.put("k", buildcache.digests([dep, tmp_path / "absent"]), {"v": 1})
    assert cache.get("k") == {"v": 1} and cache.get("other") is None
    dep.write_text("A = 2\n")
    assert cache.get("k") is None
    dep.write_text("A = 1\n")
    (tmp_path / "absent").write_text("")  # a file that appears counts too
    assert cache.get("k") is None


def test_every_notebook_is_executed_rendered_and_downloadable(built_site):
    for paper in load().papers.values():
        for notebook in paper.notebooks:
            stem = notebook.removesuffix(".py")
            html = (built_site / stem / "index.html").read_text()
            assert "jp-OutputArea-output" in html, (
                f"{notebook} has no executed output"
            )
            assert "Traceback" not in html
            ipynb = json.loads((built_site / f"{stem}.ipynb").read_text())
            assert ipynb["nbformat"] == 4 and ipynb["cells"]
        if paper.page and paper.notebooks:
            page = (
                built_site / paper.page.removesuffix(".md") / "index.html"
            ).read_text()
            assert (
                f"{paper.notebooks[0].split('/')[-1].removesuffix('.py')}.ipynb"
                in page
            )


def test_a_failing_notebook_names_its_file_and_line_without_colours(tmp_path):
    config = _mini_site(tmp_path, EVIL, "# Evil\n")
    (tmp_path / "docs" / "notebooks").mkdir()
    (tmp_path / "docs" / "notebooks" / "broken.py").write_text(
        "# %%\nx = 1\n\n# %% [markdown]\n# A note\n\n# %%\ny = 2\n"
        "raise RuntimeError('snippet broke')\n"
    )
    _with_hooks(
        config,
        "hooks/notebooks.py",
        extra="plugins:\n  - mkdocs-jupyter:\n      include: ['notebooks/*.py']\n"
        "      execute: true\n      allow_errors: false\n      cache: false\n",
    )
    config.write_text(
        config.read_text().replace(
            "nav: [{Home: index.md}, {C: c/index.md}]",
            "nav: [{Home: index.md}, {C: c/index.md}, notebooks/broken.py]",
        )
    )
    result = mkdocs_build(config, tmp_path / "site")
    output = result.stderr + result.stdout
    assert result.returncode != 0
    assert "docs/notebooks/broken.py:9: RuntimeError: snippet broke" in output, (
        output
    )
    assert "\x1b[" not in output and "Traceback" not in output
    assert "without encryption" not in output  # the kernel's transport is encrypted


def test_comparison_table_is_generated_with_a_source_for_every_value(built_site):
    html = (built_site / "comparison/index.html").read_text()
    table = re.search(r'<table class="comparison">(.*?)</table>', html, re.S).group(
        1
    )
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    models = [m for p in load().papers.values() for m in p.models]
    assert len(rows) == len(models)
    for row in rows:
        cells = re.findall(r"<td([^>]*)>(.*?)</td>", row, re.S)[1:]
        for attrs, text in (
            cells[:1] + cells[2:]
        ):  # the category cell is ours, not a fact
            assert 'title="Source: ' in attrs or (
                'class="missing"' in attrs and "not reported" in text
            ), (attrs, text)
    # computed parameters: BERT-base, counted by the snippets, not typed
    assert "109.5M (computed)" in table
    # ensembles are marked as such, and every GLUE score says dev or test
    assert "89.4 (test, ensemble)" in table and "88.5 (test, ensemble)" in table
    assert len(re.findall(r"\d \((?:dev|test)(?:, ensemble)?\)", table)) == sum(
        "glue" in m for m in models
    )
    for svg in ("glue-vs-params", "timeline", "survey-map"):
        text = (built_site / f"{svg}.svg").read_text()
        assert text.lstrip().startswith(("<?xml", "<svg"))
    plot = (built_site / "glue-vs-params.svg").read_text()
    assert "ensemble, test server" in plot and "single model, test server" in plot
    assert 'src="../glue-vs-params.svg"' in html
    home = (built_site / "index.html").read_text()
    assert (
        'src="survey-map.svg"' in home
        and "What it changes relative to BERT" in home
    )


def test_a_crowded_category_lists_its_papers_on_the_overview_not_in_the_navigation(
    tmp_path,
):
    n = 30  # more than hooks/bibliography.py's MAX_NAV_PAPERS
    bib = "".join(
        f"@article{{p{i},\n  title = {{Paper {i}}},\n  author = {{Doe, Jane}},\n"
        "  journal = {J},\n  year = {2020}\n}\n"
        for i in range(n)
    )
    config = _mini_site(tmp_path, EVIL + bib, "# C\n")
    with open(tmp_path / "refs" / "papers.toml", "a") as f:
        for i in range(n):
            f.write(
                f'[papers.p{i}]\nname = "Paper {i}"\ncategories = ["c"]\n'
                f'changes = "x"\npage = "c/p{i}.md"\n'
            )
            (tmp_path / "docs" / "c" / f"p{i}.md").write_text(f"# Paper {i}\n")
    result = mkdocs_build(config, tmp_path / "site")
    assert result.returncode == 0, (
        result.stderr
    )  # strict: no "not in nav" complaint
    overview = (tmp_path / "site" / "c" / "index.html").read_text()
    assert all(f'href="p{i}/"' in overview for i in range(n))
    page = (tmp_path / "site" / "c" / "p7" / "index.html").read_text()
    assert (
        'href="../p8/"' not in page.split('class="md-content"')[0]
    )  # the navigation does not list siblings


def test_an_ensemble_mark_is_a_boolean_on_glue_or_squad_only(tmp_path):
    from citations.bib import BibError

    config = _mini_site(tmp_path, EVIL, "# Evil\n")
    papers = (tmp_path / "refs" / "papers.toml").read_text()
    for fact, ok in (
        ('glue = { value = 8, split = "test", ensemble = true, source = "T" }', 1),
        ('squad = { value = "v1.1 F1 90", ensemble = true, source = "T" }', 1),
        ('params = { value = "1M", ensemble = true, source = "T" }', 0),
        (
            'glue = { value = 8.0, split = "dev", ensemble = "yes", source = "T" }',
            0,
        ),
    ):
        model = f'\n[[papers.evil2020.models]]\nname = "M"\n{fact}\n'
        (tmp_path / "refs" / "papers.toml").write_text(papers + model)
        if ok:
            load(config.parent / "refs")
        else:
            with pytest.raises(BibError, match="ensemble is true or false"):
                load(config.parent / "refs")
