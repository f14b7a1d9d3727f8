"""Every public callable of `snippets/`, every bad variant: a right answer or a
clear error.

The rows live beside each paper's tests, in `tests/<paper>/api_contract.py`; the
kinds of argument and the rules are in `tests/contract.py`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest
from contract import Row, run

import snippets

TESTS = Path(__file__).resolve().parent


def _load_contract_files() -> tuple[list[Row], dict[object, str]]:
    rows, exempt = [], {}
    for path in sorted(TESTS.glob("*/api_contract*.py")):
        spec = importlib.util.spec_from_file_location(
            f"contract_{path.parent.name}", path
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rows += module.ROWS
        exempt.update(getattr(module, "EXEMPT", {}))
    return rows, exempt


ROWS, EXEMPT = _load_contract_files()
CASES = [
    pytest.param(row, arg, variant, id=f"{row.name}-{arg or 'call'}-{variant.id}")
    for row in ROWS
    for arg, variant in row.variants()
]


def public_api() -> dict[str, object]:
    """Everything importable from snippets.* without a leading underscore."""
    found = {}
    for info in pkgutil.walk_packages(snippets.__path__, "snippets."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or not callable(obj):
                continue
            if getattr(obj, "__module__", None) == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_callable_has_a_row_or_a_stated_exemption():
    covered = {id(row.target) for row in ROWS} | {id(obj) for obj in EXEMPT}
    missing = sorted(
        name for name, obj in public_api().items() if id(obj) not in covered
    )
    assert not missing, (
        "public callables with no contract row: add a Row to "
        "tests/<paper>/api_contract.py (or an EXEMPT entry with the reason): "
        f"{missing}"
    )


@pytest.mark.parametrize(("row", "arg", "variant"), CASES)
def test_contract(row: Row, arg: str, variant) -> None:
    run(row, arg, variant)
