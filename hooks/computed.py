"""mkdocs hook: numbers and figures that the snippets compute at build time.

A page writes `<!-- computed:NAME -->` and the hook replaces it with the output of the function
registered under NAME below. Nothing here is typed by hand: if a snippet changes, the page does.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

import torch
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

MARKER = re.compile(r"<!-- computed:([a-z0-9-]+) -->")
GENERATORS = {}
REFS_DIR = Path(__file__).resolve().parent.parent / "refs"


def on_config(config):
    global REFS_DIR
    REFS_DIR = (
        Path(config.config_file_path).parent / "refs"
    )  # the site being built, not this file's checkout
    return config


def _bib():
    return _load_refs(REFS_DIR)


@functools.cache
def _load_refs(refs_dir: Path):
    """refs/ parsed once per build for all the tables and figures (the module is loaded afresh per build)."""
    from citations.bib import load

    return load(refs_dir)


def generator(name: str):
    def register(fn):
        GENERATORS[name] = fn
        return fn

    return register


def on_page_markdown(markdown: str, page, config, files) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise PluginError(
                f"docs/{page.file.src_uri}: unknown computed block {name!r}; known: {sorted(GENERATORS)}"
            )
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def millions(n: int) -> str:
    return f"{n / 1e6:,.1f}M"


@generator("albert-configs")
def albert_configs() -> str:
    from snippets.albert.cross_layer_sharing import (
        PAPER_CONFIGS,
        PAPER_VOCAB_SIZE,
        albert_parameter_count,
    )

    rows = [
        "| Model | Layers | Hidden *H* | Embedding *E* | Sharing | Parameters (computed) | Parameters (paper, Table 1) |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for name, (L, H, E, sharing, reported) in PAPER_CONFIGS.items():
        count = albert_parameter_count(
            PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=sharing
        )
        rows.append(
            f"| {name} | {L} | {H} | {E} | {sharing} | {millions(count)} | {reported} |"
        )
    return "\n".join(rows) + "\n"


@generator("albert-sharing")
def albert_sharing() -> str:
    from snippets.albert.cross_layer_sharing import (
        PAPER_VOCAB_SIZE,
        SHARING_MODES,
        albert_parameter_count,
    )

    paper = {
        768: {"all": "31M", "attention": "83M", "ffn": "57M", "none": "108M"},
        128: {"all": "12M", "attention": "64M", "ffn": "38M", "none": "89M"},
    }
    rows = [
        "| ALBERT-base, *E* | sharing | Parameters (computed) | Parameters (paper, Table 4) |",
        "|---:|---|---:|---:|",
    ]
    for E in (768, 128):
        for mode in SHARING_MODES:
            count = albert_parameter_count(
                PAPER_VOCAB_SIZE, E, 768, 12, 12, 3072, sharing=mode
            )
            rows.append(f"| {E} | {mode} | {millions(count)} | {paper[E][mode]} |")
    return "\n".join(rows) + "\n"


@generator("xlnet-perm-mask")
def xlnet_perm_mask() -> str:
    """An HTML grid of perm_mask for one 8-token example: rows attend (i), columns are attended (j)."""
    from snippets.xlnet.permutation_lm import permutation_masks

    tokens = ["New", "York", "is", "a", "city", "that", "never", "sleeps"]
    order = torch.tensor(
        [[4, 6, 0, 1, 2, 3, 7, 5]]
    )  # ranks: the 4 context words first, then targets
    is_target = torch.tensor([[True, True, False, False, False, False, True, True]])
    perm_mask, target_mapping = permutation_masks(
        order, is_target, dtype=torch.bool
    )
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tokens)
    body = []
    for i, token in enumerate(tokens):
        label = f"{html.escape(token)} ({'target' if is_target[0, i] else 'context'}, rank {int(order[0, i])})"
        cells = "".join(
            f'<td class="{"blocked" if perm_mask[0, i, j] else "visible"}" title="{html.escape(token)} '
            f'{"may not see" if perm_mask[0, i, j] else "sees"} {html.escape(tokens[j])}">'
            f"{'·' if perm_mask[0, i, j] else '✓'}</td>"
            for j in range(len(tokens))
        )
        body.append(f"<tr><th>{label}</th>{cells}</tr>")
    K = target_mapping.shape[1]
    return (
        f'<div class="perm-grid"><table><thead><tr><th>i \\ j</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>\n\n"
        f"`target_mapping` has K = {K} rows (one per target), so it is {K}×{len(tokens)}, not {len(tokens)}×{len(tokens)}.\n"
    )


# ---- figures: generated at build time and served from the site as SVG files ----

FIGURES = {}
GENERATED = Path(__file__).resolve().parent.parent / "docs" / "assets" / "generated"


def figure(path: str):
    def register(fn):
        FIGURES[path] = fn
        return fn

    return register


def on_files(files, config):
    for path, fn in FIGURES.items():
        content = fn()
        if content is not None:  # None: the data behind it is absent from this site
            files.append(File.generated(config, path, content=content))
    return files


@figure("assets/figures/softmax-temperature.svg")
def softmax_temperature_svg() -> str:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "softmax-temperature"
    logits = torch.tensor([6.0, 3.5, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0])
    classes = ["cat", "dog", "fox", "cow", "car", "bus", "cup", "pen"]
    fig, ax = plt.subplots(figsize=(7, 2.8))
    width = 0.2
    for k, T in enumerate((1.0, 2.0, 5.0, 20.0)):
        probs = torch.softmax(logits / T, -1)
        ax.bar(
            [i + (k - 1.5) * width for i in range(len(classes))],
            probs.tolist(),
            width,
            label=f"T = {T:g}",
        )
    ax.set_xticks(range(len(classes)), classes)
    ax.set_ylabel("softmax(z / T)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    return out.getvalue()


def _load_generated(name: str) -> dict:
    path = GENERATED / name
    if not path.is_file():
        raise PluginError(f"{path} is missing; run `make experiments`")
    return json.loads(path.read_text(encoding="utf-8"))


def _machine_line(machine: dict) -> str:
    return (
        f"Measured on {machine['cpu']} ({machine['cores']} cores, {machine['torch_threads']} torch threads), "
        f"torch {machine['torch']}, on {machine['date']}."
    )


@generator("compression-table")
def compression_table() -> str:
    results = _load_generated("compression_table.json")
    base = results["rows"][0]
    rows = [
        "| Variant | Size (MB) | Non-zero Linear weights | CPU latency (ms, median) | vs fp32 | Max logit deviation |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["rows"]:
        nonzero = (
            "—"
            if r["nonzero_linear"] is None
            else f"{r['nonzero_linear'] / 1e6:.2f}M"
        )
        rows.append(
            f"| {r['variant']} | {r['size_bytes'] / 1e6:.2f} | {nonzero} | {r['latency_ms']:.1f} | "
            f"{base['latency_ms'] / r['latency_ms']:.2f}× | {r['max_logit_deviation']:.4f} |"
        )
    m = results["model"]
    return (
        "\n".join(rows)
        + f"\n\nModel: BERT with {m['num_hidden_layers']} layers, hidden {m['hidden_size']}, "
        f"vocabulary {m['vocab_size']}, random weights; input batch {m['batch']} × {m['seq_len']}; "
        f"{results['repeats']} timed runs per variant. {_machine_line(results['machine'])}\n"
    )


@generator("ernie-continual-table")
def ernie_continual_table() -> str:
    results = _load_generated("ernie_continual.json")
    tasks = results["tasks"]
    rows = [
        "| Training | "
        + " | ".join(f"task {i}: {t}" for i, t in enumerate(tasks))
        + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for name, run in results["runs"].items():
        acc = run["accuracy"]
        rows.append(
            f"| {name} | "
            + " | ".join(
                f"{acc[t][-1]:.2f} (peak {max(acc[t]):.2f})" for t in tasks
            )
            + " |"
        )
    return (
        "\n".join(rows)
        + f"\n\nFinal held-out accuracy (peak in brackets), {results['steps_per_task']} steps per task, "
        f"seed {results['seed']}.\n"
    )


@generator("distilbert-size")
def distilbert_size() -> str:
    from transformers import BertConfig, BertModel, DistilBertModel

    from snippets.distillation.student_init import student_config

    with torch.device("meta"):
        student, teacher = (
            DistilBertModel(student_config(BertConfig())),
            BertModel(BertConfig()),
        )
    s, t = (sum(p.numel() for p in m.parameters()) for m in (student, teacher))
    return (
        "| Model | Layers | Parameters (computed) | Parameters (paper, Table 3) |\n|---|---:|---:|---:|\n"
        f"| BERT-base | 12 | {millions(t)} | 110M |\n| DistilBERT | 6 | {millions(s)} | 66M |\n\n"
        f"The student keeps {s / t:.1%} of the teacher's parameters, {1 - s / t:.0%} fewer.\n"
    )


# ---- the survey as data: comparison table, GLUE-vs-parameters plot, timeline, map ----


def _meta_count(model_cls, config) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in model_cls(config).parameters())


def _parameter_counts() -> dict:
    """Parameter counts the snippets (or transformers, on the meta device) can compute, by name."""
    import transformers as tf

    from snippets.albert.cross_layer_sharing import (
        PAPER_CONFIGS,
        PAPER_VOCAB_SIZE,
        albert_parameter_count,
    )
    from snippets.distillation.student_init import student_config

    L, H, E, sharing, _ = PAPER_CONFIGS["ALBERT-xxlarge"]
    bert_large = dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
    )
    return {
        "bert-base": lambda: albert_parameter_count(
            30522, 768, 768, 12, 12, 3072, sharing="none"
        ),
        "bert-large": lambda: albert_parameter_count(
            30522, 1024, 1024, 24, 16, 4096, sharing="none"
        ),
        "albert-xxlarge": lambda: albert_parameter_count(
            PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=sharing
        ),
        "distilbert": lambda: _meta_count(
            tf.DistilBertModel, student_config(tf.BertConfig())
        ),
        "roberta-large": lambda: _meta_count(
            tf.RobertaModel,
            tf.RobertaConfig(
                vocab_size=50265,
                max_position_embeddings=514,
                type_vocab_size=1,
                **bert_large,
            ),
        ),
        "xlnet-large": lambda: _meta_count(
            tf.XLNetModel,
            tf.XLNetConfig(
                vocab_size=32000, d_model=1024, n_layer=24, n_head=16, d_inner=4096
            ),
        ),
        "t5-11b": lambda: _meta_count(
            tf.T5Model,
            tf.T5Config(
                vocab_size=32128,
                d_model=1024,
                d_kv=128,
                d_ff=65536,
                num_layers=24,
                num_heads=128,
            ),
        ),
    }


@functools.cache
def _count(name: str) -> int:
    """One computed parameter count; cached, since the table and the plot both need it (the module is
    loaded afresh for every build, so a changed snippet is never served from a stale cache)."""
    return _parameter_counts()[name]()


def _models() -> list[dict]:
    """Every comparison row with its paper, parameters resolved (computed ones counted now)."""
    bib = _bib()
    names, rows = set(_parameter_counts()), []
    for key, paper in bib.papers.items():
        for model in paper.models:
            row = {"key": key, "paper": paper, "entry": bib.entries[key], **model}
            params = model.get("params")
            if params and "computed" in params:
                if params["computed"] not in names:
                    raise PluginError(
                        f"refs/papers.toml: {model['name']}: no parameter count named {params['computed']!r}"
                    )
                row["params_count"] = _count(params["computed"])
            rows.append(row)
    return rows


def _cell(text: str, source: str) -> str:
    """A table cell whose source shows on hover and, for print and screen readers, in a footnote-like sup."""
    return f'<td title="Source: {html.escape(source)}">{html.escape(text)}<sup class="src">†</sup></td>'


MISSING = (
    '<td class="missing" title="The paper does not report this">not reported</td>'
)


@generator("comparison-table")
def comparison_table() -> str:
    out = [
        '<table class="comparison"><thead><tr><th>Model</th><th>Year, venue</th><th>Category</th><th>Parameters</th>'
        "<th>Pre-training data</th><th>Training compute</th><th>GLUE</th><th>SQuAD</th></tr></thead><tbody>"
    ]
    for row in _models():
        paper, entry = row["paper"], row["entry"]
        cells = [
            f"<td><b>{html.escape(row['name'])}</b></td>",
            _cell(
                f"{entry.year}, {paper.venue or entry.venue}",
                f"{entry.venue} ({entry.key} in refs/survey.bib)",
            ),
            f"<td>{html.escape(paper.categories[0])}</td>",
        ]
        params = row.get("params")
        cells.append(
            MISSING
            if not params
            else _cell(
                millions(row["params_count"]) + " (computed)"
                if "params_count" in row
                else str(params["value"]),
                params["source"],
            )
        )
        for fact in ("data", "compute"):
            cells.append(
                _cell(str(row[fact]["value"]), row[fact]["source"])
                if fact in row
                else MISSING
            )
        glue = row.get("glue")
        cells.append(
            _cell(f"{glue['value']} ({glue['split']})", glue["source"])
            if glue
            else MISSING
        )
        cells.append(
            _cell(str(row["squad"]["value"]), row["squad"]["source"])
            if "squad" in row
            else MISSING
        )
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"


@generator("paper-map")
def paper_map() -> str:
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


def _svg(fig) -> str:
    import io

    import matplotlib.pyplot as plt

    out = io.StringIO()
    fig.savefig(out, format="svg", metadata={"Date": None})
    plt.close(fig)
    return out.getvalue()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "plm-site"
    return plt


@figure("assets/figures/glue-vs-params.svg")
def glue_vs_params_svg() -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for row in _models():
        if "glue" not in row or "params_count" not in row:
            continue
        test = row["glue"]["split"] == "test"
        ax.scatter(
            row["params_count"],
            row["glue"]["value"],
            marker="o" if test else "s",
            facecolors="tab:blue" if test else "none",
            edgecolors="tab:blue",
            s=50,
        )
        ax.annotate(
            f"{row['name']} ({row['glue']['split']})",
            (row["params_count"], row["glue"]["value"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale; computed by the snippets)")
    ax.set_ylabel("GLUE score")
    ax.set_title(
        "GLUE against size (filled: test server, hollow: dev)", fontsize=10
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


@figure("assets/figures/timeline.svg")
def timeline_svg() -> str:
    import datetime

    plt = _pyplot()
    bib = _bib()
    month = lambda ym: datetime.date(int(ym[:4]), int(ym[5:7]), 15)
    papers = sorted(
        (
            (bib.arxiv_date(k), p)
            for k, p in bib.papers.items()
            if bib.arxiv_date(k) and bib.arxiv_date(k) >= "2018"
        ),
        key=lambda x: x[0],
    )
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(papers) + 1))
    for y, (arxiv, paper) in enumerate(papers):
        ax.plot([month(arxiv)], [y], "o", color="tab:blue")
        if paper.venue_date:
            ax.plot(
                [month(arxiv), month(paper.venue_date)],
                [y, y],
                "-",
                color="grey",
                lw=1,
            )
            ax.plot([month(paper.venue_date)], [y], "s", color="tab:orange")
        ax.annotate(
            paper.name,
            (month(arxiv), y),
            textcoords="offset points",
            xytext=(-8, 0),
            ha="right",
            va="center",
            fontsize=8,
        )
    ax.set_yticks([])
    ax.set_ylim(-1, len(papers))
    ax.plot([], [], "o", color="tab:blue", label="first arXiv version")
    ax.plot([], [], "s", color="tab:orange", label="venue version")
    ax.legend(fontsize=8, loc="lower right")
    ax.margins(x=0.15)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _svg(fig)


@figure("assets/figures/map.svg")
def map_svg() -> str:
    """BERT in the middle, the four categories around it, each with its papers."""
    bib = _bib()
    boxes = {
        "architecture": (20, 20),
        "objectives": (500, 20),
        "knowledge": (20, 250),
        "compression": (500, 250),
    }
    lines, parts = [], []
    for cid, (x, y) in boxes.items():
        if cid not in bib.categories:
            continue
        cat = bib.categories[cid]
        names = [bib.papers[k].name for k in bib.keys_in(cid)]
        height = 40 + 20 * len(names)
        lines.append(
            f'<line x1="380" y1="195" x2="{x + 120}" y2="{y + height / 2}" stroke="#9fa8da" stroke-width="2"/>'
        )
        parts.append(
            f'<rect x="{x}" y="{y}" width="240" height="{height}" rx="8" fill="#e8eaf6" stroke="#3f51b5"/>'
        )
        parts.append(
            f'<text x="{x + 12}" y="{y + 24}" font-weight="bold" fill="#1a237e">{html.escape(cat.title)} '
            f'<tspan font-size="12">{html.escape(cat.title_zh)}</tspan></text>'
        )
        for i, name in enumerate(names):
            parts.append(
                f'<text x="{x + 24}" y="{y + 46 + 20 * i}" fill="#111">• {html.escape(name)}</text>'
            )
    head = [
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 760 400" font-family="sans-serif" font-size="14" role="img" '
        'aria-label="Map of the survey: BERT and the four categories of papers">'
    ]
    bert = [
        '<rect x="290" y="160" width="180" height="70" rx="10" fill="#3f51b5"/>',
        '<text x="380" y="192" fill="white" text-anchor="middle" font-weight="bold">BERT</text>',
        '<text x="380" y="213" fill="white" text-anchor="middle" font-size="11">baseline · GLUE as the lens</text>',
    ]
    return "\n".join(
        head + lines + bert + parts + ["</svg>"]
    )  # lines first, so the boxes cover them


# ---- benchmarks: the committed results of `make bench` ----


def _benchmarks() -> dict | None:
    path = REFS_DIR.parent / "benchmarks" / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _fmt_ms(stats: dict) -> str:
    return f"{stats['median_ms']:.2f} ({stats['min_ms']:.2f}–{stats['max_ms']:.2f})"


@generator("benchmark-table")
def benchmark_table() -> str:
    results = _benchmarks()
    if results is None:
        return "*No benchmark results are committed yet: run `make bench`.*\n"
    c = results["comparisons"]
    rows = [
        "| Comparison | Setup | Ours, ms median (min–max) | Peer, ms median (min–max) | Ratio | Target |",
        "|---|---|---:|---:|---:|---|",
    ]

    def row(name, result, ratio, target):
        rows.append(
            f"| {name} | {result.get('setup', '')} | {_fmt_ms(result['ours'])} | {_fmt_ms(result['peer'])} | "
            f"{ratio} | {target} |"
        )

    if "xlnet" in c:
        r = c["xlnet"]
        mem = r["memory_bytes"]
        row(
            "XLNet `plm_inputs` vs `DataCollatorForPermutationLanguageModeling`",
            r,
            f"{r['speedup']}× faster",
            f"{r['target']}; `target_mapping` {mem['ours_target_mapping'] / 1e6:.1f} MB vs {mem['peer_target_mapping'] / 1e6:.1f} MB",
        )
    if "roberta" in c:
        r = c["roberta"]
        row(
            "RoBERTa `mask_tokens` vs `DataCollatorForLanguageModeling`, special-tokens mask given",
            r["with_special_tokens_mask"] | {"setup": r["setup"]},
            f"{r['with_special_tokens_mask']['speedup']}× faster",
            "≥ 2×",
        )
        row(
            "the same, no mask given (the peer asks the tokenizer per row)",
            r["without_special_tokens_mask"] | {"setup": ""},
            f"{r['without_special_tokens_mask']['speedup']}× faster",
            "≥ 10×",
        )
        rows.append(
            f"| cost against the floor `torch.rand(B, L)` | | {r['ours_over_floor']}× the floor | "
            f"{r['peer_over_floor']}× the floor | | ≤ 3× |"
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
            "`chunked_soft_target_loss` (pair form) vs plain KLDivLoss, forward + backward",
            r,
            f"time {1 / r['speedup']:.2f}× the plain; peak memory {r['memory_ratio']:.0%} of it",
            r["target"],
        )
    table = "\n".join(rows) + "\n"
    if "site" in c:
        s = c["site"]
        builds = ", ".join(
            f"+{n} pages: {t} s" for n, t in s["build_seconds"].items() if n != "0"
        )
        per_page = ", ".join(
            f"{v * 1000:.1f} ms at {n}"
            for n, v in s["seconds_per_added_page"].items()
        )
        table += (
            f"\n**Site build scaling**: the real site (notebooks executed) builds in {s['build_seconds']['0']} s; {builds}. "
            f"Time per added page: {per_page}; the per-page cost at the largest size is {s['growth_vs_linear']}× that "
            f"at the next size (1.0 is linear growth). Target: {s['target']}.\n"
        )
    m = results["machine"]
    return table + (
        f"\nMeasured on {m['cpu']} ({m['cores']} cores, {m['torch_threads']} torch threads), device "
        f"{results['device']}, torch {m['torch']}, Python {m['python']}, on {m['date']}"
        f"{' (a --quick smoke run: tiny sizes, not a result)' if results['quick'] else ''}.\n"
    )


@figure("assets/figures/benchmarks.svg")
def benchmarks_svg() -> str | None:
    results = _benchmarks()
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
        bars["RoBERTa masking (mask given)"] = c["roberta"][
            "with_special_tokens_mask"
        ]["speedup"]
        bars["RoBERTa masking (no mask)"] = c["roberta"][
            "without_special_tokens_mask"
        ]["speedup"]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(bars) + 1))
    if not bars:
        ax.text(
            0.5,
            0.5,
            "no benchmark results yet: run make bench",
            ha="center",
            va="center",
        )
        return _svg(fig)
    ax.barh(
        list(bars),
        list(bars.values()),
        color=["tab:green" if v >= 1 else "tab:red" for v in bars.values()],
    )
    ax.axvline(1, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up over the peer (peer time / our time, log scale)")
    fig.tight_layout()
    return _svg(fig)
