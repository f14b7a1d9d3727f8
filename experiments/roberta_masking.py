"""Experiment 2. RoBERTa, static against dynamic masking (Liu et al. 2019, §4.1,
Table 1), in miniature on the Brown Corpus.

Two tiny BERTs are pre-trained with the masked LM alone (RoBERTa drops NSP) for
the same number of steps on the same deliberately small slice of Brown, repeated
for many epochs, as in the paper's comparison (40 epochs):

- **static**: BERT's preprocessing, `dupe_factor` copies of the slice each masked
  once before training (`snippets.roberta.dynamic_masking.static_masking`), so
  each mask comes back epochs / dupe_factor times;
- **dynamic**: a fresh mask every time a sequence is fed to the model
  (`DynamicMasking`, told each epoch by the harness).

Both are then scored with the same masks on held-out documents, and on the
training slice with fresh masks: the difference is the gap between train and
held-out. The static model is also scored on the masks it trained on.

The dynamic model is kept (the harness's finished checkpoint) as the teacher of
experiment 7 (`experiments.distillation`).

    .venv/bin/python -m experiments roberta_masking           # about 4 min here
    .venv/bin/python -m experiments roberta_masking --quick   # a few seconds

Writes docs/assets/generated/roberta_masking.json, roberta_masking.svg and
_roberta_masking_table.md (a Markdown table the RoBERTa page includes).
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
from experiments.machine import load_note, machine_info, torch_threads
from experiments.models import encode, predicted_logits, tiny_model
from experiments.tokenizer import (
    CLS,
    MASK,
    PAD,
    SEP,
    Segments,
    encode_documents,
    english_wordpiece,
)
from snippets.masking import IGNORE_INDEX
from snippets.roberta.dynamic_masking import (
    DynamicMasking,
    mask_tokens,
    static_masking,
)

NAME = "roberta_masking"
ARMS = ("static", "dynamic")
EVAL_SETS = ("held_out", "train_fresh", "train_static")

# Paper, Table 1: BERT-base pre-trained on BookCorpus + Wikipedia, fine-tuned;
# SQuAD 2.0 F1, MNLI-m and SST-2 accuracy on the dev sets, medians over 5 seeds.
PAPER = {
    "source": "Liu et al. 2019 (arXiv 1907.11692), Table 1 (BERT-base, dev sets, "
    "medians over 5 random initializations)",
    "reference": {"squad2_f1": 76.3, "mnli_m": 84.3, "sst2": 92.8},
    "static": {"squad2_f1": 78.3, "mnli_m": 84.3, "sst2": 92.5},
    "dynamic": {"squad2_f1": 78.7, "mnli_m": 84.0, "sst2": 92.9},
    "schedule": {"epochs": 40, "dupe_factor": 10},  # §4.1
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 8000
    max_length: int = 128  # [CLS] sentences [SEP]
    layers: int = 4
    hidden: int = 128
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 1e-3
    epochs: int = 40  # passes over the slice in `steps` steps, as in §4.1
    dupe_factor: int = 10  # static copies, as in §4.1: each mask seen 4 times
    held_out_sequences: int = 512
    train_documents: int | None = None  # None: every training document
    held_out_documents: int | None = None
    seed: int = 0

    @property
    def slice_sequences(self) -> int:
        """The slice's size: `steps` batches make exactly `epochs` passes."""
        return self.steps * self.batch_size // self.epochs


QUICK = Settings(
    max_length=64,
    layers=4,  # experiment 7's student takes half of them
    hidden=64,
    steps=30,
    batch_size=16,
    learning_rate=2e-3,
    epochs=5,
    dupe_factor=2,
    held_out_sequences=64,
    train_documents=40,
    held_out_documents=8,
)


# ---- data ----


def pack_documents(documents: list[Segments], max_length: int) -> list[list[int]]:
    """RoBERTa's DOC-SENTENCES inputs (§4.2): consecutive whole sentences of one
    document, packed up to `max_length` - 2 tokens (room for [CLS] and [SEP]).
    A sentence longer than that is cut; the last input of a document may be short.
    """
    content = max_length - 2
    rows = []
    for document in documents:
        current: list[int] = []
        for sentence in document:
            sentence = sentence[:content]
            if current and len(current) + len(sentence) > content:
                rows.append(current)
                current = []
            current = current + sentence
        if current:
            rows.append(current)
    return rows


def to_tensor(rows: list[list[int]], max_length: int) -> torch.Tensor:
    """[N, max_length] int64: [CLS] row [SEP], then [PAD]."""
    ids = torch.full((len(rows), max_length), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens = [CLS, *row, SEP]
        ids[i, : len(tokens)] = torch.tensor(tokens)
    return ids


def special_tokens(ids: torch.Tensor) -> torch.Tensor:
    """True at [CLS], [SEP] and [PAD]: never chosen for prediction."""
    return (ids == CLS) | (ids == SEP) | (ids == PAD)


@dataclasses.dataclass
class Data:
    """Everything both arms (and experiment 7) share."""

    vocab_size: int
    train_ids: torch.Tensor  # [slice, L], the training slice
    held_ids: torch.Tensor  # [M, L], from held-out documents
    static_inputs: torch.Tensor  # [dupe_factor * slice, L], masked once
    static_labels: torch.Tensor
    eval_batches: dict[str, list[dict[str, torch.Tensor]]]
    info: dict


def batches(
    inputs: torch.Tensor, labels: torch.Tensor, size: int = 64
) -> list[dict[str, torch.Tensor]]:
    return [
        MaskedLM.stack(inputs[i : i + size], labels[i : i + size])
        for i in range(0, len(inputs), size)
    ]


def prepare(settings: Settings) -> Data:
    """The slice, the held-out sequences, the static copies and the fixed eval
    masks, all drawn from generators seeded by `settings.seed`."""
    tokenizer = english_wordpiece(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    train_docs = brown.load("train", settings.train_documents)
    held_docs = brown.load("held_out", settings.held_out_documents)
    train_rows = pack_documents(
        encode_documents(tokenizer, train_docs), settings.max_length
    )
    held_rows = pack_documents(
        encode_documents(tokenizer, held_docs), settings.max_length
    )

    def sample(rows: list, n: int, purpose: str) -> torch.Tensor:
        if n > len(rows):
            raise ValueError(f"{purpose}: {n} sequences asked, {len(rows)} exist")
        generator = torch.Generator().manual_seed(
            harness.seed_for(settings.seed, purpose)
        )
        picks = torch.randperm(len(rows), generator=generator)[:n].tolist()
        return to_tensor([rows[i] for i in picks], settings.max_length)

    train_ids = sample(train_rows, settings.slice_sequences, "slice")
    held_ids = sample(held_rows, settings.held_out_sequences, "held_out")

    def masked(ids: torch.Tensor, purpose: str, **kwargs):
        generator = torch.Generator().manual_seed(
            harness.seed_for(settings.seed, purpose)
        )
        return (static_masking if kwargs else mask_tokens)(
            ids,
            mask_token_id=MASK,
            vocab_size=vocab_size,
            special_tokens_mask=special_tokens(ids),
            generator=generator,
            **kwargs,
        )

    static_inputs, static_labels = masked(
        train_ids, "static", dupe_factor=settings.dupe_factor
    )
    slice_n = len(train_ids)
    eval_batches = {
        "held_out": batches(*masked(held_ids, "eval:held_out")),
        "train_fresh": batches(*masked(train_ids, "eval:train_fresh")),
        # the first static copy: the static model saw each of these masks
        # epochs / dupe_factor times; the dynamic model never saw them
        "train_static": batches(static_inputs[:slice_n], static_labels[:slice_n]),
    }
    real = ~special_tokens(train_ids)
    info = {
        "corpus": brown.VERSION,
        "train_documents": len(train_docs),
        "held_out_documents": len(held_docs),
        "train_sequences_available": len(train_rows),
        "slice_sequences": slice_n,
        "slice_tokens": int(real.sum()),
        "slice_share_of_train_tokens": int(real.sum())
        / max(sum(len(r) for r in train_rows), 1),
        "held_out_sequences": len(held_ids),
        "vocab_size": vocab_size,
        "epochs": settings.steps * settings.batch_size / slice_n,
        "views_per_static_mask": settings.steps
        * settings.batch_size
        / (slice_n * settings.dupe_factor),
        "eval_targets": {
            name: sum(int((b["labels"] != IGNORE_INDEX).sum()) for b in bs)
            for name, bs in eval_batches.items()
        },
    }
    return Data(
        vocab_size,
        train_ids,
        held_ids,
        static_inputs,
        static_labels,
        eval_batches,
        info,
    )


class StaticCopies(torch.utils.data.Dataset):
    """The static arm's training set: `dupe_factor` pre-masked copies. As in
    BERT's create_pretraining_data.py, the copies are shuffled together."""

    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        self.inputs, self.labels = inputs, labels

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.inputs[index], "labels": self.labels[index]}


class MaskedLM:
    """The masked-LM loss on already masked examples ({input_ids, labels})."""

    @staticmethod
    def stack(inputs: torch.Tensor, labels: torch.Tensor) -> dict:
        # the original ids: the label where one is predicted, the input elsewhere
        # (a random replacement may be any id, [PAD] included)
        original = torch.where(labels != IGNORE_INDEX, labels, inputs)
        return {
            "input_ids": inputs,
            "attention_mask": (original != PAD).long(),
            "labels": labels,
        }

    def collate(self, examples: list[dict], generator: torch.Generator) -> dict:
        # the masks were drawn already: once (static) or for this epoch (dynamic)
        return self.stack(
            torch.stack([e["input_ids"] for e in examples]),
            torch.stack([e["labels"] for e in examples]),
        )

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden, _ = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        total = F.cross_entropy(logits, targets, reduction="sum")
        return {"mlm": harness.Term(total, len(targets))}


# ---- evaluation ----


@torch.no_grad()
def token_scores(
    model, batch_list: list[dict]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per predicted token: the cross-entropy and whether the argmax is right."""
    device = next(model.parameters()).device
    losses, correct = [], []
    for batch in batch_list:
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden, _ = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        losses.append(F.cross_entropy(logits.float(), targets, reduction="none"))
        correct.append((logits.argmax(-1) == targets).float())
    return torch.cat(losses).cpu().double(), torch.cat(correct).cpu().double()


def summary(losses: torch.Tensor, correct: torch.Tensor) -> dict:
    """Mean loss and accuracy (%) with their standard errors."""
    n = len(losses)
    p = float(correct.mean())
    return {
        "loss": float(losses.mean()),
        "loss_se": float(losses.std() / math.sqrt(n)) if n > 1 else math.nan,
        "accuracy": 100 * p,
        "se": 100 * math.sqrt(p * (1 - p) / n),
        "n": n,
    }


def paired(a: tuple, b: tuple) -> dict:
    """b − a over the same targets: loss and accuracy (points), with the
    standard error of the mean per-token difference."""
    n = len(a[0])
    out = {}
    for key, index, scale in (("loss", 0, 1.0), ("accuracy", 1, 100.0)):
        diff = (b[index] - a[index]) * scale
        out[key] = float(diff.mean())
        out[f"{key}_se"] = float(diff.std() / math.sqrt(n))
    return out | {"n": n}


def evaluator(data: Data, scores: dict):
    """The harness's evaluate callback; keeps the last per-token scores."""

    def evaluate(model) -> dict:
        for name in EVAL_SETS:
            scores[name] = token_scores(model, data.eval_batches[name])
        return {name: summary(*scores[name]) for name in EVAL_SETS}

    return evaluate


# ---- the experiment ----


def train_arm(
    arm: str,
    settings: Settings,
    data: Data,
    runs: Path,
    *,
    scores: dict | None = None,
    reuse_finished: bool = False,
) -> harness.RunResult:
    """Pre-train one arm. With `reuse_finished`, a finished run of the same
    settings is loaded from its checkpoint instead (experiment 7's teacher)."""
    if arm == "static":
        dataset = StaticCopies(data.static_inputs, data.static_labels)
    elif arm == "dynamic":
        dataset = DynamicMasking(
            data.train_ids,
            mask_token_id=MASK,
            vocab_size=data.vocab_size,
            special_tokens_mask=special_tokens(data.train_ids),
            seed=harness.seed_for(settings.seed, "dynamic"),
        )
    else:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    model = tiny_model(
        "bert",
        data.vocab_size,
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
        log_every=max(settings.steps // 40, 1),
        checkpoint_every=max(settings.steps // 4, 1),
        eval_every=max(settings.steps // 4, 1),
        identity=json.dumps([NAME, arm, dataclasses.asdict(settings)]),
    )
    return harness.train(
        model,
        dataset,
        MaskedLM(),
        config,
        runs / arm,
        evaluate=evaluator(data, {} if scores is None else scores),
        name=f"{NAME}:{arm}",
        reuse_finished=reuse_finished,
    )


def run(settings: Settings, runs: Path) -> dict:
    start = time.perf_counter()
    data = prepare(settings)
    prep_s = time.perf_counter() - start
    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": data.info,
        "runs": {},
    }
    scores = {}
    for arm in ARMS:
        arm_start = time.perf_counter()
        scores[arm] = {}
        result = train_arm(arm, settings, data, runs, scores=scores[arm])
        final = result.evals[-1]
        results["runs"][arm] = {
            "eval": final,
            "gap": gap(final),
            "evals": result.evals,
            "history": result.history,
            "summary": result.summary,
            "wall_s": time.perf_counter() - arm_start,
        }
    if harness.init_process().is_main:
        results["dynamic_minus_static"] = {
            name: paired(scores["static"][name], scores["dynamic"][name])
            for name in EVAL_SETS
        }
        results["verdict"] = verdict(results)
    results["data_preparation_s"] = prep_s
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    return results


def gap(final: dict) -> dict:
    """Held-out minus training-slice loss (both with masks never trained on), and
    fresh-mask minus seen-mask loss on the slice, with standard errors."""

    def minus(a: str, b: str) -> dict:
        return {
            "loss": final[a]["loss"] - final[b]["loss"],
            "loss_se": math.hypot(final[a]["loss_se"], final[b]["loss_se"]),
        }

    return {
        "held_out_minus_train": minus("held_out", "train_fresh"),
        "fresh_minus_static_masks": minus("train_fresh", "train_static"),
    }


def verdict(results: dict) -> dict:
    """The paper: dynamic masking is comparable to static or slightly better
    (§4.1). Here: the paired held-out difference, beyond 2 standard errors."""
    d = results["dynamic_minus_static"]["held_out"]
    static = results["runs"]["static"]["gap"]
    dynamic = results["runs"]["dynamic"]["gap"]

    def beyond(x: dict, sign: int) -> bool:
        return sign * x["loss"] > 2 * x["loss_se"]

    if beyond(d, -1):
        outcome = "dynamic better"
    elif beyond(d, +1):
        outcome = "static better"
    else:
        outcome = "no difference beyond 2 standard errors"
    wider = {
        "loss": static["held_out_minus_train"]["loss"]
        - dynamic["held_out_minus_train"]["loss"],
        "loss_se": math.hypot(
            static["held_out_minus_train"]["loss_se"],
            dynamic["held_out_minus_train"]["loss_se"],
        ),
    }
    return {
        "held_out": outcome,
        "static_gap_wider": beyond(wider, +1),
        "static_model_fits_its_own_masks_better": beyond(
            static["fresh_minus_static_masks"], +1
        ),
        # "comparable or slightly better": anything but static better
        "direction_reproduces": outcome != "static better",
    }


# ---- outputs ----


def fmt(x: dict, key: str = "loss", digits: int = 3) -> str:
    se = x[f"{key}_se"] if key == "loss" else x["se"]
    return f"{x[key]:.{digits}f} ± {se:.{digits}f}"


def table(results: dict) -> str:
    """The Markdown table the RoBERTa page includes: ours beside the paper's."""
    rows = [
        "| Masking | Held-out MLM loss | Held-out MLM accuracy (%) | "
        "Train loss, fresh masks | Gap (held-out − train) | "
        "Train loss, the static masks | Paper: SQuAD 2.0 / MNLI-m / SST-2 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in ARMS:
        run = results["runs"][arm]
        ev, g = run["eval"], run["gap"]["held_out_minus_train"]
        paper = PAPER[arm]
        rows.append(
            f"| {arm} | {fmt(ev['held_out'])} | "
            f"{fmt(ev['held_out'], 'accuracy', 1)} | {fmt(ev['train_fresh'])} | "
            f"{fmt(g)} | {fmt(ev['train_static'])} | "
            f"{paper['squad2_f1']} / {paper['mnli_m']} / {paper['sst2']} |"
        )
    d = results["dynamic_minus_static"]["held_out"]
    s, data, m = results["settings"], results["data"], results["machine"]
    threads = torch_threads(m)
    tokens_per_s = results["runs"]["dynamic"]["summary"]["tokens_per_s"]
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: masked-LM cross-entropy (nats) and accuracy ± one standard "
        f"error, over {data['eval_targets']['held_out']:,} masked tokens of "
        f"{data['held_out_sequences']} sequences from "
        f"{data['held_out_documents']} held-out Brown documents, the same masks "
        f"for both models. Dynamic minus static on held-out: loss "
        f"{d['loss']:+.3f} ± {d['loss_se']:.3f}, accuracy "
        f"{d['accuracy']:+.1f} ± {d['accuracy_se']:.1f} points (paired over the "
        f"same tokens). Training slice: {data['slice_sequences']} sequences "
        f"({data['slice_tokens']:,} tokens, "
        f"{100 * data['slice_share_of_train_tokens']:.1f}% of the training "
        f"documents), {data['epochs']:.0f} epochs in {s['steps']} steps of "
        f"{s['batch_size']}; static: {s['dupe_factor']} copies, each mask seen "
        f"{data['views_per_static_mask']:.0f} times. Model: BERT with "
        f"{s['layers']} layers, hidden {s['hidden']}, vocabulary "
        f"{data['vocab_size']:,} (WordPiece), inputs of at most "
        f"{s['max_length']} tokens; about {tokens_per_s:,.0f} tokens/s; "
        f"{results['wall_s'] / 60:.1f} min in all on {m['cpu']} ({threads}"
        f"{load_note(m)}), "
        f"{m['date']}. Paper: {PAPER['source']}; its reference BERT-base "
        f"scores {PAPER['reference']['squad2_f1']} / "
        f"{PAPER['reference']['mnli_m']} / {PAPER['reference']['sst2']}.\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
    fig, (curve, evals) = plt.subplots(1, 2, figsize=(11, 3.4))
    colors = {"static": "tab:blue", "dynamic": "tab:orange"}
    for arm in ARMS:
        run = results["runs"][arm]
        curve.plot(
            [r["step"] for r in run["history"]],
            [r["mlm"] for r in run["history"]],
            color=colors[arm],
            label=f"{arm}: the masks it trains on",
        )
        steps = [e["step"] for e in run["evals"]]
        sets = [
            ("held_out", "-", "held-out"),
            ("train_fresh", "--", "train slice, fresh masks"),
        ]
        if arm == "static":
            sets.append(("train_static", ":", "train slice, its own masks"))
        for name, style, what in sets:
            evals.errorbar(
                steps,
                [e[name]["loss"] for e in run["evals"]],
                yerr=[e[name]["loss_se"] for e in run["evals"]],
                color=colors[arm],
                ls=style,
                marker="o",
                ms=3,
                capsize=2,
                label=f"{arm}: {what}",
            )
    curve.set_xlabel("training step")
    curve.set_ylabel("MLM loss (train, as trained)")
    curve.legend(fontsize=8)
    evals.set_xlabel("training step")
    evals.set_ylabel("MLM loss (fixed eval masks)")
    evals.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
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


def runs_dir(quick: bool) -> Path:
    """Where the arms' checkpoints go by default (experiment 7 reads the
    dynamic arm's from here)."""
    return cli.runs_dir(NAME, quick)


if __name__ == "__main__":
    main()
