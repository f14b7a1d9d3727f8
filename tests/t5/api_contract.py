"""Contract rows for snippets.t5 (see tests/contract.py for the rules)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from contract import (
    OK,
    RAISE,
    Row,
    Variant,
    count,
    generator,
    ids,
    mask,
    probability,
    token_id,
)

from snippets.t5.span_corruption import (
    compute_input_and_target_lengths,
    corrupted_lengths,
    noise_span_to_unique_sentinel,
    nonnoise_span_to_unique_sentinel,
    random_spans_noise_mask,
    random_spans_noise_mask_batch,
    span_corruption,
)

SENTINEL_0, EOS, B, L = 999, 1, 3, 12  # valid ids lie in [5, 128)


def _set(arg, value):
    return lambda kw: {**kw, arg: value}


# ---- kinds for arguments tests/contract.py has no kind for ----------------------


def span_length(arg: str, kw: dict) -> list[Variant]:
    """A mean span length: a finite real >= 1."""
    good = {"one": 1.0, "int": 2, "long": 7.5}
    bad = {"zero": 0.0, "below-one": 0.5, "negative": -1.0, "nan": math.nan}
    bad |= {"inf": math.inf}
    return [
        *(Variant(f"value-{k}", _set(arg, v), OK) for k, v in good.items()),
        *(Variant(f"value-{k}", _set(arg, v), RAISE) for k, v in bad.items()),
        Variant("type-bool", _set(arg, True), RAISE),
        Variant("type-str", _set(arg, "3"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
        Variant("type-numpy-array", _set(arg, np.array([3.0])), RAISE),
    ]


def device(arg: str, kw: dict) -> list[Variant]:
    """A torch.device, a device string or None."""
    return [
        Variant("none", _set(arg, None), OK),
        Variant("str", _set(arg, "cpu"), OK),
        Variant("torch-device", _set(arg, torch.device("cpu")), OK),
        Variant("unknown-str", _set(arg, "no-such-device"), RAISE),
        Variant("type-int-list", _set(arg, [0]), RAISE),
        # the generator lives on the CPU: an error naming `generator`
        Variant("meta", _set(arg, "meta"), RAISE, "generator"),
    ]


# ---- independent answers, written as plain loops --------------------------------


def _expected_counts(length, noise_density, mean_noise_span_length):
    """The reference's random_spans_noise_mask counts (preprocessors.py), with the
    span count capped where its segmentation would fail."""
    if length < 2 or noise_density == 0:
        return 0, 0
    noise = min(max(round(length * noise_density), 1), length - 1)
    spans = max(round(noise / mean_noise_span_length), 1)
    return noise, min(spans, length - noise)


def _unique_sentinels(row, noise_row, first_id):
    out, sentinel, previous = [], first_id, False
    for token, noisy in zip(row, noise_row, strict=True):
        if noisy and not previous:
            out.append(sentinel)
            sentinel -= 1
        elif not noisy:
            out.append(token)
        previous = noisy
    return out


def _reference_helper(inputs_length, noise_density, mean_noise_span_length):
    def lengths(n):
        noise = round(n * noise_density)
        spans = round(noise / mean_noise_span_length)
        return n - noise + spans + 1, noise + spans + 1

    n = inputs_length - 1
    while lengths(n + 1)[0] <= inputs_length:
        n += 1
    inputs, targets = lengths(n)
    if noise_density == 0.5 and targets > inputs:
        n, targets = n - 1, targets - 1
    return n, targets


def _runs(row):
    return [(bool(v), len(list(g))) for v, g in itertools.groupby(row.tolist())]


def _check_mask(result, kw) -> None:
    batch = kw.get("batch_size")
    shape = (kw["length"],) if batch is None else (batch, kw["length"])
    assert result.shape == shape and result.dtype == torch.bool
    noise, spans = _expected_counts(
        kw["length"],
        kw.get("noise_density", 0.15),
        kw.get("mean_noise_span_length", 3.0),
    )
    for row in result.reshape(1 if batch is None else batch, kw["length"]):
        runs = _runs(row)
        assert int(row.sum()) == noise
        assert sum(1 for v, _ in runs if v) == spans
        if spans:  # non-noise first, noise last
            assert not runs[0][0] and runs[-1][0]


def _check_sentinels(noise_of):
    def check(result, kw) -> None:
        tokens, noise = kw["tokens"], noise_of(kw["noise_mask"].bool())
        one_row = tokens.dim() == 1
        rows = [tokens] if one_row else list(tokens)
        noise_rows = [noise] if one_row else list(noise)
        expected = [
            _unique_sentinels(r.tolist(), n.tolist(), kw["sentinel_start_id"])
            for r, n in zip(rows, noise_rows, strict=True)
        ]
        assert ([result.tolist()] if one_row else result.tolist()) == expected
        wide = torch.iinfo(tokens.dtype).max < kw["sentinel_start_id"]
        assert result.dtype == (torch.int64 if wide else tokens.dtype)

    return check


def _check_corruption(result, kw) -> None:
    inputs, targets = result
    input_ids = kw["input_ids"]
    density = kw.get("noise_density", 0.15)
    mean = kw.get("mean_noise_span_length", 3.0)
    n = input_ids.shape[1]
    assert (inputs.shape[1], targets.shape[1]) == corrupted_lengths(
        n, density, mean
    )
    assert inputs.shape[0] == targets.shape[0] == input_ids.shape[0]
    largest = max(kw["sentinel_start_id"], kw["eos_token_id"])
    wide = torch.iinfo(input_ids.dtype).max < largest
    assert (
        inputs.dtype == targets.dtype == (torch.int64 if wide else input_ids.dtype)
    )
    if not inputs.shape[0]:
        return
    assert (inputs[:, -1] == kw["eos_token_id"]).all()
    assert (targets[:, -1] == kw["eos_token_id"]).all()
    num_spans = max(_expected_counts(n, density, mean)[1], 1 if n else 0)
    lowest = kw["sentinel_start_id"] - num_spans + 1
    for row in range(inputs.shape[0]):  # the two halves merge back into the row
        inp, tgt = inputs[row, :-1].tolist(), targets[row, :-1].tolist()
        spans, current = {}, None
        for t in tgt:
            if lowest <= t <= kw["sentinel_start_id"]:
                current = t
                spans[current] = []
            else:
                spans[current].append(t)
        merged = [
            tok
            for t in inp
            for tok in (spans[t] if lowest <= t <= kw["sentinel_start_id"] else [t])
        ]
        assert merged == input_ids[row].tolist()


def _check_lengths(result, kw) -> None:
    density = kw.get("noise_density", 0.15)
    mean = kw.get("mean_noise_span_length", 3.0)
    noise, spans = _expected_counts(kw["tokens_length"], density, mean)
    n = kw["tokens_length"]
    expected = (
        (n + 1, 1 + min(n, 1))
        if not noise
        else (n - noise + spans + 1, noise + spans + 1)
    )
    assert result == expected


def _check_helper(result, kw) -> None:
    args = (
        kw["inputs_length"],
        kw.get("noise_density", 0.15),
        kw.get("mean_noise_span_length", 3.0),
    )
    assert result == _reference_helper(*args)


# ---- valid calls ----------------------------------------------------------------


def _tokens_and_mask() -> dict:
    # one mask row repeated: every column slice keeps the rows' counts equal
    noise = random_spans_noise_mask(
        L, 0.3, 2.0, generator=torch.Generator().manual_seed(0)
    )
    tokens = torch.randint(
        5, 128, (B, L), generator=torch.Generator().manual_seed(1)
    )
    return {"tokens": tokens, "noise_mask": noise.expand(B, L).clone()}


def _sentinel_row(target) -> Row:
    noise_of = (
        (lambda m: m) if target is noise_span_to_unique_sentinel else (lambda m: ~m)
    )
    return Row(
        target,
        lambda: {
            **_tokens_and_mask(),
            "sentinel_start_id": SENTINEL_0,
            "num_sentinels": 100,
        },
        kinds={
            "tokens": ids,
            "noise_mask": mask,
            "sentinel_start_id": token_id,
            "num_sentinels": count(1),
        },
        aligned=("tokens", "noise_mask"),
        check=_check_sentinels(noise_of),
        expect={
            # the valid row has 2 noise spans (and 2 other spans): 1 is too few
            "num_sentinels-value-minimum": (RAISE, "the row needs 2 sentinels"),
        },
        extra=[
            Variant(
                "ragged-rows",
                lambda kw: {
                    **kw,
                    "noise_mask": torch.tensor(
                        [[0, 1] * 6, [0, 0] * 6, [1, 1] * 6], dtype=torch.bool
                    ),
                },
                RAISE,
                "noise_mask",
            ),
            Variant(
                "one-row",
                lambda kw: {
                    **kw,
                    "tokens": kw["tokens"][0],
                    "noise_mask": kw["noise_mask"][0],
                },
                OK,
                "tokens",
            ),
            Variant(
                "sentinel-0-for-2-spans",
                _set("sentinel_start_id", 0),
                RAISE,
                "sentinel_start_id",
            ),
        ],
    )


ROWS = [
    Row(
        random_spans_noise_mask_batch,
        lambda: {
            "batch_size": B,
            "length": L,
            "noise_density": 0.15,
            "mean_noise_span_length": 3.0,
            "generator": torch.Generator().manual_seed(2),
            "device": "cpu",
        },
        kinds={
            "batch_size": count(0),
            "length": count(0),
            "noise_density": probability(low_open=False, high_open=True),
            "mean_noise_span_length": span_length,
            "generator": generator,
            "device": device,
        },
        check=_check_mask,
    ),
    Row(
        random_spans_noise_mask,
        lambda: {
            "length": L,
            "noise_density": 0.15,
            "mean_noise_span_length": 3.0,
            "generator": torch.Generator().manual_seed(3),
        },
        kinds={
            "length": count(0),
            "noise_density": probability(low_open=False, high_open=True),
            "mean_noise_span_length": span_length,
            "generator": generator,
        },
        check=_check_mask,
    ),
    _sentinel_row(noise_span_to_unique_sentinel),
    _sentinel_row(nonnoise_span_to_unique_sentinel),
    Row(
        span_corruption,
        lambda: {
            "input_ids": torch.randint(
                5, 128, (B, 24), generator=torch.Generator().manual_seed(4)
            ),
            "sentinel_start_id": SENTINEL_0,
            "eos_token_id": EOS,
            "noise_density": 0.15,
            "mean_noise_span_length": 3.0,
            "num_sentinels": 100,
            "generator": torch.Generator().manual_seed(5),
        },
        kinds={
            "input_ids": ids,
            "sentinel_start_id": token_id,
            "eos_token_id": token_id,
            "noise_density": probability(low_open=False, high_open=True),
            "mean_noise_span_length": span_length,
            "num_sentinels": count(1),
            "generator": generator,
        },
        check=_check_corruption,
        extra=[
            Variant(
                "eos-is-a-sentinel",
                _set("eos_token_id", SENTINEL_0),
                RAISE,
                "eos_token_id",
            ),
            Variant(
                "id-is-a-sentinel",
                lambda kw: {
                    **kw,
                    "input_ids": kw["input_ids"].index_fill(
                        1, torch.tensor([3]), SENTINEL_0
                    ),
                },
                RAISE,
                "input_ids",
            ),
            Variant(
                "length-8192-needs-410",
                lambda kw: {**kw, "input_ids": torch.randint(5, 128, (1, 8192))},
                RAISE,
                "num_sentinels",
            ),
            Variant(
                "sentinel-too-low",  # 4 spans at density 0.5, counting down from 0
                lambda kw: {**kw, "sentinel_start_id": 0, "noise_density": 0.5},
                RAISE,
                "sentinel_start_id",
            ),
            Variant(
                "uint8-ids-widened",
                lambda kw: {**kw, "input_ids": kw["input_ids"].to(torch.uint8)},
                OK,
            ),
        ],
    ),
    Row(
        corrupted_lengths,
        lambda: {
            "tokens_length": 568,
            "noise_density": 0.15,
            "mean_noise_span_length": 3.0,
        },
        kinds={
            "tokens_length": count(0),
            "noise_density": probability(low_open=False, high_open=True),
            "mean_noise_span_length": span_length,
        },
        check=_check_lengths,
    ),
    Row(
        compute_input_and_target_lengths,
        lambda: {
            "inputs_length": 128,
            "noise_density": 0.15,
            "mean_noise_span_length": 3.0,
        },
        kinds={
            "inputs_length": count(2),
            "noise_density": probability(high_open=True),
            "mean_noise_span_length": span_length,
        },
        check=_check_helper,
        expect={
            # refused where the reference's arithmetic and its noise mask disagree
            "inputs_length-value-minimum": (
                RAISE,
                "1 raw token rounds to no noise",
            ),
            "noise_density-value-tiny": (RAISE, "rounds to no noise token"),
        },
    ),
]

EXEMPT: dict[object, str] = {}
