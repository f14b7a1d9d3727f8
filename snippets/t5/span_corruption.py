"""Span corruption (T5, Raffel et al. 2020, §3.3.4 and Table 7), vectorized over the
batch.

T5 drops 15% of the tokens (`noise_density`) in spans of mean length 3
(`mean_noise_span_length`). Each dropped span becomes one sentinel in the input, and
the target lists the dropped spans, each after its sentinel:

    original:  Thank you for inviting me to your party last week .
    inputs:    Thank you <X> me to your party <Y> week .
    targets:   <X> for inviting <Y> last <Z>

The mask follows the reference `random_spans_noise_mask`
(google-research/text-to-text-transfer-transformer, `t5/data/preprocessors.py`):

    num_noise  = clip(round(length · noise_density), 1, length − 1)
    num_spans  = max(round(num_noise / mean_noise_span_length), 1)

The noise tokens and the non-noise tokens are each split into `num_spans` random
non-empty segments. The segments are interleaved, non-noise first. As in the
reference, a `noise_density` of 0 or a row of fewer than 2 tokens gives no noise.

Sentinel ids count *down* from `<extra_id_0>`, the highest id in T5's vocabulary.
T5 and mT5 have 100 of them (`DEFAULT_EXTRA_IDS = 100`, `t5/data/utils.py`). A row
that needs more sentinels is refused: below the last one are ordinary tokens. At
the defaults that happens from 2,010 tokens a row (8,192 tokens need 410).

Two deliberate differences from the reference. Counts are rounded in Python
floats, as the reference's length helper `random_spans_helper` does. The reference's
mask rounds float32 products instead, and at a few lengths the two disagree:
190 · 0.15 is 28.5 in float64, which rounds to 28, but slightly above 28.5 in
float32, which rounds to 29. And where the reference would make more noise spans
than there are non-noise tokens (its segmentation then fails), the count is capped
at the non-noise tokens.
"""

from __future__ import annotations

import math

import torch

from snippets._checks import (
    check_bool_like,
    check_generator,
    check_positive_int,
    check_probability,
    check_token_ids,
)

NUM_SENTINELS = 100  # <extra_id_0> .. <extra_id_99> in T5's and mT5's vocabularies


def _check_noise(
    noise_density: object, mean_noise_span_length: object, *, zero_ok: bool = True
) -> None:
    check_probability(
        noise_density, "noise_density", low_open=not zero_ok, high_open=True
    )
    m = mean_noise_span_length
    if isinstance(m, bool) or not isinstance(m, (int, float)):
        raise TypeError(
            f"mean_noise_span_length must be a float, got {type(m).__name__}"
        )
    if not (math.isfinite(m) and m >= 1):
        raise ValueError(f"mean_noise_span_length must be finite and >= 1, got {m}")


def _noise_counts(
    length: int, noise_density: float, mean_noise_span_length: float
) -> tuple[int, int]:
    if length < 2 or noise_density == 0:
        return 0, 0
    num_noise = min(max(round(length * noise_density), 1), length - 1)
    num_spans = max(round(num_noise / mean_noise_span_length), 1)
    return num_noise, min(num_spans, length - num_noise)  # segments are non-empty


# --8<-- [start:mask]
def _random_segmentation(
    batch_size: int, num_items: int, num_segments: int, generator, device
) -> torch.Tensor:
    """Lengths [B, num_segments] of a uniformly random split of `num_items` into
    non-empty segments."""
    # choose num_segments - 1 of the num_items - 1 gaps as segment boundaries: the
    # smallest of num_items - 1 uniforms form a uniformly random subset (topk
    # selects them without a full sort)
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
    """T5's noise mask for `batch_size` rows of `length` tokens: bool [B, L]."""
    check_positive_int(batch_size, "batch_size", minimum=0)
    check_positive_int(length, "length", minimum=0)
    _check_noise(noise_density, mean_noise_span_length)
    device = _check_device(device)
    check_generator(generator, device)
    num_noise, num_spans = _noise_counts(
        length, noise_density, mean_noise_span_length
    )
    if num_spans == 0 or batch_size == 0:
        return torch.zeros(batch_size, length, dtype=torch.bool, device=device)
    noise = _random_segmentation(
        batch_size, num_noise, num_spans, generator, device
    )
    nonnoise = _random_segmentation(
        batch_size, length - num_noise, num_spans, generator, device
    )
    interleaved = torch.stack([nonnoise, noise], dim=2).flatten(1)  # non-noise 1st
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
    tokens: torch.Tensor,
    noise_mask: torch.Tensor,
    *,
    sentinel_start_id: int,
    num_sentinels: int = NUM_SENTINELS,
) -> torch.Tensor:
    """Replace each noise span by one sentinel (ids counting down from
    `sentinel_start_id`) and drop the rest of the span. Works on [L], or on
    [B, L] when every row keeps the same number of tokens (as
    `random_spans_noise_mask_batch` guarantees). The result keeps the dtype of
    `tokens` if it holds the sentinel ids, and is int64 otherwise."""
    tokens, noise_mask = _check_tokens_and_mask(tokens, noise_mask)
    check_positive_int(sentinel_start_id, "sentinel_start_id", minimum=0)
    check_positive_int(num_sentinels, "num_sentinels")
    squeeze = tokens.dim() == 1
    if squeeze:
        tokens, noise_mask = tokens[None], noise_mask[None]
    prev_noise = torch.nn.functional.pad(noise_mask[:, :-1], (1, 0))
    first = noise_mask & ~prev_noise
    subsequent = noise_mask & prev_noise
    count = int(first.sum(1).max()) if tokens.numel() else 0
    _check_sentinel_budget(count, sentinel_start_id, num_sentinels)
    sentinel = sentinel_start_id + 1 - first.long().cumsum(1)
    replaced = torch.where(first, sentinel, tokens.long())
    keep = ~subsequent
    kept = keep.sum(1)
    if len(kept) and (kept != kept[0]).any():
        raise ValueError(
            "noise_mask keeps different numbers of tokens in different rows; "
            "pass one row at a time"
        )
    width = int(kept[0]) if len(kept) else 0
    out = (
        replaced[keep]
        .view(tokens.shape[0], width)
        .to(_id_dtype(tokens.dtype, sentinel_start_id))
    )
    return out[0] if squeeze else out


def nonnoise_span_to_unique_sentinel(
    tokens: torch.Tensor,
    noise_mask: torch.Tensor,
    *,
    sentinel_start_id: int,
    num_sentinels: int = NUM_SENTINELS,
) -> torch.Tensor:
    """The targets' side: the non-noise spans become sentinels, the noise tokens
    stay."""
    _, noise_mask = _check_tokens_and_mask(tokens, noise_mask)
    return noise_span_to_unique_sentinel(
        tokens,
        ~noise_mask,
        sentinel_start_id=sentinel_start_id,
        num_sentinels=num_sentinels,
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
    num_sentinels: int = NUM_SENTINELS,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch [B, L] of raw tokens (no EOS yet): returns `(inputs,
    targets)`, EOS-terminated, of the lengths `corrupted_lengths(L)` gives."""
    if isinstance(input_ids, torch.Tensor):
        check_generator(generator, input_ids.device)
    check_token_ids(input_ids)
    for name, value in (
        ("sentinel_start_id", sentinel_start_id),
        ("eos_token_id", eos_token_id),
    ):
        check_positive_int(value, name, minimum=0)
    check_positive_int(num_sentinels, "num_sentinels")
    _check_noise(noise_density, mean_noise_span_length)
    B, L = input_ids.shape
    num_noise, num_spans = _noise_counts(L, noise_density, mean_noise_span_length)
    # the targets of a row with no noise still hold one sentinel (the whole row)
    needed = max(num_spans, 1 if L else 0)
    _check_sentinel_budget(needed, sentinel_start_id, num_sentinels, L)
    _check_clear_of_sentinels(
        input_ids, eos_token_id, sentinel_start_id - needed + 1, sentinel_start_id
    )
    dtype = _id_dtype(input_ids.dtype, max(sentinel_start_id, eos_token_id))
    eos = torch.full((B, 1), eos_token_id, dtype=dtype, device=input_ids.device)
    if B == 0:
        lengths = corrupted_lengths(L, noise_density, mean_noise_span_length)
        return tuple(eos.new_zeros(0, n) for n in lengths)
    noise = random_spans_noise_mask_batch(
        B,
        L,
        noise_density,
        mean_noise_span_length,
        generator=generator,
        device=input_ids.device,
    )
    sentinels = {
        "sentinel_start_id": sentinel_start_id,
        "num_sentinels": num_sentinels,
    }
    inputs = noise_span_to_unique_sentinel(input_ids, noise, **sentinels)
    targets = nonnoise_span_to_unique_sentinel(input_ids, noise, **sentinels)
    return (
        torch.cat([inputs.to(dtype), eos], 1),
        torch.cat([targets.to(dtype), eos], 1),
    )


# --8<-- [end:core]


# --8<-- [start:lengths]
def corrupted_lengths(
    tokens_length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> tuple[int, int]:
    """(inputs, targets) lengths, EOS included, after corrupting `tokens_length` raw
    tokens."""
    check_positive_int(tokens_length, "tokens_length", minimum=0)
    _check_noise(noise_density, mean_noise_span_length)
    num_noise, num_spans = _noise_counts(
        tokens_length, noise_density, mean_noise_span_length
    )
    if num_noise == 0:  # one target sentinel stands for the whole row
        return tokens_length + 1, 1 + min(tokens_length, 1)
    return tokens_length - num_noise + num_spans + 1, num_noise + num_spans + 1


def compute_input_and_target_lengths(
    inputs_length: int,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> tuple[int, int]:
    """How many raw tokens to take so that the corrupted input is `inputs_length`
    long: returns (tokens_length, targets_length), (568, 114) for T5's 512.

    The arithmetic is the reference's `random_spans_helper`, including its step
    back by one raw token at noise_density = 0.5 when the targets would be longer
    than the inputs. Settings where that arithmetic and the noise mask disagree
    (no noise token, no noise span, no non-noise token left) are refused.
    """
    check_positive_int(inputs_length, "inputs_length", minimum=2)
    _check_noise(noise_density, mean_noise_span_length, zero_ok=False)

    def lengths(tokens_length: int) -> tuple[int, int]:  # no clipping, as there
        num_noise = round(tokens_length * noise_density)
        num_spans = round(num_noise / mean_noise_span_length)
        return (
            tokens_length - num_noise + num_spans + 1,
            num_noise + num_spans + 1,
        )

    # The reference scans upwards from inputs_length - 1 while one more raw token
    # still fits. Each raw token adds 0 or 1 input token, so the scan stops at the
    # largest fitting length: found here by doubling, then bisection (O(log n)).
    low, step = inputs_length - 1, 1
    while lengths(low + step)[0] <= inputs_length:
        low, step = low + step, step * 2
    high = low + step
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if lengths(mid)[0] <= inputs_length else (low, mid)
    tokens_length = low
    corrupted_inputs, targets_length = lengths(tokens_length)
    step_back = noise_density == 0.5 and targets_length > corrupted_inputs
    if step_back:
        tokens_length, targets_length = tokens_length - 1, targets_length - 1
    _check_mask_agrees(
        tokens_length,
        inputs_length,
        targets_length,
        step_back,
        noise_density,
        mean_noise_span_length,
    )
    return tokens_length, targets_length


# --8<-- [end:lengths]


def _check_device(device: object) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise TypeError(f"device must be a torch.device or str: {err}") from None


def _check_tokens_and_mask(
    tokens: object, noise_mask: object
) -> tuple[torch.Tensor, torch.Tensor]:
    check_token_ids(tokens, "tokens", ndim=None)
    if tokens.dim() not in (1, 2):
        raise ValueError(
            f"tokens must be [L] or [B, L], got shape {tuple(tokens.shape)}"
        )
    if isinstance(noise_mask, torch.Tensor) and noise_mask.shape != tokens.shape:
        raise ValueError(
            "tokens and noise_mask must have the same shape, got "
            f"{tuple(tokens.shape)} and {tuple(noise_mask.shape)}"
        )
    return tokens, check_bool_like(noise_mask, tokens, "noise_mask")


def _id_dtype(dtype: torch.dtype, largest_id: int) -> torch.dtype:
    """`dtype` if it holds `largest_id`, else int64: ids are widened, never
    wrapped."""
    return dtype if torch.iinfo(dtype).max >= largest_id else torch.int64


def _check_sentinel_budget(
    needed: int, sentinel_start_id: int, num_sentinels: int, length: int = 0
) -> None:
    where = f"rows of {length} tokens need" if length else "noise_mask needs"
    if needed > num_sentinels:
        raise ValueError(
            f"{where} {needed} sentinels, but num_sentinels={num_sentinels} (T5 "
            "and mT5 have 100 <extra_id_*> tokens): corrupt shorter rows, or pass "
            "num_sentinels if the vocabulary has more sentinel ids"
        )
    if needed > sentinel_start_id + 1:
        raise ValueError(
            f"sentinel_start_id={sentinel_start_id} leaves no room for {needed} "
            "sentinels counting down to 0"
        )


def _check_clear_of_sentinels(
    input_ids: torch.Tensor, eos_token_id: int, lowest: int, highest: int
) -> None:
    if lowest <= eos_token_id <= highest:
        raise ValueError(
            f"eos_token_id={eos_token_id} is one of the sentinel ids "
            f"[{lowest}, {highest}]"
        )
    ids = input_ids.long()  # a narrow dtype would wrap the bounds
    if ((ids >= lowest) & (ids <= highest)).any():
        raise ValueError(
            f"input_ids contain ids in the sentinel range [{lowest}, {highest}]; "
            "they could not be told apart"
        )


def _check_mask_agrees(
    tokens_length: int,
    inputs_length: int,
    targets_length: int,
    stepped_back: bool,
    noise_density: float,
    mean_noise_span_length: float,
) -> None:
    """The noise mask must give the lengths the arithmetic promised: exactly, or
    at most them after the step back at noise_density = 0.5."""
    got = corrupted_lengths(tokens_length, noise_density, mean_noise_span_length)
    promised = (inputs_length, targets_length)
    fits = got[0] <= promised[0] and got[1] <= promised[1]
    if got == promised or (stepped_back and fits):
        return
    num_noise = round(tokens_length * noise_density)
    if num_noise < 1:
        reason = "rounds to no noise token"
    elif num_noise >= tokens_length:
        reason = "leaves no non-noise token"
    elif round(num_noise / mean_noise_span_length) < 1:
        reason = "rounds to no noise span"
    else:
        reason = "makes more noise spans than non-noise tokens"
    raise ValueError(
        f"inputs_length={inputs_length}, noise_density={noise_density}, "
        f"mean_noise_span_length={mean_noise_span_length}: at {tokens_length} raw "
        f"tokens the reference arithmetic {reason}, so the noise mask gives "
        f"{got[0]} inputs and {got[1]} targets, not {promised[0]} and "
        f"{promised[1]}; use a longer inputs_length or another noise_density"
    )
