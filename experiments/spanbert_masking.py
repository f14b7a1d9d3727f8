"""Experiment 3. SpanBERT, span masking against token masking (Joshi et al. 2020,
§6.1-6.2, Tables 6 and 7), in miniature on the Brown Corpus.

Three tiny BERTs are pre-trained on the same blocks of text, for the same steps,
with the same masking budget (15% of the tokens), differing only in what is
masked and what is predicted:

- **token**: BERT's masking, each token on its own
  (`snippets.roberta.dynamic_masking.mask_tokens`);
- **span**: SpanBERT's geometric spans of whole words
  (`snippets.spanbert.span_masking.span_mask`), the word starts read from the
  WordPiece vocabulary;
- **span + SBO**: the same spans, and each masked token is also predicted from
  the span's two boundary states
  (`snippets.spanbert.span_boundary_objective.span_boundary_loss`).

Every model is then probed on the same held-out blocks, masked the same way for
all three: whole multi-word spans replaced by [MASK] (the span probe), and, as a
control, single tokens replaced by [MASK] (the token probe). The span probe
scores the masked-LM head's accuracy on every piece of a multi-word span and the
share of spans recovered exactly, piece for piece.

    .venv/bin/python -m experiments spanbert_masking            # about 5 min
    .venv/bin/python -m experiments spanbert_masking --quick    # seconds

Writes docs/assets/generated/spanbert_masking.json, spanbert_masking.svg and
_spanbert_masking_table.md (a Markdown table the SpanBERT page includes).
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
    IGNORE_INDEX,
    encode,
    mlm_head,
    predicted_logits,
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
from snippets.roberta.dynamic_masking import mask_tokens
from snippets.spanbert.span_boundary_objective import (
    SpanBoundaryHead,
    span_boundary_loss,
    span_token_positions,
)
from snippets.spanbert.span_masking import masked_runs, sample_spans, span_mask

NAME = "spanbert_masking"
ARMS = ("token", "span", "span_sbo")
LABELS = {
    "token": "Token masking",
    "span": "Span masking",
    "span_sbo": "Span + SBO",
}

# Paper (TACL version, development sets, BERT-large-sized models after 1.2M
# steps). Table 6 compares masking schemes with two segments, NSP and no SBO;
# Table 7 adds single-segment training and SBO to random spans. The numbers are
# OntoNotes coreference F1, the column where the masking schemes disagree most.
PAPER = {
    "source": "Joshi et al. 2020 (TACL), Tables 6 and 7, development sets",
    "coreference_f1": {
        "token": 77.7,  # Table 6, subword tokens
        "span": 76.4,  # Table 6, geometric spans
        "span_1seq": 76.3,  # Table 7, span masking (1seq)
        "span_sbo": 79.0,  # Table 7, span masking (1seq) + SBO
    },
}


@dataclasses.dataclass(frozen=True)
class Settings:
    vocab_size: int = 8000
    # Measured here (see the page): 4 layers on blocks of 128 stay at the
    # unigram plateau after 400 steps of 32 blocks; 2 layers on blocks of 64,
    # twice as cheap per token, start to leave it. The budget goes there.
    max_length: int = 64  # [CLS] block [SEP]
    layers: int = 2
    hidden: int = 128
    steps: int = 600
    batch_size: int = 64
    learning_rate: float = 2e-3
    mask_ratio: float = 0.15  # every arm's masking budget
    train_documents: int | None = None  # None: every training document
    held_out_documents: int | None = None
    seed: int = 0


QUICK = Settings(
    hidden=64,
    steps=30,
    batch_size=16,
    train_documents=40,
    held_out_documents=8,
)


# ---- data ----


def pack_blocks(documents: list[list[list[int]]], max_tokens: int) -> list[array]:
    """Consecutive sentences of a document packed into blocks of at most
    `max_tokens` tokens (SpanBERT trains on single contiguous segments, §3.3); a
    sentence longer than a block is cut. int16 arrays keep the memory small."""
    blocks = []
    for document in documents:
        current: list[int] = []
        for sentence in document:
            if current and len(current) + len(sentence) > max_tokens:
                blocks.append(array("h", current))
                current = []
            current += sentence[: max_tokens - len(current)]
        if current:
            blocks.append(array("h", current))
    return blocks


def pad_blocks(blocks: list) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] block [SEP], padded: ids [B, L] and the special-token mask."""
    length = max(len(b) for b in blocks) + 2
    ids = torch.full((len(blocks), length), PAD, dtype=torch.long)
    for row, block in enumerate(blocks):
        ids[row, : len(block) + 2] = torch.tensor([CLS, *block, SEP])
    special = (ids == CLS) | (ids == SEP) | (ids == PAD)
    return ids, special


class MaskedLM:
    """One arm: a masking scheme and, for `span_sbo`, the span boundary loss."""

    def __init__(
        self, arm: str, vocab_size: int, word_starts: torch.Tensor, ratio: float
    ) -> None:
        if arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
        self.arm, self.vocab_size, self.ratio = arm, vocab_size, ratio
        self.word_starts = word_starts  # [V] bool, from the tokenizer

    def collate(self, blocks: list, generator: torch.Generator) -> dict:
        ids, special = pad_blocks(blocks)
        batch = {"attention_mask": (ids != PAD).long()}
        if self.arm == "token":
            inputs, labels = mask_tokens(
                ids,
                mask_token_id=MASK,
                vocab_size=self.vocab_size,
                special_tokens_mask=special,
                mlm_probability=self.ratio,
                generator=generator,
            )
        else:
            inputs, labels, spans = span_mask(
                ids,
                self.word_starts[ids],
                mask_ratio=self.ratio,
                mask_token_id=MASK,
                vocab_size=self.vocab_size,
                special_tokens_mask=special,
                generator=generator,
            )
            if self.arm == "span_sbo":
                batch |= {"spans": spans, "original_ids": ids}
        return batch | {"input_ids": inputs, "labels": labels}

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        hidden, _ = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        terms = {
            "mlm": harness.Term(
                F.cross_entropy(logits, targets, reduction="sum"), len(targets)
            )
        }
        if self.arm == "span_sbo":
            spans = batch["spans"]
            count = len(span_token_positions(spans, model.sbo.max_span_length)[0])
            mean = span_boundary_loss(
                model.sbo, hidden, spans, batch["original_ids"]
            )
            terms["sbo"] = harness.Term(mean * count, count)
        return terms


def add_sbo_head(model, hidden: int, vocab_size: int) -> None:
    """Attach SpanBERT's boundary head to the BERT, its output projection tied to
    the input embeddings with a bias of its own, as the released
    `BertPairTargetPredictionHead` does (`pretraining/fairseq/models/
    pair_bert.py`). As a submodule it is trained, saved and resumed with the
    model."""
    head = SpanBoundaryHead(hidden, vocab_size)
    head.decoder.weight = model.bert.embeddings.word_embeddings.weight
    model.sbo = head


# ---- the held-out probes ----


def probe_batches(
    blocks: list, word_starts: torch.Tensor, settings: Settings, vocab_size: int
) -> dict[str, list[dict]]:
    """The held-out blocks masked once, with a fixed seed, for every model alike.

    Span probe: whole-word spans drawn as SpanBERT draws them (`sample_spans`),
    every piece replaced by [MASK]; the multi-word runs are scored. Token probe:
    single tokens chosen as BERT chooses them (`mask_tokens`), all [MASK].
    """
    generator = torch.Generator().manual_seed(10_000 + settings.seed)
    batches: dict[str, list[dict]] = {"span": [], "token": []}
    for start in range(0, len(blocks), 64):
        ids, special = pad_blocks(blocks[start : start + 64])
        starts = word_starts[ids]
        selected, _ = sample_spans(
            starts,
            special_tokens_mask=special,
            mask_ratio=settings.mask_ratio,
            generator=generator,
        )
        runs = masked_runs(selected)
        row, begin, end = runs.unbind(1)
        # words in each run: its word starts (a run always begins on one)
        cumulative = F.pad(starts.long().cumsum(1), (1, 0))
        words = cumulative[row, end] - cumulative[row, begin]
        multi = runs[words >= 2]
        labels = ids.masked_fill(~selected, IGNORE_INDEX)
        batches["span"].append(
            {
                "input_ids": ids.masked_fill(selected, MASK),
                "attention_mask": (ids != PAD).long(),
                "labels": labels,
                "runs": multi,
            }
        )
        inputs, labels = mask_tokens(
            ids,
            mask_token_id=MASK,
            vocab_size=vocab_size,
            special_tokens_mask=special,
            mlm_probability=settings.mask_ratio,
            mask_replace_prob=1.0,
            random_replace_prob=0.0,
            generator=generator,
        )
        batches["token"].append(
            {
                "input_ids": inputs,
                "attention_mask": (ids != PAD).long(),
                "labels": labels,
            }
        )
    return batches


def span_pieces(runs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Row and position of every piece of the runs [S, 3], and its run's index."""
    index, position, _ = span_token_positions(runs)
    return runs[index, 0], position, index


def clustered(totals: torch.Tensor, sizes: torch.Tensor, percent: bool = False):
    """The mean per token of a quantity summed over each span (`totals`, over
    `sizes` tokens: hits, or nats), with a standard error that treats the spans,
    not the tokens, as the independent draws (a ratio estimator)."""
    n, total = len(sizes), int(sizes.sum())
    mean, se = stats.ratio(totals, sizes)
    if percent:
        return {"accuracy": 100 * mean, "se": 100 * se, "n": total, "spans": n}
    return {"mean": mean, "se": se, "n": total, "spans": n}


def evaluate(model, batches: dict[str, list[dict]]) -> dict:
    """MLM-head accuracy and loss on both probes; exact recovery of the
    multi-word spans; for a model with an SBO head, that head's accuracy on the
    same spans."""
    device = next(model.parameters()).device
    sbo = getattr(model, "sbo", None)
    token_correct = token_total = sbo_correct = 0
    span_correct, span_loss, span_sizes = [], [], []
    for batch in batches["token"]:
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden, _ = encode(model, batch)
        logits, targets = predicted_logits(model, hidden, batch["labels"])
        token_correct += int((logits.argmax(-1) == targets).sum())
        token_total += len(targets)
    for batch in batches["span"]:
        batch = {k: v.to(device) for k, v in batch.items()}
        hidden, _ = encode(model, batch)
        runs = batch["runs"]
        row, position, index = span_pieces(runs)
        targets = batch["labels"][row, position]
        logits = mlm_head(model)(hidden[row, position])
        hit = (logits.argmax(-1) == targets).long()
        loss = F.cross_entropy(logits, targets, reduction="none").double()
        sizes = runs[:, 2] - runs[:, 1]
        span_correct.append(torch.zeros_like(sizes).index_add_(0, index, hit))
        span_loss.append(
            torch.zeros_like(sizes, dtype=loss.dtype).index_add_(0, index, loss)
        )
        span_sizes.append(sizes)
        if sbo is not None:
            # the boundary head alone, on the first pieces it has positions for
            index, position, _ = span_token_positions(runs, sbo.max_span_length)
            sbo_targets = batch["labels"][runs[index, 0], position]
            sbo_correct += int((sbo(hidden, runs).argmax(-1) == sbo_targets).sum())
    correct, sizes = torch.cat(span_correct), torch.cat(span_sizes)
    loss = clustered(torch.cat(span_loss), sizes)
    result = {
        "span_tokens": clustered(correct, sizes, percent=True),
        "span_exact": stats.binomial(int((correct == sizes).sum()), len(sizes)),
        "span_loss": {"loss": loss["mean"], "se": loss["se"], "n": loss["n"]},
        "token_probe": stats.binomial(token_correct, token_total),
    }
    if sbo is not None:
        capped = sizes.clamp(max=sbo.max_span_length)
        capped_total = int(capped.sum())
        result["sbo_head_span_tokens"] = stats.binomial(sbo_correct, capped_total)
    return result


def unigram_baseline(blocks: list, batches: dict, vocab_size: int) -> dict:
    """What word-piece frequencies alone give on the probes: the accuracy of
    always answering the most frequent training piece, and the loss of the
    training unigram distribution (add-one smoothed). A model that has learned
    nothing from context scores about this."""
    pieces = torch.tensor([t for block in blocks for t in block])
    counts = 1 + torch.bincount(pieces, minlength=vocab_size).double()
    log_p = (counts / counts.sum()).log()
    top = int(counts.argmax())
    targets = {
        "span": torch.cat(
            [b["labels"][span_pieces(b["runs"])[:2]] for b in batches["span"]]
        ),
        "token": torch.cat(
            [b["labels"][b["labels"] != IGNORE_INDEX] for b in batches["token"]]
        ),
    }
    return {
        "top_piece": top,
        **{
            probe: {
                "accuracy": 100 * float((t == top).double().mean()),
                "loss": float(-log_p[t].mean()),
                "n": len(t),
            }
            for probe, t in targets.items()
        },
    }


# ---- the experiment ----


def masked_share(objective: MaskedLM, blocks: list, size: int = 32) -> float:
    """The share of non-special tokens an arm predicts, over (up to) 20 batches
    of training blocks."""
    generator = torch.Generator().manual_seed(1)
    labelled = valid = 0
    for k in range(min(20, len(blocks) // size)):
        batch = objective.collate(blocks[k * size : (k + 1) * size], generator)
        labelled += int((batch["labels"] != IGNORE_INDEX).sum())
        valid += int(batch["attention_mask"].sum()) - 2 * len(batch["labels"])
    return 100 * labelled / max(valid, 1)


def run(settings: Settings, runs: Path) -> dict:
    start = time.perf_counter()
    tokenizer = english_wordpiece(settings.vocab_size)
    vocab_size = tokenizer.get_vocab_size()
    word_starts = word_start_table(tokenizer)
    train_docs = brown.load("train", settings.train_documents)
    held_docs = brown.load("held_out", settings.held_out_documents)
    train_blocks = pack_blocks(
        encode_documents(tokenizer, train_docs), settings.max_length - 2
    )
    held_blocks = pack_blocks(
        encode_documents(tokenizer, held_docs), settings.max_length - 2
    )
    probes = probe_batches(held_blocks, word_starts, settings, vocab_size)
    unigram = unigram_baseline(train_blocks, probes, vocab_size)
    prep_s = time.perf_counter() - start

    spans = torch.cat([b["runs"] for b in probes["span"]])
    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "data": {
            "corpus": brown.VERSION,
            "train_documents": len(train_docs),
            "held_out_documents": len(held_docs),
            "train_blocks": len(train_blocks),
            "train_tokens": sum(len(b) for b in train_blocks),
            "held_out_blocks": len(held_blocks),
            "vocab_size": vocab_size,
            "probe_spans": len(spans),
            "probe_span_tokens": int((spans[:, 2] - spans[:, 1]).sum()),
            "probe_tokens": sum(
                int((b["labels"] != IGNORE_INDEX).sum()) for b in probes["token"]
            ),
        },
        "unigram": unigram
        | {"top_piece_text": tokenizer.id_to_token(unigram["top_piece"])},
        "runs": {},
    }
    for arm in ARMS:
        arm_start = time.perf_counter()
        objective = MaskedLM(arm, vocab_size, word_starts, settings.mask_ratio)
        model = tiny_model(
            "bert",
            vocab_size,
            seed=settings.seed,
            layers=settings.layers,
            hidden=settings.hidden,
            max_length=settings.max_length,
        )
        if arm == "span_sbo":
            add_sbo_head(model, settings.hidden, vocab_size)
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
            train_blocks,
            objective,
            config,
            runs / arm,
            evaluate=lambda m: evaluate(m, probes),
            name=f"{NAME}:{arm}",
        )
        results["runs"][arm] = {
            "masked_share": masked_share(
                objective, train_blocks, settings.batch_size
            ),
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
    """Which differences hold beyond 2 standard errors (of the difference)."""
    runs = {arm: results["runs"][arm]["eval"] for arm in ARMS}

    def beats(a: str, b: str, metric: str) -> bool:
        x, y = runs[a][metric], runs[b][metric]
        return x["accuracy"] - y["accuracy"] > 2 * math.hypot(x["se"], y["se"])

    unigram = results["unigram"]

    def learned(arm: str) -> bool:
        """Beyond frequencies: above the most frequent piece's accuracy on the
        span probe, and below the unigram loss."""
        ours = runs[arm]
        return (
            ours["span_tokens"]["accuracy"] - unigram["span"]["accuracy"]
            > 2 * ours["span_tokens"]["se"]
            and unigram["span"]["loss"] - ours["span_loss"]["loss"]
            > 2 * ours["span_loss"]["se"]
        )

    checks = {f"{arm}_learned_beyond_frequencies": learned(arm) for arm in ARMS}
    checks |= {
        "span_beats_token_on_span_tokens": beats("span", "token", "span_tokens"),
        "span_beats_token_on_exact_spans": beats("span", "token", "span_exact"),
        "sbo_beats_span_on_span_tokens": beats("span_sbo", "span", "span_tokens"),
        "token_beats_span_on_token_probe": beats("token", "span", "token_probe"),
    }
    return checks | {
        "direction_reproduces": checks["span_beats_token_on_span_tokens"]
        and checks["token_learned_beyond_frequencies"]
        and checks["span_learned_beyond_frequencies"]
    }


# ---- outputs ----


def cell(result: dict) -> str:
    return f"{result['accuracy']:.1f} ± {result['se']:.1f}"


def table(results: dict) -> str:
    """The Markdown table the SpanBERT page includes: ours beside the paper's."""
    rows = [
        "| Pre-trained with | Span probe: pieces right | Spans recovered whole "
        "| Span probe loss | Token probe: tokens right | Tokens masked "
        "| Paper: coref. F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    coref = PAPER["coreference_f1"]
    paper = {
        "token": f"{coref['token']:.1f} (Table 6)",
        "span": f"{coref['span']:.1f} (Table 6), {coref['span_1seq']:.1f} "
        "(Table 7, 1seq)",
        "span_sbo": f"{coref['span_sbo']:.1f} (Table 7, 1seq)",
    }
    for arm in ARMS:
        run = results["runs"][arm]
        ours = run["eval"]
        rows.append(
            f"| {LABELS[arm]} | {cell(ours['span_tokens'])} "
            f"| {cell(ours['span_exact'])} "
            f"| {ours['span_loss']['loss']:.3f} ± {ours['span_loss']['se']:.3f} "
            f"| {cell(ours['token_probe'])} | {run['masked_share']:.1f} "
            f"| {paper[arm]} |"
        )
    s, d, m = results["settings"], results["data"], results["machine"]
    threads = torch_threads(m)
    rate = results["runs"]["token"]["summary"]["tokens_per_s"]
    sbo = results["runs"]["span_sbo"]["eval"].get("sbo_head_span_tokens")
    u = results["unigram"]
    sbo_note = (
        f"The SBO head alone, from the boundaries, gets {cell(sbo)}% of the "
        "pieces of the same spans (its first 15 pieces of each). "
        if sbo
        else ""
    )
    return (
        "\n".join(rows)
        + "\n\n"
        + "Ours: held-out accuracy of the masked-LM head in % ± one standard "
        f"error, on {d['probe_spans']:,} multi-word spans "
        f"({d['probe_span_tokens']:,} pieces) and {d['probe_tokens']:,} single "
        f"tokens masked in {d['held_out_blocks']:,} blocks from "
        f"{d['held_out_documents']} held-out Brown documents, the same masks for "
        "every model; loss in nats per piece; tokens masked: % of the training "
        "tokens each arm predicts. "
        + sbo_note
        + f"Frequencies alone score {u['span']['accuracy']:.1f}% on the span "
        f"probe and {u['token']['accuracy']:.1f}% on the token probe (always "
        f'answering the most frequent piece, "{u["top_piece_text"]}"), and '
        f"the training unigram distribution loses {u['span']['loss']:.3f} nats "
        "per span piece. "
        + f"Model: BERT with {s['layers']} layers, hidden {s['hidden']}, "
        f"vocabulary {d['vocab_size']:,} (WordPiece); {s['steps']} steps of "
        f"{s['batch_size']} blocks of at most {s['max_length']} tokens, about "
        f"{rate:,.0f} tokens/s; {results['wall_s'] / 60:.1f} min in all on "
        f"{m['cpu']} ({threads}), {m['date']}. "
        f"Paper: {PAPER['source']}, OntoNotes coreference F1 (BERT-large size).\n"
    )


def plot(results: dict, path: Path) -> None:
    plt = cli.pyplot(NAME)
    fig, (curve, bars) = plt.subplots(1, 2, figsize=(11, 3.4))
    for arm in ARMS:
        history = results["runs"][arm]["history"]
        curve.plot(
            [r["step"] for r in history],
            [r["mlm"] for r in history],
            label=LABELS[arm],
        )
    curve.set_xlabel("training step")
    curve.set_ylabel("masked-LM loss (train, own masks)")
    curve.legend(fontsize=8)
    metrics = [
        ("span_tokens", "span probe:\npieces right"),
        ("span_exact", "span probe:\nspans whole"),
        ("token_probe", "token probe:\ntokens right"),
    ]
    width = 0.26
    for k, arm in enumerate(ARMS):
        ours = results["runs"][arm]["eval"]
        bars.bar(
            [i + (k - 1) * width for i in range(len(metrics))],
            [ours[key]["accuracy"] for key, _ in metrics],
            width,
            yerr=[ours[key]["se"] for key, _ in metrics],
            label=LABELS[arm],
        )
    bars.set_xticks(range(len(metrics)), [label for _, label in metrics])
    bars.set_ylabel("held-out accuracy (%)")
    bars.legend(fontsize=8)
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
