"""Add a paper: the BibTeX stub, its papers.toml record, its page and skeletons.

``plm-new-paper --key clark2020electra --arxiv 2003.10555 --category objectives
--name ELECTRA --mechanism replaced_token_detection`` (or ``python -m
citations.new_paper ...``) writes, in one go:

- ``refs/survey.bib``: a ``@misc`` stub with the eprint, its fields to fill
  marked ``TODO``;
- ``refs/papers.toml``: the paper's record (page, snippets, tests);
- ``docs/<category>/<paper>.md``: the page, with the standard sections and the
  ``--8<--`` embed of each mechanism's ``core`` section;
- ``snippets/<paper>/<mechanism>.py``: a module whose function checks its input
  and raises ``NotImplementedError``, between ``core`` markers;
- ``tests/<paper>/test_<mechanism>.py``: a test skeleton, and
  ``tests/<paper>/api_contract.py``: the contract placeholder (see
  ``tests/contract.py``).

Everything is checked before anything is written: a malformed key or arXiv id, a
category without a section of the site, or a key, arXiv id, name, page, module or
test that already exists is refused (exit status 2) and nothing is written. If a
write fails, what was written is removed again.
"""

from __future__ import annotations

import argparse
import datetime
import json
import keyword
import re
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from citations.bib import ARXIV_ID, REFS_DIR, BibError, Bibliography, load

ROOT = REFS_DIR.parent
KEY = re.compile(r"[a-z]+((?:19|20)\d{2})[a-z][a-z0-9]*")
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
# Short enough that every generated line of Python fits ruff's 84 columns.
MAX_PAPER, MAX_MECHANISM, MAX_KEY, MAX_NAME = 24, 36, 40, 40
WIDTH = 84
PAGE_WIDTH = 96  # the pages' prose, as the other pages wrap it
TODO = "TODO"


class Refused(ValueError):
    """A reason not to write anything; the message says what to change."""


@dataclass(frozen=True)
class Request:
    key: str
    arxiv: str
    category: str
    name: str
    mechanisms: tuple[str, ...]
    paper: str
    changes: str
    terms_zh: tuple[str, ...]


@dataclass
class Plan:
    """What to write: new files (must not exist) and text appended to refs/."""

    root: Path
    new: dict[Path, str] = field(default_factory=dict)
    appends: dict[Path, str] = field(default_factory=dict)


# ---- checks --------------------------------------------------------------------


def check_key(key: str, bib: Bibliography) -> str:
    if not KEY.fullmatch(key) or len(key) > MAX_KEY:
        raise Refused(
            f"--key {key!r} is malformed: expected <surname><year><word> in lower "
            f"case ASCII, at most {MAX_KEY} characters, e.g. clark2020electra"
        )
    if key in bib.entries or key in bib.papers:
        raise Refused(f"--key {key!r} already exists in refs/")
    return key


def check_arxiv(arxiv: str, bib: Bibliography, today: datetime.date) -> str:
    """A well-formed id (citations.bib's rule) that arXiv could have issued by
    `today`; a version suffix is dropped, since the entry cites the paper."""
    if not ARXIV_ID.fullmatch(arxiv):
        raise Refused(
            f"--arxiv {arxiv!r} is not a well-formed arXiv id (e.g. 2003.10555 or "
            "hep-th/9901001)"
        )
    arxiv = re.sub(r"v\d+$", "", arxiv)
    new_style = re.fullmatch(r"(\d{2})(\d{2})\.(\d+)", arxiv)
    if new_style:
        yymm = new_style.group(1) + new_style.group(2)
        digits = len(new_style.group(3))
        if not "0704" <= yymm <= today.strftime("%y%m"):
            raise Refused(
                f"--arxiv {arxiv!r} does not exist: ids of this form run from "
                f"0704 (April 2007) to this month, {today:%y%m}"
            )
        if digits != (5 if yymm >= "1501" else 4):
            raise Refused(
                f"--arxiv {arxiv!r} does not exist: ids from {yymm[:2]}{yymm[2:]} "
                f"have {5 if yymm >= '1501' else 4} digits after the dot"
            )
    for entry in bib.entries.values():
        if entry.arxiv and re.sub(r"v\d+$", "", entry.arxiv) == arxiv:
            raise Refused(
                f"--arxiv {arxiv} is already in refs/ as {entry.key!r} "
                f"({entry.path.name}:{entry.line})"
            )
    return arxiv


def check_category(category: str, bib: Bibliography, root: Path) -> str:
    sections = sorted(
        cid
        for cid in bib.categories
        if (root / "docs" / cid / "index.md").is_file()
    )
    if category not in sections:
        raise Refused(
            f"--category {category!r} does not exist as a section of the site; "
            f"expected one of {', '.join(sections)}"
        )
    return category


def check_name(name: str, bib: Bibliography) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise Refused(
            f"--name {name!r} must be a short printable name, as shown in the "
            "navigation (e.g. ELECTRA)"
        )
    for paper in bib.papers.values():
        if paper.name.casefold() == name.casefold():
            raise Refused(f"--name {name!r} is already the name of {paper.key!r}")
    return name


def check_identifier(value: str, option: str, longest: int) -> str:
    if (
        not IDENTIFIER.fullmatch(value)
        or keyword.iskeyword(value)
        or len(value) > longest
    ):
        raise Refused(
            f"{option} {value!r} must be a lower-case Python name of at most "
            f"{longest} characters (letters, digits, _; a letter first), "
            "e.g. replaced_token_detection"
        )
    return value


def default_paper(name: str) -> str:
    """The folder name for a paper's snippets, tests and page: `ERNIE 2.0` ->
    `ernie_2_0`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def check_request(
    args: argparse.Namespace, root: Path, today: datetime.date
) -> tuple[Request, Bibliography]:
    try:
        bib = load(root / "refs")
    except BibError as err:
        raise Refused(f"refs/ does not load, fix it first: {err}") from err
    key = check_key(args.key, bib)
    arxiv = check_arxiv(args.arxiv, bib, today)
    category = check_category(args.category, bib, root)
    name = check_name(args.name, bib)
    paper = check_identifier(
        args.paper or default_paper(name), "--paper", MAX_PAPER
    )
    mechanisms = tuple(
        check_identifier(m, "--mechanism", MAX_MECHANISM) for m in args.mechanism
    )
    if len(set(mechanisms)) != len(mechanisms):
        raise Refused(f"--mechanism is repeated: {', '.join(mechanisms)}")
    changes = (args.changes or "").strip()
    if "\n" in changes or not changes.isprintable():
        raise Refused("--changes must be one printable line")
    terms = tuple(t.strip() for t in args.term_zh)
    if not all(t and t.isprintable() for t in terms):
        raise Refused("--term-zh must be a printable, non-empty term")
    page = f"{category}/{paper}.md"
    for other in bib.papers.values():
        if other.page == page:
            raise Refused(f"page docs/{page} is already the page of {other.key!r}")
    request = Request(
        key=key,
        arxiv=arxiv,
        category=category,
        name=name,
        mechanisms=mechanisms,
        paper=paper,
        changes=changes
        or f"{TODO}: one line, what the paper changes relative to BERT.",
        terms_zh=terms,
    )
    return request, bib


# ---- what is written -----------------------------------------------------------


def _toml_string(text: str) -> str:
    # JSON's string escapes are a subset of TOML's basic-string escapes.
    return json.dumps(text, ensure_ascii=False)


def _toml_list(items) -> str:
    return "[" + ", ".join(_toml_string(i) for i in items) + "]"


def _surname(key: str) -> str:
    return re.match(r"[a-z]+", key).group().capitalize()


def _year(key: str) -> str:
    return KEY.fullmatch(key).group(1)


def _docstring(text: str) -> str:
    """A module docstring: its paragraphs, wrapped to the line length."""
    paragraphs = [
        textwrap.fill(" ".join(p.split()), WIDTH, break_on_hyphens=False)
        for p in ('"""' + textwrap.dedent(text).strip()).split("\n\n")
    ]
    if len(paragraphs) == 1 and len(paragraphs[0]) + 3 <= WIDTH:
        return paragraphs[0] + '"""\n'
    return "\n\n".join(paragraphs) + '\n"""\n'


def _import(module: str, name: str) -> str:
    line = f"from {module} import {name}"
    return line if len(line) <= WIDTH else f"from {module} import (\n    {name},\n)"


def bib_stub(r: Request) -> str:
    fields = {
        "title": f"{TODO}: the title of arXiv:{r.arxiv}",
        "author": f"{_surname(r.key)}, {TODO}",
        "year": _year(r.key),
        "note": f"{TODO}: fill in from arXiv:{r.arxiv}; cite the venue version "
        "(@inproceedings with booktitle, or @article with journal) where one "
        "exists, and drop this note",
        "eprint": r.arxiv,
        "archiveprefix": "arXiv",
    }
    width = max(map(len, fields))
    body = ",\n".join(f"  {k:<{width}} = {{{v}}}" for k, v in fields.items())
    return f"@misc{{{r.key},\n{body}\n}}\n"


def papers_record(r: Request) -> str:
    snippets = [f"snippets/{r.paper}/{m}.py" for m in r.mechanisms]
    return (
        f"[papers.{r.key}]\n"
        f"name = {_toml_string(r.name)}\n"
        f"categories = {_toml_list([r.category])}\n"
        f'page = "{r.category}/{r.paper}.md"\n'
        f"snippets = {_toml_list(snippets)}\n"
        f'tests = "tests/{r.paper}"\n'
        f"terms_zh = {_toml_list(r.terms_zh)}\n"
        f"changes = {_toml_string(r.changes)}\n"
        f'# {TODO}: venue = "ICLR" (a short label) and venue_date = "YYYY-MM" of '
        "the version\n# refs/survey.bib cites; terms_zh; notebooks; and "
        f"[[papers.{r.key}.models]]\n# rows for the comparison page.\n"
    )


def _title(mechanism: str) -> str:
    return mechanism.replace("_", " ").capitalize()


def page(r: Request) -> str:
    """The page: prose wrapped like the other pages, Try it and Cite left to
    hooks/bibliography.py, which makes them from papers.toml."""
    blocks = [
        f"# {r.name}: {TODO} a short subtitle",
        f"**In one line**: {TODO}: what changes relative to BERT, and why it "
        f"matters [@{r.key}].",
        "## Why",
        f"{TODO}: the problem the paper addresses, in a few sentences of your "
        "own words.",
        "## How",
        f"{TODO}: the mechanism, with its equation. The code below is the "
        "tested module itself.",
    ]
    for m in r.mechanisms:
        blocks.append(
            f"**{_title(m)}** ({TODO}: its equation, and the section that "
            "states it):"
        )
        embed = f'--8<-- "snippets/{r.paper}/{m}.py:core"'
        blocks.append(f"```python\n{embed}\n```")
    blocks += [
        "## What it achieved",
        f"{TODO}: a small table. Every number names its source in the version "
        "refs/survey.bib cites (a table, a section or a figure), or is "
        "computed at build time.",
    ]
    return (
        "\n\n".join(
            b if b.startswith(("#", "```")) else textwrap.fill(b, PAGE_WIDTH)
            for b in blocks
        )
        + "\n"
    )


SNIPPET = """\
{doc}
from __future__ import annotations

import torch

from snippets._checks import check_token_ids


# --8<-- [start:core]
def {mechanism}(
    input_ids: torch.Tensor,
) -> torch.Tensor:
    \"\"\"{todo}: what it returns, with its shape.\"\"\"
    check_token_ids(input_ids)
    raise NotImplementedError(
        "a skeleton from plm-new-paper: write the mechanism of "
        "{key} here"
    )


# --8<-- [end:core]
"""


def snippet(r: Request, mechanism: str) -> str:
    doc = _docstring(
        f"""\
        {_title(mechanism)} ({r.name}, {_surname(r.key)} et al., {_year(r.key)}).

        {TODO}: the paper's rule in your own words, with its equation and the
        section that states it. Use the paper's names for the arguments and its
        constants as their defaults; take randomness from a torch.Generator
        argument.

        A skeleton written by plm-new-paper: the function checks its input, then
        raises NotImplementedError."""
    )
    return SNIPPET.format(doc=doc, mechanism=mechanism, todo=TODO, key=r.key)


def package_init(r: Request) -> str:
    return _docstring(
        f"{r.name} ({_surname(r.key)} et al., {_year(r.key)}): {TODO} one line "
        "on its mechanisms."
    )


TEST = """\
{doc}
from __future__ import annotations

import pytest
import torch

{imports}


def test_rejects_float_input_ids():
    with pytest.raises(TypeError, match="input_ids"):
        {mechanism}(torch.zeros(2, 3))


@pytest.mark.xfail(
    raises=NotImplementedError,
    strict=True,
    reason="skeleton: write the mechanism and this test, then drop this mark",
)
def test_follows_the_papers_rule():
    {mechanism}(torch.tensor([[5, 6, 7]]))
    raise AssertionError("{todo}: assert what the paper says")
"""


def skeleton_test(r: Request, mechanism: str) -> str:
    doc = _docstring(
        f"""\
        Tests of snippets/{r.paper}/{mechanism}.py ({r.key}).

        {TODO}: prove the paper's rule on real WordPiece-tokenized input
        (helpers.tiny_wordpiece_tokenizer), and cross-check against an
        independent reference (transformers, or the released code's own tests,
        named in a comment)."""
    )
    return TEST.format(
        doc=doc,
        imports=_import(f"snippets.{r.paper}.{mechanism}", mechanism),
        mechanism=mechanism,
        todo=TODO,
    )


CONTRACT = """\
{doc}
from __future__ import annotations

import torch
from contract import Row, ids

{imports}

ROWS: list[Row] = []
PENDING = [
{pending}]
EXEMPT = {{
{exempt}}}
"""

PENDING_ROW = """\
    Row(
        {mechanism},
        lambda: {{"input_ids": torch.tensor([[5, 6, 7], [8, 9, 10]])}},
        kinds={{"input_ids": ids}},
        aligned=("input_ids",),
    ),
"""


def contract(r: Request) -> str:
    they = " and ".join(r.mechanisms)
    work = "work" if len(r.mechanisms) > 1 else "works"
    doc = _docstring(
        f"""\
        Contract rows for snippets.{r.paper} (see tests/contract.py for the rules).

        {TODO}: once {they} {work}, move the rows of PENDING
        into ROWS, give each the kind of every argument and a check that a
        result is right, and empty EXEMPT."""
    )
    return CONTRACT.format(
        doc=doc,
        imports="\n".join(
            _import(f"snippets.{r.paper}.{m}", m) for m in sorted(r.mechanisms)
        ),
        pending="".join(PENDING_ROW.format(mechanism=m) for m in r.mechanisms),
        exempt="".join(
            f'    {m}: "{TODO}: a skeleton, not implemented yet",\n'
            for m in r.mechanisms
        ),
    )


def plan(r: Request, root: Path) -> Plan:
    p = Plan(root)
    page_path = root / "docs" / r.category / f"{r.paper}.md"
    snippets_dir = root / "snippets" / r.paper
    tests_dir = root / "tests" / r.paper
    p.appends[root / "refs" / "survey.bib"] = bib_stub(r)
    p.appends[root / "refs" / "papers.toml"] = papers_record(r)
    p.new[page_path] = page(r)
    if not snippets_dir.exists():
        p.new[snippets_dir / "__init__.py"] = package_init(r)
    elif not (snippets_dir / "__init__.py").is_file():
        raise Refused(f"{snippets_dir.relative_to(root)} exists but is no package")
    for m in r.mechanisms:
        p.new[snippets_dir / f"{m}.py"] = snippet(r, m)
        p.new[tests_dir / f"test_{m}.py"] = skeleton_test(r, m)
    contract_path = tests_dir / "api_contract.py"
    if contract_path.exists():  # a folder shared with another paper
        contract_path = tests_dir / f"api_contract_{r.mechanisms[0]}.py"
    p.new[contract_path] = contract(r)
    taken = [path for path in p.new if path.exists()]
    if taken:
        raise Refused(
            "already exists: "
            + ", ".join(str(t.relative_to(root)) for t in taken)
            + "; choose another --paper or --mechanism"
        )
    for path in p.appends:
        if not path.is_file():
            raise Refused(f"{path.relative_to(root)} is missing")
    return p


def check_refs(p: Plan, key: str) -> None:
    """Load refs/ as it will be after the write, in a scratch copy."""
    refs = p.root / "refs"
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "refs"
        shutil.copytree(refs, copy)
        for path, text in p.appends.items():
            target = copy / path.relative_to(refs)
            target.write_text(_appended(target.read_text(encoding="utf-8"), text))
        try:
            bib = load(copy)
        except BibError as err:
            raise Refused(
                f"the new refs/ would not load: {str(err).replace(scratch, '')}"
            ) from err
    if key not in bib.papers:
        raise Refused(f"the new refs/ would not have {key!r}")


def _appended(original: str, text: str) -> str:
    return original.rstrip("\n") + "\n\n" + text


# ---- writing, all or nothing ---------------------------------------------------


def write(p: Plan) -> list[str]:
    """Write the plan; on any failure undo every write and raise Refused."""
    created_dirs: list[Path] = []
    created: list[Path] = []
    originals: dict[Path, bytes] = {}
    done: list[str] = []
    try:
        for path, text in p.appends.items():
            originals[path] = path.read_bytes()
            original = originals[path].decode("utf-8")
            _write_text(path, _appended(original, text), mode="w")
            done.append(f"appended {path.relative_to(p.root)}")
        for path, text in p.new.items():
            missing = [
                d for d in (path.parent, *path.parent.parents) if not d.exists()
            ]
            for d in reversed(missing):
                d.mkdir()
                created_dirs.append(d)
            try:
                _write_text(path, text, mode="x")
            except FileExistsError:  # someone else's file: leave it alone
                raise
            except BaseException:
                path.unlink(missing_ok=True)  # ours, partly written
                raise
            created.append(path)
            done.append(f"created  {path.relative_to(p.root)}")
    except BaseException as err:
        for path in created:
            path.unlink(missing_ok=True)
        for path, data in originals.items():
            path.write_bytes(data)
        for d in reversed(created_dirs):
            if d.exists() and not any(d.iterdir()):
                d.rmdir()
        if not isinstance(err, Exception):  # Ctrl-C: undone, and still an interrupt
            raise
        raise Refused(f"could not write ({err}); nothing was changed") from err
    return done


def _write_text(path: Path, text: str, *, mode: str) -> None:
    with open(path, mode, encoding="utf-8", newline="\n") as f:
        f.write(text)


NEXT_STEPS = """
Next, fill in every TODO (grep -rn TODO {files}):
  1. refs/survey.bib: title, authors and the venue version of the entry.
  2. refs/papers.toml: changes, venue, venue_date, terms_zh, and model rows.
  3. {snippets}: the mechanism, its docstring and the paper's defaults.
  4. tests/{paper}/: the tests, then drop the xfail mark; move PENDING to ROWS.
  5. {page}: why, how and what it achieved, every number with its source.
Then: make test
"""


def main(
    argv: list[str] | None = None, *, today: datetime.date | None = None
) -> int:
    parser = argparse.ArgumentParser(
        prog="plm-new-paper",
        description=(
            "Add a paper: a BibTeX stub in refs/survey.bib, its refs/papers.toml "
            "record, its page, a snippet module and test skeletons. Everything "
            "is checked first; on a refusal nothing is written."
        ),
        epilog=(
            "No network: the command does not fetch the arXiv metadata. The "
            "BibTeX stub's title and authors are marked TODO; fill them in from "
            "the paper. Example: plm-new-paper --key clark2020electra --arxiv "
            "2003.10555 --category objectives --name ELECTRA --mechanism "
            "replaced_token_detection"
        ),
    )
    parser.add_argument(
        "--key", required=True, help="the BibTeX key, e.g. clark2020electra"
    )
    parser.add_argument(
        "--arxiv", required=True, help="the arXiv id, e.g. 2003.10555"
    )
    parser.add_argument(
        "--category", required=True, help="the site section, e.g. objectives"
    )
    parser.add_argument(
        "--name", required=True, help="the short name shown in the navigation"
    )
    parser.add_argument(
        "--mechanism",
        required=True,
        action="append",
        help="a snippet module and function name, e.g. replaced_token_detection "
        "(repeat for several)",
    )
    parser.add_argument(
        "--paper",
        help="the folder name under snippets/ and tests/, and the page's file name "
        "(default: from --name, e.g. electra)",
    )
    parser.add_argument(
        "--changes", help="one line: what the paper changes relative to BERT"
    )
    parser.add_argument(
        "--term-zh",
        action="append",
        default=[],
        help="a Chinese term readers search for (repeat for several)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        help="the checkout to write into (default: %(default)s)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check and list, write nothing"
    )
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        request, _ = check_request(args, root, today or datetime.date.today())
        p = plan(request, root)
        check_refs(p, request.key)
        if args.dry_run:
            for path in [*p.appends, *p.new]:
                print(f"would write {path.relative_to(root)}")
            return 0
        done = write(p)
    except Refused as err:
        print(f"plm-new-paper: refused: {err}", file=sys.stderr)
        return 2
    print("\n".join(done))
    snippet_paths = [f"snippets/{request.paper}/{m}.py" for m in request.mechanisms]
    page_path = f"docs/{request.category}/{request.paper}.md"
    print(
        NEXT_STEPS.format(
            files=" ".join(
                [
                    "refs",
                    page_path,
                    f"snippets/{request.paper}",
                    f"tests/{request.paper}",
                ]
            ),
            snippets=", ".join(snippet_paths),
            paper=request.paper,
            page=page_path,
        ),
        end="",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
