"""Input validation shared by the snippets' public functions: one clear error per mistake."""

from __future__ import annotations

import torch

INT_DTYPES = (torch.int64, torch.int32, torch.int16, torch.uint8)


def check_token_ids(
    input_ids: object, name: str = "input_ids", *, ndim: int | None = 2
) -> torch.Tensor:
    if not isinstance(input_ids, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids, got {type(input_ids).__name__}"
        )
    if input_ids.dtype not in INT_DTYPES:
        raise TypeError(
            f"{name} must hold integer token ids, got dtype {input_ids.dtype}"
        )
    if ndim is not None and input_ids.dim() != ndim:
        raise ValueError(
            f"{name} must be {ndim}-D ({'[batch, seq_len]' if ndim == 2 else f'{ndim}-D'}), got shape {tuple(input_ids.shape)}"
        )
    if input_ids.numel() and input_ids.min() < 0:
        raise ValueError(
            f"{name} must be non-negative token ids, got min {int(input_ids.min())}"
        )
    return input_ids


def check_bool_like(mask: object, like: torch.Tensor, name: str) -> torch.Tensor:
    """A mask the shape of `like`, as bool (0/1 integer masks are accepted)."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of input_ids {tuple(like.shape)}, got {tuple(mask.shape)}"
        )
    if mask.dtype != torch.bool:
        if mask.dtype not in INT_DTYPES or (
            mask.numel() and (mask.min() < 0 or mask.max() > 1)
        ):
            raise TypeError(
                f"{name} must be a bool (or 0/1 integer) mask, got dtype {mask.dtype}"
            )
        mask = mask.bool()
    return mask.to(like.device)


def check_probability(
    value: object, name: str, *, low_open: bool = True, high_open: bool = False
) -> float:
    """Check `value` lies in the interval (0, 1] by default; the bounds' openness is configurable."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    low_ok = value > 0 if low_open else value >= 0
    high_ok = value < 1 if high_open else value <= 1
    if not (low_ok and high_ok):
        interval = f"{'(' if low_open else '['}0, 1{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_generator(
    generator: object, device: torch.device
) -> torch.Generator | None:
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}"
        )
    if generator.device.type != torch.device(device).type:
        raise ValueError(
            f"generator is on {generator.device} but the data is on {device}; create it with torch.Generator(device=...)"
        )
    return generator
