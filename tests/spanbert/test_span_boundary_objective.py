import pytest
import torch

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
    assert position.tolist() == [2, 3, 4, 4, 5] and offset.tolist() == [
        0,
        1,
        2,
        0,
        1,
    ]


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
    # the missing boundary is exactly a zero state: compare with a sequence padded by zeros
    padded = torch.cat([torch.zeros(1, 1, 16), h, torch.zeros(1, 1, 16)], 1)
    assert torch.allclose(
        out, head(padded, edge + torch.tensor([0, 1, 1])), atol=1e-6
    )


def test_total_loss_is_mlm_plus_sbo(head):
    h = torch.randn(2, 10, 16)
    ids = torch.randint(0, 40, (2, 10))
    mlm_logits = torch.randn(2, 10, 40)
    labels = torch.full((2, 10), -100)
    labels[0, 2:5], labels[1, 4:6] = ids[0, 2:5], ids[1, 4:6]
    mlm = torch.nn.functional.cross_entropy(
        mlm_logits[labels != -100], labels[labels != -100]
    )
    total = spanbert_loss(mlm_logits, labels, head, h, SPANS, ids)
    assert torch.isclose(total, mlm + span_boundary_loss(head, h, SPANS, ids))


@pytest.mark.parametrize(
    "spans, match",
    [
        (torch.tensor([[0, 3, 3]]), "start < end"),
        (torch.tensor([[2, 0, 1]]), "batch indices"),
        (torch.tensor([[0, 0, 11]]), "start < end"),
        (torch.tensor([[0, 0, 9]]), None),
        (torch.tensor([[0.0, 1.0, 2.0]]), "integer"),
    ],
)
def test_rejects_bad_spans(head, spans, match):
    h = torch.randn(2, 10, 16)
    if match is None:
        head_short = SpanBoundaryHead(16, 40, max_span_length=4)
        with pytest.raises(ValueError, match="longer than max_span_length=4"):
            head_short(h, spans)
    else:
        with pytest.raises(ValueError, match=match):
            head(h, spans)
