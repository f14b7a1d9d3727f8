"""The BibTeX pipeline: parsing, validation messages, page citations, the CLI."""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bibtexparser
import pytest

from citations import cite
from citations.bib import (
    REFS_DIR,
    BibError,
    Bibliography,
    Cite,
    Entry,
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
# The same entry under another key, as the second block of a file: it starts at
# line 10, its title is on line 11, its author on 12, its journal on 13.
SECOND = "\n" + GOOD.replace("good2020", "two2020")

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


def _hook():
    """hooks/bibliography.py as a module (mkdocs loads it from its path, too)."""
    path = REFS_DIR.parent / "hooks" / "bibliography.py"
    spec = importlib.util.spec_from_file_location("bibliography_hook", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        f'[papers."{k}"]\nname = "{k}"\ncategories = ["c"]\nchanges = "x"\n'
        for k in dict.fromkeys(keys)
    )
    (d / "papers.toml").write_text(meta + extra_papers)
    return d, d / "bad.bib"


# --- BibTeX as people write it --------------------------------------------------

WRITTEN = r"""@string{naacl = "Proceedings of the 2019 Conference of the North
  {A}merican Chapter of the Association for Computational Linguistics"}
@STRING{acl = {Association for Computational Linguistics}}
@string{naacl19 = naacl # " (NAACL-HLT)"}

@inproceedings{lan2019,
  title     = {{\"U}ber {ALBERT}: a {L}ite {BERT} -- with $O(1)$ \& more},
  author    = {L{\'a}n, Zhenzhong and M\"{u}ller, Hans and van der Berg, Jan},
  booktitle = naacl19 # ", Volume 1",
  publisher = acl,
  month     = jan,
  year      = 2019
}

@misc{google2020,
  title  = {A Report},
  author = {{Google Research}},
  month  = {January},
  year   = {2020}
}

@misc{pair2021,
  title  = {Two},
  author = {{{Google Research}} and Doe, Jane},
  year   = {2021}
}
"""


def test_string_macros_and_concatenation_are_resolved(tmp_path):
    refs, _ = _refs(tmp_path, WRITTEN)
    entry = load(refs).entries["lan2019"]
    venue = (
        "Proceedings of the 2019 Conference of the North\n  {A}merican Chapter of "
        "the Association for Computational Linguistics (NAACL-HLT), Volume 1"
    )
    assert entry.fields["booktitle"] == venue
    assert entry.fields["publisher"] == "Association for Computational Linguistics"
    assert entry.venue == " ".join(venue.replace("{A}", "A").split())
    # the download is valid BibTeX that says the same without the @string blocks
    again = bibtexparser.parse_string(entry.to_bibtex()).entries[0]
    assert again["booktitle"] == venue and "naacl" not in entry.to_bibtex()


def test_an_undefined_macro_is_named_at_its_line(tmp_path):
    refs, path = _refs(tmp_path, GOOD.replace("{Journal of Tests}", "jtests"))
    with pytest.raises(BibError) as err:
        load(refs)
    assert (
        f"{path}:4: entry 'good2020', field 'journal': undefined @string "
        in str(err.value)
    )
    assert "'jtests'" in str(err.value)


def test_month_macro_stays_bare_in_downloads_and_the_cli(
    tmp_path, monkeypatch, capsys
):
    refs, _ = _refs(tmp_path, WRITTEN)
    bib = load(refs)
    text = bib.entries["lan2019"].to_bibtex()
    assert re.search(r"^  month +?= jan,$", text, re.M), text
    assert "{jan}" not in bib.bibtex()
    # a braced month is a string, and stays one
    assert re.search(r"month += \{January\}", bib.entries["google2020"].to_bibtex())
    monkeypatch.setattr(cite, "load", lambda: bib)
    assert cite.main(["lan2019"]) == 0
    out = capsys.readouterr().out
    assert out == text
    month = bibtexparser.parse_string(out).entries[0].fields_dict["month"]
    assert (month.value, month.enclosing) == ("jan", "no-enclosing")


def test_latex_is_decoded_for_labels_and_reference_lists_not_for_bibtex(tmp_path):
    refs, _ = _refs(tmp_path, WRITTEN)
    entry = load(refs).entries["lan2019"]
    assert entry.label == "Lán et al., 2019"
    assert entry.authors == ("Lán, Zhenzhong", "Müller, Hans", "van der Berg, Jan")
    assert entry.title == "Über ALBERT: a Lite BERT – with $O(1)$ & more"
    item = _hook()._reference_item(entry)
    assert item.startswith(
        '<li id="ref-lan2019">Lán, Zhenzhong; Müller, Hans; van der Berg, Jan '
        "(2019). <em>Über ALBERT: a Lite BERT – with $O(1)$ &amp; more</em>."
    )
    assert r"L{\'a}n, Zhenzhong" in entry.to_bibtex()  # the BibTeX keeps its LaTeX


def test_a_braced_corporate_author_is_one_name(tmp_path):
    refs, _ = _refs(tmp_path, WRITTEN)
    bib = load(refs)
    assert bib.entries["google2020"].label == "Google Research, 2020"
    assert bib.entries["pair2021"].label == "Google Research and Doe, 2021"
    assert bib.entries["lan2019"].surnames[-1] == "van der Berg"


def test_real_bibliography_labels_are_unchanged():
    bib = load()
    labels = {k: e.label for k, e in bib.entries.items() if k in SURVEYED}
    assert labels["devlin2019bert"] == "Devlin et al., 2019"
    assert bib.entries["devlin2019bert"].authors[0] == "Devlin, Jacob"
    assert bib.entries["devlin2019bert"].title.startswith("BERT: Pre-training")


# --- Validation messages --------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, reason",
    [
        (
            GOOD + "\n@article{broken,\n  title = {unbalanced,\n  year = 2020\n",
            10,
            "syntax error: this block 'broken' does not parse",
        ),
        (
            GOOD + "\n" + GOOD,
            10,
            "duplicate key 'good2020' (first defined at line 1)",
        ),
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
        (
            GOOD.replace("@article", "@inproceedings"),
            1,
            "missing required field(s) booktitle",
        ),
        (GOOD.replace("2001.00001", "2013.00001"), 1, "not a well-formed arXiv id"),
        (
            GOOD.replace("2001.00001", "arXiv:2001.00001"),
            1,
            "not a well-formed arXiv id",
        ),
        (GOOD.replace("  archiveprefix = {arXiv}\n", ""), 1, "archiveprefix"),
        (GOOD.replace("@article", "@inprocedings"), 1, "unsupported entry type"),
        (GOOD.replace("{2020}", "{circa 2020}"), 1, "year must be four digits"),
        # an extra } in a value, and one that closes the entry early
        (
            GOOD + SECOND.replace("{A {Good} Title}", "{A {Good}} Title}"),
            11,
            "syntax error in field 'title': 'Title' follows the value",
        ),
        (
            GOOD + SECOND.replace("Richard},", "Richard}},"),
            12,
            "syntax error: text after the end of entry 'two2020' (line 10)",
        ),
        (GOOD + SECOND + "}\n", 18, "syntax error: text after the end of entry"),
        # a missing comma between fields, and after the key
        (
            GOOD + SECOND.replace("Richard},", "Richard}"),
            12,
            "syntax error in field 'author': 'journal = {Journal of Tests}' follows"
            " the value: a missing comma",
        ),
        (
            GOOD + SECOND.replace("two2020,", "two2020"),
            10,
            "this block 'two2020' does not parse as BibTeX (Expected comma after "
            "entry key",
        ),
        # a field given twice, in the same or another case
        (
            GOOD + SECOND.replace("  eprint", "  year = {2021},\n  eprint"),
            15,
            "entry 'two2020': duplicate field 'year' (first given at line 14)",
        ),
        (
            GOOD + SECOND.replace("  eprint", "  Year = {2021},\n  eprint"),
            15,
            "entry 'two2020': duplicate field 'Year' (first given at line 14)",
        ),
        # keys
        (GOOD + SECOND.replace("two2020", ""), 10, "the key is empty"),
        (GOOD + SECOND.replace("two2020", "two 2020"), 10, "no spaces"),
        (
            GOOD + SECOND.replace("two2020", "Good2020"),
            10,
            "the key differs only in case from 'good2020' (line 1)",
        ),
        # a truncated eprint: ids from 1501 on have five digits
        (
            GOOD.replace("2001.00001", "1810.0480"),
            1,
            "eprint '1810.0480' is not a well-formed arXiv id",
        ),
        (GOOD.replace("2001.00001", "1412.69800"), 1, "not a well-formed arXiv id"),
        (GOOD.replace("2001.00001", "0612.1234"), 1, "not a well-formed arXiv id"),
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
        "extra-brace-in-value",
        "extra-brace-closes-entry",
        "extra-brace-after-entry",
        "missing-comma-between-fields",
        "missing-comma-after-key",
        "duplicate-field",
        "duplicate-field-other-case",
        "empty-key",
        "key-with-space",
        "keys-differ-in-case",
        "truncated-eprint",
        "eprint-too-long",
        "eprint-before-new-style",
    ],
)
def test_bad_bib_fails_with_file_line_and_reason(tmp_path, text, line, reason):
    refs, path = _refs(tmp_path, text)
    with pytest.raises(BibError) as err:
        load(refs)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert reason in message, message
    # a syntax error is named as such, not as the missing fields it causes
    assert "missing required" not in message or "missing required" in reason


@pytest.mark.parametrize("eprint", ["1909.11942", "1412.6980", "0704.0001v2"])
def test_well_formed_arxiv_ids_are_accepted(tmp_path, eprint):
    refs, _ = _refs(tmp_path, GOOD.replace("2001.00001", eprint))
    assert load(refs).entries["good2020"].arxiv == eprint


def test_parser_logs_no_0_based_lines_of_its_own(tmp_path, caplog):
    # bibtexparser's splitter logs "block (line 9) aborted on line 18", 0-based;
    # the BibError says it once, 1-based
    refs, path = _refs(tmp_path, GOOD + SECOND.replace("two2020,", "two2020"))
    caplog.clear()  # _refs parsed the file with bibtexparser's defaults
    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(BibError, match=f"{path}:10"),
    ):
        load(refs)
    assert [r for r in caplog.records if r.name.startswith("bibtexparser")] == []
    assert logging.getLogger("bibtexparser.splitter").disabled is False


def test_duplicate_key_across_files_names_both_places(tmp_path):
    refs, path = _refs(tmp_path, GOOD)
    (refs / "other.bib").write_text("\n\n" + GOOD)
    with pytest.raises(
        BibError,
        match=r"other\.bib:3: duplicate key 'good2020' "
        r"\(first defined at .*bad\.bib:1\)",
    ):
        load(refs)
    (refs / "other.bib").write_text("\n\n" + GOOD.replace("good2020", "GOOD2020"))
    with pytest.raises(
        BibError,
        match=r"other\.bib:3: key 'GOOD2020' differs only in case from 'good2020'",
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
        '[categories.c]\ntitle = "C"\ntitle_zh = "丙"\n[papers.good2020]\n'
        'name = "G"\ncategories = ["d"]\nchanges = "x"\n'
    )
    with pytest.raises(BibError, match="must be a non-empty subset"):
        load(refs)


def test_single_file_parser_reports_good_entries():
    entries = parse_bib_file(REFS_DIR / "survey.bib")
    assert {e.key for e in entries} >= set(SURVEYED)
    assert all(e.line >= 1 for e in entries)
    text = (REFS_DIR / "survey.bib").read_text().splitlines()
    for e in entries:
        assert text[e.line - 1].startswith(f"@{e.entry_type}{{{e.key},"), e.key


# --- Citations in pages --------------------------------------------------------


def _show(items: list[Cite]) -> str:
    return "<" + ";".join(k + (f"|{p}" if p else "") for k, p in items) + ">"


def test_citations_are_replaced_outside_code_and_unknown_keys_fail_with_the_line():
    md = (
        "Intro [@a].\n\n```\n[@zzz] in a fence is code\n```\n\n"
        "Inline `[@zzz]` too; and [@a; @b].\n"
    )
    out = replace_citations(md, _show, {"a", "b"}, source="docs/x.md")
    assert out == (
        "Intro <a>.\n\n```\n[@zzz] in a fence is code\n```\n\n"
        "Inline `[@zzz]` too; and <a;b>.\n"
    )
    with pytest.raises(
        BibError,
        match=r"docs/x\.md:3: unknown citation key\(s\): nope \(no close match\) "
        r"in '\[@a; @nope\]'",
    ):
        replace_citations(
            "one\ntwo\nsee [@a; @nope]\n", _show, {"a"}, source="docs/x.md"
        )
    with pytest.raises(
        BibError, match=r"docs/x\.md:12: .*did you mean lan2020albert"
    ):
        replace_citations(
            "[@lan2019albert]",
            _show,
            {"lan2020albert"},
            source="docs/x.md",
            first_line=12,
        )


def test_a_citation_takes_a_locator():
    md = "As in [@a, p. 12], and [@a, pp. 3--5; @b, §2.1; @a] and [@b,  Table 3 ]."
    out = replace_citations(md, _show, {"a", "b"})
    assert out == "As in <a|p. 12>, and <a|pp. 3--5;b|§2.1;a> and <b|Table 3>."
    wrapped = replace_citations("see [@a, p. 1;\n@b]", _show, {"a", "b"})
    assert wrapped == "see <a|p. 1;b>"


@pytest.mark.parametrize(
    "text",
    [
        "Mentioned [@nope-typo 2020] here.",
        "[@a,]",
        "[@a; b]",
        "[@a, @b]",
        "[@a p. 3]",
        "an unclosed [@a, p. 3\n",
        "[@]",
        "[-@a]",
    ],
)
def test_citation_like_text_that_does_not_parse_fails_with_the_line(text):
    md = "# Title\n\n" + text
    with pytest.raises(BibError, match=r"^docs/x\.md:3: cannot read the citation"):
        replace_citations(md, _show, {"a", "b"}, source="docs/x.md")


def test_code_comments_and_escapes_are_left_alone():
    # every [@x] below is code, a comment or escaped: x is unknown, so touching
    # any of them would raise
    md = (
        "An escaped \\[@x] and an inline `[@x]` and ``a ` then [@x]``.\n"
        "<!-- a comment [@x]\n\nover lines [@x] -->after [@a]\n"
        "\n"
        "```markdown\n[@x]\n```\n"
        "\n"
        "    [@x] indented code\n"
        "\n"
        "    more code [@x]\n"
        "~~~\n[@x]\n~~~\n"
        "A link [@handle](https://example.org) is not a citation.\n"
        "\n"
        "- a list item [@a]\n"
        "\n"
        "    its second paragraph [@b], not code\n"
        "\n"
        "        but this is code [@x]\n"
        "\n"
        "    ```\n    [@x] fenced in the item\n    ```\n"
        "\n"
        '!!! note "Aside"\n'
        "\n"
        "    inside an admonition [@a, p. 1]\n"
        "\n"
        "A paragraph\n    continued with an indent [@b]\n"
    )
    out = replace_citations(md, _show, {"a", "b"}, source="docs/x.md")
    assert out == (
        md.replace("after [@a]", "after <a>")
        .replace("item [@a]", "item <a>")
        .replace("paragraph [@b]", "paragraph <b>")
        .replace("admonition [@a, p. 1]", "admonition <a|p. 1>")
        .replace("indent [@b]", "indent <b>")
    )


# --- The CLI -------------------------------------------------------------------


def _run(*args: str, exe: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(exe or [sys.executable, "-m", "citations.cite"]), *args],
        capture_output=True,
        text=True,
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
    assert capsys.readouterr().out == load().bibtex()


def test_cli_rejects_unknown_keys_and_categories_with_a_clear_message():
    result = _run("lan2020albert", "nosuch2019")
    assert result.returncode == 2
    assert "unknown citation key(s): nosuch2019 (no close match)" in result.stderr
    assert result.stdout == ""
    result = _run("lan2019albert")
    assert "lan2019albert (did you mean lan2020albert?)" in result.stderr
    result = _run("--category", "poetry")
    assert result.returncode == 2
    assert "unknown category 'poetry'" in result.stderr
    assert _run().returncode == 2


def test_cli_rejects_keys_with_list():
    result = _run("--list", "lan2020albert")
    assert result.returncode == 2
    assert "--list takes no keys" in result.stderr and result.stdout == ""
    assert _run("--list", "--all").returncode == 2
    listed = _run("--list")
    assert listed.returncode == 0 and "lan2020albert" in listed.stdout


def test_unknown_key_names_a_few_close_matches_not_every_key():
    entries = {
        f"author{i:05d}x": Entry(
            f"author{i:05d}x", "misc", {"year": "2020"}, Path("x.bib"), 1
        )
        for i in range(10_000)
    }
    bib = Bibliography(entries, {}, {})
    with pytest.raises(BibError) as err:
        bib.bibtex(["author01234y"])
    message = str(err.value)
    assert len(message) < 200, message
    assert "did you mean author01234x" in message
    assert message.count("author") <= 4  # the key and at most three matches


def test_the_installed_plm_cite_command_works():
    exe = Path(sys.executable).with_name("plm-cite")
    if not exe.exists():
        exe = Path(shutil.which("plm-cite") or "plm-cite")
    result = _run("lan2020albert", exe=[str(exe)])
    assert result.returncode == 0, result.stderr
    assert result.stdout == load().entries["lan2020albert"].to_bibtex()


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


def test_snippets_hold_mechanisms_only_and_never_import_the_site_tooling():
    import ast

    import snippets

    offenders = []
    for path in Path(snippets.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            top = {name.split(".")[0] for name in names}
            if top & {"citations", "hooks", "bibtexparser", "mkdocs"}:
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders
