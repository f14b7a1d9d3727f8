"""Per-example baselines, written here in our own code, shaped like the widely used
reference collators.

- `t5_numpy_baseline`: the structure of the Flax T5 pre-training example's
  collator: a NumPy `random_spans_noise_mask` per example, then vectorized
  sentinel filling over the batch.
- `spanbert_loop_baseline`: the structure of SpanBERT's reference masking: one
  draw per span, a uniformly random anchor word, a redraw whenever the anchor is
  already masked, and an 80/10/10 draw per span.
"""

from __future__ import annotations

import numpy as np


def _random_segmentation(
    rng: np.random.Generator, num_items: int, num_segments: int
) -> np.ndarray:
    mask_indices = np.arange(num_items - 1) < (num_segments - 1)
    rng.shuffle(mask_indices)
    first_in_segment = np.pad(mask_indices, [[1, 0]])
    segment_id = np.cumsum(first_in_segment)
    return np.bincount(segment_id, minlength=num_segments)


def numpy_noise_mask(
    rng: np.random.Generator,
    length: int,
    noise_density: float = 0.15,
    mean_span: float = 3.0,
) -> np.ndarray:
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_span)), 1)
    noise_lengths = _random_segmentation(rng, num_noise, num_spans)
    nonnoise_lengths = _random_segmentation(rng, length - num_noise, num_spans)
    interleaved = np.stack([nonnoise_lengths, noise_lengths], axis=1).reshape(-1)
    starts = np.cumsum(interleaved)[:-1]
    indicator = np.zeros(length, dtype=np.int8)
    indicator[starts] = 1
    return np.cumsum(indicator) % 2 == 1


def t5_numpy_baseline(
    input_ids: np.ndarray,
    rng: np.random.Generator,
    sentinel_start_id: int,
    eos_id: int,
):
    batch, length = input_ids.shape
    mask = np.stack(
        [numpy_noise_mask(rng, length) for _ in range(batch)]
    )  # per example, as the Flax collator

    def sentinel_ids(m: np.ndarray) -> np.ndarray:
        starts = m & ~np.pad(m[:, :-1], ((0, 0), (1, 0)))
        ids = np.where(starts, np.cumsum(starts, axis=-1), 0)
        return np.where(ids != 0, sentinel_start_id + 1 - ids, 0) - (
            m & ~starts
        )  # -1 marks tokens to drop

    def fill(ids: np.ndarray, sentinels: np.ndarray) -> np.ndarray:
        filled = np.where(sentinels != 0, sentinels, ids)
        kept = filled[filled >= 0].reshape(batch, -1)
        return np.concatenate([kept, np.full((batch, 1), eos_id)], axis=-1)

    return fill(input_ids, sentinel_ids(mask)), fill(input_ids, sentinel_ids(~mask))


def spanbert_loop_baseline(
    input_ids: np.ndarray,
    word_starts: np.ndarray,
    rng: np.random.Generator,
    mask_id: int,
    vocab_size: int,
    probs: np.ndarray,
    ratio: float = 0.15,
):
    inputs, labels = input_ids.copy(), np.full_like(input_ids, -100)
    for b in range(input_ids.shape[0]):
        starts = np.flatnonzero(word_starts[b])
        ends = np.append(starts[1:], input_ids.shape[1])
        budget = int(round(input_ids.shape[1] * ratio))
        masked = np.zeros(input_ids.shape[1], dtype=bool)
        count, tries = 0, 0
        while count < budget and tries < 10 * budget:
            tries += 1
            length = rng.choice(len(probs), p=probs) + 1  # one draw per span
            anchor = rng.integers(len(starts))
            if masked[starts[anchor]]:
                continue  # redraw an anchor inside a span
            last = min(anchor + length, len(starts)) - 1
            s, e = starts[anchor], ends[last]
            if count + (e - s) > budget:
                continue
            masked[s:e] = True
            count += e - s
            u = rng.random()
            labels[b, s:e] = input_ids[b, s:e]
            if u < 0.8:
                inputs[b, s:e] = mask_id
            elif u < 0.9:
                inputs[b, s:e] = rng.integers(vocab_size, size=e - s)
    return inputs, labels
