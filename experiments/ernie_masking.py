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
it; an entity counts as right only if every character is. The same probe runs
on phrases; per-character accuracy and the NLL of the right characters measure
progress short of a whole span, and a character cloze (15% of the characters of
a block, at random, masked together) shows what each arm pays at the basic
level. Every model reads the same held-out rows, so the arms are compared on
the same spans (a paired difference), beside a frequencies-only baseline.

    .venv/bin/python -m experiments ernie_masking            # about 5 min
    .venv/bin/python -m experiments ernie_masking --quick    # a few seconds

Writes docs/assets/generated/ernie_masking.json, ernie_masking.svg and
_ernie_masking_table.md (the Markdown table the ERNIE 2.0 page includes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from experiments import cli, harness, stats
from experiments.corpora import Document, peoples_daily
from experiments.machine import machine_info, torch_threads
from experiments.models import encode, predicted_logits, tiny_model
from experiments.tokenizer import CLS, MASK, PAD, SEP, chinese_characters
from snippets.ernie.knowledge_masking import knowledge_mask, units_from_spans
from snippets.masking import IGNORE_INDEX

NAME = "ernie_masking"
ARMS = ("character", "phrase", "phrase_entity")
ARM_NAMES = {
    "character": "character",
    "phrase": "+ phrase",
    "phrase_entity": "+ phrase + entity",
}
PROBES = ("entity", "phrase", "character")

# ERNIE 1.0's masking ablation (arXiv 1904.09223, Table 2): XNLI accuracy after
# pre-training on a sample of its corpus with each set of masking levels. Only the
# direction is stated: the table's values could not be checked against a stored
# copy of the paper, so none is quoted.
PAPER = {
    "source": "Sun et al. 2019 (arXiv 1904.09223), Table 2",
    "claim": "XNLI accuracy rises as phrase-level and then entity-level masking "
    "are added to basic-level masking, each pre-trained on the same sample of "
    "the corpus",
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
    mean, se = stats.ratio(right, lengths)
    return {"accuracy": 100 * mean, "se": 100 * se, "n": int(lengths.sum())}


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
            "nll": stats.ratio(per_span(nll_of[gold], lengths), lengths)[0],
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
        kept[name] = {"right": right, "nll": span_nll, "lengths": lengths}
        mean, se = stats.ratio(span_nll, lengths)
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


def paired_difference(a: dict, b: dict) -> dict:
    """Arm a minus arm b on the same spans: points of whole-span accuracy (a
    paired mean over spans), and points of per-character accuracy and nats of
    NLL per character (ratios over the characters, so each equals the difference
    of the table's two columns), each with its standard error."""
    lengths = a["lengths"]
    if not torch.equal(lengths, b["lengths"]):
        raise ValueError("paired_difference needs both arms on the same spans")
    whole = (a["right"] == lengths).double() - (b["right"] == lengths).double()
    n = len(whole)
    se = whole.std().item() / math.sqrt(n) if n > 1 else 0.0
    right, right_se = stats.ratio(a["right"] - b["right"], lengths)
    nll, nll_se = stats.ratio(a["nll"] - b["nll"], lengths)
    return {
        "whole": {"difference": 100 * whole.mean().item(), "se": 100 * se},
        "per_character": {"difference": 100 * right, "se": 100 * right_se},
        "nll": {"difference": nll, "se": nll_se},
        "n": n,
    }


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
        results["comparison"] = {
            arm: {
                probe: paired_difference(keep[arm][probe], keep["character"][probe])
                for probe in PROBES
            }
            for arm in ARMS[1:]
        }
        results["verdict"] = verdict(results)
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    return results


def verdict(results: dict) -> dict:
    """Each arm against character masking on each probe, beyond 2 paired
    standard errors: better, worse or no difference in recovering whole spans
    (more right) and in the NLL of their characters (lower). On a probe an arm
    is better if it is better on one measure and not worse on the other, worse
    likewise, and otherwise mixed or no difference. The paper's direction
    holds if the arm with entity units is better on the entity probe."""

    def sign(c: dict, lower_is_better: bool) -> int:
        d = -c["difference"] if lower_is_better else c["difference"]
        return 1 if d > 2 * c["se"] else -1 if d < -2 * c["se"] else 0

    names = {1: "better", -1: "worse", 0: "no_difference"}
    checks = {}
    for arm, probes in results["comparison"].items():
        for probe, c in probes.items():
            whole, nll = sign(c["whole"], False), sign(c["nll"], True)
            checks[f"{arm}/{probe}/whole"] = names[whole]
            checks[f"{arm}/{probe}/nll"] = names[nll]
            both = {whole, nll}
            checks[f"{arm}/{probe}"] = (
                "mixed" if both == {1, -1} else names[max(both, key=abs)]
            )
    reproduces = checks["phrase_entity/entity"] == "better"
    return checks | {"direction_reproduces": reproduces}


# ---- outputs ----


def _cell(e: dict) -> str:
    """Accuracy ± its standard error / the mean NLL."""
    right, nll = e["per_character"], e["nll"]["mean"]
    return f"{right['accuracy']:.1f} ± {right['se']:.1f} / {nll:.2f}"


def _whole(e: dict) -> str:
    return f"{e['whole']['accuracy']:.1f} ± {e['whole']['se']:.1f}"


def _diff(c: dict, digits: int) -> str:
    return f"{c['difference']:+.{digits}f} ± {c['se']:.{digits}f}"


def table(results: dict) -> str:
    """The Markdown tables the ERNIE 2.0 page includes: each model on the three
    probes, then each knowledge arm minus character masking on the same
    held-out spans."""
    rows = [
        "| Masking units | Masked in training | Entities recovered whole "
        "| Entity characters | Phrases recovered whole | Phrase characters "
        "| Character cloze |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        run = results["runs"][arm]
        e = run["eval"]
        rows.append(
            f"| {ARM_NAMES[arm]} | {run['masking']['masked_share']:.1f}% "
            f"| {_whole(e['entity'])} | {_cell(e['entity'])} "
            f"| {_whole(e['phrase'])} | {_cell(e['phrase'])} "
            f"| {_cell(e['character'])} |"
        )
    u = results["unigram"]
    cells = " | ".join(
        f"{u[p]['whole']['accuracy']:.1f} "
        f"| {u[p]['per_character']['accuracy']:.1f} / {u[p]['nll']:.2f}"
        for p in ("entity", "phrase")
    )
    rows.append(
        f"| *frequencies only* | | {cells} "
        f"| {u['character']['per_character']['accuracy']:.1f} "
        f"/ {u['character']['nll']:.2f} |"
    )
    rows += [
        "",
        "| Minus character masking, paired | Entities whole | Entity NLL "
        "| Phrases whole | Phrase NLL | Character cloze | Character NLL |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS[1:]:
        c = results["comparison"][arm]
        cells = " | ".join(
            f"{_diff(c[p]['whole'], 1)} | {_diff(c[p]['nll'], 3)}" for p in PROBES
        )
        rows.append(f"| {ARM_NAMES[arm]} | {cells} |")
    s, d, m = results["settings"], results["data"], results["machine"]
    threads = torch_threads(m)
    speed = results["runs"]["character"]["summary"]["tokens_per_s"]
    return (
        "\n".join(rows)
        + "\n\n"
        + "Ours: held-out accuracy in % ± one standard error / mean negative "
        "log-likelihood (NLL) of the right character in nats, over "
        f"{d['probe_items']['entity']:,} entities (mean "
        f"{d['probe_mean_length']['entity']:.1f} characters) and "
        f"{d['probe_items']['phrase']:,} phrases (mean "
        f"{d['probe_mean_length']['phrase']:.1f}), each masked whole in a row "
        f"of its own, and {d['probe_items']['character']:,} characters of "
        f"{s['probe_blocks']} blocks ({100 * s['mlm_probability']:.0f}% of each, "
        "at random, masked together), from "
        f"{d['held_out_documents']} held-out People's Daily articles; every model "
        "reads the same rows. Character accuracy and NLL are means over "
        "characters, with standard errors clustered by span. The second table "
        "subtracts the character-masking model from each other model on the same "
        "spans (points of accuracy, nats of NLL), with the standard error of the "
        "paired difference. *Frequencies only*: always guessing the most "
        "frequent training character, and the NLL of the training characters' "
        "add-one frequencies. Masked in training: the share of the text's "
        "characters that an arm masks (the budget is "
        f"{100 * s['mlm_probability']:.0f}%; a unit that would overflow it is "
        f"skipped). Model: BERT with {s['layers']} layers, hidden {s['hidden']}, "
        f"one token per character ({d['vocab_size']:,}), the same initial "
        f"weights for all three; {s['steps']} steps of {s['batch_size']} blocks "
        f"of up to {s['max_length']} tokens, the same blocks in the same order, "
        f"about {speed:,.0f} tokens/s; {results['wall_s'] / 60:.1f} min in all "
        f"on {m['cpu']} ({threads}), {m['date']}. Paper ({PAPER['source']}): "
        f"{PAPER['claim']}.\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
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
            ax.set_ylim(0, max(ax.get_ylim()[1], 1))  # 0% stays visible
    axes[0].legend(fontsize=7, title="masking units", title_fontsize=7)
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
