"""The BibTeX pipeline: parsing, validation with useful messages, rendering and the CLI."""

from __future__ import annotations

import subprocess
import sys

import bibtexparser
import pytest

from citations import cite
from citations.bib import (
    REFS_DIR,
    BibError,
    load,
    parse_bib_file,
    replace_citations,
)

GOOD = """@article{good2020,
  title = {A {Good} Title},
  author = {Doe, Jane and Roe, Richard},
  journal = {Journal of Tests},
  year = {2020},
  eprint = {2001.00001},
  archiveprefix = {arXiv}
}
"""

SURVEYED = {
    "devlin2019bert": ("inproceedings", "2019", "1810.04805"),
    "yang2019xlnet": ("inproceedings", "2019", "1906.08237"),
    "lan2020albert": ("inproceedings", "2020", "1909.11942"),
    "liu2019roberta": ("article", "2019", "1907.11692"),
    "joshi2020spanbert": ("article", "2020", "1907.10529"),
    "raffel2020t5": ("article", "2020", "1910.10683"),
    "sun2020ernie2": ("inproceedings", "2020", "1907.12412"),
    "sanh2019distilbert": ("article", "2019", "1910.01108"),
    "hinton2015distilling": ("article", "2015", "1503.02531"),
    "wang2019glue": ("inproceedings", "2019", "1804.07461"),
}


def test_every_surveyed_paper_has_its_venue_entry_and_arxiv_id():
    bib = load()
    for key, (entry_type, year, eprint) in SURVEYED.items():
        entry = bib.entries[key]
        assert (entry.entry_type, entry.fields["year"], entry.arxiv) == (
            entry_type,
            year,
            eprint,
        ), key
    assert "NeurIPS" in bib.entries["yang2019xlnet"].venue
    assert "ICLR" in bib.entries["lan2020albert"].venue
    assert bib.entries["joshi2020spanbert"].venue.startswith(
        "Transactions of the Association for Computational Linguistics"
    )
    assert (
        bib.entries["raffel2020t5"].venue == "Journal of Machine Learning Research"
    )
    assert "AAAI" in bib.entries["sun2020ernie2"].venue
    assert "NAACL" in bib.entries["devlin2019bert"].venue


def test_every_paper_page_exists_and_every_category_has_an_overview():
    bib = load()
    docs = REFS_DIR.parent / "docs"
    for paper in bib.papers.values():
        if paper.page:
            assert (docs / paper.page).is_file(), paper.page
        for path in paper.snippets:
            assert (REFS_DIR.parent / path).is_file(), path
        if paper.tests:
            assert (REFS_DIR.parent / paper.tests).exists(), paper.tests
    for cid in bib.categories:
        if cid != "foundations":
            assert (docs / cid / "index.md").is_file()


def test_to_bibtex_round_trips_through_bibtexparser():
    bib = load()
    reparsed = bibtexparser.parse_string(bib.bibtex())
    assert not reparsed.failed_blocks
    assert [e.key for e in reparsed.entries] == list(bib.entries)
    for entry in reparsed.entries:
        assert {
            k.lower(): f.value for k, f in entry.fields_dict.items()
        } == bib.entries[entry.key].fields


def test_label_is_author_year():
    bib = load()
    assert bib.entries["hinton2015distilling"].label == "Hinton et al., 2015"


def _refs(tmp_path, bib_text: str, extra_papers: str = "") -> tuple:
    d = tmp_path / "refs"
    d.mkdir()
    (d / "bad.bib").write_text(bib_text)
    keys = [e.key for e in bibtexparser.parse_string(bib_text).entries]
    meta = '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n' + "".join(
        f'[papers.{k}]\nname = "{k}"\ncategories = ["c"]\nchanges = "x"\n'
        for k in dict.fromkeys(keys)
    )
    (d / "papers.toml").write_text(meta + extra_papers)
    return d, d / "bad.bib"


@pytest.mark.parametrize(
    "text, line, reason",
    [
        (
            GOOD + "\n@article{broken,\n  title = {unbalanced,\n  year = 2020\n",
            10,
            "does not parse",
        ),
        (GOOD + "\n" + GOOD, 10, "duplicate key 'good2020'"),
        (
            GOOD.replace("  journal = {Journal of Tests},\n", ""),
            1,
            "missing required field(s) journal for @article",
        ),
        (
            GOOD.replace("author = {Doe, Jane and Roe, Richard},", ""),
            1,
            "missing required field(s) author",
        ),
        (GOOD.replace("@article", "@inproceedings"), 1, "booktitle"),
        (GOOD.replace("2001.00001", "2013.00001"), 1, "not a well-formed arXiv id"),
        (
            GOOD.replace("2001.00001", "arXiv:2001.00001"),
            1,
            "not a well-formed arXiv id",
        ),
        (GOOD.replace("  archiveprefix = {arXiv}\n", ""), 1, "archiveprefix"),
        (GOOD.replace("@article", "@inprocedings"), 1, "unsupported entry type"),
        (GOOD.replace("{2020}", "{circa 2020}"), 1, "year must be four digits"),
    ],
    ids=[
        "unparsable",
        "duplicate",
        "no-journal",
        "no-author",
        "no-booktitle",
        "bad-month",
        "prefixed-eprint",
        "no-archiveprefix",
        "typo-type",
        "bad-year",
    ],
)
def test_bad_bib_fails_with_file_line_and_reason(tmp_path, text, line, reason):
    refs, path = _refs(tmp_path, text)
    with pytest.raises(BibError) as err:
        load(refs)
    message = str(err.value)
    assert f"{path}:{line}" in message
    assert reason in message


def test_duplicate_key_across_files_names_both_places(tmp_path):
    refs, path = _refs(tmp_path, GOOD)
    (refs / "other.bib").write_text("\n\n" + GOOD)
    with pytest.raises(
        BibError,
        match=r"other\.bib:3: duplicate key 'good2020' \(first defined at .*bad\.bib:1\)",
    ):
        load(refs)


def test_metadata_must_match_the_bib(tmp_path):
    refs, _ = _refs(
        tmp_path,
        GOOD,
        '[papers.ghost2021]\nname = "G"\ncategories = ["c"]\nchanges = "x"\n',
    )
    with pytest.raises(BibError, match="paper 'ghost2021': no BibTeX entry"):
        load(refs)
    (refs / "papers.toml").write_text(
        '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n'
    )
    with pytest.raises(
        BibError,
        match=r"bad\.bib:1: entry 'good2020' has no \[papers.good2020\] record",
    ):
        load(refs)
    (refs / "papers.toml").write_text(
        '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n[papers.good2020]\nname = "G"\ncategories = ["d"]\nchanges = "x"\n'
    )
    with pytest.raises(BibError, match="must be a non-empty subset"):
        load(refs)


def test_single_file_parser_reports_good_entries():
    entries = parse_bib_file(REFS_DIR / "survey.bib")
    assert {e.key for e in entries} >= set(SURVEYED)
    assert all(e.line >= 1 for e in entries)


def test_citations_are_replaced_outside_code_and_unknown_keys_fail_with_the_line():
    md = "Intro [@a].\n\n```\n[@zzz] in a fence is code\n```\n\nInline `[@zzz]` too; and [@a; @b].\n"
    out = replace_citations(
        md, lambda keys: "<" + ",".join(keys) + ">", {"a", "b"}, source="docs/x.md"
    )
    assert (
        out
        == "Intro <a>.\n\n```\n[@zzz] in a fence is code\n```\n\nInline `[@zzz]` too; and <a,b>.\n"
    )
    with pytest.raises(
        BibError, match=r"docs/x\.md:3: citation to unknown key\(s\) nope"
    ):
        replace_citations(
            "one\ntwo\nsee [@a; @nope]\n", str, {"a"}, source="docs/x.md"
        )


def test_cli_prints_keys_categories_and_all(capsys):
    assert cite.main(["lan2020albert"]) == 0
    out = capsys.readouterr().out
    assert [e.key for e in bibtexparser.parse_string(out).entries] == [
        "lan2020albert"
    ]
    assert cite.main(["--category", "compression"]) == 0
    keys = {
        e.key for e in bibtexparser.parse_string(capsys.readouterr().out).entries
    }
    assert keys == {"lan2020albert", "hinton2015distilling", "sanh2019distilbert"}
    assert cite.main(["--all"]) == 0
    assert len(bibtexparser.parse_string(capsys.readouterr().out).entries) == len(
        load().entries
    )


def test_cli_rejects_unknown_keys_and_categories_with_a_clear_message():
    run = lambda *args: subprocess.run(
        [sys.executable, "-m", "citations.cite", *args],
        capture_output=True,
        text=True,
    )
    result = run("lan2020albert", "nosuch2019")
    assert result.returncode == 2
    assert "unknown citation key(s): nosuch2019" in result.stderr
    assert result.stdout == ""
    result = run("--category", "poetry")
    assert result.returncode == 2
    assert "unknown category 'poetry'" in result.stderr
    assert run().returncode == 2


@pytest.mark.parametrize(
    "model, match",
    [
        ('name = "M"\nglue = { value = 80.0, source = "T1" }\n', "split"),
        ('name = "M"\nparams = { value = "1M" }\n', "non-empty source"),
        (
            'name = "M"\nparams = { value = "1M", computed = "x", source = "T" }\n',
            "exactly one of value or computed",
        ),
        ('name = "M"\nspeed = { value = 1, source = "T" }\n', "unknown fact"),
        ('params = { value = "1M", source = "T" }\n', "needs a name"),
    ],
)
def test_comparison_facts_must_be_sourced_and_well_formed(tmp_path, model, match):
    refs, _ = _refs(tmp_path, GOOD)
    with open(refs / "papers.toml", "a") as f:
        f.write("\n[[papers.good2020.models]]\n" + model)
    with pytest.raises(BibError, match=match):
        load(refs)


def test_arxiv_dates_come_from_the_ids():
    bib = load()
    assert (
        bib.arxiv_date("lan2020albert") == "2019-09"
        and bib.arxiv_date("devlin2019bert") == "2018-10"
    )
