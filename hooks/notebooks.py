"""mkdocs hook: offer every jupytext notebook (docs/notebooks/*.py) as a downloadable .ipynb.

The notebooks live in git as percent-format .py files; mkdocs-jupyter executes and renders them,
and this hook adds the .ipynb conversion next to each one.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from mkdocs.structure.files import File, Files


def on_files(files: Files, config) -> Files:
    for path in sorted(Path(config.docs_dir, "notebooks").glob("*.py")):
        notebook = jupytext.read(path)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        uri = f"notebooks/{path.stem}.ipynb"
        files.append(
            File.generated(
                config, uri, content=jupytext.writes(notebook, fmt="ipynb")
            )
        )
    return files
