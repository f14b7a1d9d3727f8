"""The bad-input contract: every public callable in `snippets/` gets a right
answer or a clear error.

Each paper's test folder declares, in `tests/<paper>/api_contract*.py`, a list
`ROWS` with one `Row` per public function or class: how to call it with valid
arguments, which arguments are of which *kind*, and what a correct result looks
like. A public callable that is no function to call (a result record) goes into
that file's `EXEMPT`, with the reason. `tests/test_contract.py` then tries every
bad variant of every kind on every row. A call must either

- return a correct result: the row's `check` passes, no floating output is NaN
  or inf, and none of the caller's tensors, lists or modules was changed; or
- raise `ValueError` or `TypeError` whose message names the argument.

Never an `IndexError`, `RuntimeError`, `ZeroDivisionError`, `OverflowError` or
`StopIteration` from inside, and never a hang: every call runs under a time limit.

A kind is a function `(argument name, valid kwargs) -> [Variant]`. A variant
rewrites the valid keyword arguments and says what must happen: `OK` (a correct
result), `RAISE` (a clear error) or `EITHER`. Shape variants (batch 0, length
0/1/2, non-contiguous) rewrite every argument in the row's `aligned` group
together, so that they test the shape and not a mismatch.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

OK, RAISE, EITHER = "ok", "raise", "either"
TIME_LIMIT_S = 10.0
INT_DTYPES = (torch.uint8, torch.int16, torch.int32, torch.int64)
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
IGNORE_INDEX = -100


@dataclass(frozen=True)
class Variant:
    id: str
    apply: Callable[
        [dict], dict
    ]  # valid kwargs (a fresh copy) -> the variant's kwargs
    expect: str  # OK, RAISE or EITHER
    blame: str = (
        ""  # the argument the error must name (default: the row's argument)
    )
    check: Callable[[Any, dict], None] | None = None  # more checks on a result


Kind = Callable[[str, dict], list[Variant]]


@dataclass
class Row:
    """One public callable, a way to call it validly, and what a right answer is."""

    target: object  # the public function or class this row covers
    valid: Callable[[], dict]  # fresh valid keyword arguments, built on every call
    kinds: dict[str, Kind]  # argument name -> its kind (selects the bad variants)
    call: Callable[..., Any] | None = None  # how to call it (default: target(**kw))
    check: Callable[[Any, dict], None] | None = None  # asserts a result is right
    aligned: tuple[
        str, ...
    ] = ()  # tensors sharing [batch, length], sliced together
    extra: list[Variant] = field(default_factory=list)  # cases specific to this row
    # aligned tensors shaped [batch, length, length]: length variants cut both
    square: tuple[str, ...] = ()
    expect: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # id -> (new, why)
    mutates: tuple[str, ...] = ()  # arguments it changes on purpose (documented)
    finite: bool = (
        True  # floating outputs must be finite (False only with a reason)
    )
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or getattr(
            self.target, "__qualname__", str(self.target)
        )

    def variants(self) -> Iterator[tuple[str, Variant]]:
        """(argument, variant) pairs: the valid call, then every kind's variants."""
        yield "", Variant("valid", lambda kw: kw, OK)
        kw = self.valid()
        for arg, kind in self.kinds.items():
            for variant in kind(arg, kw):
                variant = self._adjust(variant, arg)
                yield arg, variant
        for variant in self.extra:
            yield variant.blame, variant

    def _adjust(self, variant: Variant, arg: str) -> Variant:
        """Shape variants act on the aligned group; overrides set expectations."""
        if variant.id in SHAPE_VARIANTS and arg in self.aligned:
            group = self.aligned
            apply = _on_group(
                SHAPE_VARIANTS[variant.id], group, self.square, variant.id
            )
            variant = dataclasses.replace(variant, apply=apply)
        key = f"{arg}-{variant.id}"
        if key in self.expect:
            variant = dataclasses.replace(variant, expect=self.expect[key][0])
        return variant


# ---- running one variant --------------------------------------------------------


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"the call ran for more than {TIME_LIMIT_S} s")


def run(row: Row, arg: str, variant: Variant) -> None:
    """Call `row` under `variant`; fail readably if the contract breaks."""
    kw = variant.apply(row.valid())
    snapshot = {k: _snapshot(v) for k, v in kw.items() if k not in row.mutates}
    blame = variant.blame or arg
    call = row.call or row.target
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    try:
        result = call(**kw)
    except (ValueError, TypeError) as err:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if variant.expect == OK:
            raise AssertionError(
                f"{row.name}: valid input {variant.id} of {arg or 'the call'} was "
                f"refused: {type(err).__name__}: {err}"
            ) from err
        if blame and blame not in str(err):
            raise AssertionError(
                f"{row.name}: the error for {variant.id} does not name {blame!r}: "
                f"{type(err).__name__}: {err}"
            ) from err
        return
    except Hang as err:
        raise AssertionError(f"{row.name}: {variant.id} of {arg}: {err}") from None
    except Exception as err:  # an error from inside: the contract's point
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise AssertionError(
            f"{row.name}: {variant.id} of {arg or 'the call'} raised "
            f"{type(err).__name__} from inside instead of a clear error: {err}"
        ) from err
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if variant.expect == RAISE:
        raise AssertionError(
            f"{row.name}: {variant.id} of {arg} was accepted; expected a "
            f"ValueError or TypeError naming {blame!r}"
        )
    for name, before in snapshot.items():
        assert _same(before, kw[name]), f"{row.name} changed the caller's {name!r}"
    if row.finite:
        for where, tensor in _tensors(result):
            if tensor.is_floating_point():
                assert torch.isfinite(tensor).all(), (
                    f"{row.name}: {variant.id} gave a non-finite value in {where}"
                )
    if row.check is not None:
        row.check(result, kw)
    if variant.check is not None:
        variant.check(result, kw)


def _snapshot(value: object) -> object:
    if isinstance(value, torch.Tensor):
        return value.clone() if value.device.type != "meta" else value
    if isinstance(value, nn.Module):
        state = {k: v.clone() for k, v in value.state_dict().items()}
        return ("module", value.training, state)
    if isinstance(value, (list, tuple, dict)):
        return copy.deepcopy(value)
    return value


def _same(before: object, after: object) -> bool:
    if isinstance(after, torch.Tensor):
        if after.device.type == "meta":
            return True
        return (
            before.dtype == after.dtype
            and before.shape == after.shape
            and torch.equal(before, after)
        )
    if isinstance(after, nn.Module):
        _, training, state = before
        now = after.state_dict()
        return training == after.training and all(
            torch.equal(state[k], now[k]) for k in state
        )
    if isinstance(after, dict):  # element by element: tensors have no plain ==
        return (
            isinstance(before, dict)
            and before.keys() == after.keys()
            and all(_same(before[k], after[k]) for k in after)
        )
    if isinstance(after, (list, tuple)):
        return (
            type(before) is type(after)
            and len(before) == len(after)
            and all(_same(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(after, (int, float, str, bytes, type(None))):
        return before == after or before != before  # NaN stays NaN
    return True


def _tensors(
    result: object, where: str = "result"
) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor in a result: tuples, lists, dicts, dataclasses, NamedTuples."""
    if isinstance(result, torch.Tensor):
        yield where, result
    elif isinstance(result, dict):
        for k, v in result.items():
            yield from _tensors(v, f"{where}[{k!r}]")
    elif isinstance(result, (tuple, list)):
        for i, v in enumerate(result):
            yield from _tensors(v, f"{where}[{i}]")
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        for f in dataclasses.fields(result):
            yield from _tensors(getattr(result, f.name), f"{where}.{f.name}")


# ---- checks that rows share ----------------------------------------------------


def assert_labels(labels: torch.Tensor, input_ids: torch.Tensor) -> None:
    """Labels are int64, the ids' shape, and either -100 or the original id."""
    assert labels.dtype == torch.int64, f"labels must be int64, got {labels.dtype}"
    assert labels.shape == input_ids.shape
    kept = labels != IGNORE_INDEX
    assert torch.equal(labels[kept], input_ids.long()[kept])


def assert_float_dtype(result: object, dtype: torch.dtype) -> None:
    """Every floating tensor of the result has `dtype`: it keeps the input's."""
    for where, tensor in _tensors(result):
        if tensor.is_floating_point():
            assert tensor.dtype == dtype, (
                f"{where} is {tensor.dtype}, input was {dtype}"
            )


# ---- the kinds ------------------------------------------------------------------


def _set(arg: str, value: object) -> Callable[[dict], dict]:
    def apply(kw: dict) -> dict:
        return {**kw, arg: value}

    return apply


def _map(arg: str, fn: Callable[[Any], Any]) -> Callable[[dict], dict]:
    def apply(kw: dict) -> dict:
        return {**kw, arg: fn(kw[arg])}

    return apply


def _on_group(
    slice_fn: Callable,
    group: tuple[str, ...],
    square: tuple[str, ...] = (),
    variant_id: str = "",
) -> Callable[[dict], dict]:
    def apply(kw: dict) -> dict:
        out = dict(kw)
        for name in group:
            if isinstance(out.get(name), torch.Tensor):
                out[name] = slice_fn(out[name])
                if name in square and variant_id.startswith("length"):
                    out[name] = slice_fn(out[name].transpose(1, 2)).transpose(1, 2)
        return out

    return apply


def _noncontiguous(t: torch.Tensor) -> torch.Tensor:
    return torch.stack([t, t], dim=-1)[
        ..., 0
    ]  # same values, stride 2 in the last dim


SHAPE_VARIANTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "batch-0": lambda t: t[:0],
    "length-0": lambda t: t[:, :0],
    "length-1": lambda t: t[:, :1],
    "length-2": lambda t: t[:, :2],
    "non-contiguous": _noncontiguous,
}


def _with_dtype(dtype: torch.dtype, check=None) -> Callable:
    return lambda t: t.to(dtype)


def _first_to(value: int) -> Callable[[torch.Tensor], torch.Tensor]:
    def fn(t: torch.Tensor) -> torch.Tensor:
        t = t.clone().long()
        t.view(-1)[0] = value
        return t

    return fn


def _shape_variants(arg: str, expect: str = OK) -> list[Variant]:
    return [Variant(k, _map(arg, fn), expect) for k, fn in SHAPE_VARIANTS.items()]


def ids(arg: str, kw: dict) -> list[Variant]:
    """A 2-D tensor of token ids [batch, length]. Valid rows keep ids below 128, so
    every integer dtype holds them; with a `vocab_size` argument, ids lie below
    it."""
    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}", _map(arg, _with_dtype(d)), OK
        )
        for d in INT_DTYPES
    ]
    out += [
        Variant("dtype-float32", _map(arg, lambda t: t.float()), RAISE),
        Variant("dtype-bool", _map(arg, lambda t: t.bool()), RAISE),
        Variant("rank-1", _map(arg, lambda t: t[0]), EITHER),
        Variant("rank-3", _map(arg, lambda t: t[None]), EITHER),
        Variant("negative-id", _map(arg, _first_to(-1)), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("list", _map(arg, lambda t: t.tolist()), RAISE),
        *_shape_variants(arg),
    ]
    if isinstance(kw.get("vocab_size"), int):
        out.append(
            Variant("id-vocab_size", _map(arg, _first_to(kw["vocab_size"])), RAISE)
        )
    if kw.get("generator") is not None:
        # the data on another device than the generator: an error naming `generator`
        out.append(
            Variant(
                "other-device",
                _map(arg, lambda t: t.to("meta")),
                RAISE,
                "generator",
            )
        )
    return out


def floats(arg: str, kw: dict) -> list[Variant]:
    """A float tensor (hidden states, logits): every float dtype works, kept."""
    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}",
            _map(arg, _with_dtype(d)),
            OK,
            check=lambda result, kw, d=d: assert_float_dtype(result, d),
        )
        for d in FLOAT_DTYPES
    ]
    out += [
        Variant("dtype-int64", _map(arg, lambda t: t.long()), RAISE),
        Variant("rank-minus-1", _map(arg, lambda t: t[0]), EITHER),
        Variant("rank-plus-1", _map(arg, lambda t: t[None]), EITHER),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("last-dim-plus-1", _map(arg, _grow_last), RAISE),
        *_shape_variants(arg),
    ]
    return out


def _grow_last(t: torch.Tensor) -> torch.Tensor:
    return torch.cat([t, t[..., :1]], dim=-1)


def mask(arg: str, kw: dict) -> list[Variant]:
    """A bool mask the shape of the ids (0/1 integers are accepted)."""
    return [
        Variant("int-0-1", _map(arg, lambda t: t.long()), OK),
        Variant("uint8-0-1", _map(arg, lambda t: t.to(torch.uint8)), OK),
        Variant("float", _map(arg, lambda t: t.float()), RAISE),
        Variant("values-2", _map(arg, lambda t: t.long() * 2), RAISE),
        Variant("wrong-shape", _map(arg, lambda t: t[:, :-1]), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant(
            "all-true",
            _map(arg, lambda t: torch.ones_like(t, dtype=torch.bool)),
            OK,
        ),
        Variant(
            "all-false",
            _map(arg, lambda t: torch.zeros_like(t, dtype=torch.bool)),
            OK,
        ),
    ]


def probability(
    low: float = 0.0,
    high: float = 1.0,
    *,
    low_open: bool = True,
    high_open: bool = False,
) -> Kind:
    """A float in an interval: outside it ValueError, other types TypeError."""

    def inside(x: float) -> bool:
        above = x > low if low_open else x >= low
        below = x < high if high_open else x <= high
        return above and below

    def kind(arg: str, kw: dict) -> list[Variant]:
        values = {
            "low": low,
            "high": high,
            "mid": (low + high) / 2,
            "below-low": low - 0.1,
            "above-high": high + 0.1,
            "tiny": low + 1e-300 if low_open else low,
            "zero": 0.0,
            "one": 1.0,
            "negative": -0.5,
            "nan": math.nan,
            "inf": math.inf,
            "minus-inf": -math.inf,
        }
        out = [
            Variant(f"value-{k}", _set(arg, v), OK if inside(v) else RAISE)
            for k, v in values.items()
        ]
        out += [
            Variant("type-bool", _set(arg, True), RAISE),
            Variant("type-str", _set(arg, "0.1"), RAISE),
            Variant("type-none", _set(arg, None), RAISE),
            Variant("type-numpy-array", _set(arg, np.array([0.1, 0.2])), RAISE),
        ]
        return out

    return kind


def temperature(arg: str, kw: dict) -> list[Variant]:
    """A positive, finite float."""
    bad = {"zero": 0.0, "negative": -1.0, "inf": math.inf, "nan": math.nan}
    good = {"small": 1e-3, "large": 100.0, "int": 2}
    return [
        *(Variant(f"value-{k}", _set(arg, v), RAISE) for k, v in bad.items()),
        *(Variant(f"value-{k}", _set(arg, v), OK) for k, v in good.items()),
        Variant("type-bool", _set(arg, True), RAISE),
        Variant("type-str", _set(arg, "2"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def count(minimum: int = 1) -> Kind:
    """An int >= minimum; a float, bool, str, None or array raises TypeError."""

    def kind(arg: str, kw: dict) -> list[Variant]:
        value = kw.get(arg, minimum + 1)
        return [
            Variant("value-minimum", _set(arg, minimum), OK),
            Variant("value-below-minimum", _set(arg, minimum - 1), RAISE),
            Variant("value-negative", _set(arg, -1), RAISE if minimum >= 0 else OK),
            Variant("type-float", _set(arg, float(value) + 0.5), RAISE),
            Variant("type-bool", _set(arg, True), RAISE),
            Variant("type-str", _set(arg, str(value)), RAISE),
            Variant("type-none", _set(arg, None), RAISE),
            Variant("type-numpy-int", _set(arg, np.int64(value)), EITHER),
            Variant("type-numpy-array", _set(arg, np.array([value])), RAISE),
        ]

    return kind


def token_id(arg: str, kw: dict) -> list[Variant]:
    """One token id, in [0, vocab_size) when the call has a vocab_size."""
    out = [
        Variant("value-negative", _set(arg, -1), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
        Variant("type-float", _set(arg, float(kw[arg])), RAISE),
        Variant("type-bool", _set(arg, True), RAISE),
        Variant("type-str", _set(arg, str(kw[arg])), RAISE),
        Variant("type-numpy-int", _set(arg, np.int64(kw[arg])), EITHER),
    ]
    if isinstance(kw.get("vocab_size"), int):
        out.append(Variant("value-vocab_size", _set(arg, kw["vocab_size"]), RAISE))
    return out


def generator(arg: str, kw: dict) -> list[Variant]:
    """A torch.Generator or None."""
    return [
        Variant("none", _set(arg, None), OK),
        Variant("type-int", _set(arg, 0), RAISE),
        Variant("type-object", _set(arg, object()), RAISE),
    ]


def module(arg: str, kw: dict) -> list[Variant]:
    """An nn.Module argument: anything else is a TypeError."""
    return [
        Variant("type-none", _set(arg, None), RAISE),
        Variant("type-function", _set(arg, lambda *a, **k: None), RAISE),
    ]


def flag(arg: str, kw: dict) -> list[Variant]:
    """True or False; anything else (1, a string, None) is a TypeError."""
    return [
        Variant("value-true", _set(arg, True), OK),
        Variant("value-false", _set(arg, False), OK),
        Variant("type-int", _set(arg, 1), RAISE),
        Variant("type-str", _set(arg, "yes"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def choice(*options: object) -> Kind:
    """One of a few named options; any other value or type raises."""

    def kind(arg: str, kw: dict) -> list[Variant]:
        out = [Variant(f"value-{o}", _set(arg, o), OK) for o in options]
        out += [
            Variant("value-other", _set(arg, "no-such-option"), RAISE),
            Variant("type-int", _set(arg, 1), RAISE),
            Variant("type-none", _set(arg, None), RAISE),
        ]
        return out

    return kind


def float_dtype(bool_ok: bool = False) -> Kind:
    """A torch.dtype argument for a floating output: each float dtype works and is
    kept by every floating tensor of the result; integer dtypes and strings
    raise."""

    def kind(arg: str, kw: dict) -> list[Variant]:
        out = [
            Variant(
                f"dtype-{str(d).removeprefix('torch.')}",
                _set(arg, d),
                OK,
                check=lambda result, kw, d=d: assert_float_dtype(result, d),
            )
            for d in FLOAT_DTYPES
        ]
        out += [
            Variant("dtype-bool", _set(arg, torch.bool), OK if bool_ok else RAISE),
            Variant("dtype-int64", _set(arg, torch.int64), RAISE),
            Variant("type-str", _set(arg, "float32"), RAISE),
            Variant("type-none", _set(arg, None), RAISE),
        ]
        return out

    return kind


def module_dtype(arg: str, kw: dict) -> list[Variant]:
    """The float dtype a module is converted to (in a row's call wrapper): the
    module computes in it and returns it."""
    return [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}",
            _set(arg, d),
            OK,
            check=lambda result, kw, d=d: assert_float_dtype(result, d),
        )
        for d in FLOAT_DTYPES
    ]


def weight(arg: str, kw: dict) -> list[Variant]:
    """A loss weight: a finite float >= 0 (0 switches the term off)."""
    bad = {"negative": -1.0, "inf": math.inf, "nan": math.nan}
    good = {"zero": 0.0, "small": 1e-3, "large": 100.0, "int": 2}
    return [
        *(Variant(f"value-{k}", _set(arg, v), RAISE) for k, v in bad.items()),
        *(Variant(f"value-{k}", _set(arg, v), OK) for k, v in good.items()),
        Variant("type-bool", _set(arg, True), RAISE),
        Variant("type-str", _set(arg, "1"), RAISE),
        Variant("type-none", _set(arg, None), RAISE),
    ]


def labels(arg: str, kw: dict) -> list[Variant]:
    """MLM labels [batch, length]: class ids, or -100 where nothing is predicted.
    int16/32/64 hold -100; uint8 cannot (it wraps to 156), so a uint8 variant may
    be refused or read as ids. With a `vocab_size` argument, ids lie below it."""
    out = [
        Variant(
            f"dtype-{str(d).removeprefix('torch.')}", _map(arg, _with_dtype(d)), OK
        )
        for d in (torch.int16, torch.int32, torch.int64)
    ]
    out += [
        Variant("dtype-uint8", _map(arg, _with_dtype(torch.uint8)), EITHER),
        Variant("dtype-float32", _map(arg, lambda t: t.float()), RAISE),
        Variant("dtype-bool", _map(arg, lambda t: t.bool()), RAISE),
        Variant("value-minus-1", _map(arg, _first_to(-1)), RAISE),
        Variant(
            "all-ignored",
            _map(arg, lambda t: torch.full_like(t, IGNORE_INDEX)),
            OK,
        ),
        Variant("wrong-shape", _map(arg, lambda t: t[:, :-1]), RAISE),
        Variant("numpy", _map(arg, lambda t: t.numpy()), RAISE),
        Variant("list", _map(arg, lambda t: t.tolist()), RAISE),
    ]
    if isinstance(kw.get("vocab_size"), int):
        out.append(
            Variant("id-vocab_size", _map(arg, _first_to(kw["vocab_size"])), RAISE)
        )
    return out
