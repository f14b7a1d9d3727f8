"""Experiment 5. XLNet, permutation language modeling against masked language
modeling at equal compute (Yang et al. 2019, §3.4, Table 6), in miniature on the
Brown Corpus.

Two copies of one tiny `XLNetLMHeadModel`, from the same initial weights, are
pre-trained on the same blocks of text in the same order for the same number of
steps; only the objective differs:

- **PLM**: XLNet's permutation LM, the batch built by
  `snippets.xlnet.permutation_lm.plm_inputs` (spans of 1-5 tokens, a sixth of the
  tokens predicted, K = 6), predicted from the query stream;
- **MLM**: BERT's masked LM on the same backbone, the batch built by
  `snippets.roberta.dynamic_masking.mask_tokens` (15% of the tokens, 80/10/10),
  predicted from the content stream.

One backbone for both isolates the objective: a separate BERT would also change
the position encoding (absolute against Transformer-XL's relative one) and the
attention code. It is the comparison of Table 6, row 2 ("DAE + Transformer-XL":
BERT's objective on XLNet's backbone) against row 4 (XLNet-Base, K = 6), rather
than Table 1, where XLNet-Large and BERT-Large differ in architecture as well.

The probe is a cloze test on held-out documents, the same positions for both
models: the MLM model sees them as [MASK]; the PLM model predicts them as targets
with every other token as context and no target visible to another, so both have
exactly the same information. A third column gives the PLM model its own
advantage: each target also sees the targets before it in a random order (the
joint dependencies BERT cannot model). Two sets of positions: XLNet's spans
(`sample_target_spans`, a sixth of the tokens) and BERT's single tokens (15%).

    .venv/bin/python -m experiments xlnet_plm            # about 5 min on 2 cores
    .venv/bin/python -m experiments xlnet_plm --quick    # a few seconds

Writes docs/assets/generated/xlnet_plm.json, xlnet_plm.svg and
_xlnet_plm_table.md (the Markdown table the XLNet page includes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from experiments import cli, harness
from experiments.corpora import brown
from experiments.machine import machine_info, torch_threads
from experiments.models import predicted_logits, tiny_model
from experiments.tokenizer import MASK, encode_documents, english_wordpiece
from snippets.masking import IGNORE_INDEX
from snippets.roberta.dynamic_masking import mask_tokens
from snippets.xlnet.permutation_lm import (
    permutation_masks,
    plm_inputs,
    sample_factorization_order,
    sample_target_spans,
)

NAME = "xlnet_plm"
ARMS = ("mlm", "plm")
PROBES = ("spans", "tokens")
# what each arm's model is asked on a probe (see the module docstring)
CONDITIONS = {"mlm": ("masked",), "plm": ("context", "joint")}

# Paper, Table 6 (NeurIPS 2019 version, §3.4): 12-layer base models trained on
# BooksCorpus and Wikipedia, median of 5 fine-tuning runs.
PAPER = {
    "source": "Yang et al. 2019 (NeurIPS), Table 6, rows 2 and 4",
    "columns": ["RACE", "SQuAD2.0 F1", "SQuAD2.0 EM", "MNLI m", "MNLI mm", "SST-2"],
    "mlm": {  # row 2, DAE + Transformer-XL
        "label": "DAE + Transformer-XL",
        "scores": [65.03, 79.56, 76.80, 84.88, 84.45, 92.60],
    },
    "plm": {  # row 4, XLNet-Base (K = 6)
        "label": "XLNet-Base (K = 6)",
        "scores": [66.66, 80.98, 78.18, 85.63, 85.12, 93.35],
    },
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 8000
    max_length: int = 128  # tokens per block of running text
    layers: int = 4
    hidden: int = 128
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    evaluations: int = 5  # probe the models this many times during training
    probe_blocks: int = 192  # held-out blocks the probe reads
    train_documents: int | None = None  # None: every training document
    held_out_documents: int | None = None
    seed: int = 0


QUICK = Settings(
    max_length=64,
    layers=2,
    hidden=64,
    steps=30,
    batch_size=16,
    learning_rate=2e-3,
    evaluations=2,
    probe_blocks=16,
    train_documents=40,
    held_out_documents=5,
)


# ---- data ----


def blocks(documents: list[list[list[int]]], length: int) -> torch.Tensor:
    """Each document's tokens run together and cut into blocks of `length`
    (the short remainder dropped): [N, length] int16, no padding and no special
    tokens, so both objectives see exactly the same text."""
    rows = []
    for document in documents:
        tokens = torch.tensor([t for sentence in document for t in sentence])
        n = len(tokens) // length
        rows.append(tokens[: n * length].view(n, length))
    return torch.cat(rows).to(torch.int16)


class PLMObjective:
    """XLNet's permutation LM, predicted from the query stream."""

    def collate(self, examples: list, generator: torch.Generator) -> dict:
        return plm_inputs(torch.stack(examples).long(), generator=generator)

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden = model.transformer(
            input_ids=batch["input_ids"],
            perm_mask=batch["perm_mask"],
            target_mapping=batch["target_mapping"],
        ).last_hidden_state  # [B, K, H]: the query stream at each target
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        total = F.cross_entropy(logits, targets, reduction="sum")
        return {"lm": harness.Term(total, len(targets))}


class MLMObjective:
    """BERT's masked LM on the same backbone, predicted from the content stream."""

    def __init__(self, vocab_size: int) -> None:
        self.vocab_size = vocab_size

    def collate(self, examples: list, generator: torch.Generator) -> dict:
        inputs, labels = mask_tokens(
            torch.stack(examples).long(),
            mask_token_id=MASK,
            vocab_size=self.vocab_size,
            generator=generator,
        )
        return {"input_ids": inputs, "labels": labels}

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden = model.transformer(input_ids=batch["input_ids"]).last_hidden_state
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        total = F.cross_entropy(logits, targets, reduction="sum")
        return {"lm": harness.Term(total, len(targets))}


# ---- the probe ----


def make_probes(ids: torch.Tensor, generator: torch.Generator) -> dict:
    """The held-out positions, drawn once: XLNet's spans and BERT's tokens, and
    one factorization order for the PLM model's joint condition."""
    valid = torch.ones_like(ids, dtype=torch.bool)
    spans = sample_target_spans(valid, generator=generator)
    tokens = torch.rand(ids.shape, generator=generator) < 0.15
    order = sample_factorization_order(*ids.shape, generator=generator)
    return {"ids": ids.long(), "spans": spans, "tokens": tokens, "order": order}


def target_logits(
    model,
    condition: str,
    ids: torch.Tensor,
    targets: torch.Tensor,
    order: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits [N, V] at the N `targets` of `ids` [B, L] (row-major order) and
    their gold ids, for one condition: "masked" (an MLM model reads [MASK] at
    every target), "context" (a PLM model; no target visible to any position)
    or "joint" (a PLM model; each target sees the targets before it in `order`).
    """
    if condition == "masked":
        hidden = model.transformer(
            input_ids=ids.masked_fill(targets, MASK)
        ).last_hidden_state
        labels = ids.masked_fill(~targets, IGNORE_INDEX)
    else:
        perm_mask, target_mapping = permutation_masks(order, targets)
        if condition == "context":
            # every target hidden from every position: what the MLM model sees
            perm_mask = targets[:, None, :].expand_as(perm_mask).float()
        hidden = model.transformer(
            input_ids=ids, perm_mask=perm_mask, target_mapping=target_mapping
        ).last_hidden_state
        # target_mapping lists each row's targets in position order
        labels = ids.gather(1, target_mapping.argmax(-1))
        labels = labels.masked_fill(target_mapping.sum(-1) == 0, IGNORE_INDEX)
    return predicted_logits(model, hidden, labels)


def _cloze(model, arm: str, probes: dict, batch_size: int = 64) -> dict:
    """For each probe and condition: per-target correctness and NLL, targets in
    row-major order (the same order for every condition and model)."""
    device = next(model.parameters()).device
    out = {}
    for probe in PROBES:
        for condition in CONDITIONS[arm]:
            correct, nll = [], []
            for i in range(0, len(probes["ids"]), batch_size):
                logits, gold = target_logits(
                    model,
                    condition,
                    *(
                        probes[k][i : i + batch_size].to(device)
                        for k in ("ids", probe, "order")
                    ),
                )
                correct.append((logits.argmax(-1) == gold).cpu())
                nll.append(F.cross_entropy(logits, gold, reduction="none").cpu())
            out[f"{probe}/{condition}"] = (torch.cat(correct), torch.cat(nll))
    return out


def unigram_baseline(train: torch.Tensor, probes: dict, vocab_size: int) -> dict:
    """What knowing only the training tokens' frequencies scores on each probe:
    always guessing the most frequent token, and the NLL of add-one-smoothed
    frequencies."""
    counts = torch.bincount(train.flatten().long(), minlength=vocab_size).double()
    nll_of = -((counts + 1) / (counts + 1).sum()).log()
    out = {}
    for probe in PROBES:
        gold = probes["ids"][probes[probe]]
        out[probe] = accuracy(gold == counts.argmax()) | {
            "nll": nll_of[gold].mean().item()
        }
    return out


def accuracy(correct: torch.Tensor) -> dict:
    """Accuracy in percent, with its binomial standard error."""
    n = len(correct)
    p = correct.float().mean().item() if n else 0.0
    return {
        "accuracy": 100 * p,
        "se": 100 * math.sqrt(p * (1 - p) / max(n, 1)),
        "n": n,
    }


def paired_difference(a: torch.Tensor, b: torch.Tensor) -> dict:
    """Mean of a - b over the same targets, in points, with its standard error."""
    d = a.float() - b.float()
    se = d.std().item() / math.sqrt(len(d)) if len(d) > 1 else 0.0
    return {"difference": 100 * d.mean().item(), "se": 100 * se, "n": len(d)}


def evaluate(model, arm: str, probes: dict, keep: dict) -> dict:
    """The cloze probe's accuracy and mean NLL (nats); the per-target results
    of the latest call stay in `keep[arm]` for the paired comparison."""
    results = _cloze(model, arm, probes)
    keep[arm] = results
    return {
        key: accuracy(correct) | {"nll": nll.mean().item()}
        for key, (correct, nll) in results.items()
    }


# ---- the experiment ----


def run(settings: Settings, runs: Path) -> dict:
    start = time.perf_counter()
    tokenizer = english_wordpiece(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    train_docs = brown.load("train", settings.train_documents)
    held_docs = brown.load("held_out", settings.held_out_documents)
    train = blocks(encode_documents(tokenizer, train_docs), settings.max_length)
    held = blocks(encode_documents(tokenizer, held_docs), settings.max_length)
    # an even spread of held-out blocks over the held-out documents
    pick = torch.linspace(0, len(held) - 1, min(settings.probe_blocks, len(held)))
    probes = make_probes(
        held[pick.round().long()],
        torch.Generator().manual_seed(10_000 + settings.seed),
    )
    objectives = {"plm": PLMObjective(), "mlm": MLMObjective(vocab_size)}
    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": {
            "corpus": brown.VERSION,
            "train_documents": len(train_docs),
            "held_out_documents": len(held_docs),
            "train_blocks": len(train),
            "train_tokens": train.numel(),
            "vocab_size": vocab_size,
            "probe_blocks": len(probes["ids"]),
            "probe_targets": {p: int(probes[p].sum()) for p in PROBES},
        },
        "runs": {},
    }
    results["unigram"] = unigram_baseline(train, probes, vocab_size)
    results["data_preparation_s"] = time.perf_counter() - start
    keep: dict = {}
    for arm in ARMS:
        arm_start = time.perf_counter()
        model = tiny_model(
            "xlnet",
            vocab_size,
            seed=settings.seed,
            layers=settings.layers,
            hidden=settings.hidden,
            max_length=settings.max_length,
        )
        config = harness.TrainConfig(
            steps=settings.steps,
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=settings.steps // 10,
            seed=settings.seed,
            log_every=max(settings.steps // 30, 1),
            checkpoint_every=max(settings.steps // 4, 1),
            eval_every=max(settings.steps // settings.evaluations, 1),
            identity=json.dumps([NAME, arm, dataclasses.asdict(settings)]),
        )
        result = harness.train(
            model,
            train,
            objectives[arm],
            config,
            runs / arm,
            evaluate=lambda m, arm=arm: evaluate(m, arm, probes, keep),
            name=f"{NAME}:{arm}",
        )
        results["runs"][arm] = {
            "parameters": sum(p.numel() for p in model.parameters()),
            "eval": result.evals[-1],
            "evals": result.evals,
            "history": result.history,
            "summary": result.summary,
            "wall_s": time.perf_counter() - arm_start,
        }
    if keep:  # rank 0 only: it alone evaluates
        results["comparison"] = {
            probe: paired_difference(
                keep["plm"][f"{probe}/context"][0],
                keep["mlm"][f"{probe}/masked"][0],
            )
            for probe in PROBES
        }
        results["verdict"] = verdict(results)
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    return results


def verdict(results: dict) -> dict:
    """Per probe: is the PLM model's cloze accuracy, with the same information,
    above or below the MLM model's beyond 2 paired standard errors?"""
    checks = {}
    for probe, c in results["comparison"].items():
        if c["difference"] > 2 * c["se"]:
            checks[probe] = "plm_better"
        elif c["difference"] < -2 * c["se"]:
            checks[probe] = "mlm_better"
        else:
            checks[probe] = "no_difference"
    reproduces = all(v == "plm_better" for v in checks.values())
    return checks | {"direction_reproduces": reproduces}


# ---- outputs ----


def _cell(e: dict) -> str:
    return f"{e['accuracy']:.1f} ± {e['se']:.1f} / {e['nll']:.2f}"


def table(results: dict) -> str:
    """The Markdown table the XLNet page includes."""
    mlm, plm = results["runs"]["mlm"]["eval"], results["runs"]["plm"]["eval"]
    rows = [
        "| Held-out positions | Frequencies only | MLM model "
        "| PLM model, same context | PLM − MLM, paired "
        "| PLM model, earlier targets visible |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {"spans": "XLNet's spans (1/6)", "tokens": "BERT's tokens (15%)"}
    for probe in PROBES:
        c, u = results["comparison"][probe], results["unigram"][probe]
        rows.append(
            f"| {names[probe]} | {u['accuracy']:.1f} / {u['nll']:.2f} "
            f"| {_cell(mlm[f'{probe}/masked'])} "
            f"| {_cell(plm[f'{probe}/context'])} "
            f"| {c['difference']:+.1f} ± {c['se']:.1f} "
            f"| {_cell(plm[f'{probe}/joint'])} |"
        )
    s, d, m = results["settings"], results["data"], results["machine"]
    threads = torch_threads(m)
    speed = {a: results["runs"][a]["summary"]["tokens_per_s"] for a in ARMS}
    paper = PAPER["columns"], PAPER["mlm"]["scores"], PAPER["plm"]["scores"]
    quoted = ", ".join(
        f"{c} {a:.2f} → {b:.2f}" for c, a, b in zip(*paper, strict=True)
    )
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: held-out cloze accuracy in % ± one standard error / mean "
        f"negative log-likelihood of the right token in nats, over "
        f"{d['probe_targets']['spans']:,} span and "
        f"{d['probe_targets']['tokens']:,} token positions in "
        f"{d['probe_blocks']} blocks of {s['max_length']} tokens from "
        f"{d['held_out_documents']} held-out Brown documents; the paired "
        f"difference (in points of accuracy) is over the same positions. "
        f"*Frequencies only*: always guessing the most frequent training token, "
        f"and the NLL of the training tokens' frequencies. Model: XLNet with "
        f"{s['layers']} layers, hidden {s['hidden']}, "
        f"{results['runs']['plm']['parameters']:,} parameters, vocabulary "
        f"{d['vocab_size']:,} (WordPiece), the same initial weights for both; "
        f"{s['steps']} steps of {s['batch_size']} blocks each, the same blocks "
        f"in the same order. PLM trained at {speed['plm']:,.0f} tokens/s, MLM "
        f"at {speed['mlm']:,.0f}; {results['wall_s'] / 60:.1f} min in all on "
        f"{m['cpu']} ({threads}), {m['date']}. "
        f"Paper ({PAPER['source']}, DAE + Transformer-XL → XLNet-Base): "
        f"{quoted}.\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    styles = {
        "mlm/masked": ("MLM model", "tab:blue", "-"),
        "plm/context": ("PLM model, same context", "tab:orange", "-"),
        "plm/joint": ("PLM model, earlier targets visible", "tab:orange", ":"),
    }
    titles = {"spans": "XLNet's spans", "tokens": "BERT's tokens"}
    for ax, probe in zip(axes, PROBES, strict=True):
        for key, (label, color, line) in styles.items():
            arm, condition = key.split("/")
            evals = results["runs"][arm]["evals"]
            ax.errorbar(
                [e["step"] for e in evals],
                [e[f"{probe}/{condition}"]["accuracy"] for e in evals],
                yerr=[e[f"{probe}/{condition}"]["se"] for e in evals],
                color=color,
                ls=line,
                marker="o",
                ms=3,
                capsize=2,
                label=label,
            )
        ax.axhline(
            results["unigram"][probe]["accuracy"],
            color="grey",
            lw=0.8,
            ls=":",
            label="frequencies only",
        )
        ax.set_title(f"held-out cloze: {titles[probe]}", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7)
    cli.save_svg(fig, path)


def main(argv: list[str] | None = None) -> dict:
    args = cli.arguments(__doc__).parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
    out, runs = cli.folders(args, NAME)
    results = run(settings, runs)
    cli.publish(results, out, NAME, {f"_{NAME}_table.md": table(results)}, plot)
    return results


if __name__ == "__main__":
    main()
