"""Soft-target distillation loss (Hinton et al. 2015, §2) and DistilBERT's triple
loss (Sanh et al. 2019, §2, "Training loss").

The student matches the teacher's *softened* distribution. Both sets of logits are
divided by a temperature T before the softmax:

    p_i = softmax(t_i / T),   q_i = softmax(s_i / T)
    L_soft = T² · (1/N) Σ_i KL(p_i ‖ q_i)          over the N selected positions

A higher T exposes the relative probabilities the teacher gives to wrong classes.
The gradient with respect to the student logits is T (q_i − p_i) / N. Without the
T² factor it would shrink like 1/T² as T grows (Hinton et al. §2), so T² keeps the
soft loss comparable to the hard-label loss at any temperature.

DistilBERT trains with L = α_ce · L_soft + α_mlm · L_MLM + α_cos · L_cos, where
L_cos aligns the directions of the student's and teacher's last hidden states. The
paper gives no weights and no temperature. The first training command in the README
of transformers' examples/research_projects/distillation uses α = (5, 2, 1) (its
multi-GPU example uses 0.33 for each), with T = 2 (train.py's default).

Every loss here returns the student's float dtype and computes in float32 (float64
for float64 inputs). A loss over zero selected positions is 0, still connected to
the graph (its gradient is zero), never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from snippets._checks import check_positive_int
from snippets.masking import IGNORE_INDEX


def _check_temperature(temperature: object) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(
            f"temperature must be a float, got {type(temperature).__name__}"
        )
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be finite and > 0, got {temperature}")
    return float(temperature)


def _check_float(x: object, name: str, ndim: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {x.dtype}")
    if (ndim is not None and x.dim() != ndim) or x.dim() < 1 or x.shape[-1] == 0:
        expected = f"{ndim}-D" if ndim is not None else "at least 1-D"
        raise ValueError(
            f"{name} must be {expected} with a non-empty last dimension, "
            f"got shape {tuple(x.shape)}"
        )
    return x


def _check_mask(
    mask: object, shape: torch.Size, name: str, device: torch.device
) -> torch.Tensor | None:
    """None, or a bool (or 0/1 integer) mask of `shape`, as bool on `device`."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != shape:
        raise ValueError(
            f"{name} must have shape {tuple(shape)}, got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if mask.is_floating_point() or mask.is_complex():
            raise TypeError(
                f"{name} must be a bool or 0/1 integer mask, got {mask.dtype}"
            )
        if mask.numel() and (mask.min() < 0 or mask.max() > 1):
            raise ValueError(f"{name} must hold only 0 and 1")
    return mask.to(device=device, dtype=torch.bool)


def _compute_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (half precision loses the
    small probabilities that distillation is about)."""
    wide = any(t.dtype == torch.float64 for t in tensors)
    return torch.float64 if wide else torch.float32


def _zero(*tensors: torch.Tensor) -> torch.Tensor:
    """A zero loss in the graph of `tensors` (zero gradient). One element of each,
    times 0: summing a whole half-precision tensor first could overflow to inf."""
    return sum(t.reshape(-1)[:1].float().sum() * 0.0 for t in tensors)


def _kl_rows(
    s: torch.Tensor, t: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(Σ over rows of KL(p ‖ q), q, p) for [N, V] logits, p = softmax(t/T) and
    q = softmax(s/T)."""
    log_q = F.log_softmax(s / temperature, -1)
    log_p = F.log_softmax(t / temperature, -1)
    p = log_p.exp()
    # A class with no teacher mass adds nothing, whatever the student gives it. With
    # -inf in both logits (a padded vocabulary), p · (log p − log q) is 0 · nan.
    kl = (p * torch.where(p > 0, log_p - log_q, 0.0)).sum()
    return kl, log_q.exp(), p


# --8<-- [start:core]
def soft_target_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 2.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over positions [...]; `mask`
    [...] selects the positions. Returned in the student's dtype."""
    temperature = _check_temperature(temperature)
    _check_float(student_logits, "student_logits")
    _check_float(teacher_logits, "teacher_logits")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must have the same shape, got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    keep = _check_mask(
        mask, student_logits.shape[:-1], "mask", student_logits.device
    )
    s, t = student_logits, teacher_logits.detach()  # the teacher is a fixed target
    if keep is not None:
        s, t = s[keep], t[keep]
    s, t = s.reshape(-1, s.shape[-1]), t.reshape(-1, t.shape[-1])
    if s.shape[0] == 0:  # no position selected
        return _zero(student_logits).to(student_logits.dtype)
    dtype = _compute_dtype(s, t)
    kl = _kl_rows(s.to(dtype), t.to(dtype), temperature)[0] / s.shape[0]
    # T² keeps gradients comparable across temperatures
    return (kl * temperature**2).to(student_logits.dtype)


# --8<-- [end:core]


class DistillationLoss(NamedTuple):
    total: torch.Tensor
    soft: torch.Tensor
    mlm: torch.Tensor
    cos: torch.Tensor


def _check_weight(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def _model_output(out: object, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [B, L, V], last hidden states [B, L, H]) of a model output."""
    if not hasattr(out, "logits") or not hasattr(out, "hidden_states"):
        raise TypeError(
            f"{name} must be a model output with .logits and .hidden_states, got "
            f"{type(out).__name__}"
        )
    hidden = out.hidden_states
    if isinstance(hidden, (tuple, list)) and hidden:
        hidden = hidden[-1]
    if not isinstance(hidden, torch.Tensor):
        raise TypeError(
            f"{name}.hidden_states must be the hidden states (run the model with "
            f"output_hidden_states=True), got {type(out.hidden_states).__name__}"
        )
    logits = _check_float(out.logits, f"{name}.logits", ndim=3)
    hidden = _check_float(hidden, f"{name}.hidden_states", ndim=3)
    if hidden.shape[:2] != logits.shape[:2]:
        raise ValueError(
            f"{name}.hidden_states must be [B, L, H] with the logits' B and L "
            f"{tuple(logits.shape[:2])}, got {tuple(hidden.shape)}"
        )
    return logits, hidden


def _check_triple(student_out, teacher_out, labels, attention_mask, **alphas):
    """The logits and last hidden states of both models, the labels as int64 and
    the attention mask as bool (all True when None), checked; and the weights."""
    if not sum(_check_weight(value, name) for name, value in alphas.items()):
        raise ValueError(f"{', '.join(alphas)} are all 0: nothing to train on")
    s_logits, s_hidden = _model_output(student_out, "student_out")
    t_logits, t_hidden = _model_output(teacher_out, "teacher_out")
    pairs = [("logits", s_logits, t_logits), ("hidden_states", s_hidden, t_hidden)]
    for what, s, t in pairs:
        if s.shape != t.shape:
            raise ValueError(
                f"student_out.{what} and teacher_out.{what} must have the same "
                f"shape, got {tuple(s.shape)} and {tuple(t.shape)}"
            )
    labels = _check_labels(labels, s_logits.shape[:2], s_logits.shape[-1])
    labels = labels.to(s_logits.device)
    positions = _check_mask(
        attention_mask, labels.shape, "attention_mask", s_logits.device
    )
    if positions is None:
        positions = torch.ones_like(labels, dtype=torch.bool)
    return s_logits, s_hidden, t_logits, t_hidden, labels, positions


def _check_labels(
    labels: object, shape: torch.Size, vocab_size: int
) -> torch.Tensor:
    """MLM labels of `shape`: ids in [0, vocab_size) or -100, as int64."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"labels must be a torch.Tensor, got {type(labels).__name__}"
        )
    if (
        labels.is_floating_point()
        or labels.is_complex()
        or labels.dtype == torch.bool
    ):
        raise TypeError(
            f"labels must be integer class ids, got dtype {labels.dtype}"
        )
    if labels.shape != shape:
        raise ValueError(
            f"labels must have the logits' [B, L] shape {tuple(shape)}, got "
            f"{tuple(labels.shape)}"
        )
    labels = labels.long()
    bad = (labels != IGNORE_INDEX) & ((labels < 0) | (labels >= vocab_size))
    if bad.any():
        raise ValueError(
            f"labels must be {IGNORE_INDEX} or ids in [0, {vocab_size}), got "
            f"{labels[bad][0].item()}"
        )
    return labels


def _masked_lm(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose label is not -100, in the
    logits' dtype; 0 when there is none."""
    chosen = labels != IGNORE_INDEX
    if not chosen.any():
        return _zero(logits).to(logits.dtype)
    s = logits[chosen]
    return F.cross_entropy(s.to(_compute_dtype(s)), labels[chosen]).to(s.dtype)


def _cosine(s_hidden: torch.Tensor, t_hidden: torch.Tensor) -> torch.Tensor:
    """Mean of 1 − cos(h_s, h_t) over the rows, as torch's CosineEmbeddingLoss
    with target 1 (the reference's), computed in float32: a half-precision squared
    norm overflows once the entries pass 256. Returned in float32 or float64."""
    dtype = _compute_dtype(s_hidden, t_hidden)
    if s_hidden.shape[0] == 0:
        return _zero(s_hidden).to(dtype)
    s, t = s_hidden.to(dtype), t_hidden.to(dtype)
    return F.cosine_embedding_loss(s, t, s.new_ones(s.shape[0]))


# --8<-- [start:triple]
def distillation_loss(
    student_out,
    teacher_out,
    labels: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    *,
    alpha_ce: float = 5.0,
    alpha_mlm: float = 2.0,
    alpha_cos: float = 1.0,
    temperature: float = 2.0,
) -> DistillationLoss:
    """DistilBERT's triple loss from model outputs with `.logits` [B, L, V] and
    `.hidden_states` (run the models with output_hidden_states=True).

    The soft loss and the cosine loss count the non-padding positions
    (`attention_mask`); the MLM loss counts the masked positions (`labels` !=
    -100). Each part is 0 when it has no position. (distiller.py's
    --restrict_ce_to_mask is soft_target_loss with mask=labels != -100.)
    """
    s_logits, s_hidden, t_logits, t_hidden, labels, positions = _check_triple(
        student_out,
        teacher_out,
        labels,
        attention_mask,
        alpha_ce=alpha_ce,
        alpha_mlm=alpha_mlm,
        alpha_cos=alpha_cos,
    )
    soft = soft_target_loss(
        s_logits, t_logits, temperature=temperature, mask=positions
    )
    mlm = _masked_lm(s_logits, labels)  # over labels != -100
    cos = _cosine(s_hidden[positions], t_hidden[positions].detach())
    cos = cos.to(s_logits.dtype)  # every part in the student logits' dtype
    total = alpha_ce * soft + alpha_mlm * mlm + alpha_cos * cos
    return DistillationLoss(total, soft, mlm, cos)


# --8<-- [end:triple]


@contextmanager
def _modes(*settings: tuple[nn.Module, bool]) -> Iterator[None]:
    """Put each module in train (True) or eval (False) mode, and give every
    submodule back its own mode afterwards: the caller's modules stay as is."""
    saved = [(m, m.training) for module, _ in settings for m in module.modules()]
    try:
        for module, training in settings:
            module.train(training)
        yield
    finally:
        for m, training in saved:
            m.training = training


# --8<-- [start:step]
def kd_step(
    teacher: nn.Module,
    student: nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    temperature: float = 2.0,
) -> float:
    """One distillation step on `batch` (model inputs, e.g. input_ids and
    attention_mask); updates the student through `optimizer`, returns the loss.

    The minimal step of Hinton et al.: the soft loss only. DistilBERT's
    distiller.py also adds the MLM and cosine terms (`distillation_loss`),
    accumulates gradients and clips their norm (5 by default in its train.py).
    """
    temperature = _check_temperature(temperature)
    for model, name in [(teacher, "teacher"), (student, "student")]:
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"{name} must be an nn.Module, got {type(model).__name__}"
            )
    if not isinstance(batch, dict) or not batch:
        raise TypeError("batch must be a non-empty dict of model inputs")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, got {optimizer!r}"
        )
    # Teacher without dropout (its targets must be deterministic), student in
    # training mode; both get their own modes back afterwards.
    with _modes((teacher, False), (student, True)):
        with torch.no_grad():  # the teacher is fixed: no graph, no gradients
            teacher_logits = teacher(**batch).logits
        student_logits = student(**batch).logits
        loss = soft_target_loss(
            student_logits,
            teacher_logits,
            temperature=temperature,
            mask=batch.get("attention_mask"),
        )
        if not torch.isfinite(loss):  # never write NaN into the student
            raise ValueError(f"the loss on this batch is {loss.item()}; no update")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


# --8<-- [end:step]


# --8<-- [start:chunked]
class _ChunkedSoftTarget(torch.autograd.Function):
    """Forward computes the loss *and* its gradients chunk by chunk, so no [N, V]
    tensor outlives a chunk."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, teacher, temperature, chunk_size):
        n, dtype = hidden.shape[0], _compute_dtype(hidden, weight, *teacher)
        h_all, w = hidden.to(dtype), weight.to(dtype)
        b = None if bias is None else bias.to(dtype)
        loss = hidden.new_zeros((), dtype=dtype)
        grad_hidden = torch.zeros_like(hidden, dtype=dtype)
        grad_weight = torch.zeros_like(weight, dtype=dtype)
        grad_bias = None if bias is None else torch.zeros_like(b)
        for start in range(0, n, chunk_size):  # a loop over chunks, not tokens
            rows = slice(start, start + chunk_size)
            h = h_all[rows]
            s = h @ w.T if b is None else torch.addmm(b, h, w.T)  # [chunk, V]
            if len(teacher) == 1:  # the teacher's logits
                t = teacher[0][rows].to(dtype)
            else:  # the teacher's hidden states and head, one chunk at a time
                t_bias = None if len(teacher) == 2 else teacher[2].to(dtype)
                t = teacher[0][rows].to(dtype) @ teacher[1].to(dtype).T
                t = t if t_bias is None else t + t_bias
            kl, q, p = _kl_rows(s, t, temperature)
            loss += kl
            dz = (q - p) * (temperature / n)  # dL/d(student logits) = T (q - p) / N
            grad_hidden[rows] = dz @ w
            grad_weight += dz.T @ h
            if grad_bias is not None:
                grad_bias += dz.sum(0)
        ctx.save_for_backward(
            grad_hidden.to(hidden.dtype),
            grad_weight.to(weight.dtype),
            None if bias is None else grad_bias.to(bias.dtype),
        )
        return (loss * temperature**2 / n).to(hidden.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        grads = [
            None if g is None else (g * grad_output).to(g.dtype)
            for g in ctx.saved_tensors
        ]
        return (*grads, None, None, None)


def chunked_soft_target_loss(
    student_hidden: torch.Tensor,
    student_head_weight: torch.Tensor,
    teacher: torch.Tensor | tuple[torch.Tensor, ...],
    *,
    student_head_bias: torch.Tensor | None = None,
    temperature: float = 2.0,
    chunk_size: int = 1024,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """`soft_target_loss(student_hidden @ student_head_weight.T + student_head_bias,
    teacher_logits)` without materializing [N, V]; in the student's dtype.

    `teacher` is its logits [N, V], or (teacher_hidden [N, H_t], teacher_head_weight
    [V, H_t]) with an optional third element teacher_head_bias [V]; with the tuple,
    the teacher's logits are also computed one chunk at a time.
    """
    temperature = _check_temperature(temperature)
    chunk_size = check_positive_int(chunk_size, "chunk_size")
    hidden = _check_float(student_hidden, "student_hidden", ndim=2)
    weight = _check_float(student_head_weight, "student_head_weight", ndim=2)
    if hidden.shape[1] != weight.shape[1]:
        raise ValueError(
            "student_hidden [N, H] and student_head_weight [V, H] must share H, "
            f"got {tuple(hidden.shape)} and {tuple(weight.shape)}"
        )
    N, V = hidden.shape[0], weight.shape[0]
    bias = student_head_bias
    if bias is not None and _check_float(bias, "student_head_bias").shape != (V,):
        raise ValueError(
            f"student_head_bias must be [V={V}], got {tuple(bias.shape)}"
        )
    teacher = _check_teacher(teacher, N, V)
    keep = _check_mask(mask, torch.Size([N]), "mask", hidden.device)
    if keep is not None:
        hidden = hidden[keep]
        teacher = (teacher[0][keep], *teacher[1:])
    if hidden.shape[0] == 0:  # no position selected
        tensors = [student_hidden, weight] + ([] if bias is None else [bias])
        return _zero(*tensors).to(student_hidden.dtype)
    return _ChunkedSoftTarget.apply(
        hidden, weight, bias, teacher, temperature, chunk_size
    )


# --8<-- [end:chunked]


def _check_teacher(teacher: object, N: int, V: int) -> tuple[torch.Tensor, ...]:
    """(logits,) or (hidden, weight) or (hidden, weight, bias), detached."""
    if isinstance(teacher, torch.Tensor):
        if _check_float(teacher, "teacher", ndim=2).shape != (N, V):
            raise ValueError(
                f"teacher logits must be [N, V] = {(N, V)}, got "
                f"{tuple(teacher.shape)}"
            )
        return (teacher.detach(),)
    if not isinstance(teacher, tuple) or len(teacher) not in (2, 3):
        raise TypeError(
            "teacher must be its logits [N, V] or a tuple (teacher_hidden, "
            "teacher_head_weight[, teacher_head_bias]), got "
            f"{type(teacher).__name__}"
        )
    names = ["teacher_hidden", "teacher_head_weight", "teacher_head_bias"]
    parts = [
        _check_float(x, f"teacher[{i}] ({names[i]})", ndim=2 if i < 2 else 1)
        for i, x in enumerate(teacher)
    ]
    shapes = [tuple(x.shape) for x in parts]
    if (
        shapes[0][0] != N
        or shapes[1][0] != V
        or shapes[0][1] != shapes[1][1]
        or (len(shapes) == 3 and shapes[2] != (V,))
    ):
        raise ValueError(
            f"teacher tuple must be [N={N}, H_t], [V={V}, H_t] and optionally "
            f"[V={V}], got {shapes}"
        )
    return tuple(x.detach() for x in parts)
