"""Experiment 6. ERNIE 1.0, knowledge masking against character masking (Sun et
al. 2019, §3.2 and Table 2), in miniature on People's Daily (January 1998).

Three tiny Chinese BERTs (one token per character) are pre-trained with the
masked LM from the same initial weights, on the same blocks in the same order,
for the same number of steps and the same masking budget: 15% of the characters
of every row, chosen by `snippets.ernie.knowledge_masking.knowledge_mask`. Only
the units it masks whole differ, built from the corpus's gold spans:

- **character**: every character is a unit (BERT's basic-level masking);
- **+ phrase**: a gold base noun phrase (国家主席, 改革开放) is one unit,
  every other character its own;
- **+ phrase + entity**: phrases and the person, place and organisation names
  tagged nr / ns / nt (江泽民, 北京, 新华社) are units.

These are the three masking rows of ERNIE 1.0's Table 2, with the corpus's gold
segmentation standing in for ERNIE's lexical analysis and entity recognition.
ERNIE 1.0 introduces the levels in stages (§3.2); here each arm uses its units
from the first step, since stages of a third of a few hundred steps would leave
each level too few updates.

The probe reads held-out documents: each held-out entity is masked whole (all of
its characters become [MASK], nothing else is masked) and the model must recover
it; an entity counts as right only if every character is. The same probe on
phrases, per-character accuracy on both, and a character cloze (15% of the
characters, masked one by one) show what each arm gains and what it pays.

    .venv/bin/python -m experiments ernie_masking            # about 5 min
    .venv/bin/python -m experiments ernie_masking --quick    # a few seconds

Writes docs/assets/generated/ernie_masking.json, ernie_masking.svg and
_ernie_masking_table.md (the Markdown table the ERNIE 2.0 page includes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from experiments import harness
from experiments.corpora import Document, peoples_daily
from experiments.machine import machine_info
from experiments.models import encode, predicted_logits, tiny_model
from experiments.tokenizer import CLS, MASK, PAD, SEP, chinese_characters
from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans
from snippets.masking import IGNORE_INDEX

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "assets" / "generated"
RUNS = ROOT / ".cache" / "experiments" / "runs"
NAME = "ernie_masking"
ARMS = ("character", "phrase", "phrase_entity")
ARM_NAMES = {
    "character": "character",
    "phrase": "+ phrase",
    "phrase_entity": "+ phrase + entity",
}
PROBES = ("entity", "phrase", "character")

# ERNIE 1.0's masking ablation (arXiv 1904.09223, Table 2): XNLI accuracy after
# pre-training on a tenth of its corpus with each set of masking levels. Only the
# direction is stated here: the values could not be checked against a stored
# copy of the paper's table.
PAPER = {
    "source": "Sun et al. 2019 (arXiv 1904.09223), Table 2",
    "claim": "XNLI accuracy rises as phrase-level and then entity-level masking "
    "are added to basic-level masking, pre-training on 10% of the corpus",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 6000
    max_length: int = 128  # [CLS] characters [SEP]
    layers: int = 4
    hidden: int = 128
    steps: int = 300
    batch_size: int = 32
    learning_rate: float = 1e-3
    mlm_probability: float = 0.15
    evaluations: int = 4  # probe the models this many times during training
    probe_entities: int = 1500  # held-out entities, each masked in its own row
    probe_phrases: int = 1500
    probe_blocks: int = 300  # held-out blocks for the character cloze
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
    probe_entities=60,
    probe_phrases=60,
    probe_blocks=20,
    train_documents=60,
    held_out_documents=10,
)


# ---- data ----


class Block(NamedTuple):
    """Up to max_length - 2 characters of running text from one document, with
    the gold phrase and entity spans that lie inside it (character offsets)."""

    text: str
    phrases: tuple[tuple[int, int], ...]
    entities: tuple[tuple[int, int, str], ...]


def make_blocks(documents: list[Document], size: int) -> list[Block]:
    """Whole sentences packed into blocks of at most `size` characters; a longer
    sentence is cut into pieces of `size`, and a span that a cut crosses is
    dropped."""
    out: list[Block] = []
    for document in documents:
        text, phrases, entities = "", [], []
        for sentence in document.sentences:
            for start in range(0, len(sentence.text), size):
                piece = sentence.text[start : start + size]
                if text and len(text) + len(piece) > size:
                    out.append(Block(text, tuple(phrases), tuple(entities)))
                    text, phrases, entities = "", [], []
                # spans wholly inside this piece, moved to the block's offsets
                end, shift = start + len(piece), len(text) - start
                phrases += [
                    (s.start + shift, s.end + shift)
                    for s in sentence.phrases
                    if start <= s.start and s.end <= end
                ]
                entities += [
                    (s.start + shift, s.end + shift, s.label)
                    for s in sentence.entities
                    if start <= s.start and s.end <= end
                ]
                text += piece
        if text:
            out.append(Block(text, tuple(phrases), tuple(entities)))
    return out


def encode_blocks(tokenizer, blocks: list[Block]) -> list[torch.Tensor]:
    """Character ids of each block (int16); one token per character, so a span's
    character offsets index the tokens directly."""
    encoded = tokenizer.encode_batch(
        [b.text for b in blocks], add_special_tokens=False
    )
    ids = [torch.tensor(e.ids, dtype=torch.int16) for e in encoded]
    for block, row in zip(blocks, ids, strict=True):
        if len(row) != len(block.text):
            raise ValueError(
                f"the character tokenizer split {block.text!r} unevenly"
            )
    return ids


def spans_for(arm: str, block: Block) -> list[tuple[int, int]]:
    """The spans masked as whole units in `arm` (offsets in the block's text)."""
    if arm == "character":
        return []
    spans = list(block.phrases)
    if arm == "phrase_entity":
        spans += [(s, e) for s, e, _ in block.entities]
    return spans


def batch_rows(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] ids [SEP], padded: `input_ids` [B, L] and `attention_mask`."""
    length = max(len(r) for r in rows) + 2
    ids = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, 0] = CLS
        ids[i, 1 : len(row) + 1] = row.long()
        ids[i, len(row) + 1] = SEP
    return ids, (ids != PAD).long()


class KnowledgeMaskingObjective:
    """The masked LM, with `knowledge_mask` choosing whole units of one arm."""

    def __init__(self, arm: str, vocab_size: int, mlm_probability: float) -> None:
        self.arm = arm
        self.vocab_size = vocab_size
        self.mlm_probability = mlm_probability

    def collate(self, examples: list, generator: torch.Generator) -> dict:
        ids, attention = batch_rows([row for row, _ in examples])
        # units over [CLS] text [SEP] pad: the text's spans shift by one
        unit_ids = torch.stack(
            [
                units_from_spans(
                    ids.shape[1],
                    [(s + 1, e + 1) for s, e in spans_for(self.arm, b)],
                )
                for _, b in examples
            ]
        )
        special = (ids == CLS) | (ids == SEP) | (ids == PAD)
        inputs, labels = knowledge_mask(
            ids,
            unit_ids,
            mlm_probability=self.mlm_probability,
            mask_token_id=MASK,
            vocab_size=self.vocab_size,
            special_tokens_mask=special,
            generator=generator,
        )
        return {"input_ids": inputs, "attention_mask": attention, "labels": labels}

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden, _ = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        total = F.cross_entropy(logits, targets, reduction="sum")
        return {"mlm": harness.Term(total, len(targets))}


def masking_profile(
    objective: KnowledgeMaskingObjective, dataset: list, batches: int, size: int
) -> dict:
    """What the arm's masking does on training batches: the share of the text's
    characters it masks (the budget is 15%), the share of masked characters
    that belong to an entity, and the mean length of a masked run."""
    generator = torch.Generator().manual_seed(1)
    masked = text = in_entity = runs = 0
    for b in range(batches):
        examples = dataset[b * size : (b + 1) * size]
        batch = objective.collate(examples, generator)
        chosen = batch["labels"] != IGNORE_INDEX
        masked += int(chosen.sum())
        text += sum(len(row) for row, _ in examples)
        entity = torch.zeros_like(chosen)
        for i, (_, block) in enumerate(examples):
            for s, e, _ in block.entities:
                entity[i, s + 1 : e + 1] = True
        in_entity += int((chosen & entity).sum())
        starts = chosen & ~torch.nn.functional.pad(chosen, (1, 0))[:, :-1]
        runs += int(starts.sum())
    return {
        "masked_share": 100 * masked / max(text, 1),
        "masked_in_entities": 100 * in_entity / max(masked, 1),
        "mean_masked_run": masked / max(runs, 1),
    }


# ---- the probe ----


def make_probes(
    blocks: list[Block], ids: list[torch.Tensor], settings: Settings
) -> dict:
    """Fixed held-out rows: one per probed entity and phrase (that span masked
    whole), and the character cloze over `probe_blocks` blocks."""
    generator = torch.Generator().manual_seed(10_000 + settings.seed)
    entities = [
        (i, s, e, t) for i, b in enumerate(blocks) for s, e, t in b.entities
    ]
    phrases = [
        (i, s, e, "phrase") for i, b in enumerate(blocks) for s, e in b.phrases
    ]
    probes = {}
    for probe, spans, cap in (
        ("entity", entities, settings.probe_entities),
        ("phrase", phrases, settings.probe_phrases),
    ):
        pick = torch.randperm(len(spans), generator=generator)[:cap].sort().values
        chosen = [spans[k] for k in pick]
        rows, where = batch_rows([ids[i] for i, *_ in chosen])
        targets = torch.zeros_like(rows, dtype=torch.bool)
        for r, (_, s, e, _) in enumerate(chosen):
            targets[r, s + 1 : e + 1] = True
        probes[probe] = {
            "ids": rows,
            "attention_mask": where,
            "targets": targets,
            "labels": [t for *_, t in chosen],
            "lengths": torch.tensor([e - s for _, s, e, _ in chosen]),
            "texts": [blocks[i].text[s:e] for i, s, e, _ in chosen],
        }
    pick = torch.linspace(
        0, len(blocks) - 1, min(settings.probe_blocks, len(blocks))
    )
    rows, where = batch_rows([ids[i] for i in pick.round().long().tolist()])
    text = (rows != CLS) & (rows != SEP) & (rows != PAD)
    targets = (torch.rand(rows.shape, generator=generator) < 0.15) & text
    probes["character"] = {
        "ids": rows,
        "attention_mask": where,
        "targets": targets,
        "lengths": torch.ones(int(targets.sum()), dtype=torch.long),
    }
    return probes


def _predict(model, probe: dict, batch_size: int = 64) -> tuple:
    """Per-character correctness and NLL (nats) at the probe's targets, in
    row-major order."""
    device = next(model.parameters()).device
    correct, nll = [], []
    for i in range(0, len(probe["ids"]), batch_size):
        ids = probe["ids"][i : i + batch_size].to(device)
        targets = probe["targets"][i : i + batch_size].to(device)
        batch = {
            "input_ids": ids.masked_fill(targets, MASK),
            "attention_mask": probe["attention_mask"][i : i + batch_size].to(
                device
            ),
        }
        hidden, _ = encode(model, batch)
        labels = ids.masked_fill(~targets, IGNORE_INDEX)
        logits, gold = predicted_logits(model, hidden, labels)
        correct.append((logits.argmax(-1) == gold).cpu())
        nll.append(F.cross_entropy(logits, gold, reduction="none").cpu())
    return torch.cat(correct), torch.cat(nll)


def per_span(values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each span's sum of per-character `values` (spans in row order, each
    row's characters contiguous in `values`)."""
    span = torch.repeat_interleave(torch.arange(len(lengths)), lengths)
    total = torch.zeros(len(lengths), dtype=torch.float64)
    return total.index_add_(0, span, values.double())


def whole_accuracy(right: torch.Tensor, lengths: torch.Tensor) -> dict:
    """Share of spans with every character right, % ± binomial standard error."""
    whole = (right == lengths).float()
    n, p = len(whole), whole.mean().item() if len(whole) else 0.0
    return {
        "accuracy": 100 * p,
        "se": 100 * math.sqrt(p * (1 - p) / max(n, 1)),
        "n": n,
    }


def char_accuracy(right: torch.Tensor, lengths: torch.Tensor) -> dict:
    """Share of characters right, % ± a standard error clustered by span (the
    characters of one span are not independent)."""
    mean, se = _ratio(right, lengths)
    return {"accuracy": 100 * mean, "se": 100 * se, "n": int(lengths.sum())}


def _ratio(sums: torch.Tensor, lengths: torch.Tensor) -> tuple[float, float]:
    """Per-character mean of span sums, and its standard error clustered by
    span (the ratio estimator's linearization)."""
    total, m = max(int(lengths.sum()), 1), len(lengths)
    mean = sums.sum().item() / total
    residual = sums.double() - mean * lengths.double()
    se = math.sqrt((residual**2).sum().item() * m / max(m - 1, 1)) / total
    return mean, se


def unigram_baseline(train: list, probes: dict) -> dict:
    """What knowing only the training characters' frequencies scores: always
    guessing the most frequent character, and the NLL of add-one-smoothed
    frequencies, on every probe."""
    counts = torch.bincount(
        torch.cat([row.long() for row, _ in train]),
        minlength=int(max(p["ids"].max() for p in probes.values())) + 1,
    ).double()
    top = int(counts.argmax())
    nll_of = -((counts + 1) / (counts + 1).sum()).log()
    out = {}
    for name, probe in probes.items():
        gold = probe["ids"][probe["targets"]]
        lengths = probe["lengths"]
        right = per_span((gold == top).double(), lengths)
        out[name] = {
            "whole": whole_accuracy(right, lengths),
            "per_character": char_accuracy(right, lengths),
            "nll": _ratio(per_span(nll_of[gold], lengths), lengths)[0],
        }
    return out


def evaluate(model, arm: str, probes: dict, keep: dict) -> dict:
    """Whole-span and per-character accuracy, and the mean NLL per character
    (nats), on every probe; the per-span results of the latest call stay in
    `keep[arm]` for the paired comparisons."""
    result, kept = {}, {}
    for name, probe in probes.items():
        correct, nll = _predict(model, probe)
        lengths = probe["lengths"]
        right, span_nll = per_span(correct, lengths), per_span(nll, lengths)
        kept[name] = {"whole": right == lengths, "nll": span_nll / lengths}
        mean, se = _ratio(span_nll, lengths)
        result[name] = {
            "whole": whole_accuracy(right, lengths),
            "per_character": char_accuracy(right, lengths),
            "nll": {"mean": mean, "se": se},
        }
        if name == "entity":
            labels = probe["labels"]
            result[name]["by_type"] = {}
            for tag in peoples_daily.ENTITY_TAGS:
                rows = [k for k, label in enumerate(labels) if label == tag]
                result[name]["by_type"][tag] = whole_accuracy(
                    right[rows], lengths[rows]
                )
    keep[arm] = kept
    return result


def paired_difference(a: torch.Tensor, b: torch.Tensor, scale: float = 1) -> dict:
    """Mean of a - b over the same spans (times `scale`), with its standard
    error."""
    d = a.double() - b.double()
    se = d.std().item() / math.sqrt(len(d)) if len(d) > 1 else 0.0
    return {"difference": scale * d.mean().item(), "se": scale * se, "n": len(d)}


# ---- the experiment ----


def run(settings: Settings, runs: Path) -> dict:
    start = time.perf_counter()
    tokenizer = chinese_characters(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    size = settings.max_length - 2
    train_docs = peoples_daily.load("train", settings.train_documents)
    held_docs = peoples_daily.load("held_out", settings.held_out_documents)
    train_blocks = make_blocks(train_docs, size)
    held_blocks = make_blocks(held_docs, size)
    train = list(
        zip(encode_blocks(tokenizer, train_blocks), train_blocks, strict=True)
    )
    probes = make_probes(
        held_blocks, encode_blocks(tokenizer, held_blocks), settings
    )
    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": {
            "corpus": peoples_daily.VERSION,
            "train_documents": len(train_docs),
            "held_out_documents": len(held_docs),
            "train_blocks": len(train),
            "train_characters": sum(len(b.text) for b in train_blocks),
            "train_entities": sum(len(b.entities) for b in train_blocks),
            "train_phrases": sum(len(b.phrases) for b in train_blocks),
            "vocab_size": vocab_size,
            "probe_items": {
                name: len(p["lengths"])
                if name != "character"
                else int(p["targets"].sum())
                for name, p in probes.items()
            },
            "probe_mean_length": {
                name: probes[name]["lengths"].float().mean().item()
                for name in ("entity", "phrase")
            },
        },
        "runs": {},
    }
    results["unigram"] = unigram_baseline(train, probes)
    results["data_preparation_s"] = time.perf_counter() - start
    keep: dict = {}
    for arm in ARMS:
        arm_start = time.perf_counter()
        objective = KnowledgeMaskingObjective(
            arm, vocab_size, settings.mlm_probability
        )
        profile = masking_profile(objective, train, 20, settings.batch_size)
        model = tiny_model(
            "bert",
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
            objective,
            config,
            runs / arm,
            evaluate=lambda m, arm=arm: evaluate(m, arm, probes, keep),
            name=f"{NAME}:{arm}",
        )
        results["runs"][arm] = {
            "masking": profile,
            "eval": result.evals[-1],
            "evals": result.evals,
            "history": result.history,
            "summary": result.summary,
            "wall_s": time.perf_counter() - arm_start,
        }
    if keep:  # rank 0 only: it alone evaluates
        character = keep["character"]
        results["comparison"] = {
            arm: {
                f"{probe}/{kind}": paired_difference(
                    keep[arm][probe][kind],
                    character[probe][kind],
                    scale=100 if kind == "whole" else 1,
                )
                for probe in ("entity", "phrase", "character")
                for kind in ("whole", "nll")
            }
            for arm in ARMS[1:]
        }
        results["verdict"] = verdict(results)
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    return results


def verdict(results: dict) -> dict:
    """Against character masking, beyond 2 paired standard errors: is each arm
    better or worse at recovering whole spans (more right) and at the NLL of
    their characters (lower)? The paper's direction holds if entity units
    recover more held-out entities whole."""
    checks = {}
    for arm, comparisons in results["comparison"].items():
        for key, c in comparisons.items():
            sign = -1 if key.endswith("/nll") else 1  # a lower NLL is better
            if sign * c["difference"] > 2 * c["se"]:
                checks[f"{arm}/{key}"] = "better"
            elif sign * c["difference"] < -2 * c["se"]:
                checks[f"{arm}/{key}"] = "worse"
            else:
                checks[f"{arm}/{key}"] = "no_difference"
    reproduces = checks["phrase_entity/entity/whole"] == "better"
    return checks | {"direction_reproduces": reproduces}


# ---- outputs ----


def _cell(e: dict) -> str:
    return f"{e['accuracy']:.1f} ± {e['se']:.1f}"


def _nll(e: dict) -> str:
    return f"{e['mean']:.2f} ± {e['se']:.2f}"


def table(results: dict) -> str:
    """The Markdown table the ERNIE 2.0 page includes."""
    rows = [
        "| Masking units | Masked share | Entities recovered whole "
        "| Entity characters | Entity NLL | Phrases recovered whole "
        "| Character cloze | Character NLL |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        run = results["runs"][arm]
        e = run["eval"]
        rows.append(
            f"| {ARM_NAMES[arm]} | {run['masking']['masked_share']:.1f}% "
            f"| {_cell(e['entity']['whole'])} "
            f"| {_cell(e['entity']['per_character'])} "
            f"| {_nll(e['entity']['nll'])} "
            f"| {_cell(e['phrase']['whole'])} "
            f"| {_cell(e['character']['per_character'])} "
            f"| {_nll(e['character']['nll'])} |"
        )
    u = results["unigram"]
    rows.append(
        f"| *frequencies only* | | {u['entity']['whole']['accuracy']:.1f} "
        f"| {u['entity']['per_character']['accuracy']:.1f} "
        f"| {u['entity']['nll']:.2f} | {u['phrase']['whole']['accuracy']:.1f} "
        f"| {u['character']['per_character']['accuracy']:.1f} "
        f"| {u['character']['nll']:.2f} |"
    )
    s, d, m = results["settings"], results["data"], results["machine"]
    n = m["torch_threads"]
    threads = f"{n} torch thread{'s' if n > 1 else ''}"
    c = results["comparison"]["phrase_entity"]["entity/whole"]
    cn = results["comparison"]["phrase_entity"]["entity/nll"]
    speed = results["runs"]["character"]["summary"]["tokens_per_s"]
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: held-out accuracy in % ± one standard error, over "
        f"{d['probe_items']['entity']:,} entities (mean "
        f"{d['probe_mean_length']['entity']:.1f} characters) and "
        f"{d['probe_items']['phrase']:,} phrases (mean "
        f"{d['probe_mean_length']['phrase']:.1f}), each masked whole in its own "
        f"row, and {d['probe_items']['character']:,} characters masked singly, "
        f"from {d['held_out_documents']} held-out People's Daily articles. "
        f"Entity and phrase units minus characters, on the same entities: "
        f"{c['difference']:+.1f} ± {c['se']:.1f} points recovered whole, "
        f"{cn['difference']:+.3f} ± {cn['se']:.3f} nats of NLL per character. "
        f"NLL: the mean negative log-likelihood of a masked character. "
        f"*Frequencies only*: always guessing the most frequent training "
        f"character, and the NLL of the training characters' frequencies. "
        f"The masked share is the share of the text's characters "
        f"masked in training (the budget is {100 * s['mlm_probability']:.0f}%; "
        f"a unit that would overflow it is skipped). Model: BERT with "
        f"{s['layers']} layers, hidden {s['hidden']}, one token per character "
        f"({d['vocab_size']:,}), the same initial weights for all three; "
        f"{s['steps']} steps of {s['batch_size']} blocks of up to "
        f"{s['max_length']} tokens, the same blocks in the same order, about "
        f"{speed:,.0f} tokens/s; {results['wall_s'] / 60:.1f} min in all on "
        f"{m['cpu']} ({threads}), {m['date']}. Paper ({PAPER['source']}): "
        f"{PAPER['claim']}.\n"
    )


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = NAME  # deterministic SVG ids
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
    panels = (
        ("entity", "whole", "entities recovered whole (%)"),
        ("entity", "nll", "NLL of entity characters (nats)"),
        ("character", "per_character", "character cloze (%)"),
    )
    colors = {
        "character": "tab:blue",
        "phrase": "tab:green",
        "phrase_entity": "tab:red",
    }
    for ax, (probe, kind, title) in zip(axes, panels, strict=True):
        value = "mean" if kind == "nll" else "accuracy"
        for arm in ARMS:
            evals = results["runs"][arm]["evals"]
            ax.errorbar(
                [e["step"] for e in evals],
                [e[probe][kind][value] for e in evals],
                yerr=[e[probe][kind]["se"] for e in evals],
                color=colors[arm],
                marker="o",
                ms=3,
                capsize=2,
                label=ARM_NAMES[arm],
            )
        unigram = results["unigram"][probe][kind]
        ax.axhline(
            unigram if kind == "nll" else unigram["accuracy"],
            color="grey",
            lw=0.8,
            ls=":",
            label="frequencies only",
        )
        ax.set_title(f"held-out: {title}", fontsize=9)
        ax.set_xlabel("training step")
        if kind != "nll":
            ax.set_ylim(bottom=0)
    axes[0].legend(fontsize=7, title="masking units", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small slice, in seconds"
    )
    parser.add_argument("--steps", type=int, help="override the training steps")
    parser.add_argument("--out", type=Path, help=f"results folder (default {OUT})")
    parser.add_argument("--runs", type=Path, help="checkpoints and metrics folder")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
    default_out = RUNS / f"{NAME}-quick" if args.quick else OUT
    out = args.out or default_out
    runs = args.runs or RUNS / (f"{NAME}-quick" if args.quick else NAME)
    results = run(settings, runs)
    if harness.init_process().is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{NAME}.json").write_text(json.dumps(results, indent=1) + "\n")
        (out / f"_{NAME}_table.md").write_text(table(results))
        plot(results, out / f"{NAME}.svg")
        print(table(results), file=sys.stderr)
        print(f"wrote {out}/{NAME}.json, .svg and _{NAME}_table.md")
    harness.finish()
    return results


if __name__ == "__main__":
    main()
