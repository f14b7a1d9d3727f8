import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from snippets.distillation.kd_loss import (
    chunked_soft_target_loss,
    distillation_loss,
    kd_step,
    soft_target_loss,
)


def _direct(s, t, T):
    p, q = F.softmax(t / T, -1), F.softmax(s / T, -1)
    return T**2 * (p * (p.log() - q.log())).sum(-1).mean()


@pytest.mark.parametrize("T", [1.0, 2.0, 5.0])
def test_value_equals_the_direct_formula(T):
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(4, 6, 30, generator=g), torch.randn(4, 6, 30, generator=g)
    assert torch.allclose(
        soft_target_loss(s, t, temperature=T),
        _direct(s.flatten(0, 1), t.flatten(0, 1), T),
        atol=1e-6,
    )


def test_gradient_is_t_times_q_minus_p_over_n():
    T, N = 3.0, 12
    s = torch.randn(N, 20, requires_grad=True)
    t = torch.randn(N, 20)
    soft_target_loss(s, t, temperature=T).backward()
    expected = T * (F.softmax(s.detach() / T, -1) - F.softmax(t / T, -1)) / N
    assert torch.allclose(s.grad, expected, atol=1e-6)


def test_t_squared_keeps_gradient_norms_comparable_across_temperatures():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(64, 100, generator=g)
    t = torch.randn(64, 100, generator=g)
    s, t = (
        s - s.mean(-1, keepdim=True),
        t - t.mean(-1, keepdim=True),
    )  # Hinton et al.'s zero-mean logits

    def grad_norm(T, scaled):
        x = s.clone().requires_grad_()
        loss = soft_target_loss(x, t, temperature=T)
        (loss if scaled else loss / T**2).backward()
        return x.grad.norm()

    # with T²: the gradient tends to (s - t) / (N·V), the same at every high T
    assert 0.8 < grad_norm(20.0, True) / grad_norm(5.0, True) < 1.25
    # without it: it shrinks like 1/T² (a factor ~16 from T=5 to T=20)
    assert grad_norm(5.0, False) / grad_norm(20.0, False) > 10


def test_mask_selects_the_positions_that_count():
    s, t = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 0, 0, 0, 1]]).bool()
    assert torch.allclose(
        soft_target_loss(s, t, mask=mask), _direct(s[mask], t[mask], 2.0), atol=1e-6
    )
    garbage = s.clone()
    garbage[~mask] = 1e4  # padding positions must not matter
    assert torch.allclose(
        soft_target_loss(garbage, t, mask=mask), soft_target_loss(s, t, mask=mask)
    )
    assert soft_target_loss(s, t, mask=torch.zeros(2, 5, dtype=torch.bool)) == 0


@pytest.mark.parametrize("teacher_form", ["logits", "pair"])
@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_matches_the_plain_loss_in_value_and_gradients(
    teacher_form, chunk_size
):
    g = torch.Generator().manual_seed(2)
    N, H, Ht, V = 50, 16, 24, 97
    h = torch.randn(N, H, generator=g, requires_grad=True)
    w = torch.randn(V, H, generator=g, requires_grad=True)
    th, tw = torch.randn(N, Ht, generator=g), torch.randn(V, Ht, generator=g)
    mask = torch.rand(N, generator=g) < 0.7
    plain = soft_target_loss(h @ w.T, th @ tw.T, temperature=2.5, mask=mask)
    ref_grads = torch.autograd.grad(plain, (h, w))
    teacher = th @ tw.T if teacher_form == "logits" else (th, tw)
    chunked = chunked_soft_target_loss(
        h, w, teacher, temperature=2.5, chunk_size=chunk_size, mask=mask
    )
    grads = torch.autograd.grad(chunked, (h, w))
    assert torch.allclose(chunked, plain, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads, ref_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-5)


def test_chunked_never_builds_a_full_n_by_v_tensor():
    # Recording every tensor autograd saves is hard; instead a dispatch mode sees
    # every op's output: none may have N·V elements.
    from torch.utils._python_dispatch import TorchDispatchMode

    N, H, V, chunk = 64, 8, 500, 16
    biggest = []

    class Sizes(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for o in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(o, torch.Tensor):
                    biggest.append(o.numel())
            return out

    h, w = (
        torch.randn(N, H, requires_grad=True),
        torch.randn(V, H, requires_grad=True),
    )
    th, tw = torch.randn(N, H), torch.randn(V, H)
    with Sizes():
        chunked_soft_target_loss(h, w, (th, tw), chunk_size=chunk).backward()
    assert max(biggest) <= chunk * V < N * V


def test_triple_loss_weights_its_three_parts():
    g = torch.Generator().manual_seed(3)
    B, L, V, H = 2, 6, 40, 8

    def out():
        return SimpleNamespace(
            logits=torch.randn(B, L, V, generator=g),
            hidden_states=(torch.randn(B, L, H, generator=g),),
        )

    student, teacher = out(), out()
    labels = torch.full((B, L), -100)
    labels[0, 1], labels[1, 3] = 5, 7
    attention = torch.ones(B, L, dtype=torch.long)
    attention[1, 4:] = 0
    loss = distillation_loss(
        student,
        teacher,
        labels,
        attention,
        alpha_ce=5.0,
        alpha_mlm=2.0,
        alpha_cos=1.0,
        temperature=2.0,
    )
    keep = attention.bool()
    assert torch.allclose(
        loss.soft,
        _direct(student.logits[keep], teacher.logits[keep], 2.0),
        atol=1e-6,
    )
    assert torch.allclose(
        loss.mlm,
        F.cross_entropy(student.logits[labels != -100], labels[labels != -100]),
    )
    cos = (
        1
        - F.cosine_similarity(
            student.hidden_states[-1][keep], teacher.hidden_states[-1][keep], dim=-1
        ).mean()
    )
    assert torch.allclose(loss.cos, cos, atol=1e-6)
    assert torch.allclose(loss.total, 5 * loss.soft + 2 * loss.mlm + loss.cos)


class _Tiny(torch.nn.Module):
    def __init__(self, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(30, 16)
        self.drop = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(16, 30)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.head(self.drop(self.emb(input_ids))))


def test_kd_step_freezes_the_teacher_and_trains_the_student():
    teacher, student = _Tiny(0), _Tiny(1)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    batch = {
        "input_ids": torch.randint(0, 30, (4, 8)),
        "attention_mask": torch.ones(4, 8, dtype=torch.long),
    }
    losses = [
        kd_step(teacher, student, batch, optimizer, temperature=2.0)
        for _ in range(30)
    ]
    # each model gets its own mode back; the teacher ran without dropout
    assert teacher.training and student.training
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())
    assert all(p.grad is None for p in teacher.parameters())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    "call, error, match",
    [
        (
            lambda: soft_target_loss(torch.randn(2, 5), torch.randn(2, 6)),
            ValueError,
            "same shape",
        ),
        (
            lambda: soft_target_loss(
                torch.randn(2, 5), torch.randn(2, 5), temperature=0.0
            ),
            ValueError,
            "temperature must be finite and > 0",
        ),
        (
            lambda: soft_target_loss(
                torch.randn(2, 5), torch.randn(2, 5), temperature=-1
            ),
            ValueError,
            "temperature must be finite and > 0",
        ),
        (
            lambda: soft_target_loss(
                torch.randn(2, 5), torch.randn(2, 5), temperature=math.inf
            ),
            ValueError,
            "temperature must be finite",
        ),
        (
            lambda: soft_target_loss(
                torch.randn(2, 5), torch.randn(2, 5), temperature=math.nan
            ),
            ValueError,
            "temperature must be finite",
        ),
        (
            lambda: soft_target_loss(
                torch.randn(2, 5),
                torch.randn(2, 5),
                mask=torch.ones(3, dtype=torch.bool),
            ),
            ValueError,
            "mask",
        ),
        (
            lambda: chunked_soft_target_loss(
                torch.randn(4, 3), torch.randn(5, 2), torch.randn(4, 5)
            ),
            ValueError,
            "share H",
        ),
        (
            lambda: chunked_soft_target_loss(
                torch.randn(4, 3), torch.randn(5, 3), torch.randn(4, 6)
            ),
            ValueError,
            "teacher logits",
        ),
        (
            lambda: chunked_soft_target_loss(
                torch.randn(4, 3),
                torch.randn(5, 3),
                (torch.randn(4, 2), torch.randn(6, 2)),
            ),
            ValueError,
            "teacher tuple",
        ),
        (
            lambda: chunked_soft_target_loss(
                torch.randn(4, 3),
                torch.randn(5, 3),
                torch.randn(4, 5),
                chunk_size=0,
            ),
            ValueError,
            "chunk_size",
        ),
    ],
)
def test_rejects_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_notes_constructor_mistake_fails_and_the_right_call_matches_ours():
    # the seed notes' line: tensors passed to the constructor
    s, t = torch.randn(4, 5), torch.randn(4, 5)
    with pytest.raises(RuntimeError, match="ambiguous"):
        torch.nn.KLDivLoss(F.log_softmax(s / 2, -1), F.softmax(t / 2, -1))
    right = (
        torch.nn.KLDivLoss(reduction="batchmean")(
            F.log_softmax(s / 2, -1), F.softmax(t / 2, -1)
        )
        * 4
    )
    assert torch.allclose(right, soft_target_loss(s, t, temperature=2.0))


# ---- dtype, empty selections, padded vocabularies, non-finite temperatures ----


def _outputs(B=2, L=5, V=30, H=8, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return SimpleNamespace(
        logits=torch.randn(B, L, V, generator=g),
        hidden_states=(torch.randn(B, L, H, generator=g) * scale,),
    )


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64]
)
def test_every_loss_keeps_the_float_dtype_it_was_given(dtype):
    g = torch.Generator().manual_seed(5)
    s, t = torch.randn(6, 20, generator=g), torch.randn(6, 20, generator=g)
    plain = soft_target_loss(s.to(dtype), t.to(dtype))
    h, w = torch.randn(6, 4, generator=g), torch.randn(20, 4, generator=g)
    h, w = h.to(dtype).requires_grad_(), w.to(dtype).requires_grad_()
    chunked = chunked_soft_target_loss(h, w, t.to(dtype), chunk_size=4)
    chunked.backward()
    assert plain.dtype == chunked.dtype == h.grad.dtype == w.grad.dtype == dtype
    student, teacher = _outputs(seed=1), _outputs(seed=2)
    for out in (student, teacher):
        out.logits = out.logits.to(dtype)
        out.hidden_states = tuple(x.to(dtype) for x in out.hidden_states)
    loss = distillation_loss(student, teacher, torch.full((2, 5), -100))
    assert all(part.dtype == dtype for part in loss)


def test_half_precision_hidden_states_do_not_overflow_the_cosine_loss():
    # |h|² of 8 entries near 300 is about 7e5: past float16's 65504
    student, teacher = _outputs(seed=3, scale=300.0), _outputs(seed=4, scale=300.0)
    cos64 = distillation_loss(student, teacher, torch.full((2, 5), -100)).cos
    for out in (student, teacher):
        out.hidden_states = tuple(x.half() for x in out.hidden_states)
    cos16 = distillation_loss(student, teacher, torch.full((2, 5), -100)).cos
    assert torch.isfinite(cos16) and abs(float(cos16) - float(cos64)) < 1e-2


def test_no_masked_label_gives_a_zero_mlm_loss_with_zero_gradient():
    student, teacher = _outputs(seed=1), _outputs(seed=2)
    student.logits.requires_grad_()
    labels = torch.full((2, 5), -100)
    loss = distillation_loss(student, teacher, labels)
    assert loss.mlm == 0 and torch.isfinite(loss.total)
    (mlm_grad,) = torch.autograd.grad(loss.mlm, student.logits)
    assert torch.equal(mlm_grad, torch.zeros_like(mlm_grad))
    # the reference computes CrossEntropyLoss(ignore_index=-100): NaN here
    ce = F.cross_entropy(student.logits.flatten(0, 1), labels.flatten())
    assert torch.isnan(ce)


def test_an_all_padding_batch_gives_zero_soft_and_cosine_losses():
    student, teacher = _outputs(seed=1), _outputs(seed=2)
    student.logits.requires_grad_()
    student.hidden_states[0].requires_grad_()
    labels = torch.full((2, 5), -100)
    labels[0, 2] = 3
    loss = distillation_loss(
        student, teacher, labels, torch.zeros(2, 5, dtype=torch.long)
    )
    assert loss.soft == 0 and loss.cos == 0
    assert torch.allclose(loss.total, 2.0 * loss.mlm)
    loss.total.backward()
    assert torch.isfinite(student.logits.grad).all()
    assert torch.equal(
        student.hidden_states[0].grad, torch.zeros_like(student.hidden_states[0])
    )


def test_a_padded_vocabulary_gives_the_same_finite_value_in_both_losses():
    # The last 3 classes pad the vocabulary: -inf in both models' logits. The
    # student's come from a head whose bias is -inf there.
    g = torch.Generator().manual_seed(6)
    N, H, V, pad = 9, 8, 24, 3
    h = torch.randn(N, H, generator=g, requires_grad=True)
    w = torch.randn(V, H, generator=g, requires_grad=True)
    bias = torch.randn(V, generator=g)
    bias[-pad:] = -math.inf
    teacher = torch.randn(N, V, generator=g)
    teacher[:, -pad:] = -math.inf
    plain = soft_target_loss(h @ w.T + bias, teacher)
    plain_grads = torch.autograd.grad(plain, (h, w))
    chunked = chunked_soft_target_loss(
        h, w, teacher, student_head_bias=bias, chunk_size=4
    )
    chunked_grads = torch.autograd.grad(chunked, (h, w))
    unpadded = soft_target_loss((h @ w.T + bias)[:, :-pad], teacher[:, :-pad])
    assert torch.isfinite(plain) and torch.allclose(plain, chunked, atol=1e-6)
    assert torch.allclose(plain, unpadded, atol=1e-6)
    for a, b in zip(plain_grads, chunked_grads, strict=True):
        assert torch.isfinite(a).all() and torch.allclose(a, b, atol=1e-6)
    # what the loss avoids: KLDivLoss gives NaN for those classes
    kl = torch.nn.KLDivLoss(reduction="batchmean")(
        F.log_softmax(h @ w.T + bias, -1), F.softmax(teacher, -1)
    )
    assert torch.isnan(kl)


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_kd_step_refuses_a_non_finite_temperature_before_touching_anything(bad):
    teacher, student = _Tiny(0), _Tiny(1)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    batch = {"input_ids": torch.randint(0, 30, (2, 4))}
    with pytest.raises(ValueError, match="temperature"):
        kd_step(teacher, student, batch, optimizer, temperature=bad)
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in before.items())


def test_kd_step_never_writes_nan_into_the_student():
    class Overflowing(_Tiny):  # a teacher whose logits overflowed
        def forward(self, input_ids, attention_mask=None):
            out = super().forward(input_ids)
            return SimpleNamespace(logits=out.logits * math.nan)

    teacher, student = Overflowing(0), _Tiny(1)
    before = {k: v.clone() for k, v in student.state_dict().items()}
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    with pytest.raises(ValueError, match="no update"):
        kd_step(
            teacher, student, {"input_ids": torch.randint(0, 30, (2, 4))}, optimizer
        )
    assert all(torch.equal(v, student.state_dict()[k]) for k, v in before.items())


def test_kd_step_runs_the_teacher_in_eval_and_the_student_in_train_mode():
    seen = {}

    class Recording(_Tiny):
        def forward(self, input_ids, attention_mask=None):
            seen[self.name] = (self.training, self.drop.training)
            return super().forward(input_ids)

    teacher, student = Recording(0), Recording(1)
    teacher.name, student.name = "teacher", "student"
    teacher.drop.train()  # a submodule in its own mode, kept afterwards
    teacher.eval().drop.train()
    student.eval()
    optimizer = torch.optim.SGD(student.parameters(), lr=0.5)
    kd_step(
        teacher, student, {"input_ids": torch.randint(0, 30, (2, 4))}, optimizer
    )
    assert seen == {"teacher": (False, False), "student": (True, True)}
    assert not teacher.training and teacher.drop.training  # given back
    assert not student.training and not student.drop.training


def test_mismatched_labels_are_blamed_on_labels():
    student, teacher = _outputs(), _outputs(seed=1)
    with pytest.raises(ValueError, match="^labels must have"):
        distillation_loss(student, teacher, torch.full((2, 4), -100))
    with pytest.raises(ValueError, match="^labels must be -100 or ids"):
        distillation_loss(student, teacher, torch.full((2, 5), 30))
    with pytest.raises(ValueError, match="^attention_mask must have"):
        distillation_loss(
            student, teacher, torch.full((2, 5), -100), torch.ones(2, 4)
        )
