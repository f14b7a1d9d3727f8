"""Soft-target distillation loss (Hinton et al. 2015, §2) and DistilBERT's triple loss (Sanh et al. 2019, §3).

The student matches the teacher's *softened* distribution. Both sets of logits are divided by a
temperature T before the softmax:

    p_i = softmax(t_i / T),   q_i = softmax(s_i / T)
    L_soft = T² · (1/N) Σ_i KL(p_i ‖ q_i)          over the N selected positions

A higher T exposes the teacher's "dark knowledge", the relative probabilities of wrong classes.
The gradient with respect to the student logits is T (q_i − p_i) / N. Without the T² factor it
would shrink like 1/T² as T grows (Hinton et al. §2), so T² keeps the soft loss comparable
to the hard-label loss at any temperature.

DistilBERT trains with L = α_ce · L_soft + α_mlm · L_MLM + α_cos · L_cos, where L_cos aligns the
directions of the student's and teacher's last hidden states. The release used α = (5, 2, 1)
and T = 2.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from snippets.masking import IGNORE_INDEX


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(
            f"temperature must be a float, got {type(temperature).__name__}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return float(temperature)


def _select(
    mask: torch.Tensor | None, shape: torch.Size, name: str = "mask"
) -> torch.Tensor | None:
    if mask is None:
        return None
    if mask.shape != shape:
        raise ValueError(
            f"{name} must have the logits' leading shape {tuple(shape)}, got {tuple(mask.shape)}"
        )
    return mask.bool()


# --8<-- [start:core]
def soft_target_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 2.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """T² · KL(softmax(t/T) ‖ softmax(s/T)), averaged over positions; `mask` [...] selects the positions."""
    temperature = _check_temperature(temperature)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have the same shape, got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)}"
        )
    keep = _select(mask, student_logits.shape[:-1])
    s, t = (
        (student_logits, teacher_logits)
        if keep is None
        else (student_logits[keep], teacher_logits[keep])
    )
    s, t = s.reshape(-1, s.shape[-1]), t.reshape(-1, t.shape[-1])
    if s.shape[0] == 0:
        return (
            student_logits.sum() * 0.0
        )  # no position selected: zero, still differentiable
    # Called on the tensors, not passed to the constructor: KLDivLoss(input=log q, target=p).
    kl = nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(s / temperature, -1), F.softmax(t.detach() / temperature, -1)
    )
    return kl * temperature**2  # keeps gradients comparable across temperatures


# --8<-- [end:core]


class DistillationLoss(NamedTuple):
    total: torch.Tensor
    soft: torch.Tensor
    mlm: torch.Tensor
    cos: torch.Tensor


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
    """DistilBERT's triple loss from model outputs that carry `.logits` [B, L, V] and `.hidden_states`.

    The soft loss and the cosine loss count the non-padding positions (`attention_mask`); the MLM
    loss counts the masked positions (`labels` != -100).
    """
    positions = (
        torch.ones_like(labels, dtype=torch.bool)
        if attention_mask is None
        else attention_mask.bool()
    )
    soft = soft_target_loss(
        student_out.logits,
        teacher_out.logits,
        temperature=temperature,
        mask=positions,
    )
    mlm = F.cross_entropy(
        student_out.logits.flatten(0, 1),
        labels.flatten(),
        ignore_index=IGNORE_INDEX,
    )
    s_hidden, t_hidden = (
        student_out.hidden_states[-1][positions],
        teacher_out.hidden_states[-1][positions].detach(),
    )
    cos = F.cosine_embedding_loss(
        s_hidden, t_hidden, torch.ones(s_hidden.shape[0], device=s_hidden.device)
    )
    return DistillationLoss(
        alpha_ce * soft + alpha_mlm * mlm + alpha_cos * cos, soft, mlm, cos
    )


# --8<-- [end:triple]


# --8<-- [start:step]
def kd_step(
    teacher: nn.Module,
    student: nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    temperature: float = 2.0,
) -> float:
    """One distillation step on `batch` (model inputs, e.g. input_ids and attention_mask); returns the loss."""
    teacher.eval()  # no dropout in the teacher: its targets must be deterministic
    student.train()
    with torch.no_grad():  # the teacher is fixed; no graph, no gradients
        teacher_logits = teacher(**batch).logits
    student_logits = student(**batch).logits
    loss = soft_target_loss(
        student_logits,
        teacher_logits,
        temperature=temperature,
        mask=batch.get("attention_mask"),
    )
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# --8<-- [end:step]


# --8<-- [start:chunked]
class _ChunkedSoftTarget(torch.autograd.Function):
    """Forward computes the loss *and* its gradients chunk by chunk, so no [N, V] tensor outlives a chunk."""

    @staticmethod
    def forward(
        ctx,
        hidden,
        weight,
        teacher_logits,
        teacher_hidden,
        teacher_weight,
        temperature,
        chunk_size,
    ):
        n = hidden.shape[0]
        loss = hidden.new_zeros((), dtype=torch.float32)
        grad_hidden = torch.zeros_like(hidden, dtype=torch.float32)
        grad_weight = torch.zeros_like(weight, dtype=torch.float32)
        w = weight.float()
        for start in range(
            0, n, chunk_size
        ):  # a loop over chunks of rows, not over tokens
            h = hidden[start : start + chunk_size].float()
            t = (
                teacher_logits[start : start + chunk_size]
                if teacher_logits is not None
                else teacher_hidden[start : start + chunk_size] @ teacher_weight.T
            )
            log_q = F.log_softmax(
                h @ w.T / temperature, -1
            )  # [chunk, V], freed next iteration
            log_p = F.log_softmax(t.float() / temperature, -1)
            p = log_p.exp()
            loss += (p * (log_p - log_q)).sum()
            dz = (log_q.exp() - p) * (
                temperature / n
            )  # dL/d(student logits) = T (q - p) / N
            grad_hidden[start : start + chunk_size] = dz @ w
            grad_weight += dz.T @ h
        ctx.save_for_backward(
            grad_hidden.to(hidden.dtype), grad_weight.to(weight.dtype)
        )
        return loss * temperature**2 / n

    @staticmethod
    def backward(ctx, grad_output):
        grad_hidden, grad_weight = ctx.saved_tensors
        return (
            grad_hidden * grad_output,
            grad_weight * grad_output,
            None,
            None,
            None,
            None,
            None,
        )


def chunked_soft_target_loss(
    student_hidden: torch.Tensor,
    student_head_weight: torch.Tensor,
    teacher: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
    *,
    temperature: float = 2.0,
    chunk_size: int = 1024,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """`soft_target_loss(student_hidden @ student_head_weight.T, teacher_logits)` without materializing [N, V].

    `teacher` is its logits [N, V] or a pair (teacher_hidden [N, H_t], teacher_head_weight [V, H_t]);
    with the pair, the teacher's logits are also computed one chunk at a time.
    """
    temperature = _check_temperature(temperature)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if (
        student_hidden.dim() != 2
        or student_head_weight.dim() != 2
        or student_hidden.shape[1] != student_head_weight.shape[1]
    ):
        raise ValueError(
            f"student_hidden [N, H] and student_head_weight [V, H] must share H, got "
            f"{tuple(student_hidden.shape)} and {tuple(student_head_weight.shape)}"
        )
    N, V = student_hidden.shape[0], student_head_weight.shape[0]
    if isinstance(teacher, tuple):
        teacher_logits, (teacher_hidden, teacher_weight) = (
            None,
            (t.detach() for t in teacher),
        )
        if (
            teacher_hidden.shape[0] != N
            or teacher_weight.shape[0] != V
            or teacher_hidden.shape[1] != teacher_weight.shape[1]
        ):
            raise ValueError(
                f"teacher pair must be [N={N}, H_t] and [V={V}, H_t], got {tuple(teacher_hidden.shape)} "
                f"and {tuple(teacher_weight.shape)}"
            )
    else:
        teacher_logits, teacher_hidden, teacher_weight = (
            teacher.detach(),
            None,
            None,
        )
        if teacher_logits.shape != (N, V):
            raise ValueError(
                f"teacher logits must be [N, V] = {(N, V)}, got {tuple(teacher_logits.shape)}"
            )
    keep = _select(mask, torch.Size([N]))
    if keep is not None:
        student_hidden = student_hidden[keep]
        teacher_logits = None if teacher_logits is None else teacher_logits[keep]
        teacher_hidden = None if teacher_hidden is None else teacher_hidden[keep]
    if student_hidden.shape[0] == 0:
        return (student_hidden.sum() + student_head_weight.sum()) * 0.0
    return _ChunkedSoftTarget.apply(
        student_hidden,
        student_head_weight,
        teacher_logits,
        teacher_hidden,
        teacher_weight,
        temperature,
        chunk_size,
    )


# --8<-- [end:chunked]
