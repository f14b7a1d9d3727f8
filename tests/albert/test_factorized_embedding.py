import pytest
import torch
from transformers import AlbertConfig, AlbertModel

from snippets.albert.factorized_embedding import (
    FactorizedEmbedding,
    embedding_parameter_count,
)


@pytest.mark.parametrize("bias", [True, False])
def test_count_equals_the_modules_real_parameters(bias):
    emb = FactorizedEmbedding(vocab_size=97, embedding_size=8, hidden_size=24)
    real = sum(p.numel() for p in emb.parameters()) - (0 if bias else 24)
    assert embedding_parameter_count(97, 8, 24, bias=bias) == real


def test_unfactorized_count_is_bert_v_times_h():
    assert (
        embedding_parameter_count(30000, 128, 768, factorized=False) == 30000 * 768
    )


def test_factorization_saves_parameters_exactly_when_e_is_small():
    # V·E + E·H < V·H  <=>  E < V·H / (V + H)
    V, H = 30000, 4096
    for E in (64, 128, 256, 1024, 4096):
        saves = embedding_parameter_count(
            V, E, H, bias=False
        ) < embedding_parameter_count(V, E, H, factorized=False)
        assert saves == (E < V * H / (V + H))


def test_shapes_match_transformers_albert_embedding_block():
    config = AlbertConfig(
        vocab_size=101,
        embedding_size=16,
        hidden_size=48,
        num_attention_heads=4,
        intermediate_size=64,
        num_hidden_layers=1,
    )
    albert = AlbertModel(config)
    ours = FactorizedEmbedding(101, 16, 48)
    ref_lookup = albert.embeddings.word_embeddings.weight
    ref_proj = albert.encoder.embedding_hidden_mapping_in
    assert ours.word_embeddings.weight.shape == ref_lookup.shape
    assert ours.projection.weight.shape == ref_proj.weight.shape
    assert ours.projection.bias.shape == ref_proj.bias.shape
    ref_count = ref_lookup.numel() + sum(p.numel() for p in ref_proj.parameters())
    assert embedding_parameter_count(101, 16, 48) == ref_count


def test_forward_is_lookup_then_projection():
    torch.manual_seed(0)
    emb = FactorizedEmbedding(50, 4, 12)
    ids = torch.tensor([[1, 2, 3], [49, 0, 7]])
    out = emb(ids)
    assert out.shape == (2, 3, 12)
    expected = (
        emb.word_embeddings.weight[ids] @ emb.projection.weight.T
        + emb.projection.bias
    )
    assert torch.allclose(out, expected)


def test_rejects_bad_inputs():
    emb = FactorizedEmbedding(10, 4, 8)
    with pytest.raises(TypeError, match="integer token ids"):
        emb(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="below vocab_size=10"):
        emb(torch.tensor([[10]]))
    with pytest.raises(TypeError, match="embedding_size must be an int"):
        FactorizedEmbedding(10, 4.0, 8)
    with pytest.raises(ValueError, match="embedding_size"):
        FactorizedEmbedding(10, 0, 8)
