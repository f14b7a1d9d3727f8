"""Experiment 1. ALBERT, sentence-order prediction against next-sentence
prediction (Lan et al. 2020, §4.6, Table 5), in miniature on the Brown Corpus.

Two tiny ALBERTs are pre-trained with the same masked-LM loss (ALBERT's n-gram
masking) plus one sentence-pair loss each:

- **NSP**: B is the true continuation of A, or text from another document
  (`snippets.albert.sop.create_nsp_examples`);
- **SOP**: A and B are consecutive and swapped half of the time
  (`create_sop_examples`).

Both models are then scored on *both* tasks over pairs built from the held-out
documents, with the same masks. The paper's claim (Table 5): the NSP model is
at chance on SOP (52.0), while the SOP model does well on NSP (78.9) and on SOP
(86.5). NSP can be solved by noticing a change of topic; SOP cannot.

    .venv/bin/python -m experiments albert_sop            # about 5 min on 2 cores
    .venv/bin/python -m experiments albert_sop --quick    # a few seconds

Writes docs/assets/generated/albert_sop.json, albert_sop.svg and
_albert_sop_table.md (a Markdown table the ALBERT page includes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from array import array
from pathlib import Path

import torch
import torch.nn.functional as F

from experiments import cli, harness, stats
from experiments.corpora import brown
from experiments.machine import machine_info, torch_threads
from experiments.models import (
    encode,
    predicted_logits,
    sentence_pair_head,
    tiny_model,
)
from experiments.tokenizer import (
    CLS,
    MASK,
    PAD,
    SEP,
    encode_documents,
    english_wordpiece,
    word_start_table,
)
from snippets.albert.ngram_masking import ngram_mask
from snippets.albert.sop import create_nsp_examples, create_sop_examples

NAME = "albert_sop"
ARMS = ("nsp", "sop")

# Paper, Table 5 (ICLR 2020 version): intrinsic accuracies of ALBERT-base
# trained with each sentence-prediction loss.
PAPER = {
    "source": "Lan et al. 2020 (ICLR), Table 5, intrinsic tasks (ALBERT-base)",
    "none": {"mlm": 54.9, "nsp": 52.4, "sop": 53.3},
    "nsp": {"mlm": 54.5, "nsp": 90.5, "sop": 52.0},
    "sop": {"mlm": 54.0, "nsp": 78.9, "sop": 86.5},
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 8000
    max_length: int = 128  # [CLS] A [SEP] B [SEP]
    layers: int = 4
    hidden: int = 128
    steps: int = 400
    batch_size: int = 32
    learning_rate: float = 1e-3
    dupe_factor: int = 5  # pairs are built this many times from each document
    nsp_others: int = 8  # documents an NSP negative is drawn from (see below)
    train_documents: int | None = None  # None: every training document
    held_out_documents: int | None = None
    seed: int = 0


QUICK = Settings(
    vocab_size=8000,
    max_length=64,
    layers=2,
    hidden=64,
    steps=30,
    batch_size=16,
    learning_rate=2e-3,
    dupe_factor=1,
    train_documents=40,
    held_out_documents=8,
)


# ---- data ----


def build_pairs(
    documents: list[list[list[int]]],
    arm: str,
    settings: Settings,
    generator: torch.Generator,
    dupe_factor: int,
) -> list[tuple[array, array, int]]:
    """(tokens_a, tokens_b, label) pairs, built with the snippets' own builders."""
    max_num_tokens = settings.max_length - 3
    pairs = []
    for _ in range(dupe_factor):
        for index, document in enumerate(documents):
            if arm == "sop":
                examples = create_sop_examples(
                    document, max_num_tokens, generator=generator
                )
            else:
                # create_nsp_examples checks every document it is given on every
                # call; giving it this document and a uniform sample of others
                # keeps that linear in the corpus, and a negative is still drawn
                # from a uniformly chosen other document
                others = [i for i in range(len(documents)) if i != index]
                k = min(settings.nsp_others, len(others))
                picks = torch.randperm(len(others), generator=generator)[:k]
                sample = [document] + [documents[others[i]] for i in picks]
                examples = create_nsp_examples(
                    sample, 0, max_num_tokens, generator=generator
                )
            # int16 arrays: a tenth of the memory of lists of Python ints
            pairs += [
                (array("h", e.tokens_a), array("h", e.tokens_b), e.label)
                for e in examples
            ]
    return pairs


class PairObjective:
    """Masked LM (ALBERT's n-gram masking) plus a 2-way sentence-pair loss."""

    def __init__(self, vocab_size: int, word_starts: torch.Tensor) -> None:
        self.vocab_size = vocab_size
        self.word_starts = word_starts  # [V] bool, from the tokenizer

    def collate(self, examples: list, generator: torch.Generator) -> dict:
        length = max(len(a) + len(b) + 3 for a, b, _ in examples)
        ids = torch.full((len(examples), length), PAD, dtype=torch.long)
        segment = torch.zeros_like(ids)
        for row, (a, b, _) in enumerate(examples):
            tokens = [CLS, *a, SEP, *b, SEP]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            segment[row, len(a) + 2 : len(tokens)] = 1
        attention = ids != PAD
        special = (ids == CLS) | (ids == SEP) | ~attention
        inputs, labels = ngram_mask(
            ids,
            self.word_starts[ids],
            mask_token_id=MASK,
            vocab_size=self.vocab_size,
            special_tokens_mask=special,
            generator=generator,
        )
        return {
            "input_ids": inputs,
            "attention_mask": attention.long(),
            "token_type_ids": segment,
            "labels": labels,
            "pair_labels": torch.tensor([label for _, _, label in examples]),
        }

    def outputs(self, model, batch: dict):
        hidden, pooled = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        return logits, targets, sentence_pair_head(model)(pooled)

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        logits, targets, pair_logits = self.outputs(model, batch)
        return {
            "mlm": harness.Term(
                F.cross_entropy(logits, targets, reduction="sum"), len(targets)
            ),
            "pair": harness.Term(
                F.cross_entropy(pair_logits, batch["pair_labels"], reduction="sum"),
                len(pair_logits),
            ),
        }


def evaluate(model, objective: PairObjective, batches: dict) -> dict:
    """Sentence-pair accuracy on each task's held-out pairs, and MLM accuracy;
    `answered_1` is the share of pairs the head labels 1 (random / swapped)."""
    result, mlm_correct, mlm_total = {}, 0, 0
    for task, task_batches in batches.items():
        correct = total = ones = 0
        for batch in task_batches:
            device = next(model.parameters()).device
            batch = {k: v.to(device) for k, v in batch.items()}
            logits, targets, pair_logits = objective.outputs(model, batch)
            answers = pair_logits.argmax(-1)
            correct += int((answers == batch["pair_labels"]).sum())
            ones += int(answers.sum())
            total += len(pair_logits)
            mlm_correct += int((logits.argmax(-1) == targets).sum())
            mlm_total += len(targets)
        result[task] = stats.binomial(correct, total) | {
            "answered_1": 100 * ones / max(total, 1)
        }
    result["mlm"] = stats.binomial(mlm_correct, mlm_total)
    return result


# ---- the experiment ----


def run(settings: Settings, runs: Path, *, resume: bool = False) -> dict:
    """Train and score both arms. With `resume`, an arm whose run finished
    (same settings) is loaded, not retrained: rerun with it after an interrupt."""
    start = time.perf_counter()
    tokenizer = english_wordpiece(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    train_docs = brown.load("train", settings.train_documents)
    held_docs = brown.load("held_out", settings.held_out_documents)
    train_ids = encode_documents(tokenizer, train_docs)
    held_ids = encode_documents(tokenizer, held_docs)
    objective = PairObjective(vocab_size, word_start_table(tokenizer))

    # Held-out pairs of both kinds, masked once with a fixed seed: both models
    # are scored on exactly the same inputs.
    eval_generator = torch.Generator().manual_seed(10_000 + settings.seed)
    eval_pairs = {
        task: build_pairs(held_ids, task, settings, eval_generator, dupe_factor=1)
        for task in ARMS
    }
    eval_batches = {
        task: [
            objective.collate(pairs[i : i + 64], eval_generator)
            for i in range(0, len(pairs), 64)
        ]
        for task, pairs in eval_pairs.items()
    }
    prep_s = time.perf_counter() - start

    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": {
            "corpus": brown.VERSION,
            "train_documents": len(train_docs),
            "held_out_documents": len(held_docs),
            "train_tokens": sum(len(s) for d in train_ids for s in d),
            "vocab_size": vocab_size,
            "eval_pairs": {task: len(p) for task, p in eval_pairs.items()},
            "eval_positive_rate": {
                task: 100 * sum(label == 0 for *_, label in p) / max(len(p), 1)
                for task, p in eval_pairs.items()
            },
        },
        "runs": {},
    }
    for arm in ARMS:
        arm_start = time.perf_counter()
        generator = torch.Generator().manual_seed(settings.seed)
        pairs = build_pairs(
            train_ids, arm, settings, generator, dupe_factor=settings.dupe_factor
        )
        pair_s = time.perf_counter() - arm_start
        model = tiny_model(
            "albert",
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
            log_every=max(settings.steps // 40, 1),
            checkpoint_every=max(settings.steps // 4, 1),
            identity=json.dumps([NAME, arm, dataclasses.asdict(settings)]),
        )
        result = harness.train(
            model,
            pairs,
            objective,
            config,
            runs / arm,
            evaluate=lambda m: evaluate(m, objective, eval_batches),
            name=f"{NAME}:{arm}",
            reuse_finished=resume,
        )
        results["runs"][arm] = {
            "train_pairs": len(pairs),
            "pair_building_s": pair_s,
            "eval": result.evals[-1],
            "history": result.history,
            "summary": result.summary,
            "wall_s": time.perf_counter() - arm_start,
        }
    results["data_preparation_s"] = prep_s
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    results["verdict"] = verdict(results)
    return results


def verdict(results: dict) -> dict:
    """Does each of the paper's observations hold, beyond 2 standard errors?
    Chance is the majority class of each held-out set (NSP's is not 50/50)."""
    nsp, sop = results["runs"]["nsp"]["eval"], results["runs"]["sop"]["eval"]
    chance = majority_rates(results)

    def above(a: dict, task: str) -> bool:
        return a[task]["accuracy"] - chance[task] > 2 * a[task]["se"]

    def beats(a: dict, b: dict) -> bool:
        return a["accuracy"] - b["accuracy"] > 2 * math.hypot(a["se"], b["se"])

    checks = {
        # each model learned the task it was trained on
        "nsp_model_learned_nsp": above(nsp, "nsp"),
        "sop_model_learned_sop": above(sop, "sop"),
        # Table 5's pattern
        "nsp_model_at_chance_on_sop": not above(nsp, "sop"),
        "sop_model_above_chance_on_nsp": above(sop, "nsp"),
        "sop_model_beats_nsp_model_on_sop": beats(sop["sop"], nsp["sop"]),
    }
    return checks | {"direction_reproduces": all(checks.values())}


def majority_rates(results: dict) -> dict[str, float]:
    """Accuracy of always answering the majority class, per held-out task."""
    rates = results["data"]["eval_positive_rate"]
    return {task: max(rate, 100 - rate) for task, rate in rates.items()}


# ---- outputs ----


def table(results: dict) -> str:
    """The Markdown table the ALBERT page includes: ours beside the paper's."""
    rows = [
        "| Pre-trained with | NSP accuracy | SOP accuracy | MLM accuracy |",
        "|---|---:|---:|---:|",
    ]
    for arm in ARMS:
        ours = results["runs"][arm]["eval"]
        paper = PAPER[arm]
        cells = [
            f"{ours[t]['accuracy']:.1f} ± {ours[t]['se']:.1f} "
            f"(paper {paper[t]:.1f})"
            for t in ("nsp", "sop", "mlm")
        ]
        rows.append(f"| {arm.upper()} | " + " | ".join(cells) + " |")
    s, d = results["settings"], results["data"]
    majority = majority_rates(results)
    m = results["machine"]
    threads = torch_threads(m)
    summary = results["runs"]["sop"]["summary"]
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: held-out accuracy in % ± one standard error, over "
        f"{d['eval_pairs']['nsp']} NSP and {d['eval_pairs']['sop']} SOP pairs "
        f"from {d['held_out_documents']} held-out Brown documents. "
        f"Model: ALBERT with {s['layers']} shared layers, hidden {s['hidden']}, "
        f"embedding 128, vocabulary {d['vocab_size']:,} (WordPiece); "
        f"{s['steps']} steps of {s['batch_size']} sequences of at most "
        f"{s['max_length']} tokens, about {summary['tokens_per_s']:,.0f} "
        f"tokens/s; {results['wall_s'] / 60:.1f} min in all on "
        f"{m['cpu']} ({threads}), {m['date']}. "
        f"Always answering the majority class scores "
        f"{majority['nsp']:.1f} on NSP and {majority['sop']:.1f} on SOP. "
        f"Paper: {PAPER['source']}.\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
    fig, (curve, bars) = plt.subplots(
        1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 1.1]}
    )
    for arm in ARMS:
        history = results["runs"][arm]["history"]
        curve.plot(
            [r["step"] for r in history],
            [r["pair"] for r in history],
            label=f"{arm.upper()} loss",
        )
    curve.axhline(math.log(2), color="grey", lw=0.6, ls=":", label="chance (ln 2)")
    curve.set_xlabel("training step")
    curve.set_ylabel("sentence-pair loss (train)")
    curve.legend(fontsize=8)
    width, x = 0.2, torch.arange(2).tolist()
    colors = {"nsp": "tab:blue", "sop": "tab:orange"}
    for k, arm in enumerate(ARMS):
        ours = results["runs"][arm]["eval"]
        offset = (k - 0.5) * 2 * width
        bars.bar(
            [i + offset - width / 2 for i in x],
            [ours[t]["accuracy"] for t in ("nsp", "sop")],
            width,
            yerr=[ours[t]["se"] for t in ("nsp", "sop")],
            color=colors[arm],
            label=f"{arm.upper()} model (ours)",
        )
        bars.bar(
            [i + offset + width / 2 for i in x],
            [PAPER[arm][t] for t in ("nsp", "sop")],
            width,
            color=colors[arm],
            alpha=0.35,
            hatch="//",
            label=f"{arm.upper()} model (paper)",
        )
    bars.axhline(50, color="grey", lw=0.6, ls=":")
    bars.set_xticks(x, ["NSP task", "SOP task"])
    bars.set_ylim(0, 100)
    bars.set_ylabel("held-out accuracy (%)")
    bars.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    cli.save_svg(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = cli.arguments(
        __doc__,
        steps_help="train this many steps; the outputs are then named "
        "albert_sop_stepsN",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="after an interrupt: keep the arms that finished, continue the other",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    stem = NAME
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
        stem = f"{NAME}_steps{args.steps}"  # never over the default's results
    out, runs = cli.folders(args, NAME, stem)
    results = run(settings, runs, resume=args.resume)
    cli.publish(results, out, stem, {f"_{stem}_table.md": table(results)}, plot)
    return results


if __name__ == "__main__":
    main()
