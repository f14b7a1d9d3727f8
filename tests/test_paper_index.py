"""papers.json: served with the site, valid against its committed schema, and
every path, URL and symbol in it real."""

from __future__ import annotations

import importlib
import json
import shutil

import jsonschema
import pytest

from citations.bib import load
from citations.paper_index import (
    PaperIndexError,
    build_index,
    embeds,
    imports,
    section_lines,
    symbols,
)
from helpers import ROOT

SCHEMA = json.loads((ROOT / "refs/papers.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def served(built_site) -> dict:
    return json.loads((built_site / "papers.json").read_text(encoding="utf-8"))


def test_the_served_index_validates_against_the_served_schema(built_site, served):
    served_schema = json.loads((built_site / "papers.schema.json").read_text())
    assert served_schema == SCHEMA
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(served)


def test_the_served_index_is_the_one_refs_makes(served):
    assert served == build_index()
    bib = load()
    assert [p["key"] for p in served["papers"]] == list(bib.papers)
    for paper in served["papers"]:
        entry = bib.entries[paper["key"]]
        assert (paper["arxiv"], paper["year"]) == (entry.arxiv, entry.year)


def test_every_path_and_url_in_the_index_exists(built_site, served):
    for paper in served["papers"]:
        paths = [paper["page"], paper["tests"], *paper["notebooks"]]
        for mechanism in paper["mechanisms"]:
            paths += [mechanism["snippet"], mechanism["test"]]
        paths += [other["snippet"] for other in paper["also_embeds"]]
        for path in filter(None, paths):
            assert (ROOT / path).exists(), f"{paper['key']}: {path}"
        if paper["url"]:
            assert (built_site / paper["url"] / "index.html").is_file(), paper[
                "url"
            ]


def test_each_mechanism_test_imports_it_and_each_symbol_is_defined_in_it(served):
    for paper in served["papers"]:
        for mechanism in paper["mechanisms"]:
            module = importlib.import_module(mechanism["module"])
            for name in mechanism["symbols"]:
                assert getattr(module, name).__module__ == module.__name__, name
            test = ROOT / mechanism["test"]
            files = [test] if test.is_file() else sorted(test.glob("test_*.py"))
            assert any(imports(f, mechanism["module"]) for f in files), mechanism
            # the page shows at least one function or class of every mechanism
            assert mechanism["symbols"], (paper["key"], mechanism["snippet"])


SNIPPET = """\
import torch

# --8<-- [start:core]
@torch.no_grad()
def decorated():
    def inner(): ...


class Holder:
    def method(self): ...
# --8<-- [end:core]


def outside(): ...
"""


def test_symbols_are_the_top_level_definitions_of_the_section():
    first, last = section_lines(SNIPPET, "core", "x.py")
    assert (first, last) == (3, 11)
    assert symbols(SNIPPET, first, last) == ["decorated", "Holder"]
    assert symbols(SNIPPET, *section_lines(SNIPPET, None, "x.py")) == [
        "decorated",
        "Holder",
        "outside",
    ]
    assert symbols(SNIPPET, *section_lines(SNIPPET, "13:14", "x.py")) == ["outside"]


def test_embed_lines_are_read_as_pymdownx_reads_them():
    page = (
        '```python\n--8<-- "snippets/a.py:core"\n```\n'
        "    --8<-- 'snippets/b.py'\n"
        ';--8<-- "snippets/escaped.py"\n'
        'Inline --8<-- "not/an/embed.py" in prose.\n'
    )
    assert embeds(page) == [("snippets/a.py", "core"), ("snippets/b.py", None)]


def test_an_embedded_section_that_is_not_there_names_the_page(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("assets"))
    page = docs / "architecture/albert.md"
    page.write_text(page.read_text() + '\n--8<-- "snippets/albert/sop.py:nope"\n')
    where = (
        r"docs/architecture/albert\.md: snippets/albert/sop\.py: no section 'nope'"
    )
    with pytest.raises(PaperIndexError, match=where):
        build_index(ROOT, docs=docs)
