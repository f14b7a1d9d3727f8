import pytest
import torch
import torch.nn.functional as F

from snippets.spanbert.span_boundary_objective import (
    SpanBoundaryHead,
    span_boundary_loss,
    span_token_positions,
    spanbert_loss,
)


@pytest.fixture
def head():
    torch.manual_seed(0)
    return SpanBoundaryHead(
        hidden_size=16, vocab_size=40, max_span_length=10, position_embedding_size=8
    ).eval()


SPANS = torch.tensor([[0, 2, 5], [1, 4, 6]])


def test_one_row_per_span_token(head):
    logits = head(torch.randn(2, 10, 16), SPANS)
    assert logits.shape == (3 + 2, 40)
    _, position, offset = span_token_positions(SPANS)
    assert position.tolist() == [2, 3, 4, 4, 5]
    assert offset.tolist() == [0, 1, 2, 0, 1]


def test_default_position_table_counts_15_word_pieces():
    # facebookresearch/SpanBERT, pretraining/README.md: --max-pair-targets 15
    assert SpanBoundaryHead(16, 40).position_embeddings.num_embeddings == 15


def test_output_depends_only_on_the_boundaries_and_the_relative_position(head):
    h = torch.randn(2, 10, 16)
    base = head(h, SPANS)
    inside = h.clone()
    inside[0, 2:5] = torch.randn(3, 16)  # change the span's own states
    inside[0, 7:] = torch.randn(3, 16)  # and states far away
    assert torch.allclose(head(inside, SPANS), base)
    boundary = h.clone()
    boundary[0, 1] += 1.0  # x_{s-1}
    assert not torch.allclose(head(boundary, SPANS)[:3], base[:3])
    boundary = h.clone()
    boundary[0, 5] += 1.0  # x_{e+1}
    assert not torch.allclose(head(boundary, SPANS)[:3], base[:3])
    # same boundaries, different relative positions -> different predictions
    assert not torch.allclose(base[0], base[1])


def test_gradients_reach_only_boundary_states_and_every_parameter(head):
    h = torch.randn(2, 10, 16, requires_grad=True)
    loss = span_boundary_loss(head, h, SPANS, torch.randint(0, 40, (2, 10)))
    loss.backward()
    touched = (h.grad.abs().sum(-1) > 0).nonzero().tolist()
    assert touched == [[0, 1], [0, 5], [1, 3], [1, 6]]
    assert all(p.grad is not None for p in head.parameters())


def test_spans_at_the_sequence_edge_use_a_zero_boundary(head):
    h = torch.randn(1, 6, 16)
    edge = torch.tensor([[0, 0, 2], [0, 4, 6]])  # touches the start, and the end
    out = head(h, edge)
    assert torch.isfinite(out).all()
    # the missing boundary is exactly a zero state: compare with a zero-padded row
    padded = torch.cat([torch.zeros(1, 1, 16), h, torch.zeros(1, 1, 16)], 1)
    assert torch.allclose(
        out, head(padded, edge + torch.tensor([0, 1, 1])), atol=1e-6
    )


def test_long_runs_predict_their_first_max_span_length_pieces():
    # facebookresearch/SpanBERT, pretraining/fairseq/data/masking.py: span_masking
    # pairs each merged run with its outside boundaries (start - 1, end + 1), and
    # pad_to_len cuts the targets to max_pair_targets pieces.
    torch.manual_seed(0)
    head = SpanBoundaryHead(16, 40, max_span_length=4, position_embedding_size=8)
    h = torch.randn(1, 12, 16, requires_grad=True)
    ids = torch.randint(0, 40, (1, 12))
    spans = torch.tensor([[0, 2, 9]])  # 7 pieces, more than 4
    logits = head(h, spans)
    assert logits.shape == (4, 40)
    _, position, offset = span_token_positions(spans, 4)
    assert position.tolist() == [2, 3, 4, 5] and offset.tolist() == [0, 1, 2, 3]
    loss = span_boundary_loss(head, h, spans, ids)
    assert torch.isclose(loss, F.cross_entropy(logits, ids[0, 2:6]))
    loss.backward()
    # the right boundary stays the token after the whole run, not after piece 4
    assert (h.grad.abs().sum(-1)[0] > 0).nonzero().flatten().tolist() == [1, 9]


def test_total_loss_is_mlm_plus_sbo(head):
    h = torch.randn(2, 10, 16)
    ids = torch.randint(0, 40, (2, 10))
    mlm_logits = torch.randn(2, 10, 40)
    labels = torch.full((2, 10), -100)
    labels[0, 2:5], labels[1, 4:6] = ids[0, 2:5], ids[1, 4:6]
    mlm = F.cross_entropy(mlm_logits[labels != -100], labels[labels != -100])
    total = spanbert_loss(mlm_logits, labels, head, h, SPANS, ids)
    assert torch.isclose(total, mlm + span_boundary_loss(head, h, SPANS, ids))


def test_no_spans_give_a_zero_loss_with_a_zero_gradient(head):
    h = torch.randn(2, 10, 16, requires_grad=True)
    mlm_logits = torch.randn(2, 10, 40, requires_grad=True)
    ids = torch.randint(0, 40, (2, 10))
    none = torch.zeros(0, 3, dtype=torch.long)
    sbo = span_boundary_loss(head, h, none, ids)
    total = spanbert_loss(mlm_logits, torch.full((2, 10), -100), head, h, none, ids)
    assert sbo.item() == 0 and total.item() == 0
    total.backward()
    assert (h.grad == 0).all() and (mlm_logits.grad == 0).all()
    assert all((p.grad == 0).all() for p in head.parameters())


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64]
)
def test_losses_keep_the_float_dtype(head, dtype):
    h = torch.randn(2, 10, 16, dtype=dtype)
    ids = torch.randint(0, 40, (2, 10))
    labels = torch.full((2, 10), -100)
    labels[0, 2:5] = ids[0, 2:5]
    mlm_logits = torch.randn(2, 10, 40, dtype=dtype)
    assert head(h, SPANS).dtype == dtype
    for loss in (
        span_boundary_loss(head, h, SPANS, ids),
        spanbert_loss(mlm_logits, labels, head, h, SPANS, ids),
    ):
        assert loss.dtype == dtype and torch.isfinite(loss)


def test_half_precision_sums_do_not_overflow(head):
    # 40,000 predictions of loss ~ 3.7 sum past float16's largest value (65,504)
    h = torch.randn(1000, 42, 16, dtype=torch.float16)
    spans = torch.tensor([[b, 1, 41] for b in range(1000)])
    ids = torch.randint(0, 40, (1000, 42))
    assert torch.isfinite(span_boundary_loss(head, h, spans, ids))


@pytest.mark.parametrize(
    "spans, error, match",
    [
        (torch.tensor([[0, 3, 3]]), ValueError, "start < end"),
        (torch.tensor([[2, 0, 1]]), ValueError, "batch indices"),
        (torch.tensor([[0, 0, 11]]), ValueError, "end <= 10"),
        (torch.tensor([[0, -1, 2]]), ValueError, "start < end"),
        (torch.tensor([[0.0, 1.0, 2.0]]), TypeError, "integer"),
        (torch.tensor([0, 1, 2]), ValueError, r"\[S, 3\]"),
    ],
)
def test_rejects_bad_spans(head, spans, error, match):
    with pytest.raises(error, match=match):
        head(torch.randn(2, 10, 16), spans)


def test_rejects_bad_hidden_states_and_targets(head):
    with pytest.raises(ValueError, match="hidden_states"):
        head(torch.randn(2, 10, 17), SPANS)
    with pytest.raises(TypeError, match="hidden_states"):
        head(torch.ones(2, 10, 16, dtype=torch.long), SPANS)
    with pytest.raises(ValueError, match="original_ids"):
        span_boundary_loss(
            head, torch.randn(2, 10, 16), SPANS, torch.full((2, 10), 40)
        )
    with pytest.raises(ValueError, match="mlm_labels"):
        spanbert_loss(
            torch.randn(2, 10, 40),
            torch.full((2, 10), 40),
            head,
            torch.randn(2, 10, 16),
            SPANS,
            torch.zeros(2, 10, dtype=torch.long),
        )
