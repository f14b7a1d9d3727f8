"""Helpers shared by the tests (importable because pyproject adds tests/ to
pythonpath)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.local_tokenizer import tiny_wordpiece_tokenizer  # noqa: F401  (one builder for tests and benchmarks)

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = [sys.executable, "-m", "mkdocs"]


def mkdocs_build(config_file: Path, site_dir: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict`, the same build the README's commands run; output is
    captured."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "-f", str(config_file), "-d", str(site_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=config_file.parent,
    )


def word_batch(
    B: int, L: int, *, word_start_rate: float, seed: int = 0, vocab_size: int = 1000
):
    """Random token ids (>= 5, clear of the special ids), random word starts, and a
    [CLS] ... [SEP] ... [SEP] special-tokens mask; returns (ids, word_starts,
    special, generator) for the masking tests."""
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab_size, (B, L), generator=g)
    word_starts = torch.rand(B, L, generator=g) < word_start_rate
    special = torch.zeros(B, L, dtype=torch.bool)
    special[:, 0] = special[:, -1] = special[:, L // 2] = True
    return ids, word_starts, special, g
