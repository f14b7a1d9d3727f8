"""Shared fixtures: one strict build of the real site per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ROOT, mkdocs_build


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = mkdocs_build(ROOT / "mkdocs.yml", site)
    if result.returncode != 0:
        pytest.fail(
            f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
        )
    return site
