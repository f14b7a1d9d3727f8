"""Experiment 7. Distillation (Hinton et al. 2015; DistilBERT, Sanh et al. 2019,
Table 4), in miniature on the Brown Corpus.

The teacher is the tiny BERT of experiment 2 (`experiments.roberta_masking`, its
dynamic-masking arm): its finished checkpoint is loaded, or, when it is missing
or was made with other settings, the same run is trained again (the harness
seeds every step, so the retrained teacher is the same model). The student has
half its layers, initialised from teacher layers 0 and 3 of 4 (one of two, the
first and the last kept, as in the released 0, 2, 4, 7, 9, 11 of 12;
`snippets.distillation.student_init`), and is distilled on the teacher's own
pre-training data with fresh masks every epoch. Four students, the same steps:

- **triple**: DistilBERT's loss, α = (5, 2, 1) and T = 2
  (`snippets.distillation.kd_loss.distillation_loss`);
- **no_soft**: without the soft-target term (α_ce = 0), Table 4's "∅ - L_cos -
  L_mlm" row;
- **no_t2**: without the T² factor of Hinton et al. §2 (α_ce = 5 / T², which
  cancels the T² inside the soft-target loss);
- **random_init**: the triple loss from a random student, Table 4's last row.

All are scored on experiment 2's held-out masks, with the teacher and the
untrained teacher-initialised student for scale, and the student's size and
speed are measured against the teacher's.

    .venv/bin/python -m experiments distillation           # about 4 min here
    .venv/bin/python -m experiments distillation --quick   # a few seconds

Writes docs/assets/generated/distillation.json, distillation.svg,
_distillation_table.md and _distillation_size_table.md.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import NamedTuple

import torch
from transformers import BertForMaskedLM, BertForPreTraining, DistilBertForMaskedLM

from experiments import cli, harness
from experiments import roberta_masking as teacher_experiment
from experiments.machine import load_note, machine_info, torch_threads
from experiments.models import encode, mlm_head
from experiments.tokenizer import MASK, PAD
from snippets.distillation.kd_loss import distillation_loss
from snippets.distillation.student_init import (
    init_student_from_teacher,
    student_config,
)
from snippets.masking import IGNORE_INDEX
from snippets.roberta.dynamic_masking import DynamicMasking

NAME = "distillation"
ARMS = ("triple", "no_soft", "no_t2", "random_init")
LABELS = {
    "triple": "triple loss, teacher layers",
    "no_soft": "no soft-target term (α_ce = 0)",
    "no_t2": "no T² factor (α_ce = 5 / T²)",
    "random_init": "triple loss, random initialisation",
}

# Paper, Table 4 (arXiv v4): change in the GLUE dev macro-score of each ablation
# against the triple loss with a teacher-initialised student. No T² ablation
# there: that arm tests Hinton et al. 2015, §2. Table 3: size and CPU inference
# time (STS-B dev, batch size 1).
PAPER = {
    "source": "Sanh et al. 2019 (arXiv 1910.01108v4), Table 4 (change in GLUE "
    "dev macro-score) and Table 3 (parameters, CPU inference time)",
    "glue_change": {
        "triple": 0.0,
        "no_soft": -2.96,  # ∅ - L_cos - L_mlm
        "no_cos": -1.46,  # L_ce - ∅ - L_mlm
        "no_mlm": -0.31,  # L_ce - L_cos - ∅
        "random_init": -3.69,  # triple loss + random weights initialization
        "no_t2": None,
    },
    "parameters_millions": {"teacher": 110, "student": 66},
    "inference_s": {"teacher": 668, "student": 410},
}


@dataclasses.dataclass(frozen=True)
class Settings:
    steps: int = 200
    batch_size: int = 32
    # the released train.py's defaults
    learning_rate: float = 5e-4
    warmup_fraction: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 5.0
    # the released README's training command; T = train.py's default
    temperature: float = 2.0
    alpha_ce: float = 5.0
    alpha_mlm: float = 2.0
    alpha_cos: float = 1.0
    # one layer of two, the first and the last kept, as in the released
    # extraction script's 0, 2, 4, 7, 9, 11 of 12
    student_layers: tuple[int, ...] = (0, 3)
    speed_repeats: int = 20
    seed: int = 0


QUICK = Settings(steps=20, batch_size=16, speed_repeats=3)


class Output(NamedTuple):
    """What distillation_loss reads from a model output, at chosen positions."""

    logits: torch.Tensor  # [1, N, V]
    hidden_states: torch.Tensor  # [1, N, H]


def masked_lm(teacher: BertForPreTraining) -> BertForMaskedLM:
    """The teacher as BertForMaskedLM (what student_init takes): the same
    encoder and MLM head, without the pooler and the unused NSP head."""
    model = BertForMaskedLM(teacher.config)
    state = {
        k: v
        for k, v in teacher.state_dict().items()
        if not k.startswith(("bert.pooler.", "cls.seq_relationship."))
    }
    model.load_state_dict(state)  # strict: every other weight must match
    return model.eval()


class Distil(teacher_experiment.MaskedLM):
    """DistilBERT's triple loss against a fixed teacher, at the masked positions.

    The soft-target term is computed where the MLM predicts (the released
    distiller.py's --restrict_ce_to_mask; its default is every position), so
    that neither model computes vocabulary logits elsewhere; the cosine term is
    then taken at the same positions (see the page)."""

    def __init__(self, teacher: BertForMaskedLM, settings: Settings, **alphas):
        self.teacher = teacher.eval()
        self.temperature = settings.temperature
        self.alphas = {
            "alpha_ce": settings.alpha_ce,
            "alpha_mlm": settings.alpha_mlm,
            "alpha_cos": settings.alpha_cos,
        } | alphas

    def parts(self, model, batch: dict):
        where = batch["labels"] != IGNORE_INDEX
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
        self.teacher.to(batch["input_ids"].device)
        with torch.no_grad():
            t_hidden = self.teacher.bert(**inputs).last_hidden_state[where]
            t_logits = self.teacher.cls(t_hidden)
        s_hidden = encode(model, batch)[0][where]
        s_logits = mlm_head(model)(s_hidden)
        return distillation_loss(
            Output(s_logits[None], s_hidden[None]),
            Output(t_logits[None], t_hidden[None]),
            batch["labels"][where][None],
            temperature=self.temperature,
            **self.alphas,
        ), int(where.sum())

    def loss(self, model, batch: dict) -> dict[str, harness.Term]:
        parts, n = self.parts(model, batch)
        # the weighted terms, each a sum over the n masked positions
        a = self.alphas
        return {
            "soft": harness.Term(a["alpha_ce"] * parts.soft * n, n),
            "mlm": harness.Term(a["alpha_mlm"] * parts.mlm * n, n),
            "cos": harness.Term(a["alpha_cos"] * parts.cos * n, n),
        }


def student_for(arm: str, teacher: BertForMaskedLM, settings: Settings):
    if arm == "random_init":
        torch.manual_seed(harness.seed_for(settings.seed, "random_init"))
        config = student_config(teacher.config, len(settings.student_layers))
        return DistilBertForMaskedLM(config)
    return init_student_from_teacher(teacher, settings.student_layers)


def alphas_for(arm: str, settings: Settings) -> dict:
    if arm == "no_soft":
        return {"alpha_ce": 0.0}
    if arm == "no_t2":
        # soft_target_loss multiplies the KL by T²; dividing its weight by T²
        # gives α_ce · KL, the loss without Hinton's factor
        return {"alpha_ce": settings.alpha_ce / settings.temperature**2}
    return {}


# ---- size and speed ----


def parameters(model) -> dict:
    """Every parameter once (tied weights count once), and those of the
    transformer layers alone."""
    layers = (
        model.bert.encoder
        if isinstance(model, BertForMaskedLM)
        else model.distilbert.transformer
    )
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "layers": sum(p.numel() for p in layers.parameters()),
    }


@torch.no_grad()
def speed(models: dict, ids: torch.Tensor, repeats: int) -> dict:
    """Encoder forward time (the last hidden states, no head, as for a
    downstream task), batch 1 and batch of all `ids`; the models alternate, so
    that load on the machine hits both alike."""
    attention = (ids != PAD).long()
    single = {"input_ids": ids[:1], "attention_mask": attention[:1]}
    full = {"input_ids": ids, "attention_mask": attention}
    encoders = {
        name: m.bert if isinstance(m, BertForMaskedLM) else m.distilbert
        for name, m in models.items()
    }
    times = {name: {"single": [], "batch": []} for name in models}
    for r in range(repeats + 2):  # two warm-up rounds
        for name, encoder in encoders.items():
            for kind, inputs in (("single", single), ("batch", full)):
                start = time.perf_counter()
                encoder(**inputs)
                if r >= 2:
                    times[name][kind].append(time.perf_counter() - start)
    tokens = int(attention.sum())
    return {
        name: {
            "latency_ms": 1000 * statistics.median(t["single"]),
            "latency_tokens": int(attention[0].sum()),
            "tokens_per_s": tokens / statistics.median(t["batch"]),
            "batch": list(ids.shape),
        }
        for name, t in times.items()
    }


# ---- the experiment ----


def _shown(path: Path) -> str:
    """The path relative to the repository when inside it: no machine's
    directory layout in the committed JSON."""
    path = path.resolve()
    if path.is_relative_to(cli.ROOT):
        return str(path.relative_to(cli.ROOT))
    return str(path)


def load_teacher(teacher_settings, data, teacher_runs: Path):
    """Experiment 2's dynamic model: its finished checkpoint, or the same run
    trained again. Returns the model and how it was obtained."""
    result = teacher_experiment.train_arm(
        "dynamic", teacher_settings, data, teacher_runs, reuse_finished=True
    )
    steps_run = result.summary["steps_run"]
    if steps_run == 0:
        source = "checkpoint"
    elif steps_run == teacher_settings.steps:
        source = "retrained"
    else:
        source = "resumed"
    return result.model.eval(), {
        "source": source,
        "run_dir": _shown(teacher_runs / "dynamic"),
        "steps_run_here": steps_run,
        "settings": dataclasses.asdict(teacher_settings),
    }


def run(
    settings: Settings, teacher_settings, runs: Path, teacher_runs: Path
) -> dict:
    start = time.perf_counter()
    data = teacher_experiment.prepare(teacher_settings)
    teacher_pt, teacher_info = load_teacher(teacher_settings, data, teacher_runs)
    teacher_info["wall_s"] = time.perf_counter() - start
    teacher = masked_lm(teacher_pt)
    held_out = data.eval_batches["held_out"]
    main = harness.init_process().is_main
    scores = {}
    if main:
        scores["teacher"] = teacher_experiment.token_scores(teacher_pt, held_out)
        scores["student_at_init"] = teacher_experiment.token_scores(
            init_student_from_teacher(teacher, settings.student_layers).eval(),
            held_out,
        )
    results = {
        "name": NAME,
        "settings": dataclasses.asdict(settings),
        "paper": PAPER,
        "teacher": teacher_info,
        "data": data.info,
        "runs": {},
    }
    for arm in ARMS:
        arm_start = time.perf_counter()
        student = student_for(arm, teacher, settings)
        objective = Distil(teacher, settings, **alphas_for(arm, settings))
        dataset = DynamicMasking(
            data.train_ids,
            mask_token_id=MASK,
            vocab_size=data.vocab_size,
            special_tokens_mask=teacher_experiment.special_tokens(data.train_ids),
            seed=harness.seed_for(settings.seed, NAME),
        )
        config = harness.TrainConfig(
            steps=settings.steps,
            batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=round(settings.steps * settings.warmup_fraction),
            weight_decay=settings.weight_decay,
            max_grad_norm=settings.max_grad_norm,
            seed=settings.seed,
            log_every=max(settings.steps // 40, 1),
            checkpoint_every=max(settings.steps // 4, 1),
            identity=json.dumps(
                [NAME, arm, dataclasses.asdict(settings), teacher_info["settings"]]
            ),
        )

        def evaluate(model, arm=arm) -> dict:
            scores[arm] = teacher_experiment.token_scores(model, held_out)
            return {"held_out": teacher_experiment.summary(*scores[arm])}

        result = harness.train(
            student,
            dataset,
            objective,
            config,
            runs / arm,
            evaluate=evaluate,
            name=f"{NAME}:{arm}",
        )
        results["runs"][arm] = {
            "alphas": objective.alphas,
            "eval": result.evals[-1],
            "history": result.history,
            "summary": result.summary,
            "wall_s": time.perf_counter() - arm_start,
        }
    if main:
        results["held_out"] = {
            name: teacher_experiment.summary(*s) for name, s in scores.items()
        }
        results["minus_triple"] = {
            name: teacher_experiment.paired(scores["triple"], scores[name])
            for name in scores
            if name != "triple"
        }
        student = init_student_from_teacher(teacher, settings.student_layers)
        results["size"] = {
            "teacher": parameters(teacher),
            "student": parameters(student),
        }
        results["speed"] = speed(
            {"teacher": teacher, "student": student.eval()},
            data.held_ids[:32],
            settings.speed_repeats,
        )
        results["verdict"] = verdict(results)
    results["wall_s"] = time.perf_counter() - start
    results["machine"] = machine_info()
    return results


def verdict(results: dict) -> dict:
    """Table 4's direction: every ablation is worse than the triple loss. Here,
    worse means a higher held-out MLM loss than the triple-loss student by more
    than 2 standard errors of the paired difference."""
    out = {}
    for arm in ARMS[1:]:
        d = results["minus_triple"][arm]
        if d["loss"] > 2 * d["loss_se"]:
            out[arm] = "worse"
        elif d["loss"] < -2 * d["loss_se"]:
            out[arm] = "better"
        else:
            out[arm] = "no difference beyond 2 standard errors"
    reproduces = {
        arm: out[arm] == "worse"
        for arm in ARMS[1:]
        if PAPER["glue_change"][arm] is not None
    }
    size, speed_ = results["size"], results["speed"]
    return {
        "ablations": out,
        "direction_reproduces": reproduces,
        "student_smaller": size["student"]["total"] < size["teacher"]["total"],
        "student_faster": speed_["student"]["tokens_per_s"]
        > speed_["teacher"]["tokens_per_s"],
    }


# ---- outputs ----


def table(results: dict) -> str:
    """The Markdown table the DistilBERT page includes: ours beside Table 4."""
    fmt = teacher_experiment.fmt
    rows = [
        "| Student | Held-out MLM loss | Held-out MLM accuracy (%) | "
        "Change against the triple loss: loss; accuracy (points) | "
        "Paper: change in GLUE macro-score (Table 4) |",
        "|---|---:|---:|---:|---:|",
    ]
    held, minus = results["held_out"], results["minus_triple"]
    for arm in ARMS:
        paper = PAPER["glue_change"][arm]
        if arm == "triple":
            change, paper_cell = "", "reference"
        else:
            d = minus[arm]
            change = (
                f"{d['loss']:+.3f} ± {d['loss_se']:.3f}; "
                f"{d['accuracy']:+.1f} ± {d['accuracy_se']:.1f}"
            )
            paper_cell = "not in Table 4" if paper is None else f"{paper:+.2f}"
        rows.append(
            f"| {LABELS[arm]} | {fmt(held[arm])} | "
            f"{fmt(held[arm], 'accuracy', 1)} | {change} | {paper_cell} |"
        )
    for name, label in (
        ("student_at_init", "*teacher layers, before distillation*"),
        ("teacher", "*the teacher (experiment 2), twice as deep*"),
    ):
        d = minus[name]
        rows.append(
            f"| {label} | {fmt(held[name])} | {fmt(held[name], 'accuracy', 1)} "
            f"| {d['loss']:+.3f} ± {d['loss_se']:.3f}; "
            f"{d['accuracy']:+.1f} ± {d['accuracy_se']:.1f} | |"
        )
    s, t, data = results["settings"], results["teacher"], results["data"]
    m = results["machine"]
    tokens_per_s = results["runs"]["triple"]["summary"]["tokens_per_s"]
    source = {
        "checkpoint": "loaded from experiment 2's checkpoint",
        "retrained": "retrained here with experiment 2's settings",
        "resumed": "finished here from experiment 2's interrupted run",
    }[t["source"]]
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: masked-LM cross-entropy (nats) and accuracy ± one standard "
        f"error over {held['triple']['n']:,} masked tokens of experiment 2's "
        f"held-out Brown sequences; changes are paired over the same tokens. "
        f"Each student: {s['steps']} steps of {s['batch_size']} sequences of "
        f"the teacher's {data['slice_sequences']}-sequence training slice, "
        f"fresh masks every epoch, learning rate {s['learning_rate']:g}; "
        f"α = ({s['alpha_ce']:g}, {s['alpha_mlm']:g}, {s['alpha_cos']:g}), "
        f"T = {s['temperature']:g}, every term at the masked positions; "
        f"about {tokens_per_s:,.0f} tokens/s. Teacher: {source}. "
        f"{results['wall_s'] / 60:.1f} min in all on {m['cpu']} ({torch_threads(m)}"
        f"{load_note(m)}), "
        f"{m['date']}. Paper: {PAPER['source']}.\n"
    )


def size_table(results: dict) -> str:
    size, speed_ = results["size"], results["speed"]
    rows = [
        "| Model | Parameters | In the transformer layers | "
        "Latency, 1 sequence (ms) | Throughput (tokens/s) | "
        "Paper (Table 3): parameters, inference time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    names = {"teacher": "teacher: BERT, 4 layers", "student": "student: 2 layers"}
    for name in ("teacher", "student"):
        p, v = size[name], speed_[name]
        rows.append(
            f"| {names[name]} | {p['total']:,} | {p['layers']:,} | "
            f"{v['latency_ms']:.1f} | {v['tokens_per_s']:,.0f} | "
            f"{PAPER['parameters_millions'][name]}M, "
            f"{PAPER['inference_s'][name]} s |"
        )
    t, s = size["teacher"]["total"], size["student"]["total"]
    lt, ls = speed_["teacher"]["latency_ms"], speed_["student"]["latency_ms"]
    tt, ts = speed_["teacher"]["tokens_per_s"], speed_["student"]["tokens_per_s"]
    batch = speed_["teacher"]["batch"]
    return (
        "\n".join(rows)
        + "\n\n"
        + f"Ours: the student has {100 * s / t:.0f}% of the teacher's parameters "
        f"(the paper's: {100 * 66 / 110:.0f}%); its encoder runs "
        f"{lt / ls:.2f}× as fast on one sequence of "
        f"{speed_['teacher']['latency_tokens']} tokens and {ts / tt:.2f}× on a "
        f"batch of {batch[0]} × {batch[1]} (the paper's CPU time: "
        f"{668 / 410:.2f}×). Medians of {results['settings']['speed_repeats']} "
        f"timed forward passes of the encoder alone, the two models alternating, "
        f"{torch_threads(results['machine'])}. Paper: Table 3, "
        f"a full pass over the STS-B dev set on CPU with batch size 1.\n"
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
            [
                r["mlm"] / results["runs"][arm]["alphas"]["alpha_mlm"]
                for r in history
            ],
            label=LABELS[arm],
        )
    curve.set_xlabel("training step")
    curve.set_ylabel("MLM loss of the student (train)")
    curve.legend(fontsize=7)
    # paired differences: the per-token spread of two models' losses is shared,
    # so these error bars are much tighter than the losses' own
    minus = results["minus_triple"]
    names = [*ARMS[1:], "student_at_init", "teacher"]
    labels = [
        LABELS.get(n, {"student_at_init": "before distillation"}.get(n, n))
        for n in names
    ]
    bars.barh(
        range(len(names)),
        [minus[n]["loss"] for n in names],
        xerr=[2 * minus[n]["loss_se"] for n in names],
        color=["tab:blue"] * (len(ARMS) - 1) + ["tab:gray", "tab:green"],
    )
    bars.axvline(0, color="black", lw=0.8)
    bars.set_yticks(range(len(names)), labels, fontsize=8)
    bars.invert_yaxis()
    bars.set_xlabel(
        "held-out MLM loss minus the triple-loss student's\n"
        "(paired, ± 2 standard errors; right is worse)"
    )
    cli.save_svg(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = cli.arguments(__doc__)
    parser.add_argument(
        "--teacher-runs",
        type=Path,
        help="experiment 2's runs folder, where its dynamic arm's checkpoint is "
        "(default: experiment 2's own default)",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    teacher_settings = (
        teacher_experiment.QUICK if args.quick else teacher_experiment.Settings()
    )
    if args.steps:
        settings = dataclasses.replace(settings, steps=args.steps)
    out, runs = cli.folders(args, NAME)
    teacher_runs = args.teacher_runs or teacher_experiment.runs_dir(args.quick)
    results = run(settings, teacher_settings, runs, teacher_runs)
    tables = {
        f"_{NAME}_table.md": table(results),
        f"_{NAME}_size_table.md": size_table(results),
    }
    cli.publish(results, out, NAME, tables, plot)
    return results


if __name__ == "__main__":
    main()
