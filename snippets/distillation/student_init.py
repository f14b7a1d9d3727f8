"""DistilBERT's student initialization (Sanh et al. 2019, §3, "Student
initialization").

The student has BERT's architecture with half the layers, no token-type embeddings
and no pooler. It starts from the teacher itself: the embeddings, one of every two
layers, and the MLM head are copied. The released model took teacher layers 0, 2,
4, 7, 9 and 11 (transformers' examples/research_projects/distillation/scripts/
extract_distilbert.py). That script copies the MLM head's transform and LayerNorm
only with --vocab_transform; here they are always copied.

The student is built on the teacher's device, in the teacher's dtype, with the
teacher's LayerNorm epsilon; an untied teacher decoder gives an untied student
decoder with the same weight.

>>> from transformers import BertConfig, DistilBertConfig
>>> student_config(BertConfig()).n_layers
6
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
)

from snippets._checks import check_positive_int

DISTILBERT_LAYERS = (0, 2, 4, 7, 9, 11)


def student_config(
    teacher_config: BertConfig, n_layers: int = len(DISTILBERT_LAYERS)
) -> DistilBertConfig:
    """A DistilBERT config with the teacher's widths, dropout, initialization and
    weight tying, and `n_layers` layers.

    DistilBERT's modules hard-code LayerNorm eps = 1e-12; the config records the
    teacher's `layer_norm_eps`, which `init_student_from_teacher` applies.
    """
    if not isinstance(teacher_config, BertConfig):
        raise TypeError(
            "teacher_config must be a transformers BertConfig, got "
            f"{type(teacher_config).__name__}"
        )
    check_positive_int(n_layers, "n_layers")
    position = getattr(teacher_config, "position_embedding_type", None)
    if position not in (None, "absolute"):  # DistilBERT has absolute positions only
        raise ValueError(
            "teacher_config.position_embedding_type must be 'absolute' (DistilBERT "
            f"has no relative positions), got {position!r}"
        )
    return DistilBertConfig(
        vocab_size=teacher_config.vocab_size,
        dim=teacher_config.hidden_size,
        n_layers=n_layers,
        n_heads=teacher_config.num_attention_heads,
        hidden_dim=teacher_config.intermediate_size,
        max_position_embeddings=teacher_config.max_position_embeddings,
        activation=teacher_config.hidden_act,
        pad_token_id=teacher_config.pad_token_id,
        dropout=teacher_config.hidden_dropout_prob,
        attention_dropout=teacher_config.attention_probs_dropout_prob,
        initializer_range=teacher_config.initializer_range,
        tie_word_embeddings=teacher_config.tie_word_embeddings,
        layer_norm_eps=teacher_config.layer_norm_eps,
    )


# --8<-- [start:core]
# student parameter <- teacher parameter, for one layer
LAYER_MAP = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}


@torch.no_grad()
def init_student_from_teacher(
    teacher: BertForMaskedLM, layers: tuple[int, ...] = DISTILBERT_LAYERS
) -> DistilBertForMaskedLM:
    """A DistilBERT student with the teacher's embeddings, the chosen layers and the
    MLM head, on the teacher's device and in its dtype."""
    if not isinstance(teacher, BertForMaskedLM):
        raise TypeError(
            "teacher must be a transformers BertForMaskedLM, got "
            f"{type(teacher).__name__}"
        )
    layers = _check_layers(layers, teacher.config.num_hidden_layers)
    config = student_config(teacher.config, len(layers))
    s, t = DistilBertForMaskedLM(config), teacher.bert
    for module in s.modules():  # DistilBERT's modules hard-code eps = 1e-12
        if isinstance(module, nn.LayerNorm):
            module.eps = config.layer_norm_eps
    word = t.embeddings.word_embeddings.weight
    s.to(device=word.device, dtype=word.dtype)
    student = s.distilbert
    for name in ["word_embeddings", "position_embeddings", "LayerNorm"]:
        student.embeddings.get_submodule(name).load_state_dict(
            t.embeddings.get_submodule(name).state_dict()
        )  # token-type embeddings: dropped
    for student_layer, i in zip(student.transformer.layer, layers, strict=True):
        for ours, theirs in LAYER_MAP.items():
            student_layer.get_submodule(ours).load_state_dict(
                t.encoder.layer[i].get_submodule(theirs).state_dict()
            )
    head = teacher.cls.predictions
    s.vocab_transform.load_state_dict(head.transform.dense.state_dict())
    s.vocab_layer_norm.load_state_dict(head.transform.LayerNorm.state_dict())
    if not config.tie_word_embeddings:  # tied: it is the word embeddings already
        s.vocab_projector.weight.copy_(head.decoder.weight)
    s.vocab_projector.bias.copy_(head.bias)
    return s


# --8<-- [end:core]


def _check_layers(layers: object, n_teacher: int) -> tuple[int, ...]:
    if not isinstance(layers, (tuple, list)) or any(
        isinstance(i, bool) or not isinstance(i, int) for i in layers
    ):
        raise TypeError(
            f"layers must be a tuple of int layer indices, got {layers!r}"
        )
    if (
        not layers
        or any(not 0 <= i < n_teacher for i in layers)
        or list(layers) != sorted(set(layers))
    ):
        raise ValueError(
            f"layers must be increasing, distinct indices in [0, {n_teacher}), "
            f"got {layers}"
        )
    return tuple(layers)
