"""DistilBERT's student initialization (Sanh et al. 2019, §3, "Student initialization").

The student has BERT's architecture with half the layers, no token-type embeddings and no pooler.
It starts from the teacher itself: the embeddings, one of every two layers, and the MLM head are
copied. The released model took teacher layers 0, 2, 4, 7, 9 and 11.

>>> from transformers import BertConfig, DistilBertConfig
>>> student_config(BertConfig()).n_layers
6
"""

from __future__ import annotations

import torch
from transformers import (
    BertConfig,
    BertForMaskedLM,
    DistilBertConfig,
    DistilBertForMaskedLM,
)

DISTILBERT_LAYERS = (0, 2, 4, 7, 9, 11)


def student_config(
    teacher_config: BertConfig, n_layers: int = len(DISTILBERT_LAYERS)
) -> DistilBertConfig:
    """A DistilBERT config with the teacher's widths and `n_layers` layers."""
    return DistilBertConfig(
        vocab_size=teacher_config.vocab_size,
        dim=teacher_config.hidden_size,
        n_layers=n_layers,
        n_heads=teacher_config.num_attention_heads,
        hidden_dim=teacher_config.intermediate_size,
        max_position_embeddings=teacher_config.max_position_embeddings,
        activation=teacher_config.hidden_act,
        pad_token_id=teacher_config.pad_token_id,
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
    """Build a DistilBERT student and copy the embeddings, the chosen layers and the MLM head into it."""
    if not isinstance(teacher, BertForMaskedLM):
        raise TypeError(
            f"teacher must be a transformers BertForMaskedLM, got {type(teacher).__name__}"
        )
    n_teacher = teacher.config.num_hidden_layers
    if (
        not layers
        or any(not 0 <= i < n_teacher for i in layers)
        or list(layers) != sorted(set(layers))
    ):
        raise ValueError(
            f"layers must be increasing, distinct indices in [0, {n_teacher}), got {layers}"
        )
    student = DistilBertForMaskedLM(student_config(teacher.config, len(layers)))
    s, t = student.distilbert, teacher.bert
    s.embeddings.word_embeddings.load_state_dict(
        t.embeddings.word_embeddings.state_dict()
    )
    s.embeddings.position_embeddings.load_state_dict(
        t.embeddings.position_embeddings.state_dict()
    )
    s.embeddings.LayerNorm.load_state_dict(
        t.embeddings.LayerNorm.state_dict()
    )  # token-type embeddings: dropped
    for student_layer, i in zip(s.transformer.layer, layers):
        for ours, theirs in LAYER_MAP.items():
            student_layer.get_submodule(ours).load_state_dict(
                t.encoder.layer[i].get_submodule(theirs).state_dict()
            )
    head = teacher.cls.predictions
    student.vocab_transform.load_state_dict(head.transform.dense.state_dict())
    student.vocab_layer_norm.load_state_dict(head.transform.LayerNorm.state_dict())
    student.vocab_projector.bias.copy_(
        head.bias
    )  # its weight is tied to the word embeddings
    return student


# --8<-- [end:core]
