"""Computed content of performance.md, from the committed benchmarks/results.json"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results.json"
NO_RESULTS = "*No benchmark results are committed yet: run `make bench`.*\n"


def _results() -> dict | None:
    if not RESULTS.is_file():
        return None
    return json.loads(RESULTS.read_text(encoding="utf-8"))


def _ms(stats: dict) -> str:
    return f"{stats['median_ms']:.2f} ({stats['min_ms']:.2f}–{stats['max_ms']:.2f})"


def _machine(results: dict, machine: dict) -> str:
    return (
        f"Measured on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['torch_threads']} torch threads), device {results['device']}, "
        f"torch {machine['torch']}, Python {machine['python']}, "
        f"on {machine['date']}"
        + (
            " (a --quick smoke run: tiny sizes, not a result)"
            if results["quick"]
            else ""
        )
        + ".\n"
    )


def _site_scaling(s: dict) -> str:
    builds = ", ".join(
        f"+{n} pages: {t} s" for n, t in s["build_seconds"].items() if n != "0"
    )
    per_page = ", ".join(
        f"{v * 1000:.1f} ms at {n}" for n, v in s["seconds_per_added_page"].items()
    )
    return (
        f"\n**Site build scaling**: the real site (notebooks executed) builds in "
        f"{s['build_seconds']['0']} s; {builds}. Time per added page: {per_page}; "
        f"the per-page cost at the largest size is {s['growth_vs_linear']}× that "
        f"at the next size (1.0 is linear growth). Target: {s['target']}.\n"
    )


def benchmark_table() -> str:
    results = _results()
    if results is None:
        return NO_RESULTS
    c = results["comparisons"]
    rows = [
        "| Comparison | Setup | Ours, ms median (min–max) "
        "| Peer, ms median (min–max) | Ratio | Target |",
        "|---|---|---:|---:|---:|---|",
    ]

    def row(name, result, ratio, target):
        rows.append(
            f"| {name} | {result.get('setup', '')} | {_ms(result['ours'])} "
            f"| {_ms(result['peer'])} | {ratio} | {target} |"
        )

    if "xlnet" in c:
        r, mem = c["xlnet"], c["xlnet"]["memory_bytes"]
        row(
            "XLNet `plm_inputs` vs `DataCollatorForPermutationLanguageModeling`",
            r,
            f"{r['speedup']}× faster",
            f"{r['target']}; `target_mapping` "
            f"{mem['ours_target_mapping'] / 1e6:.1f} MB vs "
            f"{mem['peer_target_mapping'] / 1e6:.1f} MB",
        )
    if "roberta" in c:
        r = c["roberta"]
        given, absent = (
            r["with_special_tokens_mask"],
            r["without_special_tokens_mask"],
        )
        row(
            "RoBERTa `mask_tokens` vs `DataCollatorForLanguageModeling`, "
            "special-tokens mask given",
            given | {"setup": r["setup"]},
            f"{given['speedup']}× faster",
            "≥ 2×",
        )
        row(
            "the same, no mask given (the peer asks the tokenizer per row)",
            absent | {"setup": ""},
            f"{absent['speedup']}× faster",
            "≥ 10×",
        )
        rows.append(
            f"| cost against the floor `torch.rand(B, L)` | "
            f"| {r['ours_over_floor']}× the floor "
            f"| {r['peer_over_floor']}× the floor | | ≤ 3× |"
        )
    for key, label in (
        ("t5", "T5 `span_corruption` vs per-example NumPy"),
        ("spanbert", "SpanBERT `span_mask` vs per-span loop"),
    ):
        if key in c:
            row(label, c[key], f"{c[key]['speedup']}× faster", c[key]["target"])
    if "distillation" in c:
        r = c["distillation"]
        row(
            "`chunked_soft_target_loss` (pair form) vs plain KLDivLoss, "
            "forward + backward",
            r,
            f"time {1 / r['speedup']:.2f}× the plain; peak memory "
            f"{r['memory_ratio']:.0%} of it",
            r["target"],
        )
    table = "\n".join(rows) + "\n"
    if "site" in c:
        table += _site_scaling(c["site"])
    return table + "\n" + _machine(results, results["machine"])


def speedups():
    """Speed-up over each peer, one bar per comparison (log scale)."""
    import matplotlib.pyplot as plt

    results = _results()
    c = results["comparisons"] if results else {}
    bars = {}
    for key, label in (
        ("xlnet", "XLNet PLM inputs"),
        ("t5", "T5 span corruption"),
        ("spanbert", "SpanBERT span mask"),
        ("distillation", "chunked KD loss"),
    ):
        if key in c:
            bars[label] = c[key]["speedup"]
    if "roberta" in c:
        r = c["roberta"]
        bars["RoBERTa masking (mask given)"] = r["with_special_tokens_mask"][
            "speedup"
        ]
        bars["RoBERTa masking (no mask)"] = r["without_special_tokens_mask"][
            "speedup"
        ]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(bars) + 1))
    if not bars:
        ax.text(0.5, 0.5, "no benchmark results yet: run make bench", ha="center")
        return fig
    colors = ["tab:green" if v >= 1 else "tab:red" for v in bars.values()]
    ax.barh(list(bars), list(bars.values()), color=colors)
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the peer (peer time / our time, log scale)")
    fig.tight_layout()
    return fig


# The same benchmark (benchmarks/editloop.py) run on the commit before the serve
# cache, 3c08a6d, on the same machine on 2026-11-27: every build executed all eight
# notebooks, and snippets/ was not watched (Markdown edits: 39.1, 28.5, 24.9, 28.4
# and 35.3 s).
BEFORE = {
    "first_page_cold_seconds": 41.7,
    "first_page_warm_seconds": 51.3,
    "markdown_edit_median_seconds": 28.5,
    "snippet_page_seconds": "never rebuilt",
    "snippet_notebook_seconds": "never rebuilt",
}
EDITLOOP_ROWS = (
    ("`make serve`: first page, no cache yet", "first_page_cold_seconds", "≤ 15 s"),
    ("`make serve` again: first page", "first_page_warm_seconds", "≤ 15 s"),
    ("a Markdown page saved (median)", "markdown_edit_median_seconds", "≤ 3 s"),
    ("a snippet saved: the page that embeds it", "snippet_page_seconds", ""),
    (
        "… and the notebook that imports it, run again",
        "snippet_notebook_seconds",
        "",
    ),
)


def _seconds(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else f"{value:.1f} s"


def editloop_table() -> str:
    """`python -m benchmarks --only editloop`: seconds until the page shows it."""
    results = _results()
    e = (results or {}).get("comparisons", {}).get("editloop")
    if e is None:
        return (
            "*No edit-loop results yet: run "
            "`python -m benchmarks --only editloop`.*\n"
        )
    out = [
        "| Edit loop | Before the cache (3c08a6d) | Now | Target |",
        "|---|---:|---:|---|",
    ]
    for label, key, target in EDITLOOP_ROWS:
        before, now = _seconds(BEFORE[key]), _seconds(e.get(key))
        out.append(f"| {label} | {before} | {now} | {target} |")
    edits = ", ".join(f"{s:.1f}" for s in e["markdown_edit_seconds"])
    return (
        "\n".join(out)
        + f"\n\nEach Markdown edit: {edits} s. {e['setup']}\n\n"
        + _machine(results, e.get("machine", results["machine"]))
    )
