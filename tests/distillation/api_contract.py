"""Contract rows for snippets.distillation (see tests/contract.py for the rules).

The expected values are computed here in float64 from the definitions, not by the
functions under test.
"""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from contract import (
    EITHER,
    OK,
    RAISE,
    Row,
    Variant,
    assert_float_dtype,
    floats,
    labels,
    mask,
    module,
    temperature,
    weight,
)
from transformers import BertConfig, BertForMaskedLM, DistilBertConfig

from snippets.distillation.kd_loss import (
    DistillationLoss,
    chunked_soft_target_loss,
    distillation_loss,
    kd_step,
    soft_target_loss,
)
from snippets.distillation.student_init import (
    init_student_from_teacher,
    student_config,
)

B, L, V, H = 3, 6, 40, 8

# ---- kinds for this file ------------------------------------------------------


def floats_kept_by(owner: str):
    """A float tensor beside `owner`: every dtype works, and the result keeps the
    dtype of `owner` (the student's), not this argument's."""

    def kind(arg: str, kw: dict) -> list[Variant]:
        out = []
        for v in floats(arg, kw):
            if v.id.startswith("dtype-") and v.expect == OK:
                v = dataclasses.replace(
                    v, check=lambda r, kw: assert_float_dtype(r, kw[owner].dtype)
                )
            out.append(v)
        return out

    return kind


def rows(owner: str | None = None):
    """A float tensor whose first dimension is not [batch, length] (rows, a bias):
    the float kinds without the [B, L] shape variants."""
    base = floats if owner is None else floats_kept_by(owner)
    shape_ids = {"batch-0", "length-0", "length-1", "length-2"}
    return lambda arg, kw: [v for v in base(arg, kw) if v.id not in shape_ids]


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


def _map(arg, fn):
    return lambda kw: {**kw, arg: fn(kw[arg])}


def row_mask(arg: str, kw: dict) -> list[Variant]:
    """A 1-D bool mask over rows (0/1 integers accepted)."""
    return [
        Variant("int-0-1", _map(arg, lambda t: t.long()), OK),
        Variant("float", _map(arg, lambda t: t.float()), RAISE),
        Variant("values-2", _map(arg, lambda t: t.long() * 2), RAISE),
        Variant("wrong-shape", _map(arg, lambda t: t[:-1]), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("none", _set(arg, None), OK),
        Variant("all-false", _map(arg, lambda t: torch.zeros_like(t)), OK),
    ]


# ---- references, in float64 ----------------------------------------------------


def _kl(s: torch.Tensor, t: torch.Tensor, T: float) -> torch.Tensor:
    """T² · mean over rows of KL(softmax(t/T) ‖ softmax(s/T)); 0 for no rows."""
    if s.shape[0] == 0:
        return torch.zeros((), dtype=torch.float64)
    log_q = F.log_softmax(s.double() / T, -1)
    log_p = F.log_softmax(t.double() / T, -1)
    terms = torch.where(log_p.exp() > 0, log_p.exp() * (log_p - log_q), 0.0)
    return T**2 * terms.sum() / s.shape[0]


def _close(value: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    # float32: the difference of two log-probabilities loses digits at large T
    tol = {torch.float16: 2e-2, torch.bfloat16: 3e-2, torch.float64: 1e-6}.get(
        dtype, 1e-4
    )
    assert math.isclose(float(value), float(expected), rel_tol=tol, abs_tol=tol), (
        float(value),
        float(expected),
    )


def _keep(m: torch.Tensor | None, shape) -> torch.Tensor:
    return torch.ones(shape, dtype=torch.bool) if m is None else m.bool()


# ---- soft_target_loss ---------------------------------------------------------


def _logits_batch() -> dict:
    g = torch.Generator().manual_seed(0)
    attention = torch.ones(B, L, dtype=torch.bool)
    attention[1, 4:] = attention[2, 2:] = False
    return {
        "student_logits": torch.randn(B, L, V, generator=g) * 3,
        "teacher_logits": torch.randn(B, L, V, generator=g) * 3,
        "mask": attention,
    }


def _soft_check(result, kw) -> None:
    s, t = kw["student_logits"], kw["teacher_logits"]
    assert result.shape == () and result.dtype == s.dtype
    keep = _keep(kw.get("mask"), s.shape[:-1])
    expected = _kl(s[keep], t[keep], float(kw.get("temperature", 2.0)))
    _close(result, expected, s.dtype)


def _padded_vocab(kw: dict) -> dict:
    """The last 3 classes are padding: -inf in both logits."""
    s, t = kw["student_logits"].clone(), kw["teacher_logits"].clone()
    s[..., -3:] = t[..., -3:] = -math.inf
    return {**kw, "student_logits": s, "teacher_logits": t}


def _padded_check(result, kw) -> None:
    # the same value as the loss over the unpadded classes, and finite
    s, t = kw["student_logits"][..., :-3], kw["teacher_logits"][..., :-3]
    keep = _keep(kw.get("mask"), s.shape[:-1])
    _close(result, _kl(s[keep], t[keep], 2.0), s.dtype)


SOFT = Row(
    soft_target_loss,
    _logits_batch,
    kinds={
        "student_logits": floats,
        "teacher_logits": floats_kept_by("student_logits"),
        "mask": mask,
        "temperature": temperature,
    },
    aligned=("student_logits", "teacher_logits", "mask"),
    check=_soft_check,
    extra=[
        Variant("mask-none", _set("mask", None), OK, "mask"),
        Variant("padded-vocab", _padded_vocab, OK, check=_padded_check),
        Variant(
            "mismatched-teacher",
            _map("teacher_logits", lambda t: t[:, :-1]),
            RAISE,
            "teacher_logits",
        ),
        Variant(
            "rank-0",
            _set("student_logits", torch.tensor(1.0)),
            RAISE,
            "student_logits",
        ),
    ],
)


# ---- distillation_loss ---------------------------------------------------------

S_LOGITS, T_LOGITS = "student_out.logits", "teacher_out.logits"
S_HIDDEN, T_HIDDEN = "student_out.hidden_states", "teacher_out.hidden_states"


def _triple(**kw):
    """The call: model outputs built from the tensors (or given whole)."""
    outs = {}
    for who in ("student_out", "teacher_out"):
        outs[who] = kw.pop(who, None) or SimpleNamespace(
            logits=kw.pop(f"{who}.logits"),
            hidden_states=(kw.pop(f"{who}.hidden_states"),),
        )
        kw = {k: v for k, v in kw.items() if not k.startswith(f"{who}.")}
    return distillation_loss(outs["student_out"], outs["teacher_out"], **kw)


def _triple_batch() -> dict:
    g = torch.Generator().manual_seed(1)
    batch = _logits_batch()
    label_ids = torch.full((B, L), -100)
    label_ids[0, 1], label_ids[1, 3], label_ids[2, 0] = 5, 7, 39
    return {
        S_LOGITS: batch["student_logits"],
        T_LOGITS: batch["teacher_logits"],
        S_HIDDEN: torch.randn(B, L, H, generator=g),
        T_HIDDEN: torch.randn(B, L, H, generator=g),
        "labels": label_ids,
        "attention_mask": batch["mask"].long(),
        "alpha_ce": 5.0,
        "alpha_mlm": 2.0,
        "alpha_cos": 1.0,
        "temperature": 2.0,
    }


def _triple_check(result, kw) -> None:
    assert isinstance(result, DistillationLoss)
    s, t = kw[S_LOGITS], kw[T_LOGITS]
    dtype = s.dtype
    assert all(x.dtype == dtype and x.shape == () for x in result)
    keep = _keep(kw.get("attention_mask"), s.shape[:2])
    _close(result.soft, _kl(s[keep], t[keep], float(kw["temperature"])), dtype)
    y = kw["labels"].long()
    chosen = y != -100
    mlm = (
        F.cross_entropy(s[chosen].double(), y[chosen])
        if chosen.any()
        else torch.zeros((), dtype=torch.float64)
    )
    _close(result.mlm, mlm, dtype)
    hs, ht = kw[S_HIDDEN][keep].double(), kw[T_HIDDEN][keep].double()
    cos = (1 - F.cosine_similarity(hs, ht, dim=-1)).mean() if len(hs) else 0.0
    _close(result.cos, torch.as_tensor(cos), dtype)
    total = sum(
        kw[a] * float(x)
        for a, x in zip(
            ["alpha_ce", "alpha_mlm", "alpha_cos"], result[1:], strict=True
        )
    )
    _close(result.total, torch.as_tensor(total), dtype)


TRIPLE = Row(
    distillation_loss,
    _triple_batch,
    call=_triple,
    kinds={
        S_LOGITS: floats,
        T_LOGITS: floats_kept_by(S_LOGITS),
        S_HIDDEN: floats_kept_by(S_LOGITS),
        T_HIDDEN: floats_kept_by(S_LOGITS),
        "labels": labels,
        "attention_mask": mask,
        "alpha_ce": weight,
        "alpha_mlm": weight,
        "alpha_cos": weight,
        "temperature": temperature,
    },
    aligned=(S_LOGITS, T_LOGITS, S_HIDDEN, T_HIDDEN, "labels", "attention_mask"),
    check=_triple_check,
    extra=[
        Variant("attention_mask-none", _set("attention_mask", None), OK),
        Variant(
            "labels-vocab_size",
            _map("labels", lambda y: torch.where(y == 39, V, y)),
            RAISE,
            "labels",
        ),
        Variant(
            "labels-mismatched",
            _map("labels", lambda y: y[:, :-1]),
            RAISE,
            "labels",
        ),
        Variant(
            "student_out-no-logits",
            _set("student_out", object()),
            RAISE,
            "student_out",
        ),
        Variant(
            "teacher_out-no-hidden-states",
            lambda kw: {
                **kw,
                "teacher_out": SimpleNamespace(
                    logits=kw[T_LOGITS], hidden_states=None
                ),
            },
            RAISE,
            "teacher_out.hidden_states",
        ),
        Variant(
            "hidden-width-mismatch",
            _map(T_HIDDEN, lambda h: h[..., :-1]),
            RAISE,
            "teacher_out",
        ),
    ],
)


# ---- kd_step -------------------------------------------------------------------


class _Tiny(torch.nn.Module):
    """A model whose output has .logits, with dropout (so its mode matters)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.emb = torch.nn.Embedding(V, H)
        self.emb.weight.data = torch.randn(V, H, generator=g)
        self.drop = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(H, V)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.head(self.drop(self.emb(input_ids))))


def _kd_batch() -> dict:
    teacher, student = _Tiny(0).train(), _Tiny(1).eval()  # the "wrong" modes
    ids = torch.randint(0, V, (B, L), generator=torch.Generator().manual_seed(2))
    attention = torch.ones(B, L, dtype=torch.long)
    attention[2, 3:] = 0
    return {
        "teacher": teacher,
        "student": student,
        "batch": {"input_ids": ids, "attention_mask": attention},
        "optimizer": torch.optim.SGD(student.parameters(), lr=0.1),
        "temperature": 2.0,
    }


def _kd_check(result, kw) -> None:
    assert isinstance(result, float) and math.isfinite(result) and result >= 0
    student = kw["student"]
    assert all(torch.isfinite(p).all() for p in student.parameters())
    assert not student.training  # its own mode, given back


def _batch_kind(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("type-list", _map(arg, lambda b: list(b.values())), RAISE),
        Variant("empty", _set(arg, {}), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
        Variant(
            "all-padding",
            _map(arg, lambda b: {**b, "attention_mask": 0 * b["attention_mask"]}),
            OK,
        ),
        Variant(
            "no-attention-mask",
            _map(arg, lambda b: {"input_ids": b["input_ids"]}),
            OK,
        ),
    ]


def _optimizer_kind(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("type-none", _set(arg, None), RAISE),
        Variant("type-str", _set(arg, "sgd"), RAISE),
    ]


KD_STEP = Row(
    kd_step,
    _kd_batch,
    kinds={
        "teacher": module,
        "student": module,
        "batch": _batch_kind,
        "optimizer": _optimizer_kind,
        "temperature": temperature,
    },
    check=_kd_check,
    mutates=("student",),  # a training step: it updates the student, on purpose
)


# ---- chunked_soft_target_loss --------------------------------------------------

N, HS, HT = 10, 8, 12


def _chunked_batch() -> dict:
    g = torch.Generator().manual_seed(3)
    return {
        "student_hidden": torch.randn(N, HS, generator=g),
        "student_head_weight": torch.randn(V, HS, generator=g),
        "teacher": torch.randn(N, V, generator=g) * 3,
        "student_head_bias": torch.randn(V, generator=g),
        "temperature": 2.0,
        "chunk_size": 4,
        "mask": torch.rand(N, generator=g) < 0.7,
    }


def _teacher_logits(teacher) -> torch.Tensor:
    if isinstance(teacher, torch.Tensor):
        return teacher.double()
    logits = teacher[0].double() @ teacher[1].double().T
    return logits if len(teacher) == 2 else logits + teacher[2].double()


def _chunked_check(result, kw) -> None:
    h = kw["student_hidden"]
    assert result.shape == () and result.dtype == h.dtype
    s = h.double() @ kw["student_head_weight"].double().T
    if kw.get("student_head_bias") is not None:
        s = s + kw["student_head_bias"].double()
    keep = _keep(kw.get("mask"), h.shape[:1])
    t = _teacher_logits(kw["teacher"])
    _close(result, _kl(s[keep], t[keep], float(kw["temperature"])), h.dtype)


def _on_rows(k: int):
    """Keep the first k rows of everything that has N rows."""

    def apply(kw: dict) -> dict:
        teacher = kw["teacher"]
        return {
            **kw,
            "student_hidden": kw["student_hidden"][:k],
            "teacher": teacher[:k],
            "mask": kw["mask"][:k],
        }

    return apply


def _pair(kw: dict, bias: bool = False) -> dict:
    g = torch.Generator().manual_seed(4)
    pair = (torch.randn(N, HT, generator=g), torch.randn(V, HT, generator=g))
    return {**kw, "teacher": (*pair, torch.randn(V, generator=g))[: 2 + bias]}


def _chunked_padded(kw: dict) -> dict:
    """A padded vocabulary: the last 3 classes are -inf for both models."""
    bias, teacher = kw["student_head_bias"].clone(), kw["teacher"].clone()
    bias[-3:] = teacher[:, -3:] = -math.inf
    return {**kw, "student_head_bias": bias, "teacher": teacher}


def _chunked_padded_check(result, kw) -> None:
    s = kw["student_hidden"].double() @ kw["student_head_weight"].double().T
    s = (s + kw["student_head_bias"].double())[:, :-3]
    t, keep = kw["teacher"].double()[:, :-3], kw["mask"]
    _close(result, _kl(s[keep], t[keep], 2.0), torch.float32)


CHUNKED = Row(
    chunked_soft_target_loss,
    _chunked_batch,
    kinds={
        "student_hidden": rows(),
        "student_head_weight": rows("student_hidden"),
        "teacher": rows("student_hidden"),
        "student_head_bias": rows("student_hidden"),
        "temperature": temperature,
        "chunk_size": lambda arg, kw: [
            Variant("value-1", _set(arg, 1), OK),
            Variant("value-larger-than-N", _set(arg, 10_000), OK),
            Variant("value-0", _set(arg, 0), RAISE),
            Variant("type-float", _set(arg, 4.0), RAISE),
            Variant("type-bool", _set(arg, True), RAISE),
            Variant("type-none", _set(arg, None), RAISE),
        ],
        "mask": row_mask,
    },
    check=_chunked_check,
    extra=[
        Variant("rows-0", _on_rows(0), OK, "student_hidden"),
        Variant("rows-1", _on_rows(1), OK, "student_hidden"),
        Variant("rows-2", _on_rows(2), OK, "student_hidden"),
        Variant("bias-none", _set("student_head_bias", None), OK),
        Variant("teacher-pair", _pair, OK),
        Variant("teacher-triple", lambda kw: _pair(kw, bias=True), OK),
        Variant(
            "teacher-pair-mismatched",
            lambda kw: {
                **kw,
                "teacher": (torch.randn(N, HT), torch.randn(V, HT + 1)),
            },
            RAISE,
            "teacher",
        ),
        Variant(
            "teacher-list",
            _map("teacher", lambda t: [torch.randn(N, HT), torch.randn(V, HT)]),
            RAISE,
            "teacher",
        ),
        Variant("padded-vocab", _chunked_padded, OK, check=_chunked_padded_check),
        Variant(
            "rows-mismatched",
            _map("teacher", lambda t: t[:-1]),
            RAISE,
            "teacher",
        ),
    ],
)


# ---- student_config and init_student_from_teacher ------------------------------

TINY_BERT = dict(
    vocab_size=V,
    hidden_size=16,
    num_hidden_layers=4,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)


def _config_kind(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("type-none", _set(arg, None), RAISE),
        Variant("type-dict", _set(arg, dict(TINY_BERT)), RAISE),
        Variant("type-distilbert", _set(arg, DistilBertConfig()), RAISE),
        Variant(
            "untied",
            _set(arg, BertConfig(**TINY_BERT, tie_word_embeddings=False)),
            OK,
        ),
    ]


def _config_check(result, kw) -> None:
    teacher = kw["teacher_config"]
    assert isinstance(result, DistilBertConfig)
    assert (result.dim, result.n_heads, result.hidden_dim, result.vocab_size) == (
        teacher.hidden_size,
        teacher.num_attention_heads,
        teacher.intermediate_size,
        teacher.vocab_size,
    )
    assert result.n_layers == kw["n_layers"]
    assert result.tie_word_embeddings == teacher.tie_word_embeddings


def _count(minimum: int):
    def kind(arg, kw):
        return [
            Variant("value-minimum", _set(arg, minimum), OK),
            Variant("value-below-minimum", _set(arg, minimum - 1), RAISE),
            Variant("type-float", _set(arg, float(kw[arg])), RAISE),
            Variant("type-bool", _set(arg, True), RAISE),
            Variant("type-str", _set(arg, str(kw[arg])), RAISE),
            Variant("type-numpy-int", _set(arg, np.int64(kw[arg])), EITHER),
        ]

    return kind


CONFIG = Row(
    student_config,
    lambda: {"teacher_config": BertConfig(**TINY_BERT), "n_layers": 2},
    kinds={"teacher_config": _config_kind, "n_layers": _count(1)},
    check=_config_check,
)


def _teacher(**config) -> BertForMaskedLM:
    torch.manual_seed(0)
    return BertForMaskedLM(BertConfig(**{**TINY_BERT, **config}))


def _layers_kind(arg: str, kw: dict) -> list[Variant]:
    return [
        Variant("list", _set(arg, [0, 3]), OK),
        Variant("one", _set(arg, (2,)), OK),
        Variant("all", _set(arg, (0, 1, 2, 3)), OK),
        Variant("empty", _set(arg, ()), RAISE),
        Variant("out-of-range", _set(arg, (0, 4)), RAISE),
        Variant("negative", _set(arg, (-1, 2)), RAISE),
        Variant("unsorted", _set(arg, (2, 0)), RAISE),
        Variant("duplicate", _set(arg, (1, 1)), RAISE),
        Variant("type-float", _set(arg, (0.0, 2.0)), RAISE),
        Variant("type-bool", _set(arg, (False, True)), RAISE),
        Variant("type-int", _set(arg, 2), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def _init_check(student, kw) -> None:
    """The teacher's dtype, eps, tying and tensors; the full key-by-key map of
    the reference script is in test_distiller_reference.py."""
    teacher, layers = kw["teacher"], tuple(kw["layers"])
    dtype = teacher.bert.embeddings.word_embeddings.weight.dtype
    assert all(p.dtype == dtype for p in student.parameters())
    eps = teacher.config.layer_norm_eps
    norms = [m for m in student.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.eps == eps for m in norms)
    assert len(student.distilbert.transformer.layer) == len(layers)
    pairs = [
        (
            student.distilbert.embeddings.word_embeddings,
            teacher.bert.embeddings.word_embeddings,
        ),
        (student.vocab_projector, teacher.cls.predictions.decoder),
        *(
            (
                student.distilbert.transformer.layer[k].ffn.lin2,
                teacher.bert.encoder.layer[i].output.dense,
            )
            for k, i in enumerate(layers)
        ),
    ]
    for ours, theirs in pairs:
        assert torch.equal(ours.weight, theirs.weight)
    tied = student.vocab_projector.weight is (
        student.distilbert.embeddings.word_embeddings.weight
    )
    assert tied == teacher.config.tie_word_embeddings


INIT = Row(
    init_student_from_teacher,
    lambda: {"teacher": _teacher(), "layers": (0, 2)},
    kinds={"teacher": module, "layers": _layers_kind},
    check=_init_check,
    extra=[
        Variant(
            "teacher-linear",
            _set("teacher", torch.nn.Linear(2, 2)),
            RAISE,
            "teacher",
        ),
        Variant("teacher-float64", _map("teacher", lambda t: t.double()), OK),
        Variant("teacher-bfloat16", _map("teacher", lambda t: t.bfloat16()), OK),
        Variant(
            "teacher-untied",
            lambda kw: {**kw, "teacher": _teacher(tie_word_embeddings=False)},
            OK,
        ),
        Variant(
            "teacher-eps",
            lambda kw: {**kw, "teacher": _teacher(layer_norm_eps=1e-5)},
            OK,
        ),
    ],
)


ROWS = [SOFT, TRIPLE, KD_STEP, CHUNKED, CONFIG, INIT]
EXEMPT = {
    DistillationLoss: "a NamedTuple of the four losses distillation_loss returns",
}
