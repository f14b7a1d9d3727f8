"""Computed content of comparison.md: the survey's models, from refs/papers.toml.

A model's `params = { computed = "NAME", ... }` names a count in PARAMETER_COUNTS.
"""

from __future__ import annotations

import datetime
import functools
import html
from pathlib import Path

REFS = Path(__file__).resolve().parents[1] / "refs"

BERT_LARGE = dict(
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
)


def _on_meta(model_class, config) -> int:
    import torch

    with torch.device("meta"):
        return sum(p.numel() for p in model_class(config).parameters())


def _albert(name: str) -> int:
    from snippets.albert.cross_layer_sharing import (
        PAPER_CONFIGS,
        PAPER_VOCAB_SIZE,
        albert_parameter_count,
    )

    L, H, E, sharing, _ = PAPER_CONFIGS[name]
    return albert_parameter_count(
        PAPER_VOCAB_SIZE, E, H, L, H // 64, 4 * H, sharing=sharing
    )


def _bert(L: int, H: int) -> int:
    from snippets.albert.cross_layer_sharing import albert_parameter_count

    return albert_parameter_count(30522, H, H, L, H // 64, 4 * H, sharing="none")


def _distilbert() -> int:
    import transformers as tf

    from snippets.distillation.student_init import student_config

    return _on_meta(tf.DistilBertModel, student_config(tf.BertConfig()))


def _roberta_large() -> int:
    import transformers as tf

    config = tf.RobertaConfig(
        vocab_size=50265,
        max_position_embeddings=514,
        type_vocab_size=1,
        **BERT_LARGE,
    )
    return _on_meta(tf.RobertaModel, config)


def _xlnet_large() -> int:
    import transformers as tf

    config = tf.XLNetConfig(
        vocab_size=32000, d_model=1024, n_layer=24, n_head=16, d_inner=4096
    )
    return _on_meta(tf.XLNetModel, config)


def _t5_11b() -> int:
    import transformers as tf

    config = tf.T5Config(
        vocab_size=32128,
        d_model=1024,
        d_kv=128,
        d_ff=65536,
        num_layers=24,
        num_heads=128,
    )
    return _on_meta(tf.T5Model, config)


# parameter counts that the snippets (or transformers, on the meta device) compute
PARAMETER_COUNTS = {
    "bert-base": lambda: _bert(12, 768),
    "bert-large": lambda: _bert(24, 1024),
    "albert-xxlarge": lambda: _albert("ALBERT-xxlarge"),
    "distilbert": _distilbert,
    "roberta-large": _roberta_large,
    "xlnet-large": _xlnet_large,
    "t5-11b": _t5_11b,
}


@functools.cache
def _count(name: str) -> int:  # the table and the plot share a count
    return PARAMETER_COUNTS[name]()


@functools.cache
def _bib():
    from citations.bib import load

    return load(REFS)


def _models() -> list[dict]:
    """Every comparison row with its paper, parameters resolved."""
    bib, rows = _bib(), []
    for key, paper in bib.papers.items():
        for model in paper.models:
            row = {"key": key, "paper": paper, "entry": bib.entries[key], **model}
            computed = model.get("params", {}).get("computed")
            if computed is not None:
                if computed not in PARAMETER_COUNTS:
                    raise ValueError(
                        f"refs/papers.toml: {model['name']}: no parameter count "
                        f"named {computed!r} in docs/comparison.py"
                    )
                row["params_count"] = _count(computed)
            rows.append(row)
    return rows


def _millions(n: int) -> str:
    return f"{n / 1e6:,.1f}M"


def _cell(text: str, source: str) -> str:
    """A cell whose source shows on hover (and a † for print and screen readers)."""
    return (
        f'<td title="Source: {html.escape(source)}">{html.escape(text)}'
        '<sup class="src">†</sup></td>'
    )


MISSING = (
    '<td class="missing" title="The paper does not report this">not reported</td>'
)


def _glue_label(glue: dict) -> str:
    """dev or test, and whether the score is an ensemble's."""
    return glue["split"] + (", ensemble" if glue.get("ensemble") else "")


def comparison_table() -> str:
    out = [
        '<table class="comparison"><thead><tr><th>Model</th><th>Year, venue</th>'
        "<th>Category</th><th>Parameters</th><th>Pre-training data</th>"
        "<th>Training compute</th><th>GLUE</th><th>SQuAD</th></tr></thead><tbody>"
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
        if not params:
            cells.append(MISSING)
        elif "params_count" in row:
            text = _millions(row["params_count"]) + " (computed)"
            cells.append(_cell(text, params["source"]))
        else:
            cells.append(_cell(str(params["value"]), params["source"]))
        for fact in ("data", "compute"):
            fact = row.get(fact)
            cells.append(
                _cell(str(fact["value"]), fact["source"]) if fact else MISSING
            )
        glue = row.get("glue")
        cells.append(
            _cell(f"{glue['value']} ({_glue_label(glue)})", glue["source"])
            if glue
            else MISSING
        )
        squad = row.get("squad")
        if squad:
            text = str(squad["value"])
            if squad.get("ensemble") and "ensemble" not in text:
                text += " (ensemble)"
            cells.append(_cell(text, squad["source"]))
        else:
            cells.append(MISSING)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out) + "\n"


# one marker per kind of score: test-server or dev, single model or ensemble
MARKERS = {
    ("test", False): dict(marker="o", label="single model, test server"),
    ("dev", False): dict(marker="s", label="single model, dev set"),
    ("test", True): dict(marker="*", label="ensemble, test server", size=160),
    ("dev", True): dict(marker="P", label="ensemble, dev set", size=90),
}


def glue_vs_params():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    shown = set()
    for row in _models():
        if "glue" not in row or "params_count" not in row:
            continue
        glue = row["glue"]
        kind = (glue["split"], bool(glue.get("ensemble")))
        style = MARKERS[kind]
        x, y = row["params_count"], glue["value"]
        ax.scatter(
            x,
            y,
            marker=style["marker"],
            s=style.get("size", 50),
            facecolors="tab:orange" if kind[1] else "tab:blue",
            edgecolors="black" if kind[1] else "tab:blue",
            label=style["label"] if kind not in shown else None,
        )
        shown.add(kind)
        ax.annotate(
            f"{row['name']} ({_glue_label(glue)})",
            (x, y),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_xlabel("parameters (log scale; computed by the snippets)")
    ax.set_ylabel("GLUE score")
    ax.set_title(
        "GLUE against size: ensembles are several models, counted here as one",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _month(year_month: str) -> datetime.date:
    return datetime.date(int(year_month[:4]), int(year_month[5:7]), 15)


def timeline():
    import matplotlib.pyplot as plt

    bib = _bib()
    dated = [(bib.arxiv_date(k), p) for k, p in bib.papers.items()]
    papers = sorted(
        ((d, p) for d, p in dated if d and d >= "2018"), key=lambda x: x[0]
    )
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(papers) + 1))
    for y, (arxiv, paper) in enumerate(papers):
        ax.plot([_month(arxiv)], [y], "o", color="tab:blue")
        if paper.venue_date:
            venue = _month(paper.venue_date)
            ax.plot([_month(arxiv), venue], [y, y], "-", color="grey", lw=1)
            ax.plot([venue], [y], "s", color="tab:orange")
        ax.annotate(
            paper.name,
            (_month(arxiv), y),
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
    return fig
