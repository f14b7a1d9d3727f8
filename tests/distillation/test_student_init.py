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
    # The student drops token-type embeddings; with those zeroed, a full copy is the same function.
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
    count = lambda m: sum(p.numel() for p in m.parameters())
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
