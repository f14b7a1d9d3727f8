import pytest
import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
)

from snippets.distillation.student_init import (
    DISTILBERT_LAYERS,
    LAYER_MAP,
    init_student_from_teacher,
    student_config,
)


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=80,
        hidden_size=16,
        num_hidden_layers=12,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertForMaskedLM(config).eval()


def test_copied_weights_equal_the_teachers(teacher):
    student = init_student_from_teacher(teacher)
    assert student.config.n_layers == 6
    s, t = student.distilbert, teacher.bert
    assert torch.equal(
        s.embeddings.word_embeddings.weight, t.embeddings.word_embeddings.weight
    )
    assert torch.equal(
        s.embeddings.position_embeddings.weight,
        t.embeddings.position_embeddings.weight,
    )
    for k, i in enumerate(DISTILBERT_LAYERS):
        for ours, theirs in LAYER_MAP.items():
            for name, p in (
                s.transformer.layer[k].get_submodule(ours).named_parameters()
            ):
                assert torch.equal(
                    p, t.encoder.layer[i].get_submodule(theirs).get_parameter(name)
                ), (k, ours)
    assert torch.equal(
        student.vocab_transform.weight,
        teacher.cls.predictions.transform.dense.weight,
    )
    assert torch.equal(student.vocab_projector.bias, teacher.cls.predictions.bias)
    assert not any(
        "token_type" in n or "pooler" in n for n, _ in student.named_parameters()
    )


def test_copying_every_layer_reproduces_the_teacher_exactly(teacher):
    # The student drops token-type embeddings; with those zeroed, a full copy is
    # the same function.
    zeroed = BertForMaskedLM(teacher.config).eval()
    zeroed.load_state_dict(teacher.state_dict())
    zeroed.bert.embeddings.token_type_embeddings.weight.data.zero_()
    student = init_student_from_teacher(zeroed, tuple(range(12))).eval()
    ids = torch.randint(0, 80, (3, 9))
    with torch.no_grad():
        assert torch.allclose(
            student(input_ids=ids).logits, zeroed(input_ids=ids).logits, atol=1e-5
        )


def test_full_size_student_is_distilbert_and_has_66m_against_110m():
    with torch.device("meta"):
        ours = DistilBertModel(student_config(BertConfig()))
        reference = DistilBertModel(DistilBertConfig())
        bert = BertModel(BertConfig())

    def count(m):
        return sum(p.numel() for p in m.parameters())

    assert count(ours) == count(reference)
    assert (
        round(count(ours) / 1e6) == 66 and round(count(bert) / 1e6) == 109
    )  # "66M vs 110M" (DistilBERT Table 3)


@pytest.mark.parametrize(
    "layers, match",
    [((0, 0, 1), "increasing"), ((12,), "increasing"), ((), "increasing")],
)
def test_rejects_bad_layer_choices(teacher, layers, match):
    with pytest.raises(ValueError, match=match):
        init_student_from_teacher(teacher, layers)


def test_rejects_a_non_bert_teacher():
    with pytest.raises(TypeError, match="BertForMaskedLM"):
        init_student_from_teacher(torch.nn.Linear(2, 2))


def _small_teacher(**config) -> BertForMaskedLM:
    torch.manual_seed(1)
    base = dict(
        vocab_size=60,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    teacher = BertForMaskedLM(BertConfig(**{**base, **config})).eval()
    with torch.no_grad():  # the student has none: zero them to compare functions
        teacher.bert.embeddings.token_type_embeddings.weight.zero_()
    return teacher


@pytest.mark.parametrize(
    "config, dtype",
    [
        ({}, torch.float64),
        ({}, torch.bfloat16),
        ({"layer_norm_eps": 1e-5}, torch.float64),
        ({"tie_word_embeddings": False}, torch.float64),
    ],
    ids=["float64", "bfloat16", "layer_norm_eps", "untied-decoder"],
)
def test_a_full_copy_is_the_teacher_in_its_dtype_eps_and_decoder(config, dtype):
    teacher = _small_teacher(**config).to(dtype)
    if not teacher.config.tie_word_embeddings:  # a decoder of its own
        with torch.no_grad():
            teacher.cls.predictions.decoder.weight.normal_()
    student = init_student_from_teacher(teacher, (0, 1, 2)).eval()
    assert student.dtype == dtype
    assert all(
        m.eps == teacher.config.layer_norm_eps
        for m in student.modules()
        if isinstance(m, torch.nn.LayerNorm)
    )
    tied = student.vocab_projector.weight is (
        student.distilbert.embeddings.word_embeddings.weight
    )
    assert tied == teacher.config.tie_word_embeddings
    ids = torch.randint(0, 60, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = student(input_ids=ids).logits, teacher(input_ids=ids).logits
    assert ours.dtype == dtype and torch.equal(ours, theirs)


def test_the_student_config_follows_the_teacher():
    config = student_config(
        BertConfig(
            hidden_dropout_prob=0.2,
            attention_probs_dropout_prob=0.3,
            initializer_range=0.05,
            tie_word_embeddings=False,
            layer_norm_eps=1e-6,
        ),
        n_layers=4,
    )
    assert (config.dropout, config.attention_dropout) == (0.2, 0.3)
    assert config.initializer_range == 0.05 and config.n_layers == 4
    assert not config.tie_word_embeddings and config.layer_norm_eps == 1e-6


@pytest.mark.parametrize("layers", [(0.0, 2.0), (True, 2), "02", None])
def test_rejects_layers_that_are_not_ints(teacher, layers):
    with pytest.raises(TypeError, match="layers"):
        init_student_from_teacher(teacher, layers)
