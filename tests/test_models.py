"""The tiny models: built from configs, and the vocabulary projection at the
predicted positions only is exactly the model's own logits there."""

from __future__ import annotations

import pytest
import torch

from experiments.models import (
    KINDS,
    encode,
    mlm_head,
    predicted_logits,
    sentence_pair_head,
    tiny_model,
)

V = 300


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (3, 11), generator=g)
    attention = torch.ones_like(ids)
    attention[2, 7:] = 0  # a padded row
    labels = torch.full_like(ids, -100)
    labels[0, 1], labels[1, 4], labels[1, 5], labels[2, 6] = 7, 8, 9, 10
    return {"input_ids": ids, "attention_mask": attention, "labels": labels}


@pytest.mark.parametrize("kind", ["bert", "albert", "distilbert"])
def test_logits_at_predicted_positions_are_the_models_own(kind):
    model = tiny_model(kind, V, layers=2, hidden=64).eval()
    batch = _batch()
    hidden, pooled = encode(model, batch)
    logits, targets = predicted_logits(model, hidden, batch["labels"])
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    )
    full = out.logits if kind == "distilbert" else out.prediction_logits
    where = batch["labels"] != -100
    assert logits.shape == (4, V) and targets.tolist() == [7, 8, 9, 10]
    torch.testing.assert_close(logits, full[where])
    if kind != "distilbert":
        pair = out.seq_relationship_logits if kind == "bert" else out.sop_logits
        torch.testing.assert_close(sentence_pair_head(model)(pooled), pair)


def test_the_xlnet_and_t5_heads_match_their_models():
    ids = _batch()["input_ids"]
    xlnet = tiny_model("xlnet", V, layers=2, hidden=64).eval()
    out = xlnet(input_ids=ids, output_hidden_states=True)
    torch.testing.assert_close(mlm_head(xlnet)(out.hidden_states[-1]), out.logits)
    t5 = tiny_model("t5", V, layers=2, hidden=64).eval()
    out = t5(input_ids=ids, decoder_input_ids=ids[:, :4], output_hidden_states=True)
    torch.testing.assert_close(
        mlm_head(t5)(out.decoder_hidden_states[-1]), out.logits
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_builds_small_and_seeded(kind):
    model = tiny_model(kind, V, layers=2, hidden=128, seed=3)
    again = tiny_model(kind, V, layers=2, hidden=128, seed=3)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    for (name, p), q in zip(
        model.named_parameters(), again.parameters(), strict=True
    ):
        assert torch.equal(p, q), name
    with pytest.raises(ValueError, match="kind"):
        tiny_model("gpt", V)
