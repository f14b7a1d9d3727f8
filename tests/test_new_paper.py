"""plm-new-paper: a new paper that builds strictly and passes its own tests, and
a refusal, with nothing written, for every kind of bad request."""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from citations import new_paper
from citations.facts import check_text
from helpers import ROOT, mkdocs_build

TODAY = datetime.date(2026, 1, 15)
ELECTRA = [
    "--key",
    "clark2020electra",
    "--arxiv",
    "2003.10555",
    "--category",
    "objectives",
    "--name",
    "ELECTRA",
    "--mechanism",
    "replaced_token_detection",
]
NOT_COPIED = {".git", ".venv", "node_modules", "site", "test-artifacts"}

# The skeleton's contract rule, as tests/test_contract.py applies it to snippets/:
# every public callable of the new module has a row or an exemption.
CONTRACT_COVERAGE = """
import importlib, importlib.util, sys
sys.path[:0] = [".", "tests"]
module = importlib.import_module("snippets.electra.replaced_token_detection")
spec = importlib.util.spec_from_file_location("c", "tests/electra/api_contract.py")
contract = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contract)
covered = {id(r.target) for r in contract.ROWS} | {id(o) for o in contract.EXEMPT}
public = [
    n for n, o in vars(module).items()
    if not n.startswith("_") and callable(o) and o.__module__ == module.__name__
]
assert public and all(id(getattr(module, n)) in covered for n in public), public
print("covered:", *public)
"""


def _copy_repo(tmp_path: Path) -> Path:
    """What the build and the tests need, without the virtualenv and git."""
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda d, names: [
            n
            for n in names
            if n in NOT_COPIED
            or n.endswith("_cache")
            or n == "__pycache__"
            or (Path(d) == ROOT and n.startswith("."))
        ],
    )
    (copy / "node_modules").symlink_to(ROOT / "node_modules")
    return copy


def _run(copy: Path, *args: str) -> subprocess.CompletedProcess:
    """A Python command in the copy: its own packages come first on sys.path."""
    env = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [sys.executable, *args], cwd=copy, env=env, capture_output=True, text=True
    )


def _without_notebook_execution(config: Path) -> None:
    # The notebooks are the slow part of a build and the new paper has none; the
    # suite's own strict build executes them.
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("execute: true", "execute: false", 1))


@pytest.mark.site
def test_a_new_paper_builds_strictly_and_passes_its_own_tests(tmp_path):
    copy = _copy_repo(tmp_path)
    result = _run(copy, "-m", "citations.new_paper", *ELECTRA)
    assert result.returncode == 0, result.stderr
    written = re.findall(r"^(?:created|appended) +(\S+)$", result.stdout, re.M)
    assert written == [
        "refs/survey.bib",
        "refs/papers.toml",
        "docs/objectives/electra.md",
        "snippets/electra/__init__.py",
        "snippets/electra/replaced_token_detection.py",
        "tests/electra/test_replaced_token_detection.py",
        "tests/electra/api_contract.py",
    ]
    page = (copy / "docs/objectives/electra.md").read_text(encoding="utf-8")
    assert check_text(page, "docs/objectives/electra.md") == []
    generated = [p for p in written if p.endswith(".py")]
    for ruff in (["check"], ["format", "--check"]):
        lint = _run(copy, "-m", "ruff", *ruff, *generated)
        assert lint.returncode == 0, lint.stdout + lint.stderr

    tests = _run(
        copy, "-m", "pytest", "tests/electra", "snippets/electra", "-q", "-p",
        "no:cacheprovider",
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed, 1 xfailed" in tests.stdout
    coverage = _run(copy, "-c", CONTRACT_COVERAGE)
    assert coverage.returncode == 0, coverage.stderr

    _without_notebook_execution(copy / "mkdocs.yml")
    build = mkdocs_build(copy / "mkdocs.yml", tmp_path / "site")
    assert build.returncode == 0, build.stderr
    html = (tmp_path / "site/objectives/electra/index.html").read_text()
    assert "replaced_token_detection" in html  # the embedded module
    assert 'id="ref-clark2020electra"' in html and "tests/electra" in html
    index = json.loads((tmp_path / "site/papers.json").read_text())
    [electra] = [p for p in index["papers"] if p["key"] == "clark2020electra"]
    assert (
        electra["url"] == "objectives/electra/" and electra["arxiv"] == "2003.10555"
    )
    assert electra["mechanisms"] == [
        {
            "snippet": "snippets/electra/replaced_token_detection.py",
            "module": "snippets.electra.replaced_token_detection",
            "test": "tests/electra/test_replaced_token_detection.py",
            "embeds": [
                {"section": "core", "symbols": ["replaced_token_detection"]}
            ],
            "symbols": ["replaced_token_detection"],
        }
    ]


def test_help_says_there_is_no_network(capsys):
    with pytest.raises(SystemExit) as exit:
        new_paper.main(["--help"])
    assert exit.value.code == 0
    assert "does not fetch the arXiv metadata" in " ".join(
        capsys.readouterr().out.split()
    )


# ---- refusals: a clear message, status 2, and nothing written ------------------


@pytest.fixture
def root(tmp_path) -> Path:
    """The parts of the repository the command reads and writes."""
    for name in ("refs", "docs", "snippets", "tests"):
        shutil.copytree(
            ROOT / name,
            tmp_path / name,
            ignore=shutil.ignore_patterns("__pycache__", "notebooks", "assets"),
        )
    return tmp_path


def _tree(root: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
        for p in sorted(root.rglob("*"))
    }


def _with(**changes: str | list[str]) -> list[str]:
    argv = list(ELECTRA)
    for option, value in changes.items():
        flag = "--" + option.replace("_", "-")
        i = argv.index(flag)
        argv[i : i + 2] = [flag, value] if isinstance(value, str) else value
    return argv


REFUSALS = {
    "key-case": (
        _with(key="Clark2020Electra"),
        "--key 'Clark2020Electra' is malformed",
    ),
    "key-no-year": (_with(key="clarkelectra"), "is malformed"),
    "key-exists": (_with(key="lan2020albert"), "'lan2020albert' already exists"),
    "arxiv-malformed": (_with(arxiv="2003.105"), "not a well-formed arXiv id"),
    "arxiv-month": (_with(arxiv="2013.10555"), "not a well-formed arXiv id"),
    "arxiv-url": (_with(arxiv="arxiv.org/abs/2003.10555"), "not a well-formed"),
    "arxiv-future": (_with(arxiv="2702.00001"), "does not exist"),
    "arxiv-before-0704": (_with(arxiv="0612.1234"), "does not exist"),
    "arxiv-digits": (_with(arxiv="1412.12345"), "have 4 digits after the dot"),
    "arxiv-in-refs": (
        _with(arxiv="1909.11942v2"),
        "already in refs/ as 'lan2020al",
    ),
    "category-unknown": (
        _with(category="objective"),
        "--category 'objective' does",
    ),
    "category-no-section": (_with(category="foundations"), "expected one of arch"),
    "name-exists": (_with(name="albert"), "already the name of 'lan2020albert'"),
    "name-empty": (_with(name=" "), "must be a short printable name"),
    "page-exists": (
        _with(
            name="RoBERTa 2", mechanism=["--mechanism", "x", "--paper", "roberta"]
        ),
        "page docs/objectives/roberta.md is already the page of 'liu2019roberta'",
    ),
    "page-on-disk": (
        _with(mechanism=["--mechanism", "x", "--paper", "index"]),
        "already exists: docs/objectives/index.md;",
    ),
    "module-exists": (
        _with(mechanism=["--mechanism", "sop", "--paper", "albert"]),
        "already exists: snippets/albert/sop.py, tests/albert/test_sop.py",
    ),
    "mechanism-name": (_with(mechanism="ReplacedToken"), "lower-case Python name"),
    "mechanism-keyword": (_with(mechanism="lambda"), "lower-case Python name"),
    "mechanism-private": (_with(mechanism="_rtd"), "lower-case Python name"),
    "mechanism-twice": (
        _with(mechanism=["--mechanism", "rtd", "--mechanism", "rtd"]),
        "--mechanism is repeated",
    ),
    "paper-from-name": (_with(name="2020 model"), "--paper '2020_model' must"),
}


@pytest.mark.parametrize(("argv", "message"), REFUSALS.values(), ids=REFUSALS)
def test_a_bad_request_is_refused_and_nothing_is_written(
    root, capsys, argv, message
):
    before = _tree(root)
    assert new_paper.main([*argv, "--root", str(root)], today=TODAY) == 2
    err = capsys.readouterr().err
    assert err.startswith("plm-new-paper: refused: ") and message in err, err
    assert _tree(root) == before


def test_broken_refs_are_refused_before_anything_is_written(root, capsys):
    (root / "refs/papers.toml").write_text("[papers.x\n", encoding="utf-8")
    before = _tree(root)
    assert new_paper.main([*ELECTRA, "--root", str(root)], today=TODAY) == 2
    assert "refs/ does not load, fix it first" in capsys.readouterr().err
    assert _tree(root) == before


def test_a_failed_write_is_undone(root, capsys, monkeypatch):
    before = _tree(root)
    write_text = new_paper._write_text
    calls = []

    def fail_on_the_fifth(path, text, *, mode):
        calls.append(path)
        if len(calls) == 5:  # the bib, the record, the page and the package are in
            path.write_text(text[:10])  # and the fifth is half written
            raise OSError("disk full")
        write_text(path, text, mode=mode)

    monkeypatch.setattr(new_paper, "_write_text", fail_on_the_fifth)
    assert new_paper.main([*ELECTRA, "--root", str(root)], today=TODAY) == 2
    err = capsys.readouterr().err
    assert "could not write (disk full); nothing was changed" in err
    assert _tree(root) == before  # files, appended text and new folders all gone


def test_a_dry_run_lists_and_writes_nothing(root, capsys):
    before = _tree(root)
    argv = [*ELECTRA, "--root", str(root), "--dry-run"]
    assert new_paper.main(argv, today=TODAY) == 0
    assert "would write docs/objectives/electra.md" in capsys.readouterr().out
    assert _tree(root) == before


def test_several_mechanisms_and_options_make_one_valid_record(root, capsys):
    argv = _with(
        mechanism=["--mechanism", "generator_mlm", "--mechanism", "rtd_loss"],
        name='ELECTRA "small"',
    )
    argv += ["--term-zh", "替换词检测", "--changes", "Detects replaced tokens."]
    assert new_paper.main([*argv, "--root", str(root)], today=TODAY) == 0
    from citations.bib import load

    paper = load(root / "refs").papers["clark2020electra"]
    assert paper.name == 'ELECTRA "small"' and paper.terms_zh == ("替换词检测",)
    assert paper.snippets == (
        "snippets/electra_small/generator_mlm.py",
        "snippets/electra_small/rtd_loss.py",
    )
    page = (root / "docs/objectives/electra_small.md").read_text(encoding="utf-8")
    assert page.count("--8<--") == 2
    contract = (root / "tests/electra_small/api_contract.py").read_text()
    assert "generator_mlm and rtd_loss work" in contract
