"""DistilBERT's released training code, re-expressed here against our API, and the
losses on real WordPiece-tokenized sentences.

Reference files, in transformers' examples/research_projects/distillation/:

- distiller.py, `Distiller.step`: the soft loss `loss_ce` is KLDivLoss(batchmean)
  of log_softmax(s/T) against softmax(t/T), times T², over the positions the
  attention mask keeps (or, with --restrict_ce_to_mask, the positions with an MLM
  label); `loss_mlm` is CrossEntropyLoss(ignore_index=-100) over every position;
  `loss_cos` is CosineEmbeddingLoss(target 1, mean) between the last hidden
  states at the attention mask's positions; the total is the α-weighted sum. The
  teacher runs under no_grad.
- train.py: the α must be >= 0 and not all 0; T defaults to 2.
- scripts/extract_distilbert.py: which teacher tensor initializes which student
  tensor (tests/distillation/api_contract.py and the test below).

One deliberate difference: where a part has no position (no MLM label, or an
all-padding batch), the reference's mean is 0/0 = NaN, and `Distiller.optimize`
stops the run; ours is 0 with a zero gradient.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tokenizers import (
    Tokenizer,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from torch import nn
from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

from snippets.distillation.kd_loss import (
    chunked_soft_target_loss,
    distillation_loss,
    soft_target_loss,
)
from snippets.distillation.student_init import (
    DISTILBERT_LAYERS,
    init_student_from_teacher,
)
from snippets.roberta.dynamic_masking import mask_tokens


def reference_losses(
    student,
    teacher,
    attention_mask,
    lm_labels,
    *,
    alpha_ce,
    alpha_mlm,
    alpha_cos,
    temperature,
    restrict_ce_to_mask=False,
):
    """The loss arithmetic of Distiller.step (MLM student), in our own words."""
    s_logits, t_logits = student.logits, teacher.logits.detach()
    V = s_logits.shape[-1]
    ce_mask = (lm_labels > -1) if restrict_ce_to_mask else attention_mask.bool()
    s_sel = torch.masked_select(s_logits, ce_mask[..., None]).view(-1, V)
    t_sel = torch.masked_select(t_logits, ce_mask[..., None]).view(-1, V)
    T = temperature
    loss_ce = nn.KLDivLoss(reduction="batchmean")(
        (s_sel / T).log_softmax(-1), (t_sel / T).softmax(-1)
    ) * (T**2)
    loss_mlm = nn.CrossEntropyLoss(ignore_index=-100)(
        s_logits.view(-1, V), lm_labels.view(-1)
    )
    s_h, t_h = student.hidden_states[-1], teacher.hidden_states[-1].detach()
    dim = s_h.shape[-1]
    keep = attention_mask.bool()[..., None]
    s_h = torch.masked_select(s_h, keep).view(-1, dim)
    t_h = torch.masked_select(t_h, keep).view(-1, dim)
    loss_cos = nn.CosineEmbeddingLoss(reduction="mean")(
        s_h, t_h, s_h.new_ones(s_h.shape[0])
    )
    total = alpha_ce * loss_ce + alpha_mlm * loss_mlm + alpha_cos * loss_cos
    return total, loss_ce, loss_mlm, loss_cos


def _random_batch(seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    B, L, V, H = 4, 9, 50, 12

    def out():
        return SimpleNamespace(
            logits=(torch.randn(B, L, V, generator=g) * 2).to(dtype),
            hidden_states=tuple(
                torch.randn(B, L, H, generator=g).to(dtype) for _ in range(3)
            ),
        )

    lengths = torch.tensor([9, 7, 4, 1])
    attention = (torch.arange(L) < lengths[:, None]).long()
    labels = torch.where(
        (torch.rand(B, L, generator=g) < 0.3) & attention.bool(),
        torch.randint(0, V, (B, L), generator=g),
        -100,
    )
    labels[0, 0] = 7  # at least one label
    return out(), out(), attention, labels


@pytest.mark.parametrize("alphas", [(5.0, 2.0, 1.0), (0.5, 0.0, 0.0), (1, 1, 0)])
@pytest.mark.parametrize("T", [1.0, 2.0, 4.0])
def test_the_triple_loss_is_distiller_step_on_the_same_batch(alphas, T):
    student, teacher, attention, labels = _random_batch(0)
    kw = dict(zip(["alpha_ce", "alpha_mlm", "alpha_cos"], alphas, strict=True))
    ours = distillation_loss(
        student, teacher, labels, attention, temperature=T, **kw
    )
    theirs = reference_losses(
        student, teacher, attention, labels, temperature=T, **kw
    )
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_restrict_ce_to_mask_is_the_soft_loss_over_the_labelled_positions():
    student, teacher, attention, labels = _random_batch(1)
    theirs = reference_losses(
        student,
        teacher,
        attention,
        labels,
        alpha_ce=1.0,
        alpha_mlm=0.0,
        alpha_cos=0.0,
        temperature=2.0,
        restrict_ce_to_mask=True,
    )[1]
    ours = soft_target_loss(
        student.logits, teacher.logits, temperature=2.0, mask=labels != -100
    )
    assert torch.allclose(ours, theirs, rtol=1e-12)


def test_no_gradient_reaches_the_teacher():
    student, teacher, attention, labels = _random_batch(2)
    student.logits.requires_grad_()
    teacher.logits.requires_grad_()
    student.hidden_states[-1].requires_grad_()
    teacher.hidden_states[-1].requires_grad_()
    distillation_loss(student, teacher, labels, attention).total.backward()
    assert teacher.logits.grad is None and teacher.hidden_states[-1].grad is None
    assert student.logits.grad is not None
    assert student.hidden_states[-1].grad is not None


@pytest.mark.parametrize("case", ["no-label", "all-padding"])
def test_where_the_reference_gives_nan_ours_gives_zero(case):
    student, teacher, attention, labels = _random_batch(3)
    if case == "no-label":
        labels = torch.full_like(labels, -100)
    else:
        attention = torch.zeros_like(attention)
    kw = dict(alpha_ce=5.0, alpha_mlm=2.0, alpha_cos=1.0, temperature=2.0)
    theirs = reference_losses(student, teacher, attention, labels, **kw)
    ours = distillation_loss(student, teacher, labels, attention, **kw)
    assert torch.isnan(theirs[0])
    assert torch.isfinite(ours.total)
    for a, b in zip(
        ours[1:], theirs[1:], strict=True
    ):  # the parts that exist agree
        assert (a == 0) if torch.isnan(b) else torch.allclose(a, b)


def test_train_py_rejects_all_zero_weights_and_so_do_we():
    student, teacher, attention, labels = _random_batch(4)
    with pytest.raises(ValueError, match="all 0"):
        distillation_loss(
            student,
            teacher,
            labels,
            attention,
            alpha_ce=0.0,
            alpha_mlm=0.0,
            alpha_cos=0.0,
        )
    with pytest.raises(ValueError, match="alpha_mlm"):
        distillation_loss(student, teacher, labels, attention, alpha_mlm=-1.0)


# scripts/extract_distilbert.py, layer by layer: student name <- teacher name
EXTRACTED_LAYER = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}


def test_init_copies_what_extract_distilbert_copies():
    assert DISTILBERT_LAYERS == (0, 2, 4, 7, 9, 11)  # the script's teacher_idx
    torch.manual_seed(0)
    teacher = BertForMaskedLM(
        BertConfig(
            vocab_size=30,
            hidden_size=8,
            num_hidden_layers=12,
            num_attention_heads=2,
            intermediate_size=16,
        )
    )
    ours = init_student_from_teacher(teacher).state_dict()
    theirs = teacher.state_dict()
    expected = {
        "distilbert.embeddings.word_embeddings.weight": (
            "bert.embeddings.word_embeddings.weight"
        ),
        "distilbert.embeddings.position_embeddings.weight": (
            "bert.embeddings.position_embeddings.weight"
        ),
        "vocab_projector.weight": "cls.predictions.decoder.weight",
        "vocab_projector.bias": "cls.predictions.bias",
    }
    for p in ("weight", "bias"):
        expected[f"distilbert.embeddings.LayerNorm.{p}"] = (
            f"bert.embeddings.LayerNorm.{p}"
        )
        # the script's --vocab_transform part, which we always copy
        expected[f"vocab_transform.{p}"] = f"cls.predictions.transform.dense.{p}"
        expected[f"vocab_layer_norm.{p}"] = (
            f"cls.predictions.transform.LayerNorm.{p}"
        )
        for k, i in enumerate(DISTILBERT_LAYERS):
            for s_name, t_name in EXTRACTED_LAYER.items():
                expected[f"distilbert.transformer.layer.{k}.{s_name}.{p}"] = (
                    f"bert.encoder.layer.{i}.{t_name}.{p}"
                )
    assert set(ours) == set(expected)  # nothing more, nothing less
    for s_key, t_key in expected.items():
        assert torch.equal(ours[s_key], theirs[t_key]), s_key


# ---- real input: WordPiece-tokenized sentences through a tiny BERT teacher ----

SENTENCES = [
    "The oven was preheated before the bread went in.",
    "Knead the dough until it is smooth and elastic.",
    "The striker scored twice in the second half.",
    "Distillation trains a small student to imitate a large teacher.",
    "Unbelievably, the committee postponed the decision again.",
    "A short one.",
]


@pytest.fixture(scope="module")
def tokenizer():
    """A WordPiece vocabulary trained here on the sentences: words it has not
    kept whole split into several pieces."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        SENTENCES,
        trainers.WordPieceTrainer(vocab_size=150, special_tokens=specials),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


@pytest.fixture(scope="module")
def batch(tokenizer):
    enc = tokenizer(
        SENTENCES,
        padding=True,
        return_tensors="pt",
        return_special_tokens_mask=True,
    )
    pieces = [tokenizer.tokenize(s) for s in SENTENCES]
    assert any(p.startswith("##") for words in pieces for p in words)  # multi-piece
    assert (enc["attention_mask"] == 0).any()  # padded rows
    special = enc["special_tokens_mask"].bool() | ~enc["attention_mask"].bool()
    input_ids, labels = mask_tokens(
        enc["input_ids"],
        mask_token_id=tokenizer.mask_token_id,
        vocab_size=len(tokenizer),
        special_tokens_mask=special,
        generator=torch.Generator().manual_seed(0),
    )
    return {"input_ids": input_ids, "attention_mask": enc["attention_mask"]}, labels


@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16]
)
def test_real_sentences_through_bert_and_its_student(tokenizer, batch, dtype):
    inputs, labels = batch
    torch.manual_seed(0)
    teacher = (
        BertForMaskedLM(
            BertConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                num_hidden_layers=4,
                num_attention_heads=4,
                intermediate_size=64,
            )
        )
        .to(dtype)
        .eval()
    )
    student = init_student_from_teacher(teacher, (0, 2)).train()
    assert student.dtype == dtype
    with torch.no_grad():
        t_out = teacher(**inputs, output_hidden_states=True)
    s_out = student(**inputs, output_hidden_states=True)
    loss = distillation_loss(s_out, t_out, labels, inputs["attention_mask"])
    theirs = reference_losses(
        SimpleNamespace(
            logits=s_out.logits.double(),
            hidden_states=[s_out.hidden_states[-1].double()],
        ),
        SimpleNamespace(
            logits=t_out.logits.double(),
            hidden_states=[t_out.hidden_states[-1].double()],
        ),
        inputs["attention_mask"],
        labels,
        alpha_ce=5.0,
        alpha_mlm=2.0,
        alpha_cos=1.0,
        temperature=2.0,
    )
    tol = {torch.float16: 2e-2, torch.bfloat16: 2e-2}.get(dtype, 1e-5)
    for ours, ref in zip(loss, theirs, strict=True):
        assert ours.dtype == dtype and torch.isfinite(ours)
        assert torch.allclose(ours.double(), ref, rtol=tol, atol=tol)
    loss.total.backward()
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert all(p.grad is None for p in teacher.parameters())


def test_the_chunked_loss_on_real_hidden_states_equals_the_plain_one(
    tokenizer, batch
):
    """The student's MLM head up to its projector, then the projector's weight
    and bias given to the chunked loss: the same value and gradients as the soft
    loss on its logits."""
    inputs, _ = batch
    torch.manual_seed(1)
    teacher = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
        )
    ).eval()
    student = init_student_from_teacher(teacher, (1,)).eval()
    with torch.no_grad():
        t_logits = teacher(**inputs).logits
    last = student.distilbert(**inputs).last_hidden_state
    h = student.vocab_layer_norm(student.activation(student.vocab_transform(last)))
    keep = inputs["attention_mask"].bool()
    projector = student.vocab_projector
    plain = soft_target_loss(student(**inputs).logits, t_logits, mask=keep)
    chunked = chunked_soft_target_loss(
        h.flatten(0, 1),
        projector.weight,
        t_logits.flatten(0, 1),
        student_head_bias=projector.bias,
        chunk_size=16,
        mask=keep.flatten(),
    )
    assert torch.allclose(plain, chunked, rtol=1e-5)
    g_plain = torch.autograd.grad(plain, projector.bias)[0]
    g_chunked = torch.autograd.grad(chunked, projector.bias)[0]
    assert torch.allclose(g_plain, g_chunked, atol=1e-6)
