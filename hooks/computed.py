"""mkdocs hook: tables and figures that a page computes at build time, from the
module beside it. The page `docs/a/b.md` keeps its computed content in
`docs/a/b.py`:

- `<!-- computed:NAME -->` in the page becomes what `NAME()` returns (Markdown or
  HTML); a hyphen in NAME stands for an underscore;
- `![alt](NAME.svg)` in the page, with no such file in docs/, is the figure that
  `NAME()` returns (an SVG string or a matplotlib figure), served beside the page.

Nothing is typed by hand: if a snippet changes, the page does. A block that fails
stops the build with the page, the block and where it raised. Under `mkdocs serve`
a result is cached until a file it was computed from changes (hooks/buildcache.py).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import sys
import traceback
from pathlib import Path

from buildcache import Cache, digests, project_imports
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

MARKER = re.compile(r"<!-- computed:([A-Za-z0-9_-]+) -->")
FIGURE = re.compile(r"\]\(([A-Za-z0-9_-]+)\.svg\)")
HOOKS = Path(__file__).resolve().parent
ROOT = HOOKS.parent
SERVING = False
_reads: list[set[str]] = []  # files opened while a block computes (serve only)


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _reads and isinstance(args[0], (str, os.PathLike)):
        _reads[-1].add(os.fspath(args[0]))


def on_startup(command: str, dirty: bool) -> None:
    global SERVING
    SERVING = command == "serve"
    if SERVING:  # mkdocs loads a hook once per process, so this runs once
        sys.addaudithook(_audit)


def on_config(config):
    global ROOT, CACHE
    ROOT = Path(config.config_file_path).resolve().parent  # the site being built
    CACHE = Cache(ROOT / ".cache" / "site" / "computed")
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files, never windows
    if SERVING:  # snippets may have changed since the last build: import them anew
        keep = (sys.prefix, sys.base_prefix, str(HOOKS))
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            if path.startswith(str(ROOT)) and not path.startswith(keep):
                del sys.modules[name]
    return config


def _outside(path: Path, *more: Path) -> bool:
    """Whether the path is installed code (the venv, the stdlib) or under `more`."""
    prefixes = {sys.prefix, sys.base_prefix, *map(str, more)}
    return any(path.is_relative_to(Path(p).resolve()) for p in prefixes)


def _module_of(page_md: Path) -> Path:
    return page_md.with_suffix(".py")


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _svg(figure) -> str:
    """A matplotlib figure as SVG text, the same bytes for the same figure."""
    import matplotlib.pyplot as plt

    with plt.rc_context({"svg.hashsalt": "plm-site"}):
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    plt.close(figure)
    return out.getvalue()


def _where(error: BaseException) -> str:
    """The innermost frame of the error that is the project's own code."""
    if isinstance(error, SyntaxError) and error.filename:
        return f" (at {_rel(error.filename)}:{error.lineno})"
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if Path(f.filename).resolve().is_relative_to(ROOT)
        and not Path(f.filename).resolve().is_relative_to(HOOKS)
    ]
    return (
        f" (at {_rel(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    )


def _compute(page: str, module_path: Path, name: str) -> str:
    """NAME() from the page's module, as text (a figure becomes SVG)."""
    if not module_path.is_file():
        raise PluginError(
            f"{page}: computed block {name!r}, but there is no {_rel(module_path)}"
        )
    spec = importlib.util.spec_from_file_location(
        f"computed_{module_path.stem}", module_path
    )
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        function = getattr(module, name.replace("-", "_"), None)
        if not callable(function):
            known = [
                n for n, v in vars(module).items() if callable(v) and n[0] != "_"
            ]
            raise PluginError(
                f"{page}: unknown computed block {name!r}: {_rel(module_path)} "
                f"has no function {name.replace('-', '_')}() "
                f"(it has {', '.join(known)})"
            )
        value = function()
    except PluginError:
        raise
    except Exception as error:
        raise PluginError(
            f"{page}: computed block {name!r} failed: "
            f"{type(error).__name__}: {error}{_where(error)}"
        ) from error
    if hasattr(value, "savefig"):
        value = _svg(value)
    if not isinstance(value, str):
        raise PluginError(
            f"{page}: computed block {name!r} returned {type(value).__name__}, "
            "not text or a figure"
        )
    return value


def computed(page: str, module_path: Path, name: str) -> str:
    """NAME() of the page's module; under `mkdocs serve`, cached while valid."""
    if not SERVING:
        return _compute(page, module_path, name)
    key = f"{module_path}:{name}:{sys.version}"
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    source = module_path.read_text(encoding="utf-8")
    code = project_imports(source) | {module_path, Path(__file__)}
    deps = digests(
        code | {ROOT / "constraints.txt"}
    )  # before: an edit meanwhile counts
    _reads.append(set())
    try:
        value = _compute(page, module_path, name)
    finally:
        reads = _reads.pop()
    data = {
        p
        for p in map(Path, reads)
        if p.resolve().is_relative_to(ROOT)
        and p.is_file()
        and p.suffix != ".pyc"
        and not _outside(p.resolve(), ROOT / ".cache", ROOT / "node_modules")
    }
    CACHE.put(key, digests(data) | deps, value)
    return value


def on_files(files: Files, config) -> Files:
    """Drop the pages' modules from the site and add the figures the pages show."""
    docs = Path(config.docs_dir)
    for file in list(files):
        if not file.src_uri.endswith(".md") or file.abs_src_path is None:
            continue
        page_md = Path(file.abs_src_path)
        module = files.get_file_from_path(
            _module_of(page_md).relative_to(docs).as_posix()
        )
        if module is None:
            continue
        files.remove(module)
        folder = Path(file.src_uri).parent.as_posix()
        for name in dict.fromkeys(
            FIGURE.findall(page_md.read_text(encoding="utf-8"))
        ):
            uri = f"{name}.svg" if folder == "." else f"{folder}/{name}.svg"
            if files.get_file_from_path(uri) is None:
                svg = computed(f"docs/{file.src_uri}", _module_of(page_md), name)
                files.append(File.generated(config, uri, content=svg))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.abs_src_path is None:
        return markdown
    module = _module_of(Path(page.file.abs_src_path))
    where = f"docs/{page.file.src_uri}"
    return MARKER.sub(lambda m: computed(where, module, m.group(1)), markdown)
