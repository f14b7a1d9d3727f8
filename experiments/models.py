"""Tiny transformers models for the experiments, built from configs (random init).

    model = tiny_model("albert", vocab_size=8000)      # 4 layers, hidden 128
    hidden, pooled = encode(model, batch)               # [B, L, H], [B, H]
    logits, targets = predicted_logits(model, hidden, batch["labels"])

On two CPU cores the vocabulary projection dominates a small model's step, so the
masked-LM head is applied only where a token is predicted (`labels != -100`):
about 15% of the positions instead of all of them. `predicted_logits` gives
exactly the rows of the model's own full logits at those positions (the tests
check it against each model's forward).
"""

from __future__ import annotations

import torch
import transformers
from torch import nn

from experiments.tokenizer import PAD

IGNORE_INDEX = -100
# each kind's config and model class in transformers, looked up when first used
# (importing all five modeling modules up front costs seconds)
CLASSES = {
    "bert": ("BertConfig", "BertForPreTraining"),
    "albert": ("AlbertConfig", "AlbertForPreTraining"),
    "distilbert": ("DistilBertConfig", "DistilBertForMaskedLM"),
    "xlnet": ("XLNetConfig", "XLNetLMHeadModel"),
    "t5": ("T5Config", "T5ForConditionalGeneration"),
}
KINDS = tuple(CLASSES)


def tiny_config(
    kind: str,
    vocab_size: int,
    *,
    layers: int = 4,
    hidden: int = 128,
    heads: int | None = None,
    max_length: int = 128,
    dropout: float = 0.0,
    **overrides,
):
    """A config with `layers` layers of width `hidden`, a 4 × hidden feed-forward
    layer and hidden / 64 heads (at least 2), as in BERT and ALBERT. ALBERT keeps
    its factorized embedding (E = 128) and shares one layer across depth."""
    heads = heads or max(hidden // 64, 2)
    if kind not in CLASSES:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    config_class = getattr(transformers, CLASSES[kind][0])
    if kind == "bert":
        config = config_class(
            vocab_size=vocab_size,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * hidden,
            max_position_embeddings=max_length,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            pad_token_id=PAD,
        )
    elif kind == "albert":
        config = config_class(
            vocab_size=vocab_size,
            embedding_size=128,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * hidden,
            max_position_embeddings=max_length,
            hidden_dropout_prob=dropout,
            attention_probs_dropout_prob=dropout,
            classifier_dropout_prob=dropout,
            pad_token_id=PAD,
        )
    elif kind == "distilbert":
        config = config_class(
            vocab_size=vocab_size,
            dim=hidden,
            n_layers=layers,
            n_heads=heads,
            hidden_dim=4 * hidden,
            max_position_embeddings=max_length,
            dropout=dropout,
            attention_dropout=dropout,
            pad_token_id=PAD,
        )
    elif kind == "xlnet":
        config = config_class(
            vocab_size=vocab_size,
            d_model=hidden,
            n_layer=layers,
            n_head=heads,
            d_inner=4 * hidden,
            dropout=dropout,
            pad_token_id=PAD,
        )
    elif kind == "t5":
        config = config_class(
            vocab_size=vocab_size,
            d_model=hidden,
            d_kv=hidden // heads,
            d_ff=4 * hidden,
            num_layers=layers,
            num_heads=heads,
            dropout_rate=dropout,
            pad_token_id=PAD,
            decoder_start_token_id=PAD,
        )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config


def tiny_model(kind: str, vocab_size: int, *, seed: int = 0, **config_kwargs):
    """A randomly initialised model of `kind` (see KINDS), seeded by `seed`."""
    config = tiny_config(kind, vocab_size, **config_kwargs)
    torch.manual_seed(seed)
    return getattr(transformers, CLASSES[kind][1])(config)


def kind_of(model: nn.Module) -> str:
    for kind, (_, model_class) in CLASSES.items():
        if type(model).__name__ == model_class:
            return kind
    raise TypeError(f"not one of the tiny models: {type(model).__name__}")


def encode(
    model: nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The encoder's last hidden states [B, L, H] and, for BERT and ALBERT, the
    pooled [CLS] vector [B, H] that their sentence-pair heads read."""
    kind = kind_of(model)
    inputs = {"input_ids": batch["input_ids"]}
    if "attention_mask" in batch:
        inputs["attention_mask"] = batch["attention_mask"]
    if kind in ("bert", "albert"):
        if "token_type_ids" in batch:
            inputs["token_type_ids"] = batch["token_type_ids"]
        out = getattr(model, kind)(**inputs)
        return out.last_hidden_state, out.pooler_output
    if kind == "distilbert":
        return model.distilbert(**inputs).last_hidden_state, None
    raise ValueError(
        f"encode() covers the encoder-only models; {kind} runs its own forward "
        "(XLNet's target_mapping and T5's decoder already predict targets only)"
    )


def mlm_head(model: nn.Module):
    """The module that maps hidden states [..., H] to vocabulary logits [..., V]."""
    kind = kind_of(model)
    if kind == "bert":
        return model.cls.predictions
    if kind == "albert":
        return model.predictions
    if kind == "distilbert":
        return nn.Sequential(
            model.vocab_transform,
            model.activation,
            model.vocab_layer_norm,
            model.vocab_projector,
        )
    if kind == "xlnet":
        return model.lm_loss
    scale = model.model_dim**-0.5 if model.config.scale_decoder_outputs else 1.0
    return lambda hidden: model.lm_head(hidden * scale)


def sentence_pair_head(model: nn.Module) -> nn.Module:
    """The 2-way classifier over the pooled [CLS] vector: BERT's NSP head, ALBERT's
    SOP head (both are one linear layer; only the labels they learn differ)."""
    kind = kind_of(model)
    if kind == "bert":
        return model.cls.seq_relationship
    if kind == "albert":
        return model.sop_classifier
    raise ValueError(f"{kind} has no sentence-pair head")


def predicted_logits(
    model: nn.Module, hidden: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Vocabulary logits [N, V] at the N positions that have a label; the labels."""
    where = labels != IGNORE_INDEX
    return mlm_head(model)(hidden[where]), labels[where]
