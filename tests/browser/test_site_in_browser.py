"""The built site as a reader uses it, in a real browser."""

from __future__ import annotations

from urllib.parse import urlparse

import bibtexparser
import pytest

from citations.bib import load
from helpers import ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"


def _pages() -> list[str]:
    bib = load()
    pages = ["", "comparison/", "bibliography/", "notebooks/"]
    pages += [f"{cid}/" for cid in bib.categories if cid != "foundations"]
    pages += [
        p.page.removesuffix(".md") + "/" for p in bib.papers.values() if p.page
    ]
    return pages


def _assert_local(page, site_url):
    hosts = {
        urlparse(url).hostname
        for url in page.requests
        if not url.startswith(("data:", "blob:"))
    }
    assert hosts <= {"127.0.0.1"}, (
        f"requests left 127.0.0.1: {sorted(hosts - {'127.0.0.1'})}"
    )


@pytest.mark.parametrize("path", _pages())
def test_every_category_and_paper_page_loads_cleanly_and_stays_local(
    page, site_url, path
):
    response = page.goto(site_url + path, wait_until="networkidle")
    assert response.status == 200
    assert page.errors == [], page.errors
    _assert_local(page, site_url)


def test_nav_has_the_four_categories(page, site_url):
    page.goto(site_url, wait_until="networkidle")
    nav = page.locator("nav.md-nav--primary").inner_text()
    for title in (
        "Architecture",
        "Pre-training objectives",
        "Prior knowledge",
        "Compression",
    ):
        assert title in nav


@pytest.mark.parametrize(
    "query, expected",
    [
        ("sentence order", "/architecture/albert/"),
        ("span corruption", "/objectives/t5/"),
        ("temperature", "/compression/distillation/"),
        ("知识蒸馏", "/compression/distillation/"),
        ("参数共享", "/architecture/albert/"),
        ("预训练", "/"),
    ],
)
def test_search_finds_pages_in_english_and_chinese(page, site_url, query, expected):
    page.goto(site_url, wait_until="networkidle")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    box = page.locator("input.md-search__input")
    box.fill(query)
    box.press(
        "End"
    )  # Material searches on key events, which fill() alone does not send
    results = page.locator(".md-search-result__item > a.md-search-result__link")
    results.first.wait_for(timeout=10_000)
    paths = [urlparse(a.get_attribute("href")).path for a in results.all()]
    assert expected in paths[:3], (query, paths)  # among the first three results
    _assert_local(page, site_url)


def test_copy_button_puts_exactly_the_bibtex_entry_on_the_clipboard(page, site_url):
    page.goto(site_url + "architecture/albert/", wait_until="networkidle")
    block = page.locator("h2#cite ~ div.highlight").first
    expected = load().entries["lan2020albert"].to_bibtex().strip()
    assert block.locator("code").inner_text().strip() == expected
    block.hover()
    block.locator("button[data-md-type=copy]").click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == expected


def test_bibliography_downloads_parse_with_the_expected_keys(page, site_url):
    bib = load()
    page.goto(site_url + "bibliography/", wait_until="networkidle")
    links = {a.get_attribute("href") for a in page.locator("a[href$='.bib']").all()}
    assert len(links) == len(bib.categories) + 1
    for cid in [*bib.categories, "all"]:
        response = page.request.get(site_url + f"bib/{cid}.bib")
        assert response.status == 200
        keys = [e.key for e in bibtexparser.parse_string(response.text()).entries]
        assert keys == (list(bib.entries) if cid == "all" else bib.keys_in(cid))


def test_math_is_rendered_by_katex(page, site_url):
    page.goto(site_url + "architecture/albert/", wait_until="networkidle")
    formulas = page.locator(".arithmatex")
    assert formulas.count() > 3
    assert page.locator(".arithmatex .katex").count() == formulas.count()
    assert "\\(" not in page.locator("article").inner_text()
    _assert_local(page, site_url)


def test_screenshots_of_the_home_page_and_a_paper_page(page, site_url):
    ARTIFACTS.mkdir(exist_ok=True)
    for path, name in (("", "home.png"), ("architecture/xlnet/", "xlnet.png")):
        page.goto(site_url + path, wait_until="networkidle")
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        assert (ARTIFACTS / name).stat().st_size > 10_000


def _paper_pages() -> list[str]:
    return [
        p.page.removesuffix(".md") + "/" for p in load().papers.values() if p.page
    ]


@pytest.mark.parametrize("path", _paper_pages())
def test_no_code_block_on_a_paper_page_scrolls_sideways(page, site_url, path):
    """Embedded code fits the content column at 1280 px (ruff keeps lines at 84)."""
    page.goto(site_url + path, wait_until="networkidle")
    assert page.viewport_size["width"] == 1280
    wide = page.evaluate(
        """() => [...document.querySelectorAll('.md-content pre > code')]
            .filter(code => code.scrollWidth > code.clientWidth)
            .map(code => [code.scrollWidth, code.clientWidth,
                          code.innerText.split('\\n').reduce(
                              (a, b) => (b.length > a.length ? b : a), '')])"""
    )
    assert page.locator(".md-content pre > code").count() > 0
    assert wide == [], f"code blocks wider than the column on {path}: {wide}"
