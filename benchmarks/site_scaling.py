"""Site build time for the real site, and for the real site plus N synthetic paper
pages.

The synthetic pages go into a temporary copy (never into the repo). Each has a
title, a BibTeX entry and a papers.toml record (so it joins a category's navigation
and its .bib download), an embedded snippet section, a citation and math, like a
real paper page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["architecture", "objectives", "knowledge", "compression"]


def make_copy(
    n_pages: int, directory: Path, *, execute_notebooks: bool = True
) -> Path:
    for name in ("docs", "refs", "hooks"):
        shutil.copytree(ROOT / name, directory / name)
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    if (
        not execute_notebooks
    ):  # --quick only: a smoke run of the machinery, not a measurement
        config = config.replace("execute: true", "execute: false")
    (directory / "mkdocs.yml").write_text(config, encoding="utf-8")
    for name in ("snippets", "node_modules", "benchmarks"):
        (directory / name).symlink_to(ROOT / name)
    bib, meta = [], []
    for i in range(n_pages):
        key, category = f"synthetic{i:05d}", CATEGORIES[i % len(CATEGORIES)]
        bib.append(
            f"@article{{{key},\n  title = {{Synthetic paper {i}}},\n"
            "  author = {Doe, Jane and Roe, Richard},\n"
            "  journal = {Journal of Benchmarks},\n  year = {2019},\n"
            f"  eprint = {{1901.{i:05d}}},\n  archiveprefix = {{arXiv}}\n}}\n"
        )
        meta.append(
            f'[papers.{key}]\nname = "Synthetic {i}"\ncategories = ["{category}"]\n'
            f'changes = "Nothing."\npage = "{category}/synthetic-{i:05d}.md"\n'
            'terms_zh = ["合成"]\n'
        )
        (directory / "docs" / category / f"synthetic-{i:05d}.md").write_text(
            f"---\ntitle: Synthetic paper {i}\n---\n# Synthetic paper {i}\n\n"
            f"It cites [@{key}] and [@devlin2019bert].\n\n"
            "\\[ \\mathcal{L} = -\\sum_i \\log p(x_i) \\]\n\n"
            '```python\n--8<-- "snippets/masking.py:core"\n```\n'
        )
    (directory / "refs" / "synthetic.bib").write_text("\n".join(bib))
    with open(directory / "refs" / "papers.toml", "a", encoding="utf-8") as f:
        f.write("\n" + "\n".join(meta))
    return directory


def build_seconds(directory: Path) -> float:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-d",
            str(directory / "site"),
        ],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"build with synthetic pages failed:\n{result.stderr[-3000:]}"
        )
    return seconds


def run(sizes: tuple[int, ...], *, execute_notebooks: bool = True) -> dict:
    times = {}
    for n in (0, *sizes):
        with tempfile.TemporaryDirectory() as tmp:
            times[n] = build_seconds(
                make_copy(n, Path(tmp), execute_notebooks=execute_notebooks)
            )
        print(
            f"  site build with {n:5d} synthetic pages: {times[n]:6.1f} s",
            flush=True,
        )
    per_page = {n: (times[n] - times[0]) / n for n in sizes}
    largest, previous = sorted(sizes)[-1], sorted(sizes)[-2]
    return {
        "build_seconds": {str(n): round(t, 2) for n, t in times.items()},
        "seconds_per_added_page": {
            str(n): round(v, 4) for n, v in per_page.items()
        },
        # per-page cost at the largest size over that at the next size: 1.0 is
        # linear growth
        "growth_vs_linear": round(per_page[largest] / per_page[previous], 2)
        if per_page[previous] > 0
        else None,
        "notebooks_executed": execute_notebooks,
    }


if __name__ == "__main__":
    print(run(tuple(int(x) for x in sys.argv[1:]) or (100,)))
