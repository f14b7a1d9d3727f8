"""Span corruption (T5, Raffel et al. 2020, §3.3.4 and Table 4), vectorized over the batch.

T5 drops 15% of the tokens (`noise_density`) in spans of mean length 3 (`mean_noise_span_length`).
Each dropped span becomes one sentinel in the input, and the target lists the dropped spans,
each after its sentinel:

    original:  Thank you for inviting me to your party last week .
    inputs:    Thank you <X> me to your party <Y> week .
    targets:   <X> for inviting <Y> last <Z>

The mask follows the reference `random_spans_noise_mask`:

    num_noise  = clip(round(length · noise_density), 1, length − 1)
    num_spans  = max(round(num_noise / mean_noise_span_length), 1)

The noise tokens and the non-noise tokens are each split into `num_spans` random non-empty
segments. The segments are interleaved, non-noise first. Sentinel ids count *down* from
`<extra_id_0>`, the highest id in T5's vocabulary.
"""

from __future__ import annotations

import torch

from snippets._checks import (
    check_generator,
    check_positive_int,
    check_probability,
    check_token_ids,
)


def _noise_counts(
    length: int, noise_density: float, mean_noise_span_length: float
) -> tuple[int, int]:
    num_noise = min(max(round(length * noise_density), 1), length - 1)
    num_spans = max(round(num_noise / mean_noise_span_length), 1)
    return num_noise, min(
        num_spans, num_noise, length - num_noise
    )  # every segment must be non-empty


# --8<-- [start:mask]
def _random_segmentation(
    batch_size: int, num_items: int, num_segments: int, generator, device
) -> torch.Tensor:
    """Lengths [B, num_segments] of a uniformly random split of `num_items` into non-empty segments."""
    # choose num_segments - 1 of the num_items - 1 gaps as segment boundaries: the smallest of
    # num_items - 1 uniforms form a uniformly random subset (topk selects them without a full sort)
    draws = torch.rand(
        batch_size, num_items - 1, generator=generator, device=device
    )
    starts = (
        draws.topk(num_segments - 1, dim=1, largest=False).indices.sort(1).values
        + 1
    )  # item starting a segment
    edges = torch.cat(
        [
            starts.new_zeros(batch_size, 1),
            starts,
            starts.new_full((batch_size, 1), num_items),
        ],
        1,
    )
    return edges.diff(dim=1)


def random_spans_noise_mask_batch(
    batch_size: int,
    length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """T5's noise mask for `batch_size` rows of `length` tokens: BoolTensor [B, length]."""
    check_positive_int(batch_size, "batch_size")
    check_positive_int(length, "length", minimum=2)
    check_probability(noise_density, "noise_density", high_open=True)
    if not mean_noise_span_length >= 1:
        raise ValueError(
            f"mean_noise_span_length must be >= 1, got {mean_noise_span_length}"
        )
    num_noise, num_spans = _noise_counts(
        length, noise_density, mean_noise_span_length
    )
    noise = _random_segmentation(
        batch_size, num_noise, num_spans, generator, device
    )
    nonnoise = _random_segmentation(
        batch_size, length - num_noise, num_spans, generator, device
    )
    interleaved = torch.stack([nonnoise, noise], dim=2).flatten(
        1
    )  # non-noise first
    span_starts = interleaved.cumsum(1)[:, :-1]
    indicator = torch.zeros(
        batch_size, length, dtype=torch.long, device=device
    ).scatter_(1, span_starts, 1)
    return indicator.cumsum(1) % 2 == 1  # odd segments are noise


def random_spans_noise_mask(
    length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """T5's noise mask for one sequence: BoolTensor [length]."""
    return random_spans_noise_mask_batch(
        1, length, noise_density, mean_noise_span_length, generator=generator
    )[0]


# --8<-- [end:mask]


# --8<-- [start:sentinels]
def noise_span_to_unique_sentinel(
    tokens: torch.Tensor, noise_mask: torch.Tensor, *, sentinel_start_id: int
) -> torch.Tensor:
    """Replace each noise span by one sentinel (ids counting down from `sentinel_start_id`) and drop
    the rest of the span. Works on [L] or on [B, L] when every row has the same number of spans
    and noise tokens (as `random_spans_noise_mask_batch` guarantees)."""
    if tokens.shape != noise_mask.shape:
        raise ValueError(
            f"tokens and noise_mask must have the same shape, got {tuple(tokens.shape)} and {tuple(noise_mask.shape)}"
        )
    squeeze = tokens.dim() == 1
    tokens, noise_mask = (
        (tokens[None], noise_mask[None]) if squeeze else (tokens, noise_mask)
    )
    prev_noise = torch.nn.functional.pad(noise_mask[:, :-1], (1, 0))
    first = noise_mask & ~prev_noise
    subsequent = noise_mask & prev_noise
    sentinel = sentinel_start_id + 1 - first.long().cumsum(1)
    replaced = torch.where(first, sentinel.to(tokens.dtype), tokens)
    keep = ~subsequent
    kept = keep.sum(1)
    if (kept != kept[0]).any():
        raise ValueError(
            "rows keep different numbers of tokens; pass one row at a time"
        )
    out = replaced[keep].view(tokens.shape[0], -1)
    return out[0] if squeeze else out


def nonnoise_span_to_unique_sentinel(
    tokens: torch.Tensor, noise_mask: torch.Tensor, *, sentinel_start_id: int
) -> torch.Tensor:
    """The targets' side: the non-noise spans become sentinels, the noise tokens stay."""
    return noise_span_to_unique_sentinel(
        tokens, ~noise_mask, sentinel_start_id=sentinel_start_id
    )


# --8<-- [end:sentinels]


# --8<-- [start:core]
def span_corruption(
    input_ids: torch.Tensor,
    *,
    sentinel_start_id: int,
    eos_token_id: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch [B, L] of raw tokens (no EOS yet): returns `(inputs, targets)`, EOS-terminated."""
    check_token_ids(input_ids)
    check_generator(generator, input_ids.device)
    B, L = input_ids.shape
    check_positive_int(L, "sequence length", minimum=2)
    _, num_spans = _noise_counts(L, noise_density, mean_noise_span_length)
    lowest = sentinel_start_id - num_spans + 1
    if lowest < 0:
        raise ValueError(
            f"sentinel_start_id={sentinel_start_id} leaves no room for {num_spans} sentinels counting down"
        )
    if ((input_ids >= lowest) & (input_ids <= sentinel_start_id)).any():
        raise ValueError(
            f"input_ids contain ids in the sentinel range [{lowest}, {sentinel_start_id}]; they could not be told apart"
        )
    noise = random_spans_noise_mask_batch(
        B,
        L,
        noise_density,
        mean_noise_span_length,
        generator=generator,
        device=input_ids.device,
    )
    eos = torch.full(
        (B, 1), eos_token_id, dtype=input_ids.dtype, device=input_ids.device
    )
    inputs = noise_span_to_unique_sentinel(
        input_ids, noise, sentinel_start_id=sentinel_start_id
    )
    targets = nonnoise_span_to_unique_sentinel(
        input_ids, noise, sentinel_start_id=sentinel_start_id
    )
    return torch.cat([inputs, eos], 1), torch.cat([targets, eos], 1)


# --8<-- [end:core]


# --8<-- [start:lengths]
def corrupted_lengths(
    tokens_length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> tuple[int, int]:
    """(inputs, targets) lengths, EOS included, after corrupting `tokens_length` raw tokens."""
    num_noise, num_spans = _noise_counts(
        tokens_length, noise_density, mean_noise_span_length
    )
    return tokens_length - num_noise + num_spans + 1, num_noise + num_spans + 1


def compute_input_and_target_lengths(
    inputs_length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> tuple[int, int]:
    """How many raw tokens to take so that the corrupted input is exactly `inputs_length` long.

    Returns (tokens_length, targets_length); (568, 114) for T5's inputs_length = 512.
    """
    check_positive_int(inputs_length, "inputs_length", minimum=3)
    check_probability(noise_density, "noise_density", high_open=True)
    # Each raw token adds at most one input token, so search upwards from inputs_length.
    tokens_length = inputs_length
    while (
        corrupted_lengths(tokens_length + 1, noise_density, mean_noise_span_length)[
            0
        ]
        <= inputs_length
    ):
        tokens_length += 1
    return tokens_length, corrupted_lengths(
        tokens_length, noise_density, mean_noise_span_length
    )[1]


# --8<-- [end:lengths]
