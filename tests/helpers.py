"""Helpers shared by the tests (importable because pyproject adds tests/ to pythonpath)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = [sys.executable, "-m", "mkdocs"]


def mkdocs_build(config_file: Path, site_dir: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict`, the same build the README's commands run; output is captured."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "-f", str(config_file), "-d", str(site_dir)],
        capture_output=True, text=True, env=env, cwd=config_file.parent,
    )


from benchmarks.local_tokenizer import SPECIAL_TOKENS, tiny_wordpiece_tokenizer  # noqa: E402,F401  (one builder for tests and benchmarks)
