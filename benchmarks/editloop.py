"""Edit-loop latency of `mkdocs serve`: first page, Markdown edit, snippet edit.

Everything runs in a temporary copy of the site (never in the repo), served on a
free loopback port, as `make serve` serves it. Each figure is the time from the
action (starting the server, saving a file) until the served HTML shows it:

- first page, cold: the copy has no cache yet (a fresh clone after `make setup`);
- first page, warm: the server started again on the same copy (the cache kept);
- Markdown edit: a paragraph added to a paper page, from the second build on,
  once every notebook has run;
- snippet edit: a comment added inside the `core` section that the page embeds,
  and a print at the end of the module, which shows in the output of the
  notebook that imports it once that notebook has been executed again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("docs", "refs", "hooks", "snippets", "citations", "experiments")
PAGE = "docs/architecture/albert.md"
PAGE_URL = "architecture/albert/"
SNIPPET = "snippets/albert/cross_layer_sharing.py"
NOTEBOOK_URL = "notebooks/albert/"  # imports SNIPPET


def make_copy(directory: Path, *, execute_notebooks: bool = True) -> Path:
    for name in COPIED:
        shutil.copytree(
            ROOT / name,
            directory / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    (directory / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "results.json", directory / "benchmarks")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    if not execute_notebooks:  # --quick only: a smoke run, not a measurement
        config = config.replace("execute: true", "execute: false")
    (directory / "mkdocs.yml").write_text(config, encoding="utf-8")
    for name in ("node_modules", "pyproject.toml", "constraints.txt"):
        (directory / name).symlink_to(ROOT / name)
    return directory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


class Server:
    """`mkdocs serve` of the copy; the copy's own packages come first."""

    def __init__(self, directory: Path, log: Path):
        self.directory, self.log = directory, log
        self.url = f"http://127.0.0.1:{_free_port()}/"

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "NO_MKDOCS_2_WARNING": "1",
            "PYTHONPATH": str(self.directory),
        }
        addr = self.url.removeprefix("http://").rstrip("/")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "--dev-addr", addr],
            cwd=self.directory,
            env=env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def wait_for(self, path: str, text: str, since: float, timeout: float) -> float:
        """Seconds from `since` until the served `path` contains `text`."""
        while time.perf_counter() - since < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mkdocs serve exited; see the end of {self.log}:\n"
                    + self.log.read_text(errors="replace")[-3000:]
                )
            html = _get(self.url + path)
            if html is not None and text in html:
                return time.perf_counter() - since
            time.sleep(0.05)
        raise TimeoutError(f"{path} did not show {text!r} within {timeout} s")


def _edit(path: Path, old: str, new: str) -> float:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return time.perf_counter()


def _markdown_edit(server: Server, directory: Path, timeout: float) -> float:
    marker = f"editloop-{uuid.uuid4().hex[:12]}"
    page = directory / PAGE
    text = page.read_text(encoding="utf-8")
    since = _edit(page, text, text + f"\n{marker}\n")
    return server.wait_for(PAGE_URL, marker, since, timeout)


def _snippet_edit(
    server: Server, directory: Path, timeout: float, notebooks: bool
) -> dict:
    marker = f"editloop{uuid.uuid4().hex[:12]}"
    snippet = directory / SNIPPET
    start = "# --8<-- [start:core]\n"
    text = snippet.read_text(encoding="utf-8").replace(
        start, f"{start}# {marker}\n", 1
    )
    since = time.perf_counter()
    snippet.write_text(text + f'\nprint("{marker}-printed")\n', encoding="utf-8")
    result = {"page_seconds": server.wait_for(PAGE_URL, marker, since, timeout)}
    if notebooks:
        result["notebook_seconds"] = server.wait_for(
            NOTEBOOK_URL, f"{marker}-printed", since, timeout
        )
    return result


def _seconds(value: float | str) -> float | str:
    return value if isinstance(value, str) else round(value, 2)


def run(
    *,
    quick: bool = False,
    edits: int = 5,
    timeout: float = 300.0,
    snippet_timeout: float = 300.0,
) -> dict:
    """--quick: a smoke run of the machinery (no notebook executed, one edit).
    `snippet_timeout`: how long to wait for a snippet edit to show (a server that
    does not watch snippets/ never shows it)."""
    started = time.perf_counter()
    subprocess.run([str(ROOT / "scripts" / "setup")], cwd=ROOT, check=True)
    result = {"make_setup_seconds": _seconds(time.perf_counter() - started)}
    with tempfile.TemporaryDirectory(prefix="editloop-") as tmp:
        directory = make_copy(Path(tmp) / "site", execute_notebooks=not quick)
        log = Path(tmp) / "serve.log"
        with Server(directory, log) as server:
            since = server.started
            result["first_page_cold_seconds"] = server.wait_for(
                "", "</html>", since, timeout
            )
            if not quick:  # from the second build on: every notebook has run
                for notebook in sorted(
                    (directory / "docs" / "notebooks").glob("*.py")
                ):
                    url = f"notebooks/{notebook.stem}/"
                    server.wait_for(url, "jp-OutputArea", since, timeout)
                time.sleep(2)  # the rebuild that the last one started
            markdown = [
                _markdown_edit(server, directory, timeout)
                for _ in range(1 if quick else edits)
            ]
            if not quick:
                try:
                    snippet = _snippet_edit(
                        server, directory, snippet_timeout, notebooks=True
                    )
                except TimeoutError:  # a server that does not watch snippets/
                    snippet = dict.fromkeys(
                        ["page_seconds", "notebook_seconds"], "never"
                    )
                result["snippet_page_seconds"] = snippet["page_seconds"]
                result["snippet_notebook_seconds"] = snippet["notebook_seconds"]
        if not quick:
            with Server(directory, log) as server:
                result["first_page_warm_seconds"] = server.wait_for(
                    "", "</html>", server.started, timeout
                )
    result = {key: _seconds(value) for key, value in result.items()}
    return result | {
        "markdown_edit_seconds": [_seconds(s) for s in markdown],
        "markdown_edit_median_seconds": _seconds(statistics.median(markdown)),
        "notebooks_executed": not quick,
        "setup": (
            "`mkdocs serve` of a temporary copy on a free loopback port; seconds "
            "until the served HTML shows the change; "
            + (
                "one Markdown edit, notebooks not executed (--quick)"
                if quick
                else f"{edits} Markdown edits of {PAGE}, "
                f"then a snippet edit of {SNIPPET}"
            )
        ),
        "target": "first page ≤ 15 s; a Markdown edit ≤ 3 s (second build on)",
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
