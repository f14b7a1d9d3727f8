"""mkdocs hook: the notebooks (docs/notebooks/*.py, run by mkdocs-jupyter).

- Each notebook is offered as a downloadable .ipynb next to its page.
- Kernels run with CurveZMQ transport encryption (hooks/jupyter/), the cure that
  ipykernel's "Kernel is running over TCP without encryption" notice asks for.
- A notebook that fails stops the build with one line: its .py file, the line and
  the error.
- Under `mkdocs serve` only, a rendered notebook is cached until the notebook or
  a project module that it imports (transitively) changes. One that is not cached
  shows a note at first, runs in the background, and its page reloads once run.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import jupytext
from buildcache import Cache, digests, project_imports
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.toc import get_toc

HOOKS = Path(__file__).resolve().parent
os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
    filter(None, [str(HOOKS / "jupyter"), os.environ.get("JUPYTER_CONFIG_PATH")])
)
# the plugin's options that change the rendered page
OPTIONS = (
    "kernel_name",
    "theme",
    "allow_errors",
    "show_input",
    "no_input",
    "no_prompt",
    "remove_tag_config",
    "highlight_extra_classes",
    "include_requirejs",
    "custom_mathjax_url",
)
SERVING = False
_jobs: queue.Queue = queue.Queue()
_queued: set[str] = set()  # cache keys waiting or running
_wanted: dict[str, list] = {}  # found missing during this build, started after it


def on_startup(command: str, dirty: bool) -> None:
    global SERVING
    SERVING = command == "serve"


def on_config(config):
    global CACHE, ROOT
    ROOT = Path(config.config_file_path).resolve().parent
    CACHE = Cache(ROOT / ".cache" / "site" / "notebooks")
    return config


def on_files(files: Files, config) -> Files:
    for path in sorted(Path(config.docs_dir, "notebooks").glob("*.py")):
        notebook = jupytext.read(path)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        uri = f"notebooks/{path.stem}.ipynb"
        content = jupytext.writes(notebook, fmt="ipynb")
        files.append(File.generated(config, uri, content=content))
    return files


# ---- a failing notebook, as one line -------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
RULE = "------------------\n"


def notebook_error(notebook: Path, error: Exception, root: Path) -> str:
    """`docs/notebooks/x.py:LINE: Error: message (at snippets/y.py:LINE)`, from the
    text of nbclient's CellExecutionError, without its terminal colours."""
    text = ANSI.sub("", str(error))
    name = (
        notebook.resolve().relative_to(root) if notebook.is_absolute() else notebook
    )
    line = ""
    cell = text.split(RULE)[1] if text.count(RULE) >= 2 else ""
    at = re.findall(r"Cell In\[\d+\], line (\d+)", text)
    source = notebook.read_text(encoding="utf-8")
    if cell.strip() and cell.rstrip("\n") in source:
        start = source[: source.index(cell.rstrip("\n"))].count("\n") + 1
        line = f":{start + int(at[-1]) - 1 if at else start}"
    installed = tuple(str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix))
    frames = [
        (Path(path).resolve(), n)
        for path, n in re.findall(r"File (/\S+?):(\d+)", text)
        if not str(Path(path).resolve()).startswith(installed)
        and "site-packages" not in path
    ]
    where = ""
    if frames:
        path, n = frames[-1]
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        where = f" (at {shown}:{n})"
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", "")
    return f"{name}{line}: {ename}: {ANSI.sub('', str(evalue))}{where}"


def _failing(render, notebook: Path, root: Path):
    def checked(config, files):
        from nbclient.exceptions import CellExecutionError

        try:
            return render(config, files)
        except CellExecutionError as error:
            raise PluginError(notebook_error(notebook, error, root)) from None

    return checked


# ---- the serve cache ----------------------------------------------------------


def _dependencies(notebook: Path) -> set[Path]:
    """The notebook, the project modules its cells import (transitively), the data
    that `make experiments` writes (the only files a notebook reads), the pins."""
    cells = jupytext.read(notebook).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    generated = ROOT / "docs" / "assets" / "generated"
    return {notebook, generated, ROOT / "constraints.txt", Path(__file__)} | (
        project_imports(code)
    )


def _show(page, entry: dict, plugin) -> None:
    page.content = entry["content"]
    page.toc = get_toc(entry["toc_tokens"])
    if entry["title"] is not None and not plugin.config["ignore_h1_titles"]:
        page.title = entry["title"]


PENDING = (
    '<div class="admonition note"><p class="admonition-title">Running</p>'
    "<p>This notebook is being executed in the background (it, or a module it "
    "imports, has changed). The page reloads when its outputs are ready.</p></div>"
)


def on_pre_page(page, config, files):
    """After mkdocs-jupyter's: wrap its rendering (errors; the serve cache)."""
    plugin = config.plugins.get("mkdocs-jupyter")
    if plugin is None or not plugin.should_include(page.file):
        return page
    notebook = Path(page.file.abs_src_path)
    if not SERVING:
        page.render = _failing(page.render, notebook, ROOT)
        return page
    options = {k: plugin.config[k] for k in OPTIONS}
    options["execute"] = plugin.config["execute"]
    options["toc_depth"] = plugin.config["toc_depth"]
    key = f"{notebook}:{json.dumps(options, sort_keys=True)}:{sys.version}"
    entry = CACHE.get(key)
    if entry is None:
        _wanted[key] = [
            str(notebook),
            key,
            options,
            str(CACHE.directory),
            str(ROOT),
        ]
        entry = {"content": PENDING, "toc_tokens": [], "title": None}
    if "error" in entry:
        raise PluginError(entry["error"])
    page.render = lambda config, files: _show(page, entry, plugin)
    return page


def _worker() -> None:
    while True:
        args = _jobs.get()
        try:
            subprocess.run(
                [sys.executable, __file__, json.dumps(args)], check=False
            )
        finally:
            _queued.discard(args[1])


_workers: list[threading.Thread] = []


def on_post_build(config) -> None:
    """Start what this build found missing (after it, so that it is not slowed)."""
    if not SERVING:
        return
    while len(_workers) < min(2, os.cpu_count() or 1):
        _workers.append(threading.Thread(target=_worker, daemon=True))
        _workers[-1].start()
    for key, args in _wanted.items():
        if key not in _queued:
            _queued.add(key)
            _jobs.put(args)
    _wanted.clear()


def on_serve(server, config, builder):
    """Reload when a background run stores its page."""
    CACHE.directory.mkdir(parents=True, exist_ok=True)
    server.watch(str(CACHE.directory))
    return server


def _run(notebook: str, key: str, options: dict, directory: str, root: str) -> None:
    """Run one notebook as mkdocs-jupyter would; store its page (or its error)."""
    import markdown
    from markdown.extensions.toc import TocExtension
    from mkdocs_jupyter import convert
    from nbclient.exceptions import CellExecutionError

    global ROOT
    started, path, ROOT = time.perf_counter(), Path(notebook), Path(root)
    deps = digests(_dependencies(path))  # before: an edit meanwhile counts
    toc_depth = options.pop("toc_depth")
    try:
        content = convert.nb2html(notebook, **options)
    except Exception as error:  # stored, so that the page says so until a change
        if isinstance(error, CellExecutionError):
            message = notebook_error(path, error, ROOT)
        else:
            message = f"{path}: {type(error).__name__}: {error}"
        Cache(Path(directory)).put(key, deps, {"error": message})
        print(f"notebooks: {message}", file=sys.stderr)
        return
    md = markdown.Markdown(extensions=[TocExtension(toc_depth=toc_depth)])
    md.convert(convert.nb2md(notebook))
    tokens = md.toc_tokens
    title = next((t["name"] for t in tokens if t["level"] == 1), None)
    entry = {"content": content, "toc_tokens": tokens, "title": title}
    Cache(Path(directory)).put(key, deps, entry)
    seconds = time.perf_counter() - started
    print(f"notebooks: executed {path.name} in {seconds:.1f} s", file=sys.stderr)


if __name__ == "__main__":  # the background run, from on_post_build
    _run(*json.loads(sys.argv[1]))
