"""mkdocs hook: numbers and figures that the snippets compute at build time.

A page writes `<!-- computed:NAME -->` and the hook replaces it with the output of the function
registered under NAME below. Nothing here is typed by hand: if a snippet changes, the page does.
"""
from __future__ import annotations

import html
import re

import torch
from mkdocs.exceptions import PluginError

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
