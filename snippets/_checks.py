"""Input validation shared by the snippets' public functions: one clear error per
mistake, naming the argument and what is expected."""

from __future__ import annotations

import torch

INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def check_token_ids(
    input_ids: object,
    name: str = "input_ids",
    *,
    ndim: int | None = 2,
    vocab_size: int | None = None,
    generator: object = None,
) -> torch.Tensor:
    """Integer ids in [0, vocab_size). With `generator`, its device is checked
    before any value check, since reading values syncs with the data's device."""
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids, "
            f"got {type(input_ids).__name__}"
        )
    if input_ids.dtype not in INT_DTYPES:
        raise TypeError(
            f"{name} must hold integer token ids (one of {INT_DTYPES}), "
            f"got dtype {input_ids.dtype}"
        )
    if ndim is not None and input_ids.dim() != ndim:
        shape = "[batch, seq_len]" if ndim == 2 else f"{ndim}-D"
        raise ValueError(
            f"{name} must be {ndim}-D ({shape}), got shape {tuple(input_ids.shape)}"
        )
    if generator is not None:
        check_generator(generator, input_ids.device)
    if input_ids.numel():
        low, high = (int(v) for v in torch.aminmax(input_ids))
        if low < 0:
            raise ValueError(
                f"{name} must be non-negative token ids, got min {low}"
            )
        if vocab_size is not None and high >= vocab_size:
            raise ValueError(
                f"{name} must be below vocab_size={vocab_size}, got max {high}"
            )
    return input_ids


def check_token_id(value: object, name: str, vocab_size: int | None = None) -> int:
    """One token id: an int in [0, vocab_size)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int token id, got {type(value).__name__}"
        )
    if value < 0 or (vocab_size is not None and value >= vocab_size):
        upper = "" if vocab_size is None else f", vocab_size={vocab_size}"
        raise ValueError(f"{name} must be in [0{upper}), got {value}")
    return value


def check_bool_like(
    mask: object, like: torch.Tensor, name: str, like_name: str = "input_ids"
) -> torch.Tensor:
    """A mask the shape of `like`, as bool (0/1 integer masks are accepted)."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name} {tuple(like.shape)}, "
            f"got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if mask.dtype not in INT_DTYPES or (
            mask.numel() and (mask.min() < 0 or mask.max() > 1)
        ):
            raise TypeError(
                f"{name} must be a bool (or 0/1 integer) mask, "
                f"got dtype {mask.dtype}"
            )
        mask = mask.bool()
    return mask.to(like.device)


def check_mask(mask: object, name: str, *, ndim: int = 2) -> torch.Tensor:
    """A bool (or 0/1 integer) mask of `ndim` dimensions, returned as bool."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dim() != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {tuple(mask.shape)}")
    return check_bool_like(mask, mask, name)


def check_probability(
    value: object, name: str, *, low_open: bool = True, high_open: bool = False
) -> float:
    """Check `value` lies in (0, 1] by default; each bound's openness is set."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    low_ok = value > 0 if low_open else value >= 0
    high_ok = value < 1 if high_open else value <= 1
    if not (low_ok and high_ok):  # NaN fails both
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def check_float_dtype(value: object, name: str = "dtype", *, bool_ok=False):
    """A floating torch.dtype (or torch.bool when `bool_ok`)."""
    allowed = FLOAT_DTYPES + ((torch.bool,) if bool_ok else ())
    if not isinstance(value, torch.dtype) or value not in allowed:
        raise TypeError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def check_float_tensor(value: object, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}"
        )
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a floating tensor, got dtype {value.dtype}"
        )
    return value


def check_generator(
    generator: object, device: torch.device | str
) -> torch.Generator | None:
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}"
        )
    if generator.device.type != torch.device(device).type:
        raise ValueError(
            f"generator is on {generator.device} but the data is on {device}; "
            "create it with torch.Generator(device=...)"
        )
    return generator
