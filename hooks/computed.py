"""mkdocs hook: numbers and figures that the snippets compute at build time.

A page writes `<!-- computed:NAME -->` and the hook replaces it with the output of the function
registered under NAME below. Nothing here is typed by hand: if a snippet changes, the page does.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import torch
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

MARKER = re.compile(r"<!-- computed:([a-z0-9-]+) -->")
GENERATORS = {}


def generator(name: str):
    def register(fn):
        GENERATORS[name] = fn
        return fn
    return register


def on_page_markdown(markdown: str, page, config, files) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise PluginError(f"docs/{page.file.src_uri}: unknown computed block {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]()
    return MARKER.sub(replace, markdown)


def millions(n: int) -> str:
    return f"{n / 1e6:,.1f}M"


@generator("albert-configs")
def albert_configs() -> str:
    from snippets.albert.cross_layer_sharing import PAPER_CONFIGS, PAPER_VOCAB_SIZE, albert_parameter_count

    rows = ["| Model | Layers | Hidden *H* | Embedding *E* | Sharing | Parameters (computed) | Parameters (paper, Table 1) |",
            "|---|---:|---:|---:|---|---:|---:|"]
    for name, (L, H, E, sharing, reported) in PAPER_CONFIGS.items():
        count = albert_parameter_count(PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=sharing)
        rows.append(f"| {name} | {L} | {H} | {E} | {sharing} | {millions(count)} | {reported} |")
    return "\n".join(rows) + "\n"


@generator("albert-sharing")
def albert_sharing() -> str:
    from snippets.albert.cross_layer_sharing import PAPER_VOCAB_SIZE, SHARING_MODES, albert_parameter_count

    paper = {768: {"all": "31M", "attention": "83M", "ffn": "57M", "none": "108M"},
             128: {"all": "12M", "attention": "64M", "ffn": "38M", "none": "89M"}}
    rows = ["| ALBERT-base, *E* | sharing | Parameters (computed) | Parameters (paper, Table 4) |", "|---:|---|---:|---:|"]
    for E in (768, 128):
        for mode in SHARING_MODES:
            count = albert_parameter_count(PAPER_VOCAB_SIZE, E, 768, 12, 12, 3072, sharing=mode)
            rows.append(f"| {E} | {mode} | {millions(count)} | {paper[E][mode]} |")
    return "\n".join(rows) + "\n"


@generator("xlnet-perm-mask")
def xlnet_perm_mask() -> str:
    """An HTML grid of perm_mask for one 8-token example: rows attend (i), columns are attended (j)."""
    from snippets.xlnet.permutation_lm import permutation_masks

    tokens = ["New", "York", "is", "a", "city", "that", "never", "sleeps"]
    order = torch.tensor([[4, 6, 0, 1, 2, 3, 7, 5]])       # ranks: the 4 context words first, then targets
    is_target = torch.tensor([[True, True, False, False, False, False, True, True]])
    perm_mask, target_mapping = permutation_masks(order, is_target, dtype=torch.bool)
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tokens)
    body = []
    for i, token in enumerate(tokens):
        label = f"{html.escape(token)} ({'target' if is_target[0, i] else 'context'}, rank {int(order[0, i])})"
        cells = "".join(
            f'<td class="{"blocked" if perm_mask[0, i, j] else "visible"}" title="{html.escape(token)} '
            f'{"may not see" if perm_mask[0, i, j] else "sees"} {html.escape(tokens[j])}">'
            f'{"·" if perm_mask[0, i, j] else "✓"}</td>' for j in range(len(tokens)))
        body.append(f"<tr><th>{label}</th>{cells}</tr>")
    K = target_mapping.shape[1]
    return (f'<div class="perm-grid"><table><thead><tr><th>i \\ j</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>\n\n'
            f"`target_mapping` has K = {K} rows (one per target), so it is {K}×{len(tokens)}, not {len(tokens)}×{len(tokens)}.\n")


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
        files.append(File.generated(config, path, content=fn()))
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
        ax.bar([i + (k - 1.5) * width for i in range(len(classes))], probs.tolist(), width, label=f"T = {T:g}")
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
    return (f"Measured on {machine['cpu']} ({machine['cores']} cores, {machine['torch_threads']} torch threads), "
            f"torch {machine['torch']}, on {machine['date']}.")


@generator("compression-table")
def compression_table() -> str:
    results = _load_generated("compression_table.json")
    base = results["rows"][0]
    rows = ["| Variant | Size (MB) | Non-zero Linear weights | CPU latency (ms, median) | vs fp32 | Max logit deviation |",
            "|---|---:|---:|---:|---:|---:|"]
    for r in results["rows"]:
        nonzero = "—" if r["nonzero_linear"] is None else f"{r['nonzero_linear'] / 1e6:.2f}M"
        rows.append(f"| {r['variant']} | {r['size_bytes'] / 1e6:.2f} | {nonzero} | {r['latency_ms']:.1f} | "
                    f"{base['latency_ms'] / r['latency_ms']:.2f}× | {r['max_logit_deviation']:.4f} |")
    m = results["model"]
    return ("\n".join(rows) + f"\n\nModel: BERT with {m['num_hidden_layers']} layers, hidden {m['hidden_size']}, "
            f"vocabulary {m['vocab_size']}, random weights; input batch {m['batch']} × {m['seq_len']}; "
            f"{results['repeats']} timed runs per variant. {_machine_line(results['machine'])}\n")


@generator("ernie-continual-table")
def ernie_continual_table() -> str:
    results = _load_generated("ernie_continual.json")
    tasks = results["tasks"]
    rows = ["| Training | " + " | ".join(f"task {i}: {t}" for i, t in enumerate(tasks)) + " |",
            "|---|" + "---:|" * len(tasks)]
    for name, run in results["runs"].items():
        acc = run["accuracy"]
        rows.append(f"| {name} | " + " | ".join(f"{acc[t][-1]:.2f} (peak {max(acc[t]):.2f})" for t in tasks) + " |")
    return ("\n".join(rows) + f"\n\nFinal held-out accuracy (peak in brackets), {results['steps_per_task']} steps per task, "
            f"seed {results['seed']}.\n")


@generator("distilbert-size")
def distilbert_size() -> str:
    from transformers import BertConfig, BertModel, DistilBertModel

    from snippets.distillation.student_init import student_config

    with torch.device("meta"):
        student, teacher = DistilBertModel(student_config(BertConfig())), BertModel(BertConfig())
    s, t = (sum(p.numel() for p in m.parameters()) for m in (student, teacher))
    return ("| Model | Layers | Parameters (computed) | Parameters (paper, Table 3) |\n|---|---:|---:|---:|\n"
            f"| BERT-base | 12 | {millions(t)} | 110M |\n| DistilBERT | 6 | {millions(s)} | 66M |\n\n"
            f"The student keeps {s / t:.1%} of the teacher's parameters, {1 - s / t:.0%} fewer.\n")
