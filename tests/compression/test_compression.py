import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from snippets.compression.pruning import magnitude_prune
from snippets.compression.quantization import (
    bf16_autocast_inference,
    quantize_dynamic_int8,
    state_dict_bytes,
)


@pytest.fixture
def bert():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=300,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
    )
    return BertForMaskedLM(config).eval()


INPUTS = {
    "input_ids": torch.randint(
        0, 300, (2, 12), generator=torch.Generator().manual_seed(0)
    )
}


def _linears(model):
    embedding = model.bert.embeddings.word_embeddings.weight.data_ptr()
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.Linear) and m.weight.data_ptr() != embedding
    ]


@pytest.mark.parametrize("amount", [0.3, 0.5, 0.7])
def test_unstructured_pruning_reaches_the_sparsity_and_removes_the_smallest_weights(
    bert, amount
):
    before = [m.weight.detach().clone() for m in _linears(bert)]
    report = magnitude_prune(bert, amount)
    assert report.layers == len(before) and abs(report.sparsity - amount) < 1e-3
    for w0, m in zip(before, _linears(bert), strict=True):
        kept = m.weight != 0
        assert (
            abs(1 - kept.float().mean().item() - amount) < 1e-2
        )  # every layer, not just on average
        assert w0[~kept].abs().max() <= w0[kept].abs().min()  # magnitude order
        assert torch.equal(m.weight[kept], w0[kept])
        assert (
            not hasattr(m, "weight_orig") and not m._forward_pre_hooks
        )  # permanent


def test_structured_pruning_zeroes_whole_rows_and_spares_the_tied_decoder(bert):
    embedding = bert.bert.embeddings.word_embeddings.weight.detach().clone()
    report = magnitude_prune(bert, 0.5, structured=True)
    for m in _linears(bert):
        rows_zero = (m.weight == 0).all(1)
        assert rows_zero.float().mean().item() == pytest.approx(
            0.5, abs=1 / m.weight.shape[0]
        )
    assert report.structured and abs(report.sparsity - 0.5) < 0.02
    assert torch.equal(
        bert.bert.embeddings.word_embeddings.weight, embedding
    )  # tied weights untouched


def test_int8_quantization_shrinks_linears_and_stays_close(bert):
    quantized, report = quantize_dynamic_int8(bert, INPUTS)
    assert report.size_bytes < report.fp32_size_bytes == state_dict_bytes(bert)
    assert 0 < report.max_logit_deviation < 0.5
    dynamic_linear = torch.ao.nn.quantized.dynamic.Linear
    assert (
        sum(isinstance(m, dynamic_linear) for m in quantized.modules()) == 2 * 6 + 2
    )  # 6 per layer + head + decoder
    assert not any(
        isinstance(m, dynamic_linear) for m in bert.modules()
    )  # the original is untouched


def test_bf16_autocast_halves_the_weights_and_stays_close(bert):
    logits, report = bf16_autocast_inference(bert, INPUTS)
    assert logits.shape == (2, 12, 300)
    assert report.size_bytes < 0.6 * report.fp32_size_bytes
    assert 0 < report.max_logit_deviation < 0.2


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m: magnitude_prune(m, 1.0), ValueError, "amount"),
        (lambda m: magnitude_prune(m, -0.1), ValueError, "amount"),
        (lambda m: magnitude_prune("bert", 0.5), TypeError, "nn.Module"),
        (
            lambda m: magnitude_prune(torch.nn.Embedding(3, 2), 0.5),
            ValueError,
            "no prunable",
        ),
        (
            lambda m: quantize_dynamic_int8(m, torch.ones(2, 3)),
            TypeError,
            "inputs must be",
        ),
        (lambda m: bf16_autocast_inference(m, {}), TypeError, "inputs must be"),
    ],
)
def test_rejects_bad_input(bert, call, error, match):
    with pytest.raises(error, match=match):
        call(bert)


@pytest.mark.parametrize("run", [quantize_dynamic_int8, bf16_autocast_inference])
def test_the_callers_model_keeps_its_modes(bert, run):
    # a model in training mode with one submodule in eval mode: both stay
    bert.train()
    bert.bert.encoder.layer[0].attention.eval()
    before = {k: v.clone() for k, v in bert.state_dict().items()}
    run(bert, INPUTS)
    assert bert.training and bert.bert.embeddings.training
    assert not bert.bert.encoder.layer[0].attention.training
    assert all(torch.equal(v, bert.state_dict()[k]) for k, v in before.items())


def test_the_reports_run_the_model_in_eval_mode(bert):
    # dropout off: the same inputs give the same logits twice
    bert.train()
    logits_1, _ = bf16_autocast_inference(bert, INPUTS)
    logits_2, _ = bf16_autocast_inference(bert, INPUTS)
    assert torch.equal(logits_1, logits_2)


def test_quantization_needs_a_float32_cpu_model(bert):
    with pytest.raises(ValueError, match="model must be float32"):
        quantize_dynamic_int8(bert.double(), INPUTS)


def test_pruning_changes_the_model_in_place_as_documented(bert):
    assert "IN PLACE" in magnitude_prune.__doc__
    weight = bert.bert.encoder.layer[0].intermediate.dense.weight
    magnitude_prune(bert, 0.5)
    assert (weight == 0).float().mean() == pytest.approx(0.5, abs=1e-3)
