"""Computed content of the home page: the map of the survey and its table."""

from __future__ import annotations

import html
from pathlib import Path

REFS = Path(__file__).resolve().parents[1] / "refs"


def _bib():
    from citations.bib import load

    return load(REFS)


def paper_map() -> str:
    """Category, paper and what it changes, one row per paper (a paper in
    compression and another category is listed under both)."""
    bib = _bib()
    rows = [
        "| Category | Paper | What it changes relative to BERT |",
        "|---|---|---|",
    ]
    for cid, cat in bib.categories.items():
        if cid == "foundations":
            continue
        for key in bib.keys_in(cid):
            paper = bib.papers[key]
            if paper.categories[0] != cid and cid != "compression":
                continue
            name = f"[{paper.name}]({paper.page})" if paper.page else paper.name
            rows.append(
                f"| {cat.title} ({cat.title_zh}) | {name} | {paper.changes} |"
            )
    return "\n".join(rows) + "\n"


# where each category's box sits around BERT
BOXES = {
    "architecture": (20, 20),
    "objectives": (500, 20),
    "knowledge": (20, 250),
    "compression": (500, 250),
}


def survey_map() -> str:
    """BERT in the middle, the four categories around it, each with its papers."""
    bib = _bib()
    lines, parts = [], []
    for cid, (x, y) in BOXES.items():
        if cid not in bib.categories:
            continue
        cat = bib.categories[cid]
        names = [bib.papers[k].name for k in bib.keys_in(cid)]
        height = 40 + 20 * len(names)
        lines.append(
            f'<line x1="380" y1="195" x2="{x + 120}" y2="{y + height / 2}" '
            'stroke="#9fa8da" stroke-width="2"/>'
        )
        parts.append(
            f'<rect x="{x}" y="{y}" width="240" height="{height}" rx="8" '
            'fill="#e8eaf6" stroke="#3f51b5"/>'
        )
        parts.append(
            f'<text x="{x + 12}" y="{y + 24}" font-weight="bold" fill="#1a237e">'
            f"{html.escape(cat.title)} "
            f'<tspan font-size="12">{html.escape(cat.title_zh)}</tspan></text>'
        )
        for i, name in enumerate(names):
            parts.append(
                f'<text x="{x + 24}" y="{y + 46 + 20 * i}" fill="#111">'
                f"• {html.escape(name)}</text>"
            )
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 400" '
        'font-family="sans-serif" font-size="14" role="img" '
        'aria-label="Map of the survey: BERT and the four categories of papers">'
    )
    bert = [
        '<rect x="290" y="160" width="180" height="70" rx="10" fill="#3f51b5"/>',
        '<text x="380" y="192" fill="white" text-anchor="middle" '
        'font-weight="bold">BERT</text>',
        '<text x="380" y="213" fill="white" text-anchor="middle" font-size="11">'
        "baseline · GLUE as the lens</text>",
    ]
    # the lines first, so that the boxes cover their ends
    return "\n".join([head, *lines, *bert, *parts, "</svg>"])
