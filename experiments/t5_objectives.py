"""Experiment 4. T5's pre-training objectives (Raffel et al. 2020, §3.3, Tables 4,
5 and 7), in miniature on the Brown Corpus.

Three tiny T5 encoder-decoders are pre-trained on the same rows of 128 tokens,
for the same steps, each corrupting 15% of the tokens:

- **BERT-style** (§3.3.1): 90% of the corrupted tokens become [MASK], 10% a
  random token, and the decoder writes out the whole original row
  (`snippets.roberta.dynamic_masking.mask_tokens` with T5's 90/10 split);
- **i.i.d. sentinels** (Table 5, "replace corrupted spans"; Table 7, "i.i.d."):
  every corrupted token is replaced by its own sentinel, and the target lists
  the corrupted tokens behind their sentinels
  (`snippets.t5.span_corruption.span_corruption` with noise spans of length 1);
- **span corruption** (Table 7, mean span length 3, T5's final objective): the
  same, with spans of mean length 3 (`span_corruption`'s defaults).

The targets' lengths follow from the rule and are exact: 129, 39 and 26 tokens
for a row of 128. The experiment reports them with the measured step time and
training tokens per second, and the held-out denoising loss: per target token,
and per corrupted token (the part of a target worth predicting).

    .venv/bin/python -m experiments t5_objectives            # about 5 min
    .venv/bin/python -m experiments t5_objectives --quick    # seconds

Writes docs/assets/generated/t5_objectives.json, t5_objectives.svg and
_t5_objectives_table.md (a Markdown table the T5 page includes).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from array import array
from pathlib import Path

import torch
import torch.nn.functional as F

from experiments import cli, harness, stats
from experiments.corpora import brown
from experiments.machine import machine_info, torch_threads
from experiments.models import IGNORE_INDEX, tiny_model
from experiments.tokenizer import (
    MASK,
    SEP,
    encode_documents,
    english_wordpiece,
)
from snippets.roberta.dynamic_masking import mask_tokens
from snippets.t5.span_corruption import (
    NUM_SENTINELS,
    corrupted_lengths,
    span_corruption,
)

NAME = "t5_objectives"
ARMS = ("bert_style", "iid", "span3")
LABELS = {
    "bert_style": "BERT-style",
    "iid": "i.i.d. sentinels",
    "span3": "Span corruption, mean 3",
}
MEAN_SPAN = {"iid": 1.0, "span3": 3.0}
EOS = SEP  # the tokenizer's [SEP] ends every input and target, as T5's </s>

# Paper (JMLR version): GLUE averages on the validation sets of the baseline
# model pre-trained on C4 (§3.1).
PAPER = {
    "source": "Raffel et al. 2020 (JMLR), Tables 4, 5 and 7, GLUE validation",
    "glue": {
        "bert_style": 82.96,  # Tables 4 and 5, BERT-style
        "iid": 83.28,  # Table 5, replace corrupted spans; Table 7, i.i.d.
        "span3": 83.49,  # Table 7, mean span length 3
    },
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 8000  # WordPiece; the 100 sentinels come on top
    length: int = 128  # raw tokens per row, before corruption
    layers: int = 2  # encoder layers, and as many decoder layers
    hidden: int = 128
    # The decoder projects every target token onto the vocabulary, so a
    # BERT-style step (129 targets a row) is the slow one: 1.8 s for 32 rows on
    # the shared 2 cores, so 400 of them alone would take about 10 minutes. A
    # quarter of the rows, in steps of 16, keeps the three arms near 5 minutes.
    steps: int = 200
    batch_size: int = 16
    learning_rate: float = 1e-3
    noise_density: float = 0.15
    train_documents: int | None = None  # None: every training document
    held_out_documents: int | None = None
    held_out_rows: int = 512
    timing_repeats: int = 10  # interleaved timed steps per objective
    seed: int = 0


QUICK = Settings(
    length=64,
    layers=1,
    hidden=64,
    steps=30,
    batch_size=16,
    learning_rate=2e-3,
    train_documents=40,
    held_out_documents=8,
    held_out_rows=64,
    timing_repeats=2,
)


# ---- data ----


def pack_rows(documents: list[list[list[int]]], length: int) -> list[array]:
    """The documents' tokens, one stream in corpus order, cut into rows of exactly
    `length` tokens (T5 packs its examples too; the last partial row is
    dropped). Every row of a batch then corrupts to the same lengths."""
    stream = array("h", (t for document in documents for s in document for t in s))
    return [
        stream[i : i + length] for i in range(0, len(stream) - length + 1, length)
    ]


class Denoising:
    """One objective: corrupt a batch of rows [B, L]; the decoder predicts the
    target with teacher forcing."""

    def __init__(self, arm: str, vocab_size: int, settings: Settings) -> None:
        if arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
        self.arm, self.vocab_size, self.settings = arm, vocab_size, settings
        # sentinels count down from the top id, as <extra_id_0> in T5's vocabulary
        self.sentinel_start_id = vocab_size + NUM_SENTINELS - 1

    def collate(self, rows: list, generator: torch.Generator) -> dict:
        ids = torch.tensor([list(r) for r in rows], dtype=torch.long)
        eos = torch.full((len(rows), 1), EOS)
        density = self.settings.noise_density
        if self.arm == "bert_style":
            inputs, labels = mask_tokens(
                ids,
                mask_token_id=MASK,
                vocab_size=self.vocab_size,
                mlm_probability=density,
                mask_replace_prob=0.9,  # T5 §3.3.1: 90% mask, 10% random
                random_replace_prob=0.1,
                generator=generator,
            )
            inputs, targets = torch.cat([inputs, eos], 1), torch.cat([ids, eos], 1)
            # the target positions whose input token was corrupted
            corrupted = F.pad(labels != IGNORE_INDEX, (0, 1), value=False)
        else:
            inputs, targets = span_corruption(
                ids,
                sentinel_start_id=self.sentinel_start_id,
                eos_token_id=EOS,
                noise_density=density,
                mean_noise_span_length=MEAN_SPAN[self.arm],
                generator=generator,
            )
            corrupted = (targets < self.vocab_size) & (targets != EOS)
        return {
            "input_ids": inputs,
            "attention_mask": torch.ones_like(inputs),
            "labels": targets,
            "corrupted": corrupted,
        }

    def logits(self, model, batch: dict) -> torch.Tensor:
        return model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],  # shifted right inside: the decoder's inputs
        ).logits

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        logits = self.logits(model, batch)
        total = F.cross_entropy(
            logits.flatten(0, 1), batch["labels"].flatten(), reduction="sum"
        )
        return {"denoise": harness.Term(total, batch["labels"].numel())}


def lengths(arm: str, settings: Settings) -> dict[str, int]:
    """Input and target lengths of a corrupted row, EOS included: exact."""
    if arm == "bert_style":
        return {"inputs": settings.length + 1, "targets": settings.length + 1}
    inputs, targets = corrupted_lengths(
        settings.length, settings.noise_density, MEAN_SPAN[arm]
    )
    return {"inputs": inputs, "targets": targets}


def time_steps(
    settings: Settings, vocab_size: int, rows: list, repeats: int
) -> dict[str, dict]:
    """Median milliseconds of one training step (forward, backward, AdamW) of each
    objective on the same rows, the arms interleaved round by round so that a
    change in the machine's load hits all of them alike; the collator is timed
    apart."""
    generator = torch.Generator().manual_seed(settings.seed)
    arms = {}
    for arm in ARMS:
        objective = Denoising(arm, vocab_size, settings)
        model = tiny_model(
            "t5",
            vocab_size + NUM_SENTINELS,
            seed=settings.seed,
            layers=settings.layers,
            hidden=settings.hidden,
        )
        optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
        arms[arm] = (objective, model, optimizer, [], [])
    for round_ in range(repeats + 2):  # two warm-up rounds
        for objective, model, optimizer, collate_ms, step_ms in arms.values():
            t0 = time.perf_counter()
            batch = objective.collate(rows[: settings.batch_size], generator)
            t1 = time.perf_counter()
            (term,) = objective.loss(model, batch).values()
            (term.total / term.count).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            t2 = time.perf_counter()
            if round_ >= 2:
                collate_ms.append(1000 * (t1 - t0))
                step_ms.append(1000 * (t2 - t1))
    return {
        arm: {
            "step_ms": statistics.median(step_ms),
            "collate_ms": statistics.median(collate_ms),
            "repeats": repeats,
        }
        for arm, (*_, collate_ms, step_ms) in arms.items()
    }


# ---- held-out evaluation ----


def evaluate(model, objective: Denoising, batches: list[dict]) -> dict:
    """Teacher-forced loss per target token and per corrupted token, and the
    accuracy on the corrupted tokens (its standard error treats rows as the
    independent draws)."""
    device = next(model.parameters()).device
    loss_all = loss_corrupted = 0.0
    n_all = 0
    row_correct, row_count = [], []
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = objective.logits(model, batch)
        losses = F.cross_entropy(
            logits.transpose(1, 2), batch["labels"], reduction="none"
        )
        corrupted = batch["corrupted"]
        loss_all += float(losses.sum())
        n_all += losses.numel()
        loss_corrupted += float(losses[corrupted].sum())
        hit = (logits.argmax(-1) == batch["labels"]) & corrupted
        row_correct.append(hit.sum(1))
        row_count.append(corrupted.sum(1))
    correct, count = torch.cat(row_correct), torch.cat(row_count)
    total = int(count.sum())
    p, se = stats.ratio(correct, count)
    return {
        "loss_per_target_token": loss_all / max(n_all, 1),
        "loss_per_corrupted_token": loss_corrupted / max(total, 1),
        "corrupted_accuracy": {"accuracy": 100 * p, "se": 100 * se, "n": total},
    }


# ---- the experiment ----


def run(settings: Settings, runs: Path) -> dict:
    start = time.perf_counter()
    tokenizer = english_wordpiece(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    train_docs = brown.load("train", settings.train_documents)
    held_docs = brown.load("held_out", settings.held_out_documents)
    train_rows = pack_rows(encode_documents(tokenizer, train_docs), settings.length)
    held_rows = pack_rows(encode_documents(tokenizer, held_docs), settings.length)
    held_rows = held_rows[: settings.held_out_rows]
    prep_s = time.perf_counter() - start
    timing = time_steps(settings, vocab_size, train_rows, settings.timing_repeats)

    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": {
            "corpus": brown.VERSION,
            "train_documents": len(train_docs),
            "held_out_documents": len(held_docs),
            "train_rows": len(train_rows),
            "train_tokens": len(train_rows) * settings.length,
            "held_out_rows": len(held_rows),
            "vocab_size": vocab_size,
            "model_vocab_size": vocab_size + NUM_SENTINELS,
        },
        "runs": {},
    }
    for arm in ARMS:
        arm_start = time.perf_counter()
        objective = Denoising(arm, vocab_size, settings)
        # held-out rows corrupted once, with a fixed seed
        generator = torch.Generator().manual_seed(10_000 + settings.seed)
        held_batches = [
            objective.collate(held_rows[i : i + 64], generator)
            for i in range(0, len(held_rows), 64)
        ]
        model = tiny_model(
            "t5",
            vocab_size + NUM_SENTINELS,
            seed=settings.seed,
            layers=settings.layers,
            hidden=settings.hidden,
        )
        config = harness.TrainConfig(
            steps=settings.steps,
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=settings.steps // 10,
            seed=settings.seed,
            log_every=max(settings.steps // 40, 1),
            checkpoint_every=max(settings.steps // 4, 1),
            identity=json.dumps([NAME, arm, dataclasses.asdict(settings)]),
        )
        result = harness.train(
            model,
            train_rows,
            objective,
            config,
            runs / arm,
            evaluate=lambda m, o=objective, b=held_batches: evaluate(m, o, b),
            name=f"{NAME}:{arm}",
        )
        step_s = timing[arm]["step_ms"] / 1000
        results["runs"][arm] = {
            "lengths": lengths(arm, settings),
            "eval": result.evals[-1],
            "history": result.history,
            "summary": result.summary,
            "timing": timing[arm],
            # raw text per second: the 128 tokens of each row before corruption
            "text_tokens_per_s": settings.batch_size * settings.length / step_s,
            "wall_s": time.perf_counter() - arm_start,
        }
    results["data_preparation_s"] = prep_s
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    results["verdict"] = verdict(results)
    return results


def verdict(results: dict) -> dict:
    """The measurable claims: shorter targets, and faster steps because of them.
    GLUE, the paper's measure of quality, is out of reach here (see the page)."""
    runs = results["runs"]
    target = {arm: runs[arm]["lengths"]["targets"] for arm in ARMS}
    step = {arm: runs[arm]["timing"]["step_ms"] for arm in ARMS}
    checks = {
        "sentinels_shorten_targets": target["iid"] < target["bert_style"],
        "spans_shorten_them_further": target["span3"] < target["iid"],
        "iid_steps_faster_than_bert_style": step["iid"] < step["bert_style"],
        "span3_steps_faster_than_iid": step["span3"] < step["iid"],
    }
    return checks | {"direction_reproduces": all(checks.values())}


# ---- outputs ----


def table(results: dict) -> str:
    """The Markdown table the T5 page includes: ours beside the paper's."""
    rows = [
        "| Objective | Input / target tokens | Step (ms): timed / in training "
        "| Text tokens/s "
        "| Loss per target token | Loss per corrupted token "
        "| Corrupted tokens right (%) | Paper: GLUE (validation) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    paper_tables = {"bert_style": "Table 5", "iid": "Table 7", "span3": "Table 7"}
    for arm in ARMS:
        run = results["runs"][arm]
        ours, n = run["eval"], run["lengths"]
        accuracy = ours["corrupted_accuracy"]
        rows.append(
            f"| {LABELS[arm]} | {n['inputs']} / {n['targets']} "
            f"| {run['timing']['step_ms']:.0f} / {run['summary']['step_ms']:.0f} "
            f"| {run['text_tokens_per_s']:,.0f} "
            f"| {ours['loss_per_target_token']:.2f} "
            f"| {ours['loss_per_corrupted_token']:.2f} "
            f"| {accuracy['accuracy']:.1f} ± {accuracy['se']:.1f} "
            f"| {PAPER['glue'][arm]:.2f} ({paper_tables[arm]}) |"
        )
    s, d, m = results["settings"], results["data"], results["machine"]
    threads = torch_threads(m)
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: rows of {s['length']} WordPiece tokens with "
        f"{100 * s['noise_density']:.0f}% of them corrupted; lengths include the "
        "EOS. Step, timed: median time of a training step (forward, backward, "
        f"AdamW) on a batch of {s['batch_size']} rows, {s['timing_repeats']} "
        "steps of each objective taken in turn; in training: the mean step of "
        "the training run itself. Text tokens/s (from the timed step) counts the "
        f"{s['length']} tokens of a row before corruption. Losses in nats, "
        f"teacher-forced, on {d['held_out_rows']} rows from "
        f"{d['held_out_documents']} held-out Brown documents corrupted once by "
        "each objective; accuracy ± one standard error. Model: T5 with "
        f"{s['layers']} encoder and {s['layers']} decoder layers, d_model "
        f"{s['hidden']}, vocabulary {d['model_vocab_size']:,} (WordPiece and 100 "
        f"sentinels); {s['steps']} steps each; "
        f"{results['wall_s'] / 60:.1f} min in all on {m['cpu']} ({threads}), "
        f"{m['date']}. Paper: {PAPER['source']} (T5-Base size, "
        "pre-trained on C4).\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
    fig, (sizes, curve) = plt.subplots(1, 2, figsize=(11, 3.4))
    x = list(range(len(ARMS)))
    runs = results["runs"]
    targets = [runs[a]["lengths"]["targets"] for a in ARMS]
    steps = [runs[a]["timing"]["step_ms"] for a in ARMS]
    sizes.bar([i - 0.2 for i in x], targets, 0.4, label="target tokens", color="C0")
    sizes.set_ylabel("target tokens per row", color="C0")
    time_axis = sizes.twinx()
    time_axis.bar([i + 0.2 for i in x], steps, 0.4, label="step (ms)", color="C1")
    time_axis.set_ylabel("ms per training step", color="C1")
    sizes.set_xticks(x, [LABELS[a].replace(", ", ",\n") for a in ARMS])
    for arm in ARMS:
        history = runs[arm]["history"]
        curve.plot(
            [r["step"] for r in history],
            [r["denoise"] for r in history],
            label=LABELS[arm],
        )
    curve.set_xlabel("training step")
    curve.set_ylabel("loss per target token (train)")
    curve.legend(fontsize=8)
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
