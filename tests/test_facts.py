"""The fact check (issue 10): every number on a paper page and in papers.toml names
its source. The rules and the allow-list are in citations/facts.py."""

from __future__ import annotations

import pytest

from citations.facts import (
    ALLOWED,
    check_page,
    check_papers_toml,
    check_text,
    paper_pages,
)


@pytest.mark.parametrize("page", paper_pages())
def test_every_number_on_the_page_names_its_source(page):
    found = check_page(page)
    assert not found, "\n".join(map(str, found))


def test_every_model_fact_in_papers_toml_names_its_source():
    found = check_papers_toml()
    assert not found, "\n".join(map(str, found))


def test_an_unsourced_number_fails_with_the_page_and_the_line():
    page = "# Title\n\nFirst line.\nIt trained for 500K steps\non 512 chips.\n"
    found = check_text(page, "docs/x.md")
    assert [(v.path, v.line, v.number) for v in found] == [
        ("docs/x.md", 4, "500K"),
        ("docs/x.md", 5, "512"),
    ]
    assert "docs/x.md:4: '500K'" in str(found[0])


@pytest.mark.parametrize(
    "sentence",
    [
        "It trained for 500K steps (§3.1).",
        "It trained for 500K steps, as Table 2 shows.",
        "Tables 2–3 report 93.2 and 83.1.",
        "The 50K vocabulary (Section 4.4) has no unknown tokens.",
        "BERT-base used 16 chips (Appendix A.2).",
        "Figure 2 plots lengths up to 10.",
        "The release draws n-grams of up to 5 pieces (`data_utils.py`).",
        "A dupe factor of 10 is the default of create_pretraining_data.py.",
        "The pre-training command in its `README.md` sets 15 targets.",
        "The abstract claims wins on 16 tasks.",
        "It scores 83.6 (the Experiments section; AAAI numbers no sections).",
    ],
)
def test_a_marker_in_the_same_sentence_sources_its_numbers(sentence):
    assert check_text(sentence, "p.md") == []


def test_a_named_section_needs_its_name():
    assert check_text("The section shows 5 wins.", "p.md")[0].number == "5"


def test_the_marker_must_be_in_the_same_sentence():
    found = check_text(
        "It used 512 chips. Table 2 is about something else.", "p.md"
    )
    assert [v.number for v in found] == ["512"]


@pytest.mark.parametrize(
    "text",
    [
        "XLNet appeared in 2019.",  # a year
        "T5-11B, SST-2, GPT-2, C4, V100 and BERT-large are names.",
        "SQuAD 1.1 / 2.0, ERNIE 2.0 and TPU v3; arXiv v1.",  # versions in names
        "Each chosen token gets the 80/10/10 rule.",  # the rule's name
        "The default is `mask_prob = 0.15` in code.",  # inline code
        "```python\nx = 42\n```",  # fenced code
        "Sum over \\(t = 1, \\dots, T\\) and \\(x^2\\).",  # notation in math
        "1. first item\n2. second item",  # list numbering
        "See [the docs](https://example.org/v2/page-3).",  # link targets
        "<!-- computed:albert-configs -->",  # computed at build time
    ],
)
def test_the_allow_list_and_what_is_not_prose_pass(text):
    assert check_text(text, "p.md") == []


def test_constants_in_math_need_the_source_of_their_sentence():
    assert [v.number for v in check_text("Lengths follow \\(p = 0.2\\).", "p")] == [
        "0.2"
    ]
    assert check_text("Lengths follow \\(p = 0.2\\) (§3.1).", "p") == []


def test_a_display_equation_takes_the_source_of_the_sentence_around_it():
    unsourced = "Lengths follow\n\n\\[\n\\ell \\le 10\n\\]\n\nand so on.\n"
    assert [v.line for v in check_text(unsourced, "p")] == [4]
    sourced = "Lengths follow (§3.1)\n\n\\[\n\\ell \\le 10\n\\]\n\nand so on.\n"
    assert check_text(sourced, "p") == []


def test_a_table_is_sourced_by_its_row_header_or_caption():
    rows = "| Model | F1 |\n|---|---:|\n| BERT | 83.1 |\n"
    assert [v.number for v in check_text(rows, "p")] == ["83.1"]
    assert check_text("Results (Table 3):\n\n" + rows, "p") == []
    assert check_text(rows.replace("| F1 |", "| F1 (Table 3) |", 1), "p") == []
    assert check_text(rows.replace("83.1 |", "83.1 | Table 3 |"), "p") == []
    # a paragraph above that does not end with a colon is not a caption
    assert check_text("Results are in Table 3.\n\n" + rows, "p") != []


def test_the_allow_list_is_short_and_says_why():
    assert len(ALLOWED) <= 5
    assert all(len(why) > 20 for _pattern, why in ALLOWED)
